// Training runs shared between experiments: train a GPT with AdamW on a data source, keep its
// weights at chosen steps (snapshots, step 0 = the untrained model), record the loss of every
// step, and resume an interrupted run from its last state checkpoint, written every `saveEvery`
// steps, every 30 s of training ($METAGRAD_AUTOSAVE_SECONDS) and at once on SIGINT/SIGTERM (which
// print the resume command; src/nn/autosave.ts). Files live in <out>/runs/<id>/:
// step-<n>.safetensors, state.safetensors (while training), run.json (when done).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import {
  AdamW, GPT, Trainer, gptConfig, loadCheckpoint, readCheckpointMeta, saveCheckpoint, writeFileAtomic, type GPTConfig,
} from "../src/nn/node";
import type { DataSource } from "../src/data/sources";
import { Autosave } from "../src/nn/autosave";
import type { TrainSettings } from "./config";
import { Progress, type RunContext } from "./context";

/** What to train. */
export interface TrainSpec {
  /** Folder name under runs/, e.g. "s1" or "r1-2L-48". */
  id: string;
  model: GPTConfig;
  train: TrainSettings;
  steps: number;
  /** Steps whose weights are kept (0 and `steps` are always added). */
  snapshots: number[];
  /** For epoch-based runs (S1): optimizer steps per epoch. */
  stepsPerEpoch?: number;
  /** Describes the data exactly (name and sizes), part of the run's fingerprint. */
  dataKey: string;
}

/** One kept set of weights. */
export interface Snapshot {
  step: number;
  /** step / stepsPerEpoch for epoch-based runs, else null. */
  epoch: number | null;
  /** File, relative to the results folder. */
  file: string;
  /** Mean loss on the source's fixed validation batches. */
  valLoss: number;
}

/** A finished training run (the content of its run.json). */
export interface TrainedRun {
  id: string;
  /** Fingerprint of the spec and run settings. */
  key: string;
  model: Required<GPTConfig>;
  params: number;
  dataName: string;
  /** Unigram cross-entropy on the validation targets (the baseline to beat). */
  unigram: number;
  steps: number;
  /** Sequences per step. */
  batch: number;
  stepsPerEpoch: number | null;
  snapshots: Snapshot[];
  /** Training loss of every step (step i = the (i+1)-th update). */
  lossHistory: number[];
  /** Training wall time over all invocations, seconds. */
  trainSeconds: number;
  /** Wall seconds of every step (the first of an invocation includes compiling its pipelines). */
  stepSeconds: number[];
}

interface StateRun {
  key: string;
  snapshots: Snapshot[];
  lossHistory: number[];
  trainSeconds: number;
  stepSeconds: number[];
}

/** `npm run exp` with this process's arguments: rerunning it resumes (finished parts are skipped). */
function resumeCommand(): string {
  const q = (a: string) => (/^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  const args = process.argv.slice(2).map(q).join(" ");
  return `npm run exp${args ? ` -- ${args}` : ""}`;
}

function runKey(ctx: RunContext, spec: TrainSpec): string {
  const canon = JSON.stringify({ spec, seed: ctx.seed, backend: ctx.backend });
  return createHash("sha256").update(canon).digest("hex").slice(0, 16);
}

/** Sorted snapshot steps of a spec, with 0 and the last step. */
export function snapshotSteps(spec: TrainSpec): number[] {
  return [...new Set([0, ...spec.snapshots.filter((s) => s > 0 && s < spec.steps), spec.steps])].sort((a, b) => a - b);
}

/**
 * Trains `spec` unless its run.json already exists with the same fingerprint; resumes from
 * state.safetensors when an earlier invocation was interrupted. Prints progress (step, loss, ETA).
 */
export async function ensureTrained(ctx: RunContext, spec: TrainSpec, makeData: () => DataSource | Promise<DataSource>): Promise<TrainedRun> {
  const dir = join(ctx.out, "runs", spec.id);
  const donePath = join(dir, "run.json");
  const statePath = join(dir, "state.safetensors");
  const key = runKey(ctx, spec);
  if (existsSync(donePath)) {
    const done = JSON.parse(readFileSync(donePath, "utf8")) as TrainedRun;
    if (done.key === key && done.snapshots.every((s) => existsSync(join(ctx.out, s.file)))) {
      ctx.log(`[${spec.id}] trained earlier (${done.steps} steps, val loss ${done.snapshots.at(-1)!.valLoss.toFixed(3)}): reusing`);
      return done;
    }
  }
  const data = await makeData();
  const model = new GPT(spec.model, { backend: ctx.backend, seed: ctx.seed });
  const opt = AdamW.forModel(model, { lr: spec.train.lr, weightDecay: spec.train.weightDecay });
  const trainer = new Trainer(model, opt, {
    schedule: { lr: spec.train.lr, warmup: spec.train.warmup, total: spec.steps }, maxGradNorm: spec.train.gradClip,
  });
  let autosave: Autosave | null = null;
  try {
    let st: StateRun = { key, snapshots: [], lossHistory: [], trainSeconds: 0, stepSeconds: [] };
    if (existsSync(statePath)) {
      const saved = readCheckpointMeta(statePath).run as StateRun | null;
      if (saved?.key === key) {
        const meta = loadCheckpoint(statePath, model, opt);
        data.setState(meta.data);
        st = saved;
        ctx.log(`[${spec.id}] resuming at step ${meta.step} of ${spec.steps} from ${relative(ctx.out, statePath)}`);
      }
    }
    const keep = snapshotSteps(spec);
    const epochOf = (step: number): number | null => (spec.stepsPerEpoch ? step / spec.stepsPerEpoch : null);
    const snapshot = async (step: number): Promise<void> => {
      const file = join("runs", spec.id, `step-${String(step).padStart(6, "0")}.safetensors`);
      await saveCheckpoint(join(ctx.out, file), model, null, { run: { id: spec.id, step } });
      const valLoss = await trainer.evaluate(data.val);
      st.snapshots = [...st.snapshots.filter((s) => s.step !== step), { step, epoch: epochOf(step), file, valLoss }];
    };
    const saveState = async (): Promise<void> => saveCheckpoint(statePath, model, opt, { data: data.state(), run: st });
    if (trainer.step === 0 && !st.snapshots.some((s) => s.step === 0)) await snapshot(0);
    ctx.log(`[${spec.id}] ${spec.model.nLayer}L ${spec.model.nHead}H ${spec.model.nEmbd}C T=${spec.model.blockSize}, ` +
      `${model.numParameters()} params, ${data.name}; ${spec.steps} steps (unigram baseline ${data.unigram.toFixed(3)} nats)`);
    const progress = new Progress(spec.id, spec.steps, trainer.step);
    autosave = new Autosave({ save: saveState, resumeCommand: resumeCommand(), log: (l) => ctx.log(`[${spec.id}] ${l}`) });
    let t = performance.now();
    while (trainer.step < spec.steps) {
      const r = await trainer.trainStep([data.nextTrain()]);
      st.lossHistory[r.step] = r.loss;
      const done = trainer.step;
      const now = performance.now();
      st.trainSeconds += (now - t) / 1000;
      (st.stepSeconds ??= [])[r.step] = (now - t) / 1000;
      t = now;
      if (!Number.isFinite(r.loss)) throw new Error(`[${spec.id}] training diverged at step ${done} (loss ${r.loss})`);
      const ep = epochOf(done);
      progress.update(done, `loss ${r.loss.toFixed(3)}${ep === null ? "" : ` | epoch ${ep.toFixed(1)}`}`);
      const isSnap = keep.includes(done);
      if (isSnap) await snapshot(done);
      if (isSnap || done % spec.train.saveEvery === 0) {
        if (done < spec.steps) await saveState();
        autosave.saved();
      }
      await autosave.afterStep(); // the time budget, or a signal: save state (and exit)
      t = performance.now();
    }
    const run: TrainedRun = {
      id: spec.id, key, model: gptConfig(spec.model), params: model.numParameters(), dataName: data.name, unigram: data.unigram,
      steps: spec.steps, batch: spec.train.batch, stepsPerEpoch: spec.stepsPerEpoch ?? null, snapshots: [...st.snapshots].sort((a, b) => a.step - b.step),
      lossHistory: st.lossHistory, trainSeconds: st.trainSeconds, stepSeconds: st.stepSeconds,
    };
    writeFileAtomic(donePath, `${JSON.stringify(run)}\n`);
    rmSync(statePath, { force: true });
    ctx.log(`[${spec.id}] done: val loss ${run.snapshots.at(-1)!.valLoss.toFixed(3)} (unigram ${run.unigram.toFixed(3)}), ` +
      `${run.trainSeconds.toFixed(0)} s of training`);
    return run;
  } finally {
    autosave?.close();
    model.dispose();
    opt.dispose();
  }
}

/** Builds the model of a snapshot (weights only) on the run's backend; the caller disposes it. */
export function loadSnapshot(ctx: Pick<RunContext, "out" | "backend">, run: TrainedRun, snap: Snapshot): GPT {
  const model = new GPT(run.model, { backend: ctx.backend, noInit: true });
  try {
    loadCheckpoint(join(ctx.out, snap.file), model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model.eval();
}
