// The experiment driver behind `npm run exp`: checks the adapter, computes each requested
// experiment unless its JSON is already there for the same settings, then rebuilds figures and
// one report (report.md + report.html) from every finished experiment, and writes summary.json.
import { mkdirSync } from "node:fs";
import { relative } from "node:path";
import { init } from "../src/node";
import { writeFileAtomic } from "../src/nn/atomic-write";
import { CONFIGS } from "./config";
import type { CliOptions, ExpId } from "./cli";
import { gitCommit, isFinished, readResult, settingsKey, writeResult, fmtDuration, type RunContext } from "./context";
import type { Experiment } from "./experiment";
import { writeReport, type ExperimentId, type ExperimentReport, type ReportOptions } from "./report";
import { SharedRuns } from "./runs";
import { e1 } from "./e1";
import { e2 } from "./e2";
import { e3 } from "./e3";
import { e4 } from "./e4";
import { e5 } from "./e5";
import { e6 } from "./e6";

/** Every experiment, in report order. */
export const EXPERIMENTS: Readonly<Record<ExpId, Experiment>> = {
  e1: e1 as Experiment, e2: e2 as Experiment, e3: e3 as Experiment,
  e4: e4 as Experiment, e5: e5 as Experiment, e6: e6 as Experiment,
};

/** What a run did, per experiment. */
export interface RunSummary {
  out: string;
  adapter: string;
  backend: string;
  config: string;
  seed: number;
  commit: string;
  wallSeconds: number;
  computed: ExpId[];
  skipped: ExpId[];
  report: { md: string; html: string } | null;
  experiments: { id: ExperimentId; title: string; held: ExperimentReport["held"]; headline: string[]; wallSeconds: number }[];
}

/**
 * Builds figures and report.md + report.html in `out` from every experiment JSON there whose
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
    const r = await ex.report(json, out);
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

/**
 * Runs the experiments of `opts` and writes the report. `log` receives the progress lines
 * (default: stdout).
 */
export async function runExperiments(opts: CliOptions, log: (line: string) => void = (l) => console.log(l)): Promise<RunSummary> {
  const t0 = performance.now();
  const config = CONFIGS[opts.config];
  const adapter = await selectBackend(opts.backend);
  await init({ backend: opts.backend });
  mkdirSync(opts.out, { recursive: true });
  const settings = { config, seed: opts.seed, backend: opts.backend, data: opts.data, gpt2: opts.gpt2 };
  const ctx: RunContext = { ...settings, out: opts.out, adapter, commit: gitCommit(), key: settingsKey(settings), log };
  log(`exp: config ${config.name}, seed ${opts.seed}, ${adapter}`);
  log(`exp: results in ${relative(process.cwd(), opts.out) || "."}; experiments ${opts.experiments.join(", ")}`);
  const runs = new SharedRuns(ctx);
  const computed: ExpId[] = [], skipped: ExpId[] = [];
  for (const id of opts.experiments) {
    const ex = EXPERIMENTS[id];
    if (isFinished(ctx, ex.id)) {
      log(`[${id}] ${ex.title}: finished earlier (${id}.json), skipping`);
      skipped.push(id);
      continue;
    }
    log(`[${id}] ${ex.title}`);
    const start = performance.now();
    const result = await ex.compute(ctx, runs);
    const wall = (performance.now() - start) / 1000;
    writeResult(ctx, ex.id, result, wall);
    log(`[${id}] done in ${fmtDuration(wall)} (including any shared training it started)`);
    computed.push(id);
  }

  const { report, experiments } = await assembleReport(opts.out, ctx.key, log, {
    title: `Meta-learning view of a causal Transformer: ${config.name} run`,
    intro: `Reproduction of Wu & Varshney (2024) following PROTOCOL.md, configuration "${config.name}", seed ${opts.seed}, ` +
      `${adapter}. Each section states the paper's claim, the protocol reading used, the measured numbers and ` +
      "whether the claim held here under the explicit rules listed with its headline numbers.",
  });
  const summary: RunSummary = {
    out: opts.out, adapter, backend: opts.backend, config: config.name, seed: opts.seed, commit: ctx.commit,
    wallSeconds: (performance.now() - t0) / 1000, computed, skipped, report, experiments,
  };
  writeFileAtomic(`${opts.out}/summary.json`, `${JSON.stringify(summary, null, 1)}\n`);
  for (const e of experiments) log(`${e.id} [${e.held}] ${e.headline[0] ?? ""}`);
  if (report) log(`exp: report ${relative(process.cwd(), report.md)} and ${relative(process.cwd(), report.html)}`);
  log(`exp: ${fmtDuration(summary.wallSeconds)} wall time`);
  return summary;
}
