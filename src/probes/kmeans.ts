// k-means on the device (D6's engine), following metrics.kmeansCpu's conventions: k-means++
// seeding with restart r drawn from mulberry32(seed + r), ties to the lower centroid index, an empty
// cluster keeps its centroid, stop when no assignment changes, best restart = lowest inertia.
// Restarts run side by side as one [R·k, d] centroid matrix; distances are one matmul. For large
// n the seeding itself runs on the device too (seedOnDevice: the D² draws by a blocked prefix sum),
// so D6 at the paper's scale (8,192 positions × 768 dims, k up to 1,040) never loops on the host.
import {
  add, affine, arange, concat, div, eq, fromValues, ge, gt, keep, le, lt, matmul, max, maximum, mul, ne, neg, noGrad,
  readAll, reshape, slice, sub, sum, sumSquares, tidy, where, full, type Tensor,
} from "../tensor/index";
import { kmeansPlusPlusInit, kmeansPlusPlusSample, mulberry32, type KmeansOptions, type KmeansResult, type Rng } from "./metrics";

/** Options of {@link kmeansGpu}. */
export interface KmeansGpuOptions extends KmeansOptions {
  /** Iterations encoded between convergence checks (one readback each; default 8). */
  checkEvery?: number;
  /**
   * k-means++ seeding: "distances" (on the host from the n×n squared distances computed on the
   * device and read back once; the default for n ≤ 4096), "device" (the same draws made on the
   * device, one D² step per centroid for all restarts at once; the default above 4096, where the
   * n×n matrix would not fit and the host scan would take hours), or "exact" (the reference
   * metrics.kmeansPlusPlusInit on the read-back rows, O(n·k·d) per restart on the host).
   */
  seeding?: "distances" | "device" | "exact";
  /** Explicit initial centroids as row indices of X, one list of k per restart (skips k-means++). */
  init?: readonly ArrayLike<number>[];
  /** Restarts run side by side while n·restarts·k ≤ this (default {@link LLOYD_MAX_ELEMENTS}), else in groups. */
  maxElements?: number;
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
  const seeding = opts.seeding ?? (n <= DISTANCES_MAX_N ? "distances" : "device");
  const D = seeding === "distances" && !opts.init ? run(() => pairwiseSqDistances(X)) : null;
  const [xh, dh] = await readAll(D ? [X, D] : [X]);
  D?.dispose();
  const byK = new Map<number, KmeansGpuResult>();
  for (const k of ks) {
    if (byK.has(k)) continue;
    const init = new Float64Array(R * k * d);
    let devicePicks: Int32Array[] | null = null;
    for (let r = 0; r < R; r++) {
      const rows = opts.init ? Array.from(opts.init[r]) : dh ? kmeansPlusPlusFromDistances(dh, n, k, mulberry32(seed + r))
        : seeding === "device" ? (devicePicks ??= await seedOnDevice(X, k, R, seed))[r] : kmeansPlusPlusInit(xh, n, d, k, mulberry32(seed + r));
      rows.forEach((row, c) => init.set(xh.subarray(row * d, row * d + d), (r * k + c) * d));
    }
    devicePicks = null;
    // Restarts side by side, in groups whose [n, g·k] distances stay under LLOYD_MAX_ELEMENTS.
    const group = Math.max(1, Math.min(R, Math.floor((opts.maxElements ?? LLOYD_MAX_ELEMENTS) / (n * k))));
    const assign = new Float64Array(n * R), centroids = new Float64Array(R * k * d), iterations: number[] = [];
    for (let r0 = 0; r0 < R; r0 += group) {
      const g = Math.min(group, R - r0);
      const out = await lloyd(X, init.subarray(r0 * k * d, (r0 + g) * k * d), g, k, iters, checkEvery);
      for (let i = 0; i < n; i++) for (let j = 0; j < g; j++) assign[i * R + r0 + j] = out.assign[i * g + j];
      centroids.set(out.centroids, r0 * k * d);
      iterations.push(...out.iterations);
    }
    byK.set(k, best(xh, assign, centroids, n, d, k, R, iterations));
  }
  return ks.map((k) => byK.get(k)!);
}

/**
 * Above this many rows the default seeding runs on the device: the n×n distance matrix of the
 * "distances" seeding takes 64 MiB at n = 4096 and grows quadratically (bench: probes suite, D6).
 */
export const DISTANCES_MAX_N = 4096;

/**
 * Lloyd runs restarts side by side while their [n, restarts·k] distance and one-hot matrices hold
 * at most this many elements (64 MiB of f32, half of lavapipe's 128 MiB binding limit); beyond it,
 * restarts run in groups (D6 at the paper's scale: 8,192 positions, k = 1,040, 5 restarts).
 */
export const LLOYD_MAX_ELEMENTS = 2 ** 24;

/**
 * k-means++ seeding of R restarts on the device, with the draws of metrics.kmeansPlusPlusSample
 * (restart r: mulberry32(seed + r), one uniform for the first row and one per further centroid)
 * and its rule: row i is picked when the running sum of the D² weights first exceeds u·Σ (rows
 * of weight 0 are never picked; rounding past the end picks the last row of positive weight; all
 * weights 0 → ⌊u·n⌋). Per centroid: the new centroids' distances to every row (one matmul for all
 * restarts), the running minimum, a blocked prefix sum (two small matmuls against triangular
 * ones) and the count of prefix sums ≤ u·Σ — no readback until the k picks of every restart.
 */
export async function seedOnDevice(X: Tensor, k: number, R: number, seed: number): Promise<Int32Array[]> {
  const [n, d] = X.shape;
  const backend = X.backend;
  const bs = Math.min(128, n), nb = Math.ceil(n / bs), np = nb * bs;
  const u = new Float64Array(k * R); // [k, R]: the draws, in the reference's order
  const first = new Float64Array(R * np); // [R, np]: one-hot of each restart's first pick
  for (let r = 0; r < R; r++) {
    const rng = mulberry32(seed + r);
    for (let c = 0; c < k; c++) u[c * R + r] = rng();
    first[r * np + Math.min(n - 1, Math.floor(u[r] * n))] = 1;
  }
  const tri = (m: number, strict: boolean) => fromValues(Float64Array.from({ length: m * m }, (_, i) => {
    const row = Math.floor(i / m), col = i % m;
    return strict ? +(row < col) : +(row <= col);
  }), [m, m], { backend });
  const consts = noGrad(() => {
    const Xp = np === n ? X : keep(concat([X, full([np - n, d], 0, { backend })], 0)); // [np, d], rows ≥ n zero
    return {
      Xp, sq: keep(reshape(sumSquares(Xp, -1), [1, np])),
      valid: keep(fromValues(Float64Array.from({ length: np }, (_, i) => +(i < n)), [1, np], { backend })),
      idx: keep(arange(np, undefined, 1, { backend })), idx1: keep(arange(1, np + 1, 1, { backend })),
      inBlock: keep(tri(bs, false)), acrossBlocks: keep(tri(nb, true)),
      U: keep(fromValues(u, [k, R], { backend })),
      fallback: keep(fromValues(Float64Array.from(u, (v) => Math.min(n - 1, Math.floor(v * n))), [k, R], { backend })),
    };
  });
  let onehot = keep(fromValues(first, [R, np], { backend })); // [R, np]
  let dmin = keep(noGrad(() => mul(consts.valid, 3.0e38))); // [1, np] → [R, np] after the first step
  const picks: Tensor[] = [keep(noGrad(() => max(mul(onehot, consts.idx), -1)))]; // [R]
  try {
    for (let c = 1; c < k; c++) {
      const [next, dm, pick] = run(() => {
        const cRows = matmul(onehot, consts.Xp); // [R, d]: the last picked rows
        const dist = mul(maximum(sub(add(consts.sq, reshape(sumSquares(cRows, -1), [R, 1])), mul(matmul(cRows, consts.Xp, { transB: true }), 2)), 0), consts.valid); // [R, np]
        const m = where(lt(dist, dmin), dist, dmin); // running minimum of D²
        const blocks = reshape(m, [R * nb, bs]);
        const within = reshape(matmul(blocks, consts.inBlock), [R, nb, bs]); // inclusive prefix sums inside each block
        const before = reshape(matmul(reshape(sum(blocks, -1), [R, nb]), consts.acrossBlocks), [R, nb, 1]); // sums of the earlier blocks
        const cum = reshape(add(within, before), [R, np]);
        const total = reshape(slice(cum, [0, np - 1], [R, np]), [R]);
        const uc = reshape(slice(consts.U, [c, 0], [c + 1, R]), [R]);
        const count = sum(le(cum, reshape(mul(uc, total), [R, 1])), -1); // first index whose prefix sum exceeds u·Σ
        const lastPositive = affine(max(mul(gt(m, 0), consts.idx1), -1), 1, -1);
        const p = where(gt(total, 0), where(lt(count, lastPositive), count, lastPositive), reshape(slice(consts.fallback, [c, 0], [c + 1, R]), [R]));
        return [eq(reshape(consts.idx, [1, np]), reshape(p, [R, 1])), m, p];
      });
      onehot.dispose();
      dmin.dispose();
      onehot = keep(next);
      dmin = keep(dm);
      picks.push(keep(pick));
      backend.flush(); // submit each step, so its temporaries return to the pool
    }
    const got = await readAll(picks);
    return Array.from({ length: R }, (_, r) => Int32Array.from({ length: k }, (_, c) => got[c][r]));
  } finally {
    for (const t of [onehot, dmin, ...picks, ...Object.values(consts).filter((t) => t !== X)]) t.dispose();
  }
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
