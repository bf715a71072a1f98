// Language-model batches from a flat token stream: fixed-length windows (x, y = x shifted by one),
// a deterministic shuffling Batcher whose state() resumes training exactly, and the unigram
// cross-entropy baseline. Pure TypeScript, no Node built-ins.
// Not a tokenizer or corpus loader (see tokenizer.ts, text.ts).

import { mulberry32, Rng } from './rng';

/** A batch of next-token examples. */
export interface Batch {
  B: number;
  T: number;
  /** Inputs. */
  x: Int32Array; // [B, T]
  /** Targets: y[b, t] is the token after x[b, t]. */
  y: Int32Array; // [B, T]
}

/** Options of {@link packSequences}. */
export interface PackOptions {
  /** Distance between window starts. Default T (non-overlapping). */
  stride?: number;
  /** Keep at most this many windows (from the start). */
  maxWindows?: number;
}

/** Number of windows of length T+1 with the given stride that fit in `len` ids. */
export function countWindows(len: number, T: number, stride: number = T): number {
  if (!Number.isInteger(T) || T < 1) throw new Error(`countWindows: T must be a positive integer, got ${T}`);
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`countWindows: stride must be a positive integer, got ${stride}`);
  return len < T + 1 ? 0 : Math.floor((len - T - 1) / stride) + 1;
}

function copyWindow(ids: Int32Array, start: number, T: number, x: Int32Array, y: Int32Array, row: number): void {
  x.set(ids.subarray(start, start + T), row * T);
  y.set(ids.subarray(start + 1, start + T + 1), row * T);
}

/** Cut an id stream into all windows of context length T, in order: x [N, T] and y [N, T]. */
export function packSequences(ids: Int32Array, T: number, opts: PackOptions = {}): Batch {
  const stride = opts.stride ?? T;
  let n = countWindows(ids.length, T, stride);
  if (opts.maxWindows !== undefined) n = Math.min(n, opts.maxWindows);
  const x = new Int32Array(n * T); // [N, T]
  const y = new Int32Array(n * T); // [N, T]
  for (let i = 0; i < n; i++) copyWindow(ids, i * stride, T, x, y, i);
  return { B: n, T, x, y };
}

/** Options of {@link Batcher}. */
export interface BatcherOptions {
  /** Batch size. */
  B: number;
  /** Context length. */
  T: number;
  /** Seed of the per-epoch shuffles. Default 0. */
  seed?: number;
  /** Shuffle windows each epoch (default true); false walks them in order. */
  shuffle?: boolean;
  /** Distance between window starts. Default T. */
  stride?: number;
}

/** Where a Batcher is; plain JSON. */
export interface BatcherState {
  epoch: number;
  /** Index of the next batch within the epoch. */
  batch: number;
  /** Checked on setState so a checkpoint cannot resume on different data or settings. */
  seed: number;
  nWindows: number;
  B: number;
  T: number;
}

/**
 * Endless deterministic batches of windows from one id stream. Each epoch visits
 * floor(nWindows / B) * B distinct windows in an order drawn from Rng(seed, epoch), so the
 * batch sequence depends only on (ids, options) and resuming from state() is exact.
 */
export class Batcher {
  readonly B: number;
  readonly T: number;
  readonly stride: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly nWindows: number;
  readonly batchesPerEpoch: number;
  private epoch = 0;
  private batch = 0;
  private order: Int32Array | undefined; // [nWindows] window order of the current epoch
  private orderEpoch = -1;

  /** @param ids the token stream (kept by reference, not copied) */
  constructor(private readonly ids: Int32Array, opts: BatcherOptions) {
    this.B = opts.B;
    this.T = opts.T;
    this.stride = opts.stride ?? opts.T;
    this.seed = opts.seed ?? 0;
    this.shuffle = opts.shuffle ?? true;
    if (!Number.isInteger(this.B) || this.B < 1) throw new Error(`Batcher: B must be a positive integer, got ${this.B}`);
    this.nWindows = countWindows(ids.length, this.T, this.stride);
    this.batchesPerEpoch = Math.floor(this.nWindows / this.B);
    if (this.batchesPerEpoch < 1) {
      throw new Error(`Batcher: ${ids.length} ids give ${this.nWindows} windows of T=${this.T}+1 (stride ${this.stride}), fewer than B=${this.B}`);
    }
  }

  private windowOrder(): Int32Array {
    if (this.orderEpoch !== this.epoch || !this.order) {
      this.order = this.shuffle
        ? new Rng(this.seed, this.epoch).permutation(this.nWindows)
        : Int32Array.from({ length: this.nWindows }, (_, i) => i);
      this.orderEpoch = this.epoch;
    }
    return this.order;
  }

  /** The next batch; advances the state (rolling over to a new epoch when one is exhausted). */
  next(): Batch & { epoch: number; batch: number } {
    const { B, T } = this;
    const order = this.windowOrder();
    const x = new Int32Array(B * T); // [B, T]
    const y = new Int32Array(B * T); // [B, T]
    for (let b = 0; b < B; b++) {
      copyWindow(this.ids, order[this.batch * B + b]! * this.stride, T, x, y, b);
    }
    const out = { B, T, x, y, epoch: this.epoch, batch: this.batch };
    if (++this.batch >= this.batchesPerEpoch) {
      this.batch = 0;
      this.epoch++;
    }
    return out;
  }

  /** Current position, for checkpoints. */
  state(): BatcherState {
    return { epoch: this.epoch, batch: this.batch, seed: this.seed, nWindows: this.nWindows, B: this.B, T: this.T };
  }

  /** Resume from a {@link BatcherState}; throws if it was taken on different data or settings. */
  setState(s: BatcherState): void {
    for (const k of ['seed', 'nWindows', 'B', 'T'] as const) {
      if (s[k] !== this[k]) throw new Error(`Batcher.setState: state has ${k}=${s[k]} but this batcher has ${k}=${this[k]}`);
    }
    if (!Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.batch) || s.batch < 0 || s.batch >= this.batchesPerEpoch) {
      throw new Error(`Batcher.setState: invalid position epoch=${s.epoch} batch=${s.batch} (batchesPerEpoch ${this.batchesPerEpoch})`);
    }
    this.epoch = s.epoch;
    this.batch = s.batch;
  }
}

/**
 * Cross-entropy in nats of a unigram model fit on `trainIds` with add-one smoothing over
 * `vocab` ids, evaluated on `valIds`: the baseline a trained language model must beat.
 */
export function unigramLoss(trainIds: ArrayLike<number>, valIds: ArrayLike<number>, vocab: number): number {
  const counts = new Float64Array(vocab); // [vocab]
  for (let i = 0; i < trainIds.length; i++) {
    const v = trainIds[i]!;
    if (!(v >= 0 && v < vocab)) throw new Error(`unigramLoss: train id ${v} at ${i} outside [0, ${vocab})`);
    counts[v] += 1;
  }
  if (valIds.length === 0) throw new Error('unigramLoss: empty validation ids');
  const logZ = Math.log(trainIds.length + vocab);
  let nll = 0;
  for (let i = 0; i < valIds.length; i++) {
    const v = valIds[i]!;
    if (!(v >= 0 && v < vocab)) throw new Error(`unigramLoss: val id ${v} at ${i} outside [0, ${vocab})`);
    nll += logZ - Math.log(counts[v]! + 1);
  }
  return nll / valIds.length;
}

/**
 * Batches of the first `nSeq` non-overlapping windows of length T+1 of `ids` (x, y = x shifted
 * by one), `batch` rows each (the last may be smaller).
 */
export function windowBatches(ids: Int32Array, T: number, nSeq: number, batch: number): Batch[] {
  const packed = packSequences(ids, T, { maxWindows: nSeq });
  if (packed.B === 0) throw new Error(`text: the validation text (${ids.length} tokens) is shorter than one window of ${T + 1}`);
  const out: Batch[] = [];
  for (let r0 = 0; r0 < packed.B; r0 += batch) {
    const B = Math.min(batch, packed.B - r0);
    out.push({ B, T, x: packed.x.slice(r0 * T, (r0 + B) * T), y: packed.y.slice(r0 * T, (r0 + B) * T) });
  }
  return out;
}

/**
 * The shuffled-target control: the same batches with each batch's scored next-token targets
 * permuted among its scored positions (inputs and ignored positions unchanged), seeded.
 */
export function shuffleTargets<B extends { readonly y?: Int32Array }>(batches: readonly B[], seed: number, ignoreIndex = -1): B[] {
  const rng = mulberry32(seed ^ 0x5f3759df);
  return batches.map((b) => {
    const y = Int32Array.from(b.y!);
    const at: number[] = [];
    y.forEach((v, i) => { if (v !== ignoreIndex) at.push(i); });
    for (let i = at.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [y[at[i]], y[at[j]]] = [y[at[j]], y[at[i]]];
    }
    return { ...b, y };
  });
}
