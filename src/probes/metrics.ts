// Host-side f64 statistics for the probes: Hungarian matching, cluster-vs-label scores (macro F1,
// NMI, ARI, purity), Spearman correlation, PCA (on eig.ts's eigensolver) and a k-means++
// reference k-means. Pure TypeScript with no Node built-ins, so it also runs in a browser.
// It is not GPU code: the GPU k-means lives elsewhere and is compared against `kmeansCpu`.

import { symEigQL, type RealArray, type SymEig } from "./eig";
import { mulberry32 } from "../data/rng";

export type { RealArray, SymEig } from "./eig";

/** A uniform [0, 1) generator. */
export type Rng = () => number;

export { mulberry32 };

/**
 * Minimum-cost assignment for a rectangular cost matrix (rows × cols), O(r²c) with potentials.
 * Returns `assign[row] = col`, or -1 for rows left unassigned when rows > cols.
 */
export function hungarian(cost: number[][]): number[] {
  const rows = cost.length;
  const cols = rows ? cost[0].length : 0;
  if (rows === 0 || cols === 0) return new Array<number>(rows).fill(-1);
  if (rows > cols) {
    const t = Array.from({ length: cols }, (_, j) => cost.map((r) => r[j]));
    const colOfRow = new Array<number>(rows).fill(-1);
    hungarian(t).forEach((row, col) => { colOfRow[row] = col; });
    return colOfRow;
  }
  // e-maxx formulation, 1-based; p[j] = row matched to column j.
  const u = new Float64Array(rows + 1), v = new Float64Array(cols + 1);
  const p = new Int32Array(cols + 1), way = new Int32Array(cols + 1);
  for (let i = 1; i <= rows; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(cols + 1).fill(Infinity);
    const used = new Uint8Array(cols + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= cols; j++) {
        if (used[j]) continue;
        const cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (cur < minv[j]) { minv[j] = cur; way[j] = j0; }
        if (minv[j] < delta) { delta = minv[j]; j1 = j; }
      }
      for (let j = 0; j <= cols; j++) {
        if (used[j]) { u[p[j]] += delta; v[j] -= delta; } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do { const j1 = way[j0]; p[j0] = p[j1]; j0 = j1; } while (j0 !== 0);
  }
  const assign = new Array<number>(rows).fill(-1);
  for (let j = 1; j <= cols; j++) if (p[j] > 0) assign[p[j] - 1] = j - 1;
  return assign;
}

/** Contingency table of clusters (rows) vs classes (cols) over positions whose label is ≥ 0. */
export interface Contingency { table: number[][]; clusterSizes: number[]; classSizes: number[]; n: number }

/** Builds the contingency table; cluster and class ids are compacted to the values that occur. */
export function contingency(pred: Int32Array, labels: Int32Array): Contingency {
  if (pred.length !== labels.length) throw new Error(`contingency: pred has ${pred.length} entries, labels ${labels.length}`);
  const ci = new Map<number, number>(), li = new Map<number, number>();
  const cells: [number, number][] = [];
  for (let i = 0; i < pred.length; i++) {
    if (labels[i] < 0) continue;
    if (!ci.has(pred[i])) ci.set(pred[i], ci.size);
    if (!li.has(labels[i])) li.set(labels[i], li.size);
    cells.push([ci.get(pred[i])!, li.get(labels[i])!]);
  }
  const table = Array.from({ length: ci.size }, () => new Array<number>(li.size).fill(0));
  const clusterSizes = new Array<number>(ci.size).fill(0), classSizes = new Array<number>(li.size).fill(0);
  for (const [c, l] of cells) { table[c][l]++; clusterSizes[c]++; classSizes[l]++; }
  return { table, clusterSizes, classSizes, n: cells.length };
}

/**
 * Macro F1 over classes after matching clusters to classes one-to-one (Hungarian, maximizing
 * overlap). Classes left without a cluster (k < #classes, or empty clusters) score F1 = 0.
 */
export function matchedMacroF1(pred: Int32Array, labels: Int32Array): number {
  const { table, clusterSizes, classSizes } = contingency(pred, labels);
  if (classSizes.length === 0) return NaN;
  if (clusterSizes.length === 0) return 0;
  const assign = hungarian(table.map((row) => row.map((x) => -x)));
  let sum = 0;
  assign.forEach((cls, c) => {
    if (cls >= 0) sum += (2 * table[c][cls]) / (clusterSizes[c] + classSizes[cls]);
  });
  return sum / classSizes.length;
}

function entropy(counts: number[], n: number): number {
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h;
}

/** Normalized mutual information, MI / mean(H(pred), H(labels)) (sklearn's default "arithmetic"). */
export function nmi(pred: Int32Array, labels: Int32Array): number {
  const { table, clusterSizes, classSizes, n } = contingency(pred, labels);
  if (n === 0) return NaN;
  if (clusterSizes.length === classSizes.length && clusterSizes.length <= 1) return 1;
  let mi = 0;
  for (let c = 0; c < table.length; c++) {
    for (let l = 0; l < table[c].length; l++) {
      const nij = table[c][l];
      if (nij > 0) mi += (nij / n) * Math.log((n * nij) / (clusterSizes[c] * classSizes[l]));
    }
  }
  if (mi <= 0) return 0;
  return Math.max(0, Math.min(1, mi / ((entropy(clusterSizes, n) + entropy(classSizes, n)) / 2)));
}

const pairs = (x: number): number => (x * (x - 1)) / 2;

/** Adjusted Rand index (Hubert & Arabie); 1 when both partitions are trivial and identical. */
export function ari(pred: Int32Array, labels: Int32Array): number {
  const { table, clusterSizes, classSizes, n } = contingency(pred, labels);
  if (n === 0) return NaN;
  let index = 0;
  for (const row of table) for (const x of row) index += pairs(x);
  const a = clusterSizes.reduce((s, x) => s + pairs(x), 0);
  const b = classSizes.reduce((s, x) => s + pairs(x), 0);
  const expected = (a * b) / pairs(n);
  const max = (a + b) / 2;
  return max === expected ? 1 : (index - expected) / (max - expected);
}

/** Purity: the share of positions whose cluster's majority class is their class. */
export function purity(pred: Int32Array, labels: Int32Array): number {
  const { table, n } = contingency(pred, labels);
  if (n === 0) return NaN;
  return table.reduce((s, row) => s + Math.max(...row), 0) / n;
}

/** Ranks 1..n with ties given the average of the ranks they span. */
export function rankAverage(a: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: a.length }, (_, i) => i).sort((i, j) => a[i] - a[j]);
  const r = new Float64Array(a.length);
  for (let s = 0; s < idx.length;) {
    let e = s;
    while (e + 1 < idx.length && a[idx[e + 1]] === a[idx[s]]) e++;
    for (let t = s; t <= e; t++) r[idx[t]] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return r;
}

/** Pearson correlation; NaN when either side has zero variance. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`pearson: lengths ${a.length} and ${b.length} differ`);
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman rank correlation: Pearson correlation of tie-averaged ranks. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(rankAverage(a), rankAverage(b));
}

/**
 * Symmetric eigendecomposition (d×d, row-major): values descending, vectors[i*d + j] = component
 * i of eigenvector j. One implementation for the library, Householder + implicit QL in eig.ts.
 */
export const symEig: (A: RealArray, d: number) => SymEig = symEigQL;

/** PCA result: projections[i*k + j] is sample i on component j; components[j*d + f]. */
export interface Pca {
  projections: Float64Array; components: Float64Array; mean: Float64Array;
  explainedVariance: Float64Array; explainedVarianceRatio: Float64Array;
}

/**
 * PCA of n samples × d features (row-major) onto the top k directions of the sample covariance
 * (divisor n - 1). Each component's sign is fixed so its largest-magnitude entry is positive.
 * Exact (full symmetric eigendecomposition) at every d: O(d³), seconds at d = 768.
 */
export function pca(X: RealArray, n: number, d: number, k: number): Pca {
  if (X.length !== n * d) throw new Error(`pca: expected ${n}×${d} entries, got ${X.length}`);
  if (k > d || n < 2) throw new Error(`pca: need k ≤ d and n ≥ 2 (k=${k}, d=${d}, n=${n})`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let f = 0; f < d; f++) mean[f] += X[i * d + f] / n;
  const cov = new Float64Array(d * d), row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < d; f++) row[f] = X[i * d + f] - mean[f];
    for (let f = 0; f < d; f++) {
      const rf = row[f] / (n - 1);
      if (rf !== 0) for (let g = f; g < d; g++) cov[f * d + g] += rf * row[g];
    }
  }
  let total = 0;
  for (let f = 0; f < d; f++) {
    total += cov[f * d + f];
    for (let g = f + 1; g < d; g++) cov[g * d + f] = cov[f * d + g];
  }
  const { values, vectors } = symEig(cov, d);
  const m = values.length, components = new Float64Array(k * d);
  for (let j = 0; j < k; j++) {
    let big = 0;
    for (let f = 0; f < d; f++) if (Math.abs(vectors[f * m + j]) > Math.abs(big)) big = vectors[f * m + j];
    const sign = big < 0 ? -1 : 1;
    for (let f = 0; f < d; f++) components[j * d + f] = sign * vectors[f * m + j];
  }
  const projections = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let f = 0; f < d; f++) s += (X[i * d + f] - mean[f]) * components[j * d + f];
      projections[i * k + j] = s;
    }
  }
  const explainedVariance = values.slice(0, k).map((x) => Math.max(0, x));
  const explainedVarianceRatio = explainedVariance.map((x) => (total > 0 ? x / total : 0));
  return { projections, components, mean, explainedVariance, explainedVarianceRatio };
}

function sqDist(X: RealArray, i: number, C: RealArray, j: number, d: number): number {
  let s = 0;
  for (let f = 0; f < d; f++) { const t = X[i * d + f] - C[j * d + f]; s += t * t; }
  return s;
}

/**
 * The k-means++ D² sampling shared by every seeding: `dist(a, i)` is the squared distance between
 * rows a and i. Consumes exactly k draws from `rng`, so seedings that differ only in where the
 * distances come from (rows on the host, a distance matrix from the GPU) pick the same rows.
 */
export function kmeansPlusPlusSample(n: number, k: number, rng: Rng, dist: (a: number, i: number) => number, who = "kmeansPlusPlusInit"): Int32Array {
  if (k < 1 || k > n) throw new Error(`${who}: need 1 ≤ k ≤ n (k=${k}, n=${n})`);
  const chosen = new Int32Array(k);
  chosen[0] = Math.min(n - 1, Math.floor(rng() * n));
  const best = Float64Array.from({ length: n }, (_, i) => dist(chosen[0], i));
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += best[i];
    const r = rng();
    let pick = Math.min(n - 1, Math.floor(r * n));
    if (total > 0) {
      let target = r * total;
      for (let i = 0; i < n; i++) {
        if (best[i] === 0) continue;
        pick = i; // the last positive-weight row absorbs rounding at the end of the scan
        target -= best[i];
        if (target < 0) break;
      }
    }
    chosen[c] = pick;
    for (let i = 0; i < n; i++) best[i] = Math.min(best[i], dist(pick, i));
  }
  return chosen;
}

/** k-means++ seeding (one D²-sampled candidate per step) of the rows of X [n, d]: k row indices. */
export function kmeansPlusPlusInit(X: RealArray, n: number, d: number, k: number, rng: Rng): Int32Array {
  return kmeansPlusPlusSample(n, k, rng, (a, i) => sqDist(X, i, X, a, d));
}

/** Options of the reference k-means; restart r seeds its PRNG with `mulberry32(seed + r)`. */
export interface KmeansOptions { restarts?: number; iters?: number; seed?: number }

/** Result of the best restart (lowest inertia = sum of squared distances to the assigned centroid). */
export interface KmeansResult { assign: Int32Array; centroids: Float64Array; inertia: number; iterations: number; restart: number }

/**
 * Lloyd's k-means in f64 with k-means++ seeding; ties go to the lower centroid index, and an
 * empty cluster keeps its previous centroid. Stops when assignments no longer change.
 */
export function kmeansCpu(X: RealArray, n: number, d: number, k: number, opts: KmeansOptions = {}): KmeansResult {
  const { restarts = 4, iters = 100, seed = 0 } = opts;
  let best: KmeansResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const init = kmeansPlusPlusInit(X, n, d, k, mulberry32(seed + r));
    const centroids = new Float64Array(k * d);
    init.forEach((row, c) => { for (let f = 0; f < d; f++) centroids[c * d + f] = X[row * d + f]; });
    const assign = new Int32Array(n).fill(-1);
    let it = 0, inertia = 0;
    for (; ; it++) { // it = number of centroid updates so far
      let changed = false;
      inertia = 0;
      for (let i = 0; i < n; i++) {
        let bj = 0, bd = Infinity;
        for (let c = 0; c < k; c++) { const s = sqDist(X, i, centroids, c, d); if (s < bd) { bd = s; bj = c; } }
        if (assign[i] !== bj) { assign[i] = bj; changed = true; }
        inertia += bd;
      }
      if (!changed || it === iters) break;
      const sums = new Float64Array(k * d), counts = new Float64Array(k);
      for (let i = 0; i < n; i++) {
        counts[assign[i]]++;
        for (let f = 0; f < d; f++) sums[assign[i] * d + f] += X[i * d + f];
      }
      for (let c = 0; c < k; c++) {
        if (counts[c] > 0) for (let f = 0; f < d; f++) centroids[c * d + f] = sums[c * d + f] / counts[c];
      }
    }
    if (!best || inertia < best.inertia) best = { assign, centroids, inertia, iterations: it, restart: r };
  }
  if (!best) throw new Error('kmeansCpu: restarts must be ≥ 1');
  return best;
}
