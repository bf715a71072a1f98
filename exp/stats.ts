// Small statistics for the verdicts: means and Student-t 95 % intervals over seeds, a seeded
// percentile bootstrap for intervals over examples within one seed, and the partial Spearman
// correlation (rank correlation of x and y with z held fixed). Pure functions over numbers.
import { mulberry32, pearson, rankAverage } from "../src/probes/metrics";

/** Mean of the finite entries (NaN when there is none). */
export function mean(xs: ArrayLike<number>): number {
  let s = 0, n = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) { s += xs[i]; n++; }
  return n ? s / n : NaN;
}

/** Sample standard deviation of the finite entries (NaN with fewer than two). */
export function sd(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0, n = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) { s += (xs[i] - m) ** 2; n++; }
  return n > 1 ? Math.sqrt(s / (n - 1)) : NaN;
}

// Two-sided 95 % quantiles t_{0.975, df} for df = 1..30.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (NaN for df < 1). */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  if (df <= 30) return T975[Math.floor(df) - 1];
  return 1.96 + 2.4 / df; // within 0.002 of the exact value for df > 30
}

/** A value with its 95 % interval. */
export interface Estimate {
  value: number;
  ci95: [number, number];
}

/**
 * Mean and Student-t 95 % interval of independent replicates (seeds): mean ± t·sd/√n. With fewer
 * than two finite values the interval is [NaN, NaN]: one seed says nothing about seed-to-seed spread.
 */
export function meanCI(xs: ArrayLike<number>): Estimate {
  const vals = Array.from(xs).filter(Number.isFinite);
  const m = mean(vals);
  if (vals.length < 2) return { value: m, ci95: [NaN, NaN] };
  const h = (tQuantile975(vals.length - 1) * sd(vals)) / Math.sqrt(vals.length);
  return { value: m, ci95: [m - h, m + h] };
}

/**
 * Percentile bootstrap 95 % interval of `stat` over `n` resampled units (examples within one
 * seed), deterministic from `seed`. `stat` receives the resampled unit indices (with repeats).
 */
export function bootstrapCI(n: number, stat: (idx: Int32Array) => number, opts: { reps?: number; seed?: number } = {}): Estimate {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const value = stat(all);
  if (n < 2) return { value, ci95: [NaN, NaN] };
  const reps = opts.reps ?? 500;
  const rng = mulberry32(opts.seed ?? 0);
  const idx = new Int32Array(n);
  const vals: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rng() * n);
    const v = stat(idx);
    if (Number.isFinite(v)) vals.push(v);
  }
  if (vals.length < reps / 2) return { value, ci95: [NaN, NaN] };
  vals.sort((a, b) => a - b);
  const q = (p: number) => vals[Math.min(vals.length - 1, Math.max(0, Math.round(p * (vals.length - 1))))];
  return { value, ci95: [q(0.025), q(0.975)] };
}

/** Bootstrap interval of the mean of per-unit values (non-finite units are dropped). */
export function bootstrapMean(values: ArrayLike<number>, opts: { reps?: number; seed?: number } = {}): Estimate {
  const v = Array.from(values).filter(Number.isFinite);
  return bootstrapCI(v.length, (idx) => {
    let s = 0;
    for (const i of idx) s += v[i];
    return s / idx.length;
  }, opts);
}

/** Spearman correlation of x and y controlling for z: the partial Pearson correlation of their ranks. */
export function partialSpearman(x: ArrayLike<number>, y: ArrayLike<number>, z: ArrayLike<number>): number {
  const keep: number[] = [];
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]) && Number.isFinite(y[i]) && Number.isFinite(z[i])) keep.push(i);
  if (keep.length < 4) return NaN;
  const pick = (a: ArrayLike<number>) => rankAverage(Float64Array.from(keep, (i) => a[i]));
  const rx = pick(x), ry = pick(y), rz = pick(z);
  const xy = pearson(rx, ry), xz = pearson(rx, rz), yz = pearson(ry, rz);
  const den = Math.sqrt((1 - xz * xz) * (1 - yz * yz));
  return den > 1e-12 ? (xy - xz * yz) / den : NaN;
}
