// Planted models for the falsification tests of the verdicts: a parameter-free Module that taps
// representations (and attention probabilities) computed on the host from the batch, in the tap
// layout of a GPT block stack, so the real probes D1–D6 measure a model whose inside we chose —
// one where a claim is true (a planted effect) or false (noise, recency-only attention, …).
import { fromValues, mul, noGrad, sub, type BackendName } from "../../src/node";
import { Module } from "../../src/nn/index";
import { mulberry32, type Lens, type ProbeBatch } from "../../src/probes/index";

/** Host representations h^0..h^L of a batch, each [B·T·C] row-major. */
export type RepsFn = (b: ProbeBatch) => Float64Array[];
/** Host attention probabilities of a batch per block, each [B·H·T·T] (rows sum to 1 over t ≤ q). */
export type ProbsFn = (b: ProbeBatch) => Float64Array[];

/** Taps blocks.{l}.in / attn_probs / attn_out / mlp_out / out like a GPT (Δ split evenly between attention and MLP). */
export class Planted extends Module {
  constructor(readonly backend: BackendName, readonly L: number, readonly C: number, readonly H: number,
    readonly reps: RepsFn, readonly probs?: ProbsFn) {
    super();
  }

  forward(b: ProbeBatch): void {
    const { B, T } = b, { L, C, H, backend } = this;
    const hs = this.reps(b).map((a) => fromValues(a, [B, T, C], { backend }));
    if (hs.length !== L + 1) throw new Error(`Planted: ${hs.length} representations for ${L} blocks`);
    const ps = this.probs?.(b);
    for (let l = 0; l < L; l++) {
      this.tap(`blocks.${l}.in`, hs[l]);
      if (ps && this.wants(`blocks.${l}.attn_probs`)) this.tap(`blocks.${l}.attn_probs`, fromValues(ps[l], [B, H, T, T], { backend }));
      const half = noGrad(() => mul(sub(hs[l + 1], hs[l]), 0.5));
      this.tap(`blocks.${l}.attn_out`, half);
      this.tap(`blocks.${l}.mlp_out`, half);
      this.tap(`blocks.${l}.out`, hs[l + 1]);
    }
  }
}

/** A lens with LN_f = identity and the given unembedding [V, C]. */
export function identityLens(wU: Float64Array, V: number, C: number, backend: BackendName): Lens {
  const w = fromValues(wU, [V, C], { backend }).keep();
  return { norm: (h) => h, wU: w, embedding: null };
}

/** `n` standard normal numbers (Box–Muller), deterministic from `seed`. */
export function gaussians(n: number, seed: number): Float64Array {
  const rng = mulberry32(seed), out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng())), a = 2 * Math.PI * rng();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** Fills a [B·T·C] array with `row(i)` (a [C] vector or null for zeros) at each position i, plus `noise`·N(0, 1). */
export function rowsOf(b: ProbeBatch, C: number, row: (i: number) => ArrayLike<number> | null, noise: number, seed: number): Float64Array {
  const n = b.B * b.T, out = gaussians(n * C, seed);
  for (let i = 0; i < n; i++) {
    const r = row(i);
    for (let c = 0; c < C; c++) out[i * C + c] = noise * out[i * C + c] + (r ? r[c] : 0);
  }
  return out;
}

/** Causal attention rows from weights w(b, q, t) ≥ 0 for t ≤ q, normalized per row, the same for every head and block. */
export function attentionFrom(b: ProbeBatch, H: number, L: number, w: (row: number, q: number, t: number) => number): Float64Array[] {
  const { B, T } = b, p = new Float64Array(B * H * T * T);
  for (let r = 0; r < B; r++) {
    for (let q = 0; q < T; q++) {
      const ws = Array.from({ length: q + 1 }, (_, t) => w(r, q, t));
      const z = ws.reduce((a, x) => a + x, 0);
      for (let h = 0; h < H; h++) ws.forEach((x, t) => { p[((r * H + h) * T + q) * T + t] = x / z; });
    }
  }
  return Array.from({ length: L }, () => p);
}
