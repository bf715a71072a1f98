// WGSL causal self-attention on GPT-2's packed qkv [B, T, 3C] (q | k | v, heads as contiguous
// D-wide chunks), FlashAttention-style: blocks of rows against tiles of keys (forward, dQ) or of
// queries (dK/dV), online softmax, only the per-row log-sum-exp saved; the backward recomputes
// the probabilities. This file holds the variant choice per adapter class and the kernel entry
// points; the kernels live in attention-subgroup.ts (software adapters) and attention-tiled.ts
// (workgroup memory, hardware GPUs). Every variant binds the same buffers in the same order:
//   forward [qkv, y, lse], probabilities [qkv, lse, probs], dQ [qkv, dy, y, lse, dqkv, dvec],
//   dK/dV [qkv, dy, dvec, dqkv], then the uniform (T, words per C, heads, words per head; a word is
//   a float for `subgroup`, a vec4 for `tiled` when D is a multiple of 4).
// A query row with a dominant key k (P_k > 1/2) takes dP_k − D = dP_k·Σ_{j≠k} P_j − Σ_{j≠k} P_j·dP_j
// from the other keys: dP_k − D directly cancels to rounding noise when P_k ≈ 1 (issue 17).
import type { Kernel } from "./wgsl";
import { SUBGROUP_BLOCK, subgroupDkv, subgroupDq, subgroupForward, type SubgroupTile } from "./attention-subgroup";
import { TILED_BLOCK, tiledDkv, tiledDq, tiledForward } from "./attention-tiled";

/** Batch, sequence length, heads and head dim (C = H · D). */
export interface AttentionDims {
  B: number;
  T: number;
  H: number;
  D: number;
}

/** A kernel, its grid and the uniform words it needs (bound last; null for none). */
export interface AttentionPlan {
  k: Kernel;
  grid: number[];
  uniform: Uint32Array<ArrayBuffer> | null;
}

/**
 * Kernel families: `subgroup` (software adapters: 4 rows per invocation as vec4s, streamed rows
 * shared by subgroup broadcasts, no workgroup memory) and `tiled` (hardware GPUs: one row per
 * invocation, streamed tiles in workgroup memory).
 */
export type AttentionVariant = "subgroup" | "tiled";

/** The adapter facts the choice depends on. */
export interface AttentionAdapter {
  /** Software rasterizer (lavapipe / SwiftShader). */
  isSoftware: boolean;
  /** The smallest subgroup size when the device has the `subgroups` feature, else null. */
  subgroupMinSize: number | null;
}

/** Floats per query row of the backward's statistics `dvec` [B, H, T, 4]: lse, D, dP_k − D of the dominant key k, k (T: none). */
export const ATTENTION_ROW_STATS = 4;

/**
 * The variant for an adapter. Software adapters with subgroups of at least 8 take `subgroup`: on
 * lavapipe every storage load is scalarized per lane with a bounds-check branch and workgroup
 * memory costs barriers (bench/RESULTS.md, "Attention"); in the bench's `attention variant`
 * cases (T 256, D 32 / 64 / 128) it ran the forward 8.5–11.6× and the backward 6.6–9.7× faster
 * than `tiled` on lavapipe. Everything else takes `tiled`: workgroup memory is what hardware GPUs
 * reward (not measured here: no GPU was lent to this work), and it needs no subgroups.
 */
export function selectAttentionVariant(a: AttentionAdapter): AttentionVariant {
  return a.isSoftware && (a.subgroupMinSize ?? 0) >= 8 ? "subgroup" : "tiled";
}

/**
 * Streamed rows per tile of the `subgroup` kernels: 16. In the bench's `attention variant` cases
 * (T 256, D 32 / 64 / 128; GPU ms) 8 ran the forward at 26–30 and the backward at 82–116 against
 * 16's 20–27 and 68–99; 32 ran the forward 1.1–1.2× faster than 16 but the backward 1.2–1.3×
 * slower (its dK/dV kernel holds two 32-row tiles of scores), and in an interleaved rerun its
 * forward was within noise of 16 (vec4-word kernels; remeasured after the loops went to one
 * element per step, 16 still came out best or level). One tile keeps one pipeline per kernel and head size.
 */
export const SUBGROUP_TILE: SubgroupTile = 16;

/** The four kernels of the op: forward (y, lse), probabilities (probes), dQ (+ row statistics), dK/dV. */
export type AttentionPart = "forward" | "probs" | "dq" | "dkv";

/** Generation options: the `subgroup` tile, and whether `tiled` unrolls its word loops (GPUs; default true). */
export interface AttentionKernelOptions {
  tile?: SubgroupTile;
  unroll?: boolean;
}

/** The kernel of one part for a variant and head size (D and the options are baked; sizes come from the uniform). */
export function attentionKernel(part: AttentionPart, variant: AttentionVariant, D: number, o: AttentionKernelOptions = {}): Kernel {
  if (variant === "subgroup") {
    const kt = o.tile ?? SUBGROUP_TILE;
    return part === "dq" ? subgroupDq(D, kt) : part === "dkv" ? subgroupDkv(D, kt) : subgroupForward(D, kt, part === "probs");
  }
  const u = o.unroll ?? true;
  return part === "dq" ? tiledDq(D, u) : part === "dkv" ? tiledDkv(D, u) : tiledForward(D, u, part === "probs");
}

const cache = new Map<string, Kernel>();

/**
 * The plan of one part for a variant and shape: its kernel (generated once per variant, part, D
 * and options, then cached, so a model's layers and steps share one WGSL string and one pipeline),
 * the grid (blocks of rows, heads, batches) and the uniform (T, words per C, heads, words per head).
 */
export function attentionPlan(part: AttentionPart, variant: AttentionVariant, d: AttentionDims, o: AttentionKernelOptions = {}): AttentionPlan {
  const key = `${part},${variant},${d.D},${o.tile ?? SUBGROUP_TILE},${o.unroll ?? true}`;
  let k = cache.get(key);
  if (!k) cache.set(key, (k = attentionKernel(part, variant, d.D, o)));
  // Words: floats for `subgroup` (its loops step one element at a time), vec4s for `tiled` where D allows.
  const W = variant === "tiled" && d.D % 4 === 0 ? d.D / 4 : d.D;
  const block = variant === "subgroup" ? SUBGROUP_BLOCK : TILED_BLOCK;
  return { k, grid: [Math.ceil(d.T / block), d.H, d.B], uniform: new Uint32Array([d.T, d.H * W, d.H, W]) };
}
