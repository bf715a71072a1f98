// WGSL matmul: C[b] = op(A[b]) · op(B[b]) with op = identity or transpose. This file holds the
// variant choice per adapter class and shape (measured with `npm run bench -- --suite matmul`,
// figures in bench/RESULTS.md) and the register-blocked 4×4 kernel with no workgroup memory;
// `rowbcast`, `rowubo` (software adapters) and `tiled` (hardware GPUs) live in their own files.
import type { Dispatch, Kernel } from "../tensor/webgpu/runtime";
import { rowbcastFits, rowbcastKernel, type RowbcastOptions } from "./matmul-rowbcast";
import { rowuboFits, rowuboKernel, type RowuboOptions } from "./matmul-rowubo";
import { tiledKernel } from "./matmul-tiled";
import { kernel } from "./wgsl";

/** Problem description baked into the kernel. */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** Number of batched products (grid z). */
  batch: number;
  /** A is stored [K, M] per batch instead of [M, K]. */
  transA: boolean;
  /** B is stored [N, K] per batch instead of [K, N]. */
  transB: boolean;
  /** B has no batch dimension (shared by every batch). */
  bShared: boolean;
}

/** The adapter facts the variant choice depends on (a subset of AdapterInfo). */
export interface MatmulAdapter {
  /** Software rasterizer (lavapipe / SwiftShader): barriers are costly, FMAs per load win. */
  isSoftware: boolean;
}

/**
 * Kernel variants: `rb4x4` register-blocked, `rowbcast` 8 rows per workgroup, `rowubo` rowbcast
 * with A read through uniform windows, `tiled` shared memory.
 */
export type MatmulVariant = "rb4x4" | "rowbcast" | "rowubo" | "tiled";

/**
 * The dispatches of a matmul for the buffers of A, B and C. `scratch(bytes)` returns temporary
 * storage that stays valid until the dispatches have run (rowubo's repacked copy of A).
 */
export type MatmulLaunch = (a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, scratch: (bytes: number) => GPUBuffer) => Dispatch[];

/** A variant's kernels and how to dispatch them. */
export interface MatmulKernelPlan {
  /** Every kernel the dispatches use, the copy of A (rowubo) first. */
  readonly kernels: readonly Kernel[];
  readonly launches: MatmulLaunch;
}

/** A chosen kernel: code, dispatches and which variant it is. */
export interface MatmulPlan extends MatmulKernelPlan {
  readonly variant: MatmulVariant;
}

/** Options of the variants that take any (rowbcast: rows, wg; rowubo: all four). */
export type MatmulVariantOptions = Partial<RowuboOptions>;

const WGX = 8, WGY = 8; // rb4x4: 8×8 invocations × 4×4 outputs = a 32×32 tile per workgroup

/** rowbcast settings chosen on lavapipe (bench/RESULTS.md, "matmul variants"). */
export const ROWBCAST_DEFAULT: RowbcastOptions = { rows: 8, wg: 16 };

/**
 * rowubo settings chosen on lavapipe: 16 rows (a K deeper than 1024 runs in chunks), 8 windows
 * of 64 KiB. 16 rows matched or beat 8 at 6 of 8 measured shapes (bench/RESULTS.md, "rowubo").
 */
export const ROWUBO_DEFAULT: RowuboOptions = { rows: 16, wg: 16, windows: 8, windowBytes: 65536 };

/**
 * Smallest product (M·N·K, batches included) that rowubo takes on software adapters. It beat
 * rowbcast from 256³ up (1.3× at 512³, 1.55× at 1024³) but its pipelines compile ~2 s longer on
 * a cold Mesa shader cache (a switch over 8 copies of the K loop): the time saved per call
 * repays that within ~500 calls at 512³ and ~40 at 1024³ (bench/RESULTS.md, "rowubo").
 */
export const ROWUBO_MIN_MACS = 2 ** 27;

/**
 * The variant for an adapter class and shape. Software adapters: `rowubo` for products of at
 * least {@link ROWUBO_MIN_MACS} that it fits, else `rowbcast` whenever its vec4 layout fits (it
 * beats rb4x4 at every measured transformer and square shape), else `rb4x4`.
 * Hardware GPUs: `tiled` once the output has at least 16 64×64 tiles (enough workgroups to fill
 * the machine), `rb4x4` for small outputs where its 32×32 tiles give more parallelism.
 */
export function selectMatmulVariant(p: MatmulShape, adapter: MatmulAdapter): MatmulVariant {
  if (adapter.isSoftware) {
    if (p.M * p.N * p.K * p.batch >= ROWUBO_MIN_MACS && rowuboFits(p, ROWUBO_DEFAULT)) return "rowubo";
    return rowbcastFits(p, ROWBCAST_DEFAULT) ? "rowbcast" : "rb4x4";
  }
  const tiles = Math.ceil(p.M / 64) * Math.ceil(p.N / 64) * p.batch;
  return tiles >= 16 ? "tiled" : "rb4x4";
}

/** Kernel and dispatches of one variant (null when the variant cannot handle the shape). */
export function matmulVariantKernel(variant: MatmulVariant, p: MatmulShape,
  opts: MatmulVariantOptions = {}): MatmulKernelPlan | null {
  if (variant === "rowubo") {
    return rowuboKernel(p, { ...ROWUBO_DEFAULT, ...opts });
  }
  if (variant === "rowbcast") {
    const o = { ...ROWBCAST_DEFAULT, ...opts };
    return rowbcastFits(p, o) ? oneDispatch(rowbcastKernel(p, o)) : null;
  }
  if (variant === "tiled") return oneDispatch(tiledKernel(p));
  const aligned = p.M % 4 === 0 && p.N % 4 === 0 && p.K % 4 === 0;
  const grid = [Math.ceil(p.N / (4 * WGX)), Math.ceil(p.M / (4 * WGY)), p.batch];
  return oneDispatch({ k: aligned ? alignedKernel(p) : genericKernel(p), grid });
}

/** A plan with one dispatch of `k` over `grid`, binding A, B and C whole. */
function oneDispatch({ k, grid }: { k: Kernel; grid: number[] }): MatmulKernelPlan {
  return { kernels: [k], launches: (a, b, c) => [{ kernel: k, buffers: [a, b, c], grid }] };
}

// Plans by shape and adapter class: a training step asks for the same few products every step,
// and reusing the plan skips regenerating WGSL (~16 KB for rowubo) and rehashing it in the
// runtime's pipeline cache. Cleared when full, as programs with many shapes are rare.
const plans = new Map<string, MatmulPlan>();
const MAX_PLANS = 512;

/**
 * Kernel and dispatches for a matmul on an adapter (default: a software adapter, the CPU-friendly
 * choice). See {@link selectMatmulVariant}. Plans are cached per shape and adapter class.
 */
export function matmulKernel(p: MatmulShape, adapter: MatmulAdapter = { isSoftware: true }): MatmulPlan {
  const key = `${p.M},${p.N},${p.K},${p.batch},${p.transA},${p.transB},${p.bShared},${adapter.isSoftware}`;
  let plan = plans.get(key);
  if (!plan) {
    if (plans.size >= MAX_PLANS) plans.clear();
    const variant = selectMatmulVariant(p, adapter);
    plan = Object.freeze({ ...matmulVariantKernel(variant, p)!, variant }); // shared by every caller
    plans.set(key, plan);
  }
  return plan;
}

function header(p: MatmulShape, vec: boolean): { bindings: Parameters<typeof kernel>[1]; pre: string } {
  const T = vec ? "vec4f" : "f32";
  const div = vec ? 4 : 1;
  return {
    bindings: [
      { name: "A", kind: "read", type: T },
      { name: "B", kind: "read", type: T },
      { name: "C", kind: "rw", type: T },
    ],
    pre: `
@compute @workgroup_size(${WGX}, ${WGY})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  let bz = gid.z;
  if (m0 >= ${p.M}u || n0 >= ${p.N}u) { return; }
  let aOff = bz * ${(p.M * p.K) / div}u;
  let bOff = ${p.bShared ? "0u" : `bz * ${(p.K * p.N) / div}u`};
  let cOff = bz * ${(p.M * p.N) / div}u;`,
  };
}

function alignedKernel(p: MatmulShape): Kernel {
  const { M, N, K } = p;
  // a[r] holds op(A)[m0+r, k..k+3]; b[kk] holds op(B)[k+kk, n0..n0+3].
  const loadA = p.transA
    ? `let t0 = A[aOff + ((k + 0u) * ${M}u + m0) / 4u]; let t1 = A[aOff + ((k + 1u) * ${M}u + m0) / 4u];
      let t2 = A[aOff + ((k + 2u) * ${M}u + m0) / 4u]; let t3 = A[aOff + ((k + 3u) * ${M}u + m0) / 4u];
      let a = array<vec4f, 4>(vec4f(t0.x, t1.x, t2.x, t3.x), vec4f(t0.y, t1.y, t2.y, t3.y),
                              vec4f(t0.z, t1.z, t2.z, t3.z), vec4f(t0.w, t1.w, t2.w, t3.w));`
    : `let a = array<vec4f, 4>(A[aOff + ((m0 + 0u) * ${K}u + k) / 4u], A[aOff + ((m0 + 1u) * ${K}u + k) / 4u],
                              A[aOff + ((m0 + 2u) * ${K}u + k) / 4u], A[aOff + ((m0 + 3u) * ${K}u + k) / 4u]);`;
  const loadB = p.transB
    ? `let u0 = B[bOff + ((n0 + 0u) * ${K}u + k) / 4u]; let u1 = B[bOff + ((n0 + 1u) * ${K}u + k) / 4u];
      let u2 = B[bOff + ((n0 + 2u) * ${K}u + k) / 4u]; let u3 = B[bOff + ((n0 + 3u) * ${K}u + k) / 4u];
      let b = array<vec4f, 4>(vec4f(u0.x, u1.x, u2.x, u3.x), vec4f(u0.y, u1.y, u2.y, u3.y),
                              vec4f(u0.z, u1.z, u2.z, u3.z), vec4f(u0.w, u1.w, u2.w, u3.w));`
    : `let b = array<vec4f, 4>(B[bOff + ((k + 0u) * ${N}u + n0) / 4u], B[bOff + ((k + 1u) * ${N}u + n0) / 4u],
                              B[bOff + ((k + 2u) * ${N}u + n0) / 4u], B[bOff + ((k + 3u) * ${N}u + n0) / 4u]);`;
  const { bindings, pre } = header(p, true);
  return kernel(`matmul_rb4x4_v4${p.transA ? "_tA" : ""}${p.transB ? "_tB" : ""}`, bindings, `${pre}
  var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var k = 0u; k < ${K}u; k += 4u) {
    ${loadA}
    ${loadB}
    for (var r = 0u; r < 4u; r++) {
      acc[r] += a[r].x * b[0] + a[r].y * b[1] + a[r].z * b[2] + a[r].w * b[3];
    }
  }
  for (var r = 0u; r < 4u; r++) { C[cOff + ((m0 + r) * ${N}u + n0) / 4u] = acc[r]; }
}`);
}

function genericKernel(p: MatmulShape): Kernel {
  const { M, N, K } = p;
  const aIdx = (m: string, k: string) => (p.transA ? `${k} * ${M}u + ${m}` : `${m} * ${K}u + ${k}`);
  const bIdx = (k: string, n: string) => (p.transB ? `${n} * ${K}u + ${k}` : `${k} * ${N}u + ${n}`);
  const { bindings, pre } = header(p, false);
  return kernel(`matmul_rb4x4${p.transA ? "_tA" : ""}${p.transB ? "_tB" : ""}`, bindings, `
fn ldA(off: u32, m: u32, k: u32) -> f32 { if (m < ${M}u) { return A[off + ${aIdx("m", "k")}]; } return 0.0; }
fn ldB(off: u32, k: u32, n: u32) -> f32 { if (n < ${N}u) { return B[off + ${bIdx("k", "n")}]; } return 0.0; }
${pre}
  var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var k = 0u; k < ${K}u; k++) {
    let b = vec4f(ldB(bOff, k, n0), ldB(bOff, k, n0 + 1u), ldB(bOff, k, n0 + 2u), ldB(bOff, k, n0 + 3u));
    for (var r = 0u; r < 4u; r++) { acc[r] += ldA(aOff, m0 + r, k) * b; }
  }
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m < ${M}u) {
      for (var c = 0u; c < 4u; c++) { if (n0 + c < ${N}u) { C[cOff + m * ${N}u + n0 + c] = acc[r][c]; } }
    }
  }
}`);
}
