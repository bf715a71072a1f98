// The training step and validation loop: one tidy scope per step, gradient accumulation over
// micro-batches, GPU-side clipping, AdamW, and a single readback of the loss (plus any extra
// scalars the caller collects, e.g. probes). Data loading lives in src/data/.
import {
  add, checkTargets, checkTokenIds, fromValues, mul, noGrad, readAll, setAnomalyContext, tidy, type Backend, type Tensor,
} from "../tensor/index";
import type { GPT } from "./gpt";
import type { Batch } from "../data/batcher";
import { clipFactor, lrAt, type AdamW, type LrSchedule } from "./optim";

/** A batch of next-token examples on the host: x and y are row-major [B, T] ids (the batcher's Batch). */
export type LMBatch = Batch;

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  schedule: LrSchedule;
  /** Clip the global gradient norm to this (default 1; 0 or Infinity disables clipping). */
  maxGradNorm?: number;
  /** Targets equal to this are not scored (default -1). */
  ignoreIndex?: number;
}

/** What one training step reports. */
export interface StepResult {
  /** 0-based index of the step just taken. */
  step: number;
  /** Mean training loss over the step's micro-batches. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
  /** Values of the extra tensors requested through `collect`, in order. */
  extra: Float64Array[];
}

/** Submits the work encoded so far so buffers released so far can be reused: `b.flush()` (no-op on cpu64). */
export function flushBackend(b: Backend): void {
  b.flush();
}

/** Runs training steps and evaluations of a GPT with an AdamW optimizer. */
export class Trainer {
  readonly opts: Required<TrainerOptions>;

  constructor(readonly model: GPT, readonly optimizer: AdamW, opts: TrainerOptions) {
    this.opts = { maxGradNorm: 1, ignoreIndex: -1, ...opts };
  }

  /** Number of completed steps. */
  get step(): number {
    return this.optimizer.stepCount;
  }

  /** The batch as i32 tensors; host ids are checked here, where they enter (same error on every backend). */
  #inputs(b: LMBatch): [Tensor, Tensor] {
    const backend = this.model.backend, V = this.model.config.vocabSize;
    checkTokenIds(b.x, V);
    checkTargets(b.y, V, this.opts.ignoreIndex);
    return [
      fromValues(b.x, [b.B, b.T], { dtype: "i32", backend }),
      fromValues(b.y, [b.B, b.T], { dtype: "i32", backend }),
    ];
  }

  /**
   * One optimizer step over `batches` (gradient accumulation when there are several: each
   * micro-batch loss is weighted 1/n). `collect`, called inside the step's scope after the update,
   * returns extra tensors to read back in the same round trip; they are disposed afterwards. Each
   * micro-batch runs in its own tidy() scope, so a tap hook must keep() what it wants to outlive it.
   * Throws when the loss or gradient norm comes back non-finite, and, with anomaly detection on
   * (setAnomalyDetection), names the first op and the step where a NaN/Inf appeared.
   */
  async trainStep(batches: readonly LMBatch[], collect?: () => Tensor[]): Promise<StepResult> {
    if (batches.length === 0) throw new Error("trainStep: no batches");
    const step = this.optimizer.stepCount;
    setAnomalyContext(`step ${step}`); // names the step in anomaly-detection errors
    try {
      return await this.#trainStep(step, batches, collect);
    } finally {
      setAnomalyContext(null);
    }
  }

  async #trainStep(step: number, batches: readonly LMBatch[], collect?: () => Tensor[]): Promise<StepResult> {
    const lr = lrAt(step, this.opts.schedule);
    const n = batches.length;
    this.model.train();
    const out = await tidy(async () => {
      let lossSum: Tensor | null = null;
      for (const [i, b] of batches.entries()) {
        const loss = tidy(() => {
          const [x, y] = this.#inputs(b);
          const l = this.model.forward(x, y, { ignoreIndex: this.opts.ignoreIndex }).loss!;
          (n > 1 ? mul(l, 1 / n) : l).backward();
          return l;
        });
        lossSum = noGrad(() => (lossSum ? add(lossSum, loss) : loss));
        if (i < n - 1) this.model.backend.flush();
      }
      const params = [...this.optimizer.params.values()];
      const { maxGradNorm } = this.opts;
      const clip = maxGradNorm > 0 && Number.isFinite(maxGradNorm);
      const { norm, scale } = clipFactor(params, clip ? maxGradNorm : 1);
      this.optimizer.step({ lr, gradScale: clip ? scale : 1 });
      this.model.zeroGrad();
      const extraTs = collect?.() ?? [];
      const mean = noGrad(() => (n > 1 ? mul(lossSum!, 1 / n) : lossSum!));
      const [lv, nv, ...extra] = await readAll([mean, norm, ...extraTs]);
      for (const t of extraTs) t.dispose();
      return { loss: lv[0], gradNorm: nv[0], extra };
    });
    if (!Number.isFinite(out.loss) || !Number.isFinite(out.gradNorm)) {
      throw new Error(`Trainer: step ${step}: the loss is ${out.loss} and the gradient norm ${out.gradNorm}; training ` +
        "stops here (the parameters may already hold non-finite values: resume from the last checkpoint). Turn on " +
        "anomaly detection (setAnomalyDetection(true), or --detect-anomaly) to find the op where it started");
    }
    return { step, lr, ...out };
  }

  /** Mean loss over `batches` without gradients (one readback; the encoder is flushed per batch). */
  async evaluate(batches: readonly LMBatch[]): Promise<number> {
    if (batches.length === 0) throw new Error("evaluate: no batches");
    const wasTraining = this.model.training;
    this.model.eval();
    const v = await tidy(async () => {
      const total = noGrad(() => {
        let acc: Tensor | null = null;
        for (const b of batches) {
          const l = tidy(() => {
            const [x, y] = this.#inputs(b);
            return this.model.forward(x, y, { ignoreIndex: this.opts.ignoreIndex }).loss!;
          });
          acc = acc ? add(acc, l) : l;
          this.model.backend.flush();
        }
        return acc!;
      });
      return (await readAll([total]))[0][0];
    });
    this.model.train(wasTraining);
    return v / batches.length;
  }
}
