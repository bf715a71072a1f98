// Running probe passes over the snapshots of a training run: load each snapshot's weights,
// attach a fresh ProbeSet, let the experiment evaluate what it needs, dispose everything, and
// show progress (checkpoint k of n, ETA). The probes themselves live in src/probes.
import type { GPT } from "../src/nn/gpt";
import { ProbeSet } from "../src/probes/index";
import { Progress, type RunContext } from "./context";
import { loadSnapshot, type Snapshot, type TrainedRun } from "./train-run";

/** Loads `snap`, runs `fn` with the model and a ProbeSet on it, and frees both afterwards. */
export async function withSnapshot<T>(ctx: RunContext, run: TrainedRun, snap: Snapshot,
  fn: (model: GPT, ps: ProbeSet) => Promise<T>): Promise<T> {
  const model = loadSnapshot(ctx, run, snap);
  const ps = new ProbeSet(model);
  try {
    return await fn(model, ps);
  } finally {
    ps.dispose();
    model.dispose();
  }
}

/** Runs `fn` on every snapshot of `run` (or those given) in order, with a progress line. */
export async function overSnapshots<T>(ctx: RunContext, label: string, run: TrainedRun,
  fn: (model: GPT, ps: ProbeSet, snap: Snapshot) => Promise<T>, snaps: readonly Snapshot[] = run.snapshots): Promise<T[]> {
  const progress = new Progress(label, snaps.length);
  progress.update(0, "checkpoints");
  const out: T[] = [];
  for (const [i, snap] of snaps.entries()) {
    out.push(await withSnapshot(ctx, run, snap, (m, ps) => fn(m, ps, snap)));
    progress.update(i + 1, `checkpoint step ${snap.step}${snap.epoch === null ? "" : ` (epoch ${f1(snap.epoch)})`}`);
  }
  return out;
}

const f1 = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** Epoch (or, for step-based runs, step) of each snapshot, for x axes. */
export function snapshotX(run: TrainedRun): number[] {
  return run.snapshots.map((s) => s.epoch ?? s.step);
}

/** The parts of a training run worth keeping in an experiment's JSON. */
export function runInfo(run: TrainedRun): Record<string, unknown> {
  return {
    id: run.id, model: run.model, params: run.params, data: run.dataName, steps: run.steps,
    stepsPerEpoch: run.stepsPerEpoch, unigram: run.unigram, trainSeconds: run.trainSeconds,
    snapshots: run.snapshots.map((s) => ({ step: s.step, epoch: s.epoch, valLoss: s.valLoss })),
  };
}
