// The experiment driver behind `npm run exp`: checks the adapter; for each seed computes each
// requested experiment unless its seed file (seed-<s>/eN.json) is already there for the same
// settings; then summarizes every experiment over the seeds (means, intervals, verdicts) into
// eN.json, rebuilds figures and one report (report.md + report.html) and writes summary.json with
// the run's timings (and, for the tiny budget, the estimated time of the full study).
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { init } from "../src/node";
import { writeFileAtomic } from "../src/nn/atomic-write";
import { CONFIGS, s1StepsPerEpoch, tinyBudget, type ExpConfig } from "./config";
import type { CliOptions, ExpId } from "./cli";
import {
  fmtDuration, gitCommit, isFinished, readResult, seedDir, settingsKey, writeResult, type ExpJson, type RunContext, type RunSetSettings,
} from "./context";
import type { Experiment, SeedResult } from "./experiment";
import { writeReport, type ExperimentId, type ExperimentReport, type ReportOptions } from "./report";
import { SharedRuns } from "./runs";
import type { TrainedRun } from "./train-run";
import { e1 } from "./e1";
import { e2 } from "./e2";
import { e3 } from "./e3";
import { e4 } from "./e4";
import { e5 } from "./e5";
import { e6 } from "./e6";

/** Every experiment, in report order. */
export const EXPERIMENTS: Readonly<Record<ExpId, Experiment>> = {
  e1: e1 as unknown as Experiment, e2: e2 as unknown as Experiment, e3: e3 as unknown as Experiment,
  e4: e4 as unknown as Experiment, e5: e5 as unknown as Experiment, e6: e6 as unknown as Experiment,
};

/** Measured cost of one seed's training run. */
export interface RunTiming {
  seed: number;
  id: string;
  steps: number;
  batch: number;
  seconds: number;
  secondsPerStep: number;
}

/** Where a run's time went, and (tiny budget) what the full configuration would take here. */
export interface Timing {
  /** Wall seconds per (seed, experiment) computed in this invocation, shared training included. */
  units: { seed: number; id: ExpId; seconds: number }[];
  /** Every training run of every seed (also those trained by an earlier invocation); secondsPerStep is warm (see warmStepSeconds). */
  runs: RunTiming[];
  /** Tiny budget only: the full configuration extrapolated from the measured seconds per step. */
  estimate: { trainingSeconds: number; probeSeconds: number; totalSeconds: number; note: string } | null;
}

/** What a run did. */
export interface RunSummary {
  out: string;
  adapter: string;
  backend: string;
  config: string;
  budget: string;
  seeds: number[];
  commit: string;
  wallSeconds: number;
  /** "e2@1" = experiment e2 of seed 1. */
  computed: string[];
  skipped: string[];
  report: { md: string; html: string } | null;
  experiments: { id: ExperimentId; title: string; held: ExperimentReport["held"]; headline: string[]; wallSeconds: number }[];
  timing: Timing;
}

/**
 * Builds figures and report.md + report.html in `out` from every summary JSON there whose
 * settings fingerprint is `key` (others are left out, with a note to `log`).
 */
export async function assembleReport(out: string, key: string, log: (line: string) => void, opts: ReportOptions = {}): Promise<{
  report: { md: string; html: string } | null; experiments: RunSummary["experiments"];
}> {
  const reports: ExperimentReport[] = [];
  const experiments: RunSummary["experiments"] = [];
  for (const [id, ex] of Object.entries(EXPERIMENTS) as [ExpId, Experiment][]) {
    const json = readResult(out, ex.id);
    if (!json) continue;
    if (json.key !== key) {
      log(`[${id}] ${id}.json was made with other settings: left out of the report (rerun ${id} to refresh it)`);
      continue;
    }
    const r = await ex.report(json as ExpJson<{ verdict: never }>, out);
    reports.push(r);
    experiments.push({ id: r.id, title: r.title, held: r.held, headline: r.headline, wallSeconds: json.wallSeconds });
  }
  const report = reports.length ? await writeReport(reports, out, opts) : null;
  return { report, experiments };
}

/** Describes the backend init() selected, e.g. "webgpu: llvmpipe (…) [software]". */
async function selectBackend(backend: CliOptions["backend"]): Promise<string> {
  if (backend === "cpu64") return "cpu64 (f64 reference backend, no GPU)";
  let dev;
  try {
    dev = await init({ backend: "webgpu" });
  } catch (e) {
    throw new Error(`${(e as Error).message}\nNo WebGPU adapter: install one (see README) or run with --backend cpu64 ` +
      "(the f64 reference backend; about 10x slower).");
  }
  const a = dev.adapter!;
  const name = [a.vendor, a.device || a.architecture, a.description].filter(Boolean).join(" ");
  return `webgpu: ${name}${a.isSoftware ? " [software adapter]" : ""}`;
}

/** The configuration a run uses: the named one, cut down for the tiny budget. */
export function configOf(opts: Pick<CliOptions, "config" | "budget">): ExpConfig {
  const c = CONFIGS[opts.config];
  return opts.budget === "tiny" ? tinyBudget(c) : c;
}

/** Training runs recorded in a seed folder (runs/<id>/run.json). */
function trainedRuns(dir: string, seed: number): RunTiming[] {
  const root = join(dir, "runs");
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((id) => {
    const f = join(root, id, "run.json");
    if (!existsSync(f)) return [];
    const r = JSON.parse(readFileSync(f, "utf8")) as TrainedRun;
    return [{ seed, id: r.id, steps: r.steps, batch: r.batch, seconds: r.trainSeconds, secondsPerStep: warmStepSeconds(r) }];
  });
}

/**
 * Seconds per step once the pipelines are compiled: the median step after the first (the first
 * step of a process compiles the model's pipelines; with one step, that step).
 */
export function warmStepSeconds(r: Pick<TrainedRun, "stepSeconds" | "trainSeconds" | "steps">): number {
  const warm = (r.stepSeconds ?? []).slice(1).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (warm.length === 0) return r.trainSeconds / Math.max(1, r.steps);
  return warm[Math.floor(warm.length / 2)];
}

/** Full-budget steps and batch of a shared training run id ("s1", "r1-<size>", "r2-<size>"). */
function fullRun(c: ExpConfig, id: string): { steps: number; batch: number } | null {
  if (id === "s1") return { steps: c.s1.epochs * s1StepsPerEpoch(c.s1), batch: c.s1.train.batch };
  if (id.startsWith("r1-")) return { steps: c.r1.steps, batch: c.r1.train.batch };
  if (id.startsWith("r2-")) return { steps: c.r2.steps, batch: c.r2.train.batch };
  return null;
}

/**
 * The full configuration's time on this adapter, extrapolated from a tiny-budget run: training
 * as measured seconds per step × (full batch / tiny batch) × full steps; probe passes as the
 * measured non-training time × (full / tiny sequences) × (full / tiny S1 snapshots). Rough: it
 * assumes time linear in the batch (true on a CPU adapter, pessimistic on a GPU).
 */
export function estimateFull(full: ExpConfig, tiny: ExpConfig, t: Pick<Timing, "units" | "runs">, seeds: number): Timing["estimate"] {
  let train = 0;
  for (const r of t.runs) {
    const f = fullRun(full, r.id);
    if (!f) continue;
    train += r.secondsPerStep * (f.batch / Math.max(1, Number.isFinite(r.batch) ? r.batch : 1)) * f.steps;
  }
  const measuredTrain = t.runs.reduce((a, r) => a + r.seconds, 0);
  const unitSeconds = t.units.reduce((a, u) => a + u.seconds, 0);
  const probeTiny = Math.max(0, unitSeconds - measuredTrain);
  const scale = (full.probes.seqs / tiny.probes.seqs) * (full.s1.snapshotEpochs.length / tiny.s1.snapshotEpochs.length);
  const probe = probeTiny * scale;
  const perSeedRuns = new Set(t.runs.map((r) => r.seed)).size || 1;
  const factor = seeds / perSeedRuns;
  return {
    trainingSeconds: train * factor, probeSeconds: probe * factor, totalSeconds: (train + probe) * factor,
    note: `extrapolated from ${t.runs.length} tiny-budget training run(s) (time × full batch / tiny batch × full steps) and the ` +
      `probe passes (× ${Math.round(scale)} for sequences × snapshots), for ${seeds} seed(s); rough, linear in the batch`,
  };
}

/** Progress over the whole run: units done, elapsed, and an ETA from the per-experiment times measured so far. */
class RunProgress {
  readonly #t0 = performance.now();
  readonly #times = new Map<ExpId, number[]>();
  #done = 0;

  constructor(readonly total: number, readonly log: (line: string) => void) {}

  start(seed: number, seedIndex: number, nSeeds: number, id: ExpId, title: string, remaining: ExpId[]): void {
    const el = (performance.now() - this.#t0) / 1000;
    const known = remaining.map((r) => this.#times.get(r)).filter((v): v is number[] => !!v);
    const eta = known.length === remaining.length && remaining.length > 0
      ? fmtDuration(remaining.reduce((a, r) => a + mean(this.#times.get(r)!), 0)) : "after the first seed";
    this.log(`[seed ${seed} (${seedIndex + 1}/${nSeeds}) · ${id}] ${title} | run: ${this.#done}/${this.total} done, ` +
      `${fmtDuration(el)} elapsed, ETA ${eta}`);
  }

  finish(id: ExpId, seconds: number): void {
    this.#done++;
    this.#times.set(id, [...(this.#times.get(id) ?? []), seconds]);
  }
}

const mean = (v: number[]): number => v.reduce((a, x) => a + x, 0) / v.length;

/**
 * Runs the experiments of `opts` for every seed, summarizes them and writes the report. `log`
 * receives the progress lines (default: stdout).
 */
export async function runExperiments(opts: CliOptions, log: (line: string) => void = (l) => console.log(l)): Promise<RunSummary> {
  const t0 = performance.now();
  const config = configOf(opts);
  const adapter = await selectBackend(opts.backend);
  await init({ backend: opts.backend });
  mkdirSync(opts.out, { recursive: true });
  const base = { config, backend: opts.backend, data: opts.data, gpt2: opts.gpt2 };
  const commit = gitCommit();
  const setSettings: RunSetSettings = { ...base, seeds: opts.seeds };
  const setKey = settingsKey(setSettings);
  log(`exp: config ${config.name}${config.budget === "tiny" ? " (tiny budget)" : ""}, seeds ${opts.seeds.join(", ")}, ${adapter}`);
  log(`exp: results in ${relative(process.cwd(), opts.out) || "."}; experiments ${opts.experiments.join(", ")}`);
  const computed: string[] = [], skipped: string[] = [];
  const units: Timing["units"] = [];
  const contexts = opts.seeds.map((seed): RunContext => {
    const s = { ...base, seed };
    return { ...s, out: seedDir(opts.out, seed), adapter, commit, key: settingsKey(s), log };
  });
  const todo = contexts.flatMap((ctx) => opts.experiments.filter((id) => !isFinished(ctx, EXPERIMENTS[id].id)).map((id) => ({ ctx, id })));
  const progress = new RunProgress(todo.length, log);
  for (const [si, ctx] of contexts.entries()) {
    mkdirSync(ctx.out, { recursive: true });
    const runs = new SharedRuns(ctx);
    for (const id of opts.experiments) {
      const ex = EXPERIMENTS[id];
      if (isFinished(ctx, ex.id)) {
        log(`[seed ${ctx.seed} · ${id}] ${ex.title}: finished earlier (seed-${ctx.seed}/${id}.json), skipping`);
        skipped.push(`${id}@${ctx.seed}`);
        continue;
      }
      progress.start(ctx.seed, si, contexts.length, id, ex.title, todo.filter((u) => !computed.includes(`${u.id}@${u.ctx.seed}`)).map((u) => u.id));
      const start = performance.now();
      const result = await ex.compute(ctx, runs);
      const wall = (performance.now() - start) / 1000;
      writeResult(ctx, ex.id, result, wall);
      log(`[seed ${ctx.seed} · ${id}] done in ${fmtDuration(wall)} (including any shared training it started)`);
      computed.push(`${id}@${ctx.seed}`);
      units.push({ seed: ctx.seed, id, seconds: wall });
      progress.finish(id, wall);
    }
  }

  // Summaries over seeds, for every experiment whose every seed is finished.
  for (const ex of Object.values(EXPERIMENTS)) {
    const files = contexts.map((ctx) => readResult(ctx.out, ex.id));
    if (files.some((f, i) => !f || f.key !== contexts[i].key)) continue;
    const perSeed: SeedResult<unknown>[] = files.map((f, i) => ({ seed: contexts[i].seed, result: f!.result }));
    const summary = ex.summarize(perSeed, config);
    writeResult({ ...setSettings, out: opts.out, key: setKey, adapter, commit }, ex.id, summary, files.reduce((a, f) => a + f!.wallSeconds, 0));
  }

  const runTimes = contexts.flatMap((ctx) => trainedRuns(ctx.out, ctx.seed));
  const timing: Timing = {
    units, runs: runTimes,
    estimate: config.budget === "tiny" ? estimateFull(CONFIGS[opts.config], config, { units, runs: runTimes }, CONFIGS[opts.config].seeds) : null,
  };
  const notes = timingNotes(config, timing, (performance.now() - t0) / 1000);
  const { report, experiments } = await assembleReport(opts.out, setKey, log, {
    title: `Meta-learning view of a causal Transformer: ${config.name} run${config.budget === "tiny" ? " (tiny budget)" : ""}`,
    intro: `Reproduction of Wu & Varshney (2024) following docs/PROTOCOL.md, configuration "${config.name}"` +
      `${config.budget === "tiny" ? " at the tiny budget (a few steps and sequences: code paths and timings, not results)" : ""}, ` +
      `seeds ${opts.seeds.join(", ")}, ${adapter}. Each section states the paper's claim, the protocol reading used, the verdict ` +
      "with every claim's effect beside its strongest control (means and 95% intervals over seeds) and the rule that decided it, " +
      "then the figures and headline numbers.",
    notes,
  });
  const summary: RunSummary = {
    out: opts.out, adapter, backend: opts.backend, config: config.name, budget: config.budget, seeds: opts.seeds, commit,
    wallSeconds: (performance.now() - t0) / 1000, computed, skipped, report, experiments, timing,
  };
  writeFileAtomic(join(opts.out, "summary.json"), `${JSON.stringify(summary, null, 1)}\n`);
  for (const e of experiments) log(`${e.id} [${e.held}] ${e.headline[0] ?? ""}`);
  for (const n of notes) log(`exp: ${n}`);
  if (report) log(`exp: report ${relative(process.cwd(), report.md)} and ${relative(process.cwd(), report.html)}`);
  log(`exp: ${fmtDuration(summary.wallSeconds)} wall time`);
  return summary;
}

/** The report's lines on cost: training seconds per step, this invocation's wall time and, for the tiny budget, the estimate. */
function timingNotes(config: ExpConfig, t: Timing, wall: number): string[] {
  const byId = new Map<string, RunTiming[]>();
  for (const r of t.runs) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  const runs = [...byId].map(([id, rs]) => `${id} ${mean(rs.map((r) => r.secondsPerStep)).toFixed(3)} s/step ` +
    `(batch ${rs[0].batch}, ${rs[0].steps} steps)`);
  const out = [`**Cost.** This invocation took ${fmtDuration(wall)}${t.units.length ? ` (${t.units.length} experiment-seed units computed)` : ""}. ` +
    `Training, mean over seeds: ${runs.join("; ") || "none recorded"}.`];
  if (t.estimate) {
    const h = (s: number) => `${(s / 3600).toFixed(1)} h`;
    out.push(`**Estimated full ${config.name} study on this adapter:** ${h(t.estimate.totalSeconds)} (training ${h(t.estimate.trainingSeconds)}, ` +
      `probe passes ${h(t.estimate.probeSeconds)}); ${t.estimate.note}.`);
  }
  return out;
}
