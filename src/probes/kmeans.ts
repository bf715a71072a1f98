// k-means on the device (D6's engine), following metrics.kmeansCpu's conventions: k-means++
// seeding with restart r drawn from mulberry32(seed + r), ties to the lower centroid index, an empty
// cluster keeps its centroid, stop when no assignment changes, best restart = lowest inertia.
// Restarts run side by side as one [R·k, d] centroid matrix; distances are one matmul.
import {
  add, affine, arange, concat, div, eq, fromValues, ge, gt, keep, matmul, max, maximum, mul, ne, neg, noGrad,
  readAll, reshape, sub, sum, sumSquares, tidy, where, full, type Tensor,
} from "../tensor/index";
import { kmeansPlusPlusInit, kmeansPlusPlusSample, mulberry32, type KmeansOptions, type KmeansResult, type Rng } from "./metrics";

/** Options of {@link kmeansGpu}. */
export interface KmeansGpuOptions extends KmeansOptions {
  /** Iterations encoded between convergence checks (one readback each; default 8). */
  checkEvery?: number;
  /**
   * k-means++ seeding on the host from "distances" (the n×n squared distances computed on the
   * device and read back once, default for n ≤ 4096) or "exact" (metrics.kmeansPlusPlusInit on the
   * read-back rows: the reference seeding itself, O(n·k·d) per restart on the host).
   */
  seeding?: "distances" | "exact";
  /** Explicit initial centroids as row indices of X, one list of k per restart (skips k-means++). */
  init?: readonly ArrayLike<number>[];
}

/** The best restart, plus every restart's inertia and iteration count. */
export interface KmeansGpuResult extends KmeansResult {
  restarts: { inertia: number; iterations: number }[];
}

/**
 * k-means++ seeding from a precomputed n×n matrix of squared distances: the same draws and the
 * same scan as metrics.kmeansPlusPlusInit (which computes the distances from the rows itself).
 */
export function kmeansPlusPlusFromDistances(D: ArrayLike<number>, n: number, k: number, rng: Rng): Int32Array {
  if (D.length !== n * n) throw new Error(`kmeansPlusPlusFromDistances: expected ${n}×${n} distances, got ${D.length}`);
  return kmeansPlusPlusSample(n, k, rng, (a, i) => D[a * n + i], "kmeansPlusPlusFromDistances");
}

/** Squared Euclidean distances between the rows of X [n, d] → [n, n] (clamped at 0, zero diagonal). */
export function pairwiseSqDistances(X: Tensor): Tensor {
  const n = X.shape[0];
  const sq = sumSquares(X, -1); // [n]
  const d = maximum(sub(add(reshape(sq, [n, 1]), reshape(sq, [1, n])), mul(matmul(X, X, { transB: true }), 2)), 0);
  const i = arange(n, undefined, 1, { backend: X.backend });
  return where(eq(reshape(i, [n, 1]), reshape(i, [1, n])), 0, d);
}

/** tidy() under noGrad(). */
const run = <T>(f: () => T): T => noGrad(() => tidy(f));

/**
 * Lloyd's k-means of the rows of X [n, d] (f32 on webgpu, f64 on cpu64) with k clusters and
 * `restarts` k-means++ restarts, all on X's backend; returns the lowest-inertia restart (inertia
 * recomputed in f64 on the host from the final assignment and centroids).
 */
export async function kmeansGpu(X: Tensor, k: number, opts: KmeansGpuOptions = {}): Promise<KmeansGpuResult> {
  return (await kmeansGpuMany(X, [k], opts))[0]!;
}

/**
 * {@link kmeansGpu} of the same rows for several k (D6 clusters each layer once per label): X is
 * read back, and the distances for the seeding computed, once; equal k share one result.
 * `opts.init` (explicit initial rows) allows a single distinct k.
 */
export async function kmeansGpuMany(X: Tensor, ks: readonly number[], opts: KmeansGpuOptions = {}): Promise<KmeansGpuResult[]> {
  if (X.rank !== 2) throw new Error(`kmeansGpu: X must be [n, d], got [${X.shape.join(", ")}]`);
  if (opts.init && new Set(ks).size > 1) throw new Error("kmeansGpuMany: explicit init rows fit one k; got several");
  const [n, d] = X.shape;
  const { restarts: R = 4, iters = 100, seed = 0, checkEvery = 8 } = opts;
  for (const k of ks) {
    if (!(k >= 1 && k <= n)) throw new Error(`kmeansGpu: need 1 ≤ k ≤ n (k=${k}, n=${n})`);
    if (opts.init && (opts.init.length !== R || opts.init.some((r) => r.length !== k))) {
      throw new Error(`kmeansGpu: init must hold ${R} lists (one per restart) of ${k} row indices`);
    }
  }
  if (R < 1) throw new Error("kmeansGpu: restarts must be ≥ 1");
  const seeding = opts.seeding ?? (n <= 4096 ? "distances" : "exact");
  const D = seeding === "distances" && !opts.init ? run(() => pairwiseSqDistances(X)) : null;
  const [xh, dh] = await readAll(D ? [X, D] : [X]);
  D?.dispose();
  const byK = new Map<number, KmeansGpuResult>();
  for (const k of ks) {
    if (byK.has(k)) continue;
    const init = new Float64Array(R * k * d);
    for (let r = 0; r < R; r++) {
      const rows = opts.init ? Array.from(opts.init[r]) : dh ? kmeansPlusPlusFromDistances(dh, n, k, mulberry32(seed + r)) : kmeansPlusPlusInit(xh, n, d, k, mulberry32(seed + r));
      rows.forEach((row, c) => init.set(xh.subarray(row * d, row * d + d), (r * k + c) * d));
    }
    const { assign, centroids, iterations } = await lloyd(X, init, R, k, iters, checkEvery);
    byK.set(k, best(xh, assign, centroids, n, d, k, R, iterations));
  }
  return ks.map((k) => byK.get(k)!);
}

/** Lloyd iterations of R restarts side by side from `init` [R·k, d]; assignments are [n, R]. */
async function lloyd(X: Tensor, init: Float64Array, R: number, k: number, iters: number, checkEvery: number) {
  const [n, d] = X.shape, backend = X.backend;
  let C = fromValues(init, [R * k, d], { backend }).keep(); // [R·k, d]
  let prev = full([n, R], -1, { backend }).keep(); // [n, R] assignments (f32 ids)
  const kIdx = arange(k, undefined, 1, { backend }).keep();
  const kRev = keep(run(() => affine(kIdx, -1, k))); // k − j, for the first argmin
  const iterations = new Array<number>(R).fill(-1);
  try {
    for (let t = 0; t <= iters;) {
      const flags: Tensor[] = [], t0 = t;
      for (let j = 0; j < checkEvery && t <= iters; j++, t++) {
        const [idx, changed] = run(() => {
          const s = reshape(sub(sumSquares(C, -1), mul(matmul(X, C, { transB: true }), 2)), [n, R, k]); // ‖c‖² − 2x·c
          const ns = neg(s);
          const first = max(mul(ge(ns, max(ns, -1, true)), kRev), -1); // [n, R]: k − lowest argmin
          const a = affine(first, -1, k);
          return [a, sum(ne(a, prev), 0)];
        });
        prev.dispose();
        prev = keep(idx);
        flags.push(keep(changed));
        if (t === iters) continue;
        const next = run(() => {
          const oh = reshape(eq(reshape(prev, [n, R, 1]), kIdx), [n, R * k]); // one-hot [n, R·k]
          const counts = reshape(sum(oh, 0), [R * k, 1]);
          return where(gt(counts, 0), div(matmul(oh, X, { transA: true }), maximum(counts, 1)), C);
        });
        C.dispose();
        C = keep(next);
      }
      const fl = await readAll(flags);
      for (const f of flags) f.dispose();
      fl.forEach((f, j) => f.forEach((v, r) => { if (iterations[r] < 0 && v === 0) iterations[r] = t0 + j; }));
      if (iterations.every((x) => x >= 0)) break;
    }
    const [assign, centroids] = await readAll([prev, C]);
    return { assign, centroids, iterations: iterations.map((x) => (x < 0 ? iters : x)) };
  } finally {
    for (const x of [C, prev, kRev, kIdx]) x.dispose();
  }
}

function best(xh: Float64Array, ah: Float64Array, ch: Float64Array, n: number, d: number, k: number, R: number, its: number[]): KmeansGpuResult {
  const all: { inertia: number; iterations: number }[] = [];
  let out: KmeansGpuResult | null = null;
  for (let r = 0; r < R; r++) {
    const assign = new Int32Array(n);
    let inertia = 0;
    for (let i = 0; i < n; i++) {
      const c = (assign[i] = ah[i * R + r]);
      for (let f = 0; f < d; f++) inertia += (xh[i * d + f] - ch[(r * k + c) * d + f]) ** 2;
    }
    all.push({ inertia, iterations: its[r] });
    if (!out || inertia < out.inertia) {
      out = { assign, centroids: ch.slice(r * k * d, (r + 1) * k * d), inertia, iterations: its[r], restart: r, restarts: all };
    }
  }
  return out!;
}

/** Joins device pieces [n_i, d] into one [Σn_i, d] tensor (the input itself when there is one). */
export function joinRows(pieces: readonly Tensor[]): Tensor {
  return pieces.length === 1 ? pieces[0] : noGrad(() => concat(pieces, 0));
}
