// The demo's training session, shared by the browser page and the Node test: a GPT on the S1
// seeds task with AdamW, and per step the training loss, the inner loss per layer (D1, logit lens:
// CE(W_U LN_f(h^l), x_{t+1}) for l = 0..L) and the mean representation norm per layer (D3, mean
// over positions of ‖h^l_t‖₂), all read back in one round trip. Imports only the library entry.
import {
  AdamW, GPT, Trainer, crossEntropy, fromValues, keep, makeSeedsData, mean, noGrad, reshape, sliceRows,
  sqrt, square, sum, type SeedsData, type Tensor,
} from "../src/index";

/** Model sizes offered by the page. */
export const SIZES = {
  tiny: { nLayer: 2, nHead: 2, nEmbd: 32, T: 32, B: 8 },
  small: { nLayer: 4, nHead: 4, nEmbd: 64, T: 64, B: 16 },
  medium: { nLayer: 6, nHead: 4, nEmbd: 128, T: 128, B: 16 },
} as const;

/** A model size name. */
export type SizeName = keyof typeof SIZES;

/** What a session trains. */
export interface SessionConfig {
  size: SizeName;
  /** Seed of the data and of the weight init. */
  seed: number;
  /** Peak learning rate (linear warm-up over `warmup` steps, then constant). */
  lr: number;
  warmup: number;
}

/** Default session: the small model, seed 0. */
export const DEFAULT_CONFIG: SessionConfig = { size: "small", seed: 0, lr: 3e-3, warmup: 10 };

/** What one training step reports. */
export interface StepRecord {
  /** 0-based step index. */
  step: number;
  /** Mean training cross-entropy of the step's batch (before the update). */
  loss: number;
  gradNorm: number;
  lr: number;
  /** Inner loss (logit lens, D1) of layers 0..L on the step's batch; inner[L] equals `loss`. */
  inner: number[];
  /** Mean ‖h^l_t‖₂ over the batch's positions, layers 0..L (D3). */
  norms: number[];
  /** Wall time of the step in milliseconds (encode, submit, read back). */
  ms: number;
}

/** Probe tensors of one micro-batch, filled by the tap hook (layer index → 1-element tensor). */
interface Taps {
  inner: (Tensor | undefined)[];
  norms: (Tensor | undefined)[];
  targets: Tensor | null;
}

/** A GPT training on the seeds task, one step at a time. */
export class DemoSession {
  readonly model: GPT;
  readonly optimizer: AdamW;
  readonly trainer: Trainer;
  readonly data: SeedsData;
  readonly dims: (typeof SIZES)[SizeName];
  #y: Int32Array = new Int32Array(0);
  #taps: Taps = { inner: [], norms: [], targets: null };

  constructor(readonly config: SessionConfig) {
    const d = (this.dims = SIZES[config.size]);
    this.data = makeSeedsData({ T: d.T, nTrain: 1024, nVal: 64, seed: config.seed });
    this.model = new GPT({
      nLayer: d.nLayer, nHead: d.nHead, nEmbd: d.nEmbd, blockSize: d.T, vocabSize: this.data.vocabSize,
    }, { seed: config.seed });
    this.optimizer = AdamW.forModel(this.model, { lr: config.lr });
    this.trainer = new Trainer(this.model, this.optimizer, {
      schedule: { lr: config.lr, warmup: config.warmup, total: Number.MAX_SAFE_INTEGER, minLr: config.lr },
    });
    this.model.setTapHook((name, h) => this.#tap(name, h));
  }

  /** Number of layers L (the probes cover L + 1 representations). */
  get nLayer(): number {
    return this.dims.nLayer;
  }

  /** Number of parameters. */
  get numParameters(): number {
    return this.model.numParameters();
  }

  /** Tap hook: at h^l (`blocks.{l}.in`, and `blocks.{L-1}.out` for h^L) record D1 and D3. */
  #tap(name: string, h: Tensor): void {
    const m = /^blocks\.(\d+)\.(in|out)$/.exec(name);
    if (!m) return;
    const l = Number(m[1]) + (m[2] === "out" ? 1 : 0);
    if (m[2] === "out" && l !== this.nLayer) return;
    noGrad(() => {
      const [B, T, C] = h.shape as [number, number, number];
      const V = this.data.vocabSize;
      this.#taps.targets ??= fromValues(this.#y, [B * T], { dtype: "i32", backend: this.model.backend });
      const logits = this.model.unembed(this.model.lnF.forward(h)); // [B, T, V]
      const ce = crossEntropy(reshape(logits, [B * T, V]), this.#taps.targets, { ignoreIndex: -1 });
      const norm = mean(sqrt(sum(square(reshape(h, [B * T, C])), 1))); // []
      this.#taps.inner[l] = keep(ce);
      this.#taps.norms[l] = keep(norm);
    });
  }

  /** Host batch of step `k`: B consecutive training sequences (wrapping), next-token targets. */
  batch(k: number): { B: number; T: number; x: Int32Array; y: Int32Array } {
    const { B } = this.dims;
    const rows = Array.from({ length: B }, (_, i) => (k * B + i) % this.data.train.nSeq);
    const s = sliceRows(this.data.train, rows);
    return { B, T: s.T, x: s.tokens, y: s.next };
  }

  /** Runs one training step and reads back the loss and every probe value together. */
  async step(): Promise<StepRecord> {
    const t0 = performance.now();
    const b = this.batch(this.trainer.step);
    this.#y = b.y;
    this.#taps = { inner: [], norms: [], targets: null };
    const L = this.nLayer;
    const r = await this.trainer.trainStep([b], () => {
      const ts = [...this.#taps.inner, ...this.#taps.norms];
      if (ts.length !== 2 * (L + 1) || ts.some((t) => !t)) throw new Error("demo: the tap hook missed a layer");
      return ts as Tensor[];
    });
    const vals = r.extra.map((v) => v[0]!);
    return {
      step: r.step, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr,
      inner: vals.slice(0, L + 1), norms: vals.slice(L + 1), ms: performance.now() - t0,
    };
  }

  /** Frees the model's and the optimizer's GPU buffers. */
  dispose(): void {
    this.model.setTapHook(null);
    this.optimizer.dispose();
    this.model.dispose();
  }
}
