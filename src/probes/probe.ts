// The probe contract: what a probe declares (taps, needs, the PROTOCOL.md definition it follows),
// what it sees at each tap (ProbeContext: targets, labels, emitters) and what an evaluation pass
// hands to its finish() step. The driver that runs probes is ProbeSet (probe-set.ts).
import { matmul, type Backend, type Tensor } from "../tensor/index";
import type { GPT } from "../nn/gpt";
import type { Lens } from "../nn/lens";

export type { Lens } from "../nn/lens";

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

/** The lens of a {@link GPT}: `model.lnF` with detached weights and `model.wU` (= `model.lens`). */
export function gptLens(model: GPT): Lens {
  return model.lens;
}

/**
 * What a ProbeSet asks of the model it probes, beyond the tap points every Module has. Each
 * member is optional and the ProbeSet's options override it: GPT has all four, and a Module of
 * yours may have any of them (no base class or registration needed).
 */
export interface ProbeTarget {
  /** The model's logit lens (its final norm and unembedding), for probes that read through it. */
  readonly lens?: Lens;
  /** The tap that ends a forward: knowing it lets probes compute once per forward in training steps. */
  readonly lastTap?: string;
  /** Vocabulary size of a model that reads token ids: a batch's ids are checked against it where they enter. */
  readonly vocabSize?: number;
  /** The forward on token ids i32 [B, T] to logits: what evaluate() runs unless the options give a forward. */
  logits?(ids: Tensor): Tensor;
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
  /** The model's backend (create the probe's tensors there). */
  readonly backend: Backend;
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
  /** The model's backend. */
  readonly backend: Backend;
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
  /**
   * Tap patterns (globs over dotted names: `*` = one segment, `**` = any number). An on-request
   * tap that a pattern matches (e.g. `blocks.*.attn_probs`) is asked of the model while the
   * probe runs.
   */
  readonly taps: readonly string[];
  readonly needs?: {
    /** Targets y (D1, D2, D4). */
    targets?: boolean;
    /** Grad mode during the forward (D2's functional backward). */
    grad?: boolean;
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
