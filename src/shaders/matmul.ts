// WGSL matmul: C[b] = op(A[b]) · op(B[b]) with op = identity or transpose. This file holds the
// variant choice per adapter class and shape (measured with `npm run bench -- --suite matmul`,
// figures in bench/RESULTS.md) and the plan cache; each variant lives in its own file: `rb4x4`
// (register-blocked, the fallback), `rowbcast`, `rowubo` (software adapters; with subgroups, A's
// loads shared by subgroupBroadcast) and `tiled`
// (hardware GPUs), all over the types of matmul-plan.ts.
import { oneDispatch, type MatmulKernelPlan, type MatmulShape } from "./matmul-plan";
import { rb4x4Kernel } from "./matmul-rb4x4";
import { matmulDims, rowbcastFits, rowbcastKernel, type RowbcastOptions } from "./matmul-rowbcast";
import { rowuboFits, rowuboKernel, type RowuboOptions } from "./matmul-rowubo";
import { tiledKernel } from "./matmul-tiled";

export type { MatmulEnv, MatmulKernelPlan, MatmulLaunch, MatmulShape } from "./matmul-plan";

/** The adapter facts the variant choice depends on (a subset of AdapterInfo). */
export interface MatmulAdapter {
  /** Software rasterizer (lavapipe / SwiftShader): barriers are costly, FMAs per load win. */
  isSoftware: boolean;
  /** Smallest subgroup size when the device has the `subgroups` feature (null or absent: none). */
  subgroupMinSize?: number | null;
}

/**
 * Kernel variants: `rb4x4` register-blocked, `rowbcast` 8 rows per workgroup, `rowubo` rowbcast
 * with A read through uniform windows, `tiled` shared memory.
 */
export type MatmulVariant = "rb4x4" | "rowbcast" | "rowubo" | "tiled";

/** A chosen kernel: code, dispatches and which variant it is. */
export interface MatmulPlan extends MatmulKernelPlan {
  readonly variant: MatmulVariant;
}

/** Options of the variants that take any (rowbcast: rows, wg; rowubo: all four). */
export type MatmulVariantOptions = Partial<RowuboOptions>;

/**
 * rowbcast settings chosen on lavapipe: 8 rows × wg 16 beat r4 wg16, r8 wg8 and r8 wg32 at most
 * swept shapes. Measured by `npm run bench -- --suite matmul`, variant cases "square 512" and
 * "gpt fc fwd" (bench/RESULTS.md, "Matmul variants").
 */
export const ROWBCAST_DEFAULT: RowbcastOptions = { rows: 8, wg: 16 };

/**
 * rowubo settings chosen on lavapipe: 16 rows (a K deeper than 1024 runs in chunks), 4 windows
 * of 64 KiB. 16 rows matched or beat 8 at 6 of 8 measured shapes (`npm run bench -- --suite
 * matmul`, variant cases "square 512" and "gpt fc fwd" against "rowubo r8"). 4 windows ran within
 * ±15 % of 8 at 13 shapes from 2^23 to 2^31 multiply-adds, neither ahead overall, and compile in
 * half the time: each window is a copy of the K loop in the kernel (bench/RESULTS.md, "rowubo").
 */
export const ROWUBO_DEFAULT: RowuboOptions = { rows: 16, wg: 16, windows: 4, windowBytes: 65536, broadcast: false };

/**
 * rowubo on software adapters with subgroups of at least 8 lanes: each lane loads one of every 8
 * rows of A's K step and `subgroupBroadcast` hands the rows on, so A costs 1/8 of the uniform
 * gathers. Alternated on lavapipe (2026-12-07, GFLOP/s of GPU time, medians of 7), 16 rows
 * against {@link ROWUBO_DEFAULT}: 1024³ 22.1 against 13.9, the config-a MLP product
 * [2048,128]×[128,512] 20.0 against 14.0, its dW 21.1 against 14.3, [2048,512]×[512,2048] 24.4
 * against 16.2. 32 rows, selected since rowubo's stores became a loop (their cold compile 1.4 s
 * against 0.9 s for 16 rows; 5.0–6.5 s before): 1.03–1.20× 16 rows' speed at config a's ten
 * product shapes and 1024³, and config a's step 5–9 % less GPU time (bench/RESULTS.md,
 * "rowubo: 32 rows"). 32 rows of a 64 KiB window hold 512 columns of K, so a deeper K runs in
 * chunks of 512 (1024 at 16 rows): backward's dW (K = B·T) rounds differently than with 16 rows.
 * The results are bit-identical to ROWUBO_DEFAULT's at the same rows: same chunks, same order.
 * A is read in place where it can be (one chunk of K, A at least one window long), skipping its
 * copy: config a's forward and dX products ran 0.98–1.26× faster, T512's MLP 1.05–1.07×, d512's
 * qkv 0.97× (packed GPU time, copy included, over in place; alternated, medians of 15;
 * bench/RESULTS.md, "rowubo: A in place"). Without subgroups the same comparison was mixed
 * (0.85–1.19×), so ROWUBO_DEFAULT copies.
 */
export const ROWUBO_SUBGROUP: RowuboOptions = { rows: 32, wg: 16, windows: 4, windowBytes: 65536, broadcast: true, inPlaceA: true };

/**
 * The rowubo settings for an adapter and shape, or null when they do not fit:
 * {@link ROWUBO_SUBGROUP} with subgroups of ≥ 8 lanes (16 rows where 32 do not fit: M not a
 * multiple of 32, or K deeper than 16 chunks of 512), {@link ROWUBO_DEFAULT} without; with
 * workgroups of 8 lanes instead of 16 when that leaves fewer lanes past N's last vec4 column
 * (N / 4 = 16j + 1 … 16j + 8). Alternated on lavapipe (2026-12-07, GPU ms, medians of 7, subgroup
 * broadcast, 16 rows): the logit lens [20480, 128]·[65, 128]ᵀ 39.4 → 33.9 and 49.9 → 42.8, the
 * seeds task's head [4096, 128]·[65, 128]ᵀ 7.2 → 6.2 and 7.7 → 6.5, [4096, 128]·[128, 96] 7.0 →
 * 5.6; at N / 4 = 9 (the same lanes either way) 8.9 against 8.8.
 */
export function rowuboOptionsFor(p: MatmulShape, adapter: MatmulAdapter): RowuboOptions | null {
  const o = (adapter.subgroupMinSize ?? 0) >= 8 ? ROWUBO_SUBGROUP : ROWUBO_DEFAULT;
  const n4 = Math.ceil(p.N / 4);
  const lanes = (wg: number) => Math.ceil(n4 / wg) * wg;
  for (const r of o.rows > 16 ? [o, { ...o, rows: 16 }] : [o]) {
    const sized = lanes(8) < lanes(r.wg) ? { ...r, wg: 8 } : r;
    if (rowuboFits(p, sized)) return sized;
  }
  return null;
}

/**
 * Smallest product (M·N·K, batches included) that rowubo takes on software adapters. Since its
 * kernels read their sizes from a uniform (one product pipeline and a copy kernel per transpose,
 * compiled once per process), its compile cost no longer scales with the shapes used, and it beat rowbcast at
 * every measured shape from 2^22.8 multiply-adds (the R1 model's qkv, 1.25×) up, 1.2–2.7× (the
 * S1 and config-a step's products, MLP, 1024³; bench/RESULTS.md, "rowubo"). Below ~2^20 the copy
 * of A and the extra dispatch are not worth it (not timed; `npm run bench -- --suite matmul`).
 */
export const ROWUBO_MIN_MACS = 2 ** 20;

/**
 * Fewest 64×64 output tiles for `tiled` on hardware GPUs: below it rb4x4's 32×32 tiles give 4×
 * the workgroups. Reasoned from occupancy and checked for correctness on an H100
 * (scripts/gpu-check.ts), not timed: `npm run bench -- --suite matmul` on a GPU, variant cases
 * "square 128" and "square 256" (rb4x4 vs tiled64), would measure it.
 */
export const TILED_MIN_TILES = 16;

/**
 * The variant for an adapter class and shape. Software adapters: `rowubo` for products of at
 * least {@link ROWUBO_MIN_MACS} that it fits at the settings of {@link rowuboOptionsFor}, else `rowbcast` whenever its vec4 layout fits (it
 * beats rb4x4 at every measured transformer and square shape), else `rb4x4`.
 * Hardware GPUs: `tiled` once the output has at least {@link TILED_MIN_TILES} 64×64 tiles,
 * `rb4x4` for small outputs where its 32×32 tiles give more parallelism.
 */
export function selectMatmulVariant(p: MatmulShape, adapter: MatmulAdapter): MatmulVariant {
  if (adapter.isSoftware) {
    if (p.M * p.N * p.K * p.batch >= ROWUBO_MIN_MACS && rowuboOptionsFor(p, adapter)) return "rowubo";
    return rowbcastFits(p, ROWBCAST_DEFAULT) ? "rowbcast" : "rb4x4";
  }
  const tiles = Math.ceil(p.M / 64) * Math.ceil(p.N / 64) * p.batch;
  return tiles >= TILED_MIN_TILES ? "tiled" : "rb4x4";
}

/** Kernel and dispatches of one variant (null when the variant cannot handle the shape). */
export function matmulVariantKernel(variant: MatmulVariant, p: MatmulShape,
  opts: MatmulVariantOptions = {}): MatmulKernelPlan | null {
  if (variant === "rowubo") {
    return rowuboKernel(p, { ...ROWUBO_DEFAULT, ...opts });
  }
  if (variant === "rowbcast") {
    const o = { ...ROWBCAST_DEFAULT, ...opts };
    return rowbcastFits(p, o) ? oneDispatch(rowbcastKernel(p, o), matmulDims(p)) : null;
  }
  if (variant === "tiled") return oneDispatch(tiledKernel(p));
  return oneDispatch(rb4x4Kernel(p));
}

// Plans by shape and adapter class: a training step asks for the same few products every step,
// and reusing the plan skips regenerating WGSL (~16 KB for rowubo) and rehashing it in the
// runtime's pipeline cache. Cleared when full, as programs with many shapes are rare.
const plans = new Map<string, MatmulPlan>();
/** A bound on the cache, not a tuned figure: a GPT step uses about 20 product shapes. */
const MAX_PLANS = 512;

/**
 * Kernel and dispatches for a matmul on an adapter (default: a software adapter, the CPU-friendly
 * choice). See {@link selectMatmulVariant}. Plans are cached per shape, adapter class and subgroup size.
 */
export function matmulKernel(p: MatmulShape, adapter: MatmulAdapter = { isSoftware: true }): MatmulPlan {
  const key = `${p.M},${p.N},${p.K},${p.batch},${p.transA},${p.transB},${p.bShared},${adapter.isSoftware},${adapter.subgroupMinSize ?? 0}`;
  let plan = plans.get(key);
  if (!plan) {
    if (plans.size >= MAX_PLANS) plans.clear();
    const variant = selectMatmulVariant(p, adapter);
    const opts = variant === "rowubo" ? rowuboOptionsFor(p, adapter)! : {};
    plan = Object.freeze({ ...matmulVariantKernel(variant, p, opts)!, variant }); // shared by every caller
    plans.set(key, plan);
  }
  return plan;
}
