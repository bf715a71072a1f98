// ProbeSet: attaches probes to a Module's tap points and runs them inside the model's own
// forward, on the same backend and in the same command stream. Training steps pack every probe
// scalar into a device-side row; rows gather in a ring that rides along the step's single
// readback every `ringSize` steps. Evaluation passes also collect arrays and run finish().
import {
  backendOf, checkTargets, checkTokenIds, defaultBackend, fromValues, keep, mul, noGrad, tidy, add,
  type Backend, type BackendName, type Tensor,
} from "../tensor/index";
import type { Module, TapHook } from "../nn/module";
import type { StepResult, Trainer } from "../nn/train";
import { Forward, packRow, type ForwardEnv } from "./context";
import { TapPattern } from "./pattern";
import type { Lens, Probe, ProbeBatch, ProbeTarget } from "./probe";
import { EvalCollector } from "./collect";
import { MetricsRing, type ProbeRecord } from "./ring";
import { ProbeReport } from "./report";

export type { ProbeRecord } from "./ring";

/** Options of a {@link ProbeSet}. */
export interface ProbeSetOptions {
  /** The logit lens (LN_f, W_U); default the model's `lens` (a GPT's), else none. */
  lens?: Lens;
  /** Forward used by evaluate(): default the model's `logits(x)` (a GPT's); required otherwise. */
  forward?: (x: Tensor, batch: ProbeBatch) => unknown;
  /** Targets equal to this are not scored (default −1, as in Trainer). */
  ignoreIndex?: number;
  /** Probed training steps per readback of the metrics ring (default 8). */
  ringSize?: number;
  /** Backend of the model, an object or a name (default: that of its first parameter). */
  backend?: Backend | BackendName;
  /**
   * The tap that ends a forward (default the model's `lastTap`, `logits` for a GPT, none
   * otherwise). Knowing it lets probes compute once per forward in training steps (ProbeContext.canDefer).
   */
  lastTap?: string | null;
}

/** How often a probe runs in training steps. */
export interface AddOptions {
  /** Run in every n-th training step (step % n === 0); 0 = only in evaluation passes. Default 1. */
  every?: number;
}

/** A training step's result plus the probe records that became available with it. */
export interface ProbedStepResult extends StepResult {
  records: ProbeRecord[];
}

interface Entry {
  probe: Probe;
  pattern: TapPattern;
  every: number;
}

interface Armed {
  mode: "train" | "eval";
  step: number;
  batches: readonly ProbeBatch[];
  entries: Entry[];
  fwd: Forward | null;
  done: number;
  /** Training: the layout of the step's row and the sum of its forwards' rows. */
  layout: string[] | null;
  rowSum: Tensor | null;
  collector: EvalCollector | null;
}

/**
 * Probes attached to one model's tap points. What it needs of the model beyond its taps (lens,
 * last tap, forward on ids, vocabulary) it reads from the {@link ProbeTarget} members the model
 * has, or from the options. See src/probes/index.ts for the API tour.
 */
export class ProbeSet {
  readonly lens: Lens | null;
  readonly backend: Backend;
  readonly ringSize: number;
  readonly ignoreIndex: number;
  readonly lastTap: string | null;
  #entries: Entry[] = [];
  #armed: Armed | null = null;
  #persistent = new Map<string, Tensor>();
  #ring: MetricsRing;
  #prev: TapHook | null;
  #forward: (x: Tensor, batch: ProbeBatch) => unknown;
  #vocabSize: number | undefined;

  constructor(readonly model: Module & ProbeTarget, opts: ProbeSetOptions = {}) {
    this.lens = opts.lens ?? model.lens ?? null;
    const b = opts.backend ?? model.parameters()[0]?.backend ?? defaultBackend();
    this.backend = typeof b === "string" ? backendOf(b) : b;
    this.ringSize = opts.ringSize ?? 8;
    this.#ring = new MetricsRing(this.ringSize);
    this.ignoreIndex = opts.ignoreIndex ?? -1;
    this.lastTap = opts.lastTap !== undefined ? opts.lastTap : model.lastTap ?? null;
    this.#vocabSize = model.vocabSize;
    const fwd = opts.forward ?? (model.logits ? (x: Tensor) => model.logits!(x) : null);
    this.#forward = fwd ?? (() => {
      throw new Error("ProbeSet.evaluate: pass { forward: (x) => model.forward(x) } for a model without a logits(ids) method");
    });
    this.#prev = model.tapHook;
    const prev = this.#prev;
    model.setTapHook({
      tap: (name, x) => {
        prev?.tap(name, x);
        this.#tap(name, x);
      },
      wants: (name) => this.#wants(name) || (prev?.wants?.(name) ?? false),
    });
  }

  /** Adds a probe (names must be unique); returns the probe for typed access to its result. */
  add<P extends Probe>(probe: P, opts: AddOptions = {}): P {
    if (this.#entries.some((e) => e.probe.name === probe.name)) throw new Error(`ProbeSet: a probe named '${probe.name}' is already attached`);
    const every = probe.evalOnly ? 0 : opts.every ?? 1;
    if (!(Number.isInteger(every) && every >= 0)) throw new Error(`ProbeSet.add: every must be an integer ≥ 0, got ${every}`);
    this.#entries.push({ probe, pattern: new TapPattern(probe.taps), every });
    return probe;
  }

  /** The attached probes. */
  get probes(): Probe[] {
    return this.#entries.map((e) => e.probe);
  }

  // ---- training ----------------------------------------------------------------------------

  /**
   * One Trainer step with the probes scheduled for it: their scalars join the step's single
   * readback through `collect`. Returns the step result plus the records that became available.
   */
  async trainStep(trainer: Trainer, batches: readonly ProbeBatch[]): Promise<ProbedStepResult> {
    if (trainer.model !== this.model) throw new Error("ProbeSet.trainStep: the trainer trains a different model");
    if (trainer.opts.ignoreIndex !== this.ignoreIndex) {
      throw new Error(`ProbeSet.trainStep: trainer ignoreIndex ${trainer.opts.ignoreIndex} differs from the ProbeSet's ${this.ignoreIndex}`);
    }
    this.beginStep(trainer.step, batches);
    let r: StepResult;
    try {
      r = await trainer.trainStep(batches.map((b) => ({ B: b.B, T: b.T, x: b.x, y: b.y! })), () => this.endStep());
    } catch (e) {
      this.#abort();
      throw e;
    }
    return { ...r, records: r.extra.length ? this.ingest(r.extra[0]) : [] };
  }

  /**
   * Arms the probes scheduled for `step` for the next `batches.length` forwards (a repeated tap
   * name starts the next forward). Use with endStep()/ingest() in a hand-written training loop.
   */
  beginStep(step: number, batches: readonly ProbeBatch[]): void {
    if (this.#armed) throw new Error("ProbeSet.beginStep: the previous step or pass was not ended");
    const entries = this.#entries.filter((e) => e.every > 0 && step % e.every === 0);
    if (entries.length === 0) return;
    this.#check(entries, batches);
    this.#armed = { mode: "train", step, batches, entries, fwd: null, done: 0, layout: null, rowSum: null, collector: null };
  }

  /**
   * Ends a probed step (call it after the optimizer update, e.g. as Trainer's `collect`): returns
   * the tensors to read back in the step's readback, [] on steps that do not flush the ring.
   */
  endStep(): Tensor[] {
    const a = this.#armed;
    if (!a || a.mode !== "train") return this.#ring.take();
    if (a.fwd) this.#endForward();
    this.#armed = null;
    if (a.rowSum) {
      const row = a.done > 1 ? noGrad(() => mul(a.rowSum!, 1 / a.done)) : a.rowSum;
      if (row !== a.rowSum) a.rowSum.dispose();
      this.#ring.push(a.step, a.layout!, row);
    }
    return this.#ring.take();
  }

  /** Decodes the values read back for the tensors of the last endStep() into records. */
  ingest(values: Float64Array): ProbeRecord[] {
    return this.#ring.ingest(values);
  }

  /** Reads back the rows still in the ring (one readback) and returns their records. */
  async flush(): Promise<ProbeRecord[]> {
    return this.#ring.flush();
  }

  // ---- evaluation --------------------------------------------------------------------------

  /**
   * An evaluation pass (no training): runs the forward on each batch with the probes (all, or
   * `opts.probes`), reads everything back once, then lets each probe finish on the host.
   */
  async evaluate(batches: readonly ProbeBatch[], opts: { probes?: readonly Probe[] } = {}): Promise<ProbeReport> {
    if (this.#armed) throw new Error("ProbeSet.evaluate: a training step is still armed (call endStep())");
    if (batches.length === 0) throw new Error("ProbeSet.evaluate: no batches");
    const entries = opts.probes
      ? opts.probes.map((p) => {
        const e = this.#entries.find((x) => x.probe === p);
        if (!e) throw new Error(`ProbeSet.evaluate: probe '${p.name}' is not attached (add() it first)`);
        return e;
      })
      : this.#entries;
    this.#check(entries, batches);
    for (const e of entries) await e.probe.prepare?.({ batches, backend: this.backend, lens: this.lens, ignoreIndex: this.ignoreIndex });
    const collector = new EvalCollector(batches, this.lens, this.ignoreIndex);
    const grad = entries.some((e) => e.probe.needs?.grad);
    this.#armed = {
      mode: "eval", step: -1, batches, entries, fwd: null, done: 0, layout: null, rowSum: null, collector,
    };
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      for (const b of batches) {
        tidy(() => {
          const a = this.#armed!, before = a.done;
          this.#checkIds(b);
          const x = fromValues(b.x, [b.B, b.T], { dtype: "i32", backend: this.backend });
          if (grad) this.#forward(x, b);
          else noGrad(() => this.#forward(x, b));
          if (a.fwd) this.#endForward();
          if (a.done === before) a.done++; // a forward without taps
        });
        this.backend.flush();
      }
    } catch (e) {
      collector.dispose();
      throw e;
    } finally {
      this.#armed = null;
      this.model.train(wasTraining);
    }
    try {
      const out = await collector.read();
      const results = new Map<Probe, unknown>();
      for (const e of entries) results.set(e.probe, await e.probe.finish?.(out));
      return new ProbeReport(entries.map((e) => e.probe), out.allScalars(), results);
    } finally {
      collector.dispose();
    }
  }

  // ---- the hook ----------------------------------------------------------------------------

  /** An on-request tap is computed while an armed probe's patterns match it. */
  #wants(name: string): boolean {
    return this.#armed?.entries.some((e) => e.pattern.test(name)) ?? false;
  }

  #tap(name: string, x: Tensor): void {
    const a = this.#armed;
    if (!a) return;
    if (a.fwd?.taps.has(name)) this.#endForward();
    if (!a.fwd) {
      if (a.done >= a.batches.length) {
        throw new Error(`ProbeSet: forward ${a.done + 1} of a step armed for ${a.batches.length} batch(es)`);
      }
      a.fwd = new Forward(a.done, a.batches[a.done], this.#env(a.mode));
    }
    const f = a.fwd;
    f.taps.set(name, x);
    for (const e of a.entries) {
      if (!e.pattern.test(name)) continue;
      let ids = f.idents.get(e);
      if (!ids) f.idents.set(e, (ids = new Map()));
      if (ids.has(x)) continue;
      const index = ids.size;
      ids.set(x, index);
      this.#run(e, () => e.probe.onTap(name, x, index, f.ctx));
    }
    if (name === this.lastTap) this.#endForward();
  }

  /** Runs a probe callback in its own scope, under noGrad unless the probe needs grad. */
  #run(e: Entry, fn: () => void): void {
    const run = () => tidy(fn);
    if (e.probe.needs?.grad) run();
    else noGrad(run);
  }

  #env(mode: "train" | "eval"): ForwardEnv {
    return {
      mode, backend: this.backend, ignoreIndex: this.ignoreIndex, lens: this.lens,
      canDefer: mode === "eval" || this.lastTap !== null,
      persistent: (key, make) => {
        let t = this.#persistent.get(key);
        if (!t) this.#persistent.set(key, (t = keep(noGrad(make))));
        return t;
      },
    };
  }

  #endForward(): void {
    const a = this.#armed!, f = a.fwd!;
    try {
      for (const e of a.entries) if (e.probe.onForwardEnd) this.#run(e, () => e.probe.onForwardEnd!(f.ctx));
    } finally {
      a.fwd = null;
      a.done++;
      f.disposeInputs();
    }
    const packed = packRow(f.scalars.values());
    if (a.mode === "eval") {
      a.collector!.addForward(packed, f.arrays);
      return;
    }
    if (!packed) return;
    const { layout, row } = packed;
    if (!a.layout) a.layout = layout;
    else if (a.layout.join() !== layout.join()) throw new Error("ProbeSet: the forwards of one step recorded different scalars");
    if (!a.rowSum) a.rowSum = row;
    else {
      const s = keep(noGrad(() => add(a.rowSum!, row)));
      a.rowSum.dispose();
      row.dispose();
      a.rowSum = s;
    }
  }

  /** Host ids are checked where they enter: token ids against the model's vocabulary, targets against the lens's. */
  #checkIds(b: ProbeBatch): void {
    if (this.#vocabSize !== undefined) checkTokenIds(b.x, this.#vocabSize);
    if (b.y && this.lens) checkTargets(b.y, this.lens.wU.shape[0], this.ignoreIndex);
  }

  #check(entries: readonly Entry[], batches: readonly ProbeBatch[]): void {
    for (const { probe: p } of entries) {
      if (p.needs?.lens && !this.lens) throw new Error(`ProbeSet: probe '${p.name}' needs the logit lens; pass { lens } for a non-GPT model`);
      batches.forEach((b, i) => {
        if (p.needs?.targets && !b.y) throw new Error(`ProbeSet: probe '${p.name}' needs targets, batch ${i} has no y`);
        for (const l of p.needs?.labels ?? []) {
          if (!b.labels?.[l]) throw new Error(`ProbeSet: probe '${p.name}' needs label '${l}', missing in batch ${i}`);
        }
      });
    }
  }

  #abort(): void {
    const a = this.#armed;
    this.#armed = null;
    if (!a) return;
    a.fwd?.disposeInputs();
    for (const g of a.fwd?.scalars.values() ?? []) g.t.dispose();
    a.rowSum?.dispose();
  }

  /** Removes the hook (restoring any previous one) and frees everything the probes keep. */
  dispose(): void {
    this.#abort();
    if (this.model.tapHook && this.#prev !== this.model.tapHook) this.model.setTapHook(this.#prev);
    this.#ring.dispose();
    for (const t of this.#persistent.values()) t.dispose();
    this.#persistent.clear();
    for (const e of this.#entries) e.probe.dispose?.();
  }
}
