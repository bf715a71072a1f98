// The probe contract: what a probe declares (taps, needs, the PROTOCOL.md definition it follows),
// what it sees at each tap (ProbeContext: targets, labels, emitters) and what an evaluation pass
// hands to its finish() step. The driver that runs probes is ProbeSet (probe-set.ts).
import { layerNorm, matmul, type BackendName, type Tensor } from "../tensor/index";
import type { GPT } from "../nn/gpt";

/** Which PROTOCOL.md definition a probe implements (every output names it). */
export type Definition = "D1" | "D2" | "D3" | "D4" | "D5" | "D6" | "custom";

/**
 * One forward's inputs on the host. `LMBatch` (x, y) is a ProbeBatch; labels are per-position
 * class ids (−1 = no label), e.g. `{ seed, next, seedNext }` from the S1 task.
 */
export interface ProbeBatch {
  B: number;
  T: number;
  /** Input ids, row-major [B, T]. */
  x: Int32Array;
  /** Next-token targets [B, T]; `ignoreIndex` (default −1) marks positions that are not scored. */
  y?: Int32Array;
  /** Per-position labels [B, T] by name; −1 = unlabeled. */
  labels?: Readonly<Record<string, Int32Array>>;
}

/**
 * The logit lens of a model: its own final norm LN_f and unembedding W_U [V, C], so that
 * logits = LN_f(h) · W_Uᵀ. `norm` must use detached parameters (no tape through the weights).
 */
export interface Lens {
  /** LN_f over the last axis: [..., C] → [..., C]. */
  norm(h: Tensor): Tensor;
  /** The live unembedding [V, C]; probes detach it before use. */
  readonly wU: Tensor;
  /** The token embedding E [V, C] for D3's ‖E[v]‖ (null when the model has none). */
  readonly embedding: Tensor | null;
}

/** The lens of a {@link GPT}: `model.lnF` with detached weights and `model.wU`. */
export function gptLens(model: GPT): Lens {
  const ln = model.lnF;
  return {
    norm: (h) => layerNorm(h, ln.weight.detach(), ln.bias.detach(), ln.eps),
    get wU() { return model.wU; },
    get embedding() { return model.wte.weight; },
  };
}

/** Logits of the lens: LN_f(h) · W_Uᵀ, [N, C] → [N, V] (W_U detached). */
export function lensLogits(lens: Lens, h: Tensor): Tensor {
  return matmul(lens.norm(h), lens.wU.detach(), { transB: true });
}

/**
 * Tap patterns of the residual stream h^0..h^L of a GPT-style model: block l's input is h^l and
 * its output h^{l+1} (the same tensor as block l+1's input, counted once), so the stream index
 * of a match is the layer l of PROTOCOL.md's notation.
 */
export const RESIDUAL_TAPS: readonly string[] = ["blocks.*.in", "blocks.*.out"];

/** How array outputs of several forwards combine: joined along axis 0, summed, or averaged. */
export type Combine = "concat" | "sum" | "mean";

/** What a probe sees at a tap: the forward's inputs on the device, and where to put results. */
export interface ProbeContext {
  /** "train": inside a training step (scalars only); "eval": an evaluation pass (arrays too). */
  readonly mode: "train" | "eval";
  /** Whether array outputs are collected (eval passes). */
  readonly arrays: boolean;
  /** Index of this forward within the step or pass (its batch). */
  readonly forward: number;
  /** Host inputs of this forward. */
  readonly batch: ProbeBatch;
  readonly backend: BackendName;
  readonly ignoreIndex: number;
  /** The model's logit lens (throws when the ProbeSet has none). */
  readonly lens: Lens;
  /** Number of scored positions (targets ≠ ignoreIndex). */
  readonly nValid: number;
  /** Targets as i32 [B·T] (throws when the batch has none). */
  targets(): Tensor;
  /** f32 [B·T]: 1 where the target is scored, else 0. */
  valid(): Tensor;
  /**
   * A host id array (e.g. [B·T] token ids, or gather indices) as i32 on the device, made once per
   * forward and `key`; values outside [0, size) are mapped to `size` (an overflow bucket).
   */
  ids(key: string, values: Int32Array, size: number): Tensor;
  /** Another tap of the current forward by its full name (e.g. `blocks.2.attn_out`). */
  tapped(name: string): Tensor | undefined;
  /** Records a one-element result under (key, index): per step in training, averaged in eval. */
  scalar(key: string, index: number, t: Tensor): void;
  /** Records the n values of `t` under (key, start … start+n−1) in one go (e.g. all layers at once). */
  scalars(key: string, t: Tensor, start?: number): void;
  /** Records an array under (key, index) in eval passes (ignored in training). */
  array(key: string, index: number, t: Tensor, combine: Combine, opts?: { read?: boolean }): void;
  /** A tensor kept for the life of the ProbeSet under `key`, made once (e.g. a fixed random direction). */
  persistent(key: string, make: () => Tensor): Tensor;
  /** A tensor made once per forward under `key` and shared by the probes (e.g. the stacked residual stream). */
  memo(key: string, make: () => Tensor): Tensor;
  /**
   * True when onForwardEnd() runs while this forward's tensors are alive and the weights are those
   * of the forward (evaluation passes, or training with the ProbeSet's `lastTap`); a probe may then
   * collect taps and compute once per forward instead of once per tap.
   */
  readonly canDefer: boolean;
}

/** A host array read back after an evaluation pass, with its combined shape. */
export interface HostArray {
  data: Float64Array;
  shape: number[];
}

/** What prepare() receives before an evaluation pass. */
export interface PrepareEnv {
  /** The pass's batches, in forward order. */
  readonly batches: readonly ProbeBatch[];
  readonly backend: BackendName;
  /** The ProbeSet's logit lens, if any. */
  readonly lens: Lens | null;
  readonly ignoreIndex: number;
}

/** What finish() receives after an evaluation pass. */
export interface PassOutput {
  /** The pass's batches, in forward order. */
  readonly batches: readonly ProbeBatch[];
  /** The ProbeSet's logit lens, if any. */
  readonly lens: Lens | null;
  readonly ignoreIndex: number;
  /** Mean over forwards of each scalar key, by index (NaN where an index was never written). */
  scalars(key: string): number[];
  /** Host arrays of a key by index (only those recorded with read ≠ false). */
  arrays(key: string): HostArray[];
  /** Device pieces of a key by index, one per forward (alive until every finish() returns). */
  pieces(key: string): Tensor[][];
}

/** A probe: tap patterns, needs, the per-tap computation and an optional host-side finish. */
export interface Probe<R = unknown> {
  /** Unique name; output keys are `${name}.${quantity}`. */
  readonly name: string;
  readonly definition: Definition;
  /** The documented reading of the definition used (goes into every report). */
  readonly reading: string;
  /** Tap patterns (globs over dotted names: `*` = one segment, `**` = any number). */
  readonly taps: readonly string[];
  readonly needs?: {
    /** Targets y (D1, D2, D4). */
    targets?: boolean;
    /** Grad mode during the forward (D2's functional backward). */
    grad?: boolean;
    /** Attention probabilities (D5). */
    probs?: boolean;
    /** The logit lens. */
    lens?: boolean;
    /** Labels the batches must carry. */
    labels?: readonly string[];
  };
  /** Runs only in evaluation passes (heavy probes). */
  readonly evalOnly?: boolean;
  /**
   * Called at each matching tap; `index` counts the distinct tensors matched so far in this
   * forward (the layer l for the residual stream). Runs in its own tidy() scope, under noGrad()
   * unless `needs.grad`. Must not modify `x`.
   */
  onTap(name: string, x: Tensor, index: number, ctx: ProbeContext): void;
  /** Called once when the forward ends (same scope rules as onTap); see ProbeContext.canDefer. */
  onForwardEnd?(ctx: ProbeContext): void;
  /** Before an evaluation pass (e.g. an eigendecomposition, choosing sample positions). */
  prepare?(env: PrepareEnv): Promise<void> | void;
  /** After an evaluation pass: builds the probe's result from what it recorded. */
  finish?(out: PassOutput): Promise<R> | R;
  /** Releases what prepare() kept. */
  dispose?(): void;
}

/** The result type of a probe. */
export type ResultOf<P> = P extends Probe<infer R> ? R : never;

/** Names each output key's definition and reading, e.g. "D1 inner loss: logit-lens CE …". */
export function describeProbe(p: Probe): string {
  return p.name === p.definition ? `${p.definition}: ${p.reading}` : `${p.definition} (${p.name}): ${p.reading}`;
}
