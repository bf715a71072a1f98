// Host-side helpers shared by the probes' finish() steps: joining per-batch host arrays in pass
// order, masking unscored positions, and NaN-aware means and correlations.
import { spearman } from "./metrics";
import type { ProbeBatch } from "./probe";

/** Joins one per-position field of every batch ([ΣB·T], pass order); missing fields give −1. */
export function joinField(batches: readonly ProbeBatch[], pick: (b: ProbeBatch) => Int32Array | undefined): Int32Array {
  const out = new Int32Array(batches.reduce((s, b) => s + b.B * b.T, 0));
  let off = 0;
  for (const b of batches) {
    const v = pick(b);
    if (v) out.set(v, off);
    else out.fill(-1, off, off + b.B * b.T);
    off += b.B * b.T;
  }
  return out;
}

/** Position t of every entry of the pass ([ΣB·T]). */
export function positions(batches: readonly ProbeBatch[]): Float64Array {
  const out: number[] = [];
  for (const b of batches) for (let i = 0; i < b.B * b.T; i++) out.push(i % b.T);
  return Float64Array.from(out);
}

/** A copy of `v` with NaN where `y` equals `ignore` (unscored positions). */
export function maskUnscored(v: Float64Array, y: Int32Array, ignore: number): Float64Array {
  return v.map((x, i) => (y[i] === ignore ? NaN : x));
}

/** Mean of the finite entries (NaN when there are none). */
export function meanFinite(v: ArrayLike<number>): number {
  let s = 0, n = 0;
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) { s += v[i]; n++; }
  return n ? s / n : NaN;
}

/** Spearman correlation over the entries where both sides are finite (NaN with fewer than 3). */
export function spearmanFinite(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const xa: number[] = [], xb: number[] = [];
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]) && Number.isFinite(b[i])) { xa.push(a[i]); xb.push(b[i]); }
  return xa.length < 3 ? NaN : spearman(xa, xb);
}

/** Counts of each id in [0, size) over the given arrays. */
export function countIds(size: number, ...arrays: Int32Array[]): Float64Array {
  const c = new Float64Array(size);
  for (const a of arrays) for (const v of a) if (v >= 0 && v < size) c[v]++;
  return c;
}
