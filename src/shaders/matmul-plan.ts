// The matmul problem and plan types shared by every matmul variant (rb4x4, rowbcast, rowubo,
// tiled) and by the variant choice in matmul.ts, which imports the variants; the variants import
// only this file, so the matmul generators form no circle.
import type { BufferBinding, Dispatch, Kernel } from "./wgsl";

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

/** What a matmul's dispatches need from whoever encodes them. */
export interface MatmulEnv {
  /** Temporary storage that stays valid until the dispatches have run (rowubo's repacked copy of A). */
  scratch(bytes: number): GPUBuffer;
  /** A uniform buffer holding `data` (the sizes the shape-generic kernels read), valid as long. */
  uniform(data: Uint32Array<ArrayBuffer>): BufferBinding;
}

/**
 * The dispatches of a matmul for the buffers of A, B and C, and of a bias [N] added to every row
 * of C (only for a plan that {@link MatmulKernelPlan.fusesBias}).
 */
export type MatmulLaunch = (a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, env: MatmulEnv, bias?: GPUBuffer) => Dispatch[];

/** A variant's kernels and how to dispatch them. */
export interface MatmulKernelPlan {
  /** Every kernel the dispatches use, the copy of A (rowubo) first. */
  readonly kernels: readonly Kernel[];
  readonly launches: MatmulLaunch;
  /** Whether `launches` takes a bias and adds it in the product's store (rowubo with N in vec4s). */
  readonly fusesBias?: boolean;
}

/** A plan with one dispatch of `k` over `grid`, binding A, B and C whole (and `dims` as a uniform, last). */
export function oneDispatch({ k, grid }: { k: Kernel; grid: number[] }, dims?: Uint32Array<ArrayBuffer>): MatmulKernelPlan {
  return {
    kernels: [k],
    launches: (a, b, c, env) => [{ kernel: k, buffers: dims ? [a, b, c, env.uniform(dims)] : [a, b, c], grid }],
  };
}
