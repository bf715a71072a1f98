// `npm run bench [-- --quick] [-- --suite matmul,peers,...]`: runs the suites on the WebGPU
// adapter, prints one table, and writes the JSON (adapter, machine, every case) atomically to
// bench/results/. Peers and the polite-wait comparison run in child processes.
import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { init, gpuRuntime } from "../src/node";
import { writeFileAtomic } from "../src/nn/atomic-write";
import { BUDGETS, machine } from "./lib/harness";
import type { Suite, SuiteContext } from "./lib/context";
import { printTable } from "./lib/table";
import { renderMarkdown, targets, type ResultFile } from "./lib/markdown";
import { matmulSuite } from "./suites/matmul";
import { opSuites } from "./suites/ops";
import { attentionSuite } from "./suites/attention";
import { copySuite } from "./suites/copy";
import { trainSuite } from "./suites/train";
import { stepSuite } from "./suites/step";
import { peersSuite } from "./suites/peers";
import { waitSuite } from "./suites/wait";
import { probesSuite } from "./suites/probes";
import { numericsSuite } from "./suites/numerics";
import { soakSuite } from "./suites/soak";

const SUITES: Suite[] = [matmulSuite, attentionSuite, ...opSuites, copySuite, trainSuite, stepSuite, waitSuite, peersSuite, probesSuite, numericsSuite, soakSuite];

const USAGE = `usage: npm run bench -- [--quick] [--suite a,b,...] [--out file.json] [--list]\nsuites:\n${
  SUITES.map((s) => `  ${s.name.padEnd(12)} ${s.describe}`).join("\n")}`;

const OPTIONS = {
  quick: { type: "boolean", default: false },
  suite: { type: "string" },
  out: { type: "string" },
  list: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The parsed flags; an unknown option or a missing value prints the usage and exits with status 2. */
function parseCli() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}
const values = parseCli();

if (values.help || values.list) {
  console.log(USAGE);
  process.exit(0);
}

const wanted = values.suite ? values.suite.split(",").map((s) => s.trim()).filter(Boolean) : SUITES.map((s) => s.name);
const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; known: ${SUITES.map((s) => s.name).join(", ")}`);
  process.exit(2);
}

const info = await init({ backend: "webgpu" });
const rt = gpuRuntime()!;
const started = new Date();
const startMachine = machine();
const ctx: SuiteContext = {
  quick: values.quick,
  budget: values.quick ? BUDGETS.quick : BUDGETS.full,
  results: [],
  log: (m) => console.log(m),
  sections: {},
};
console.log(`adapter: ${info.adapter?.description} (software: ${info.adapter?.isSoftware}); ` +
  `timestamps: ${rt.device.features.has("timestamp-query")}; wait: ${process.env.METAGRAD_WAIT ?? "polite"}; ` +
  `LP_NUM_THREADS: ${process.env.LP_NUM_THREADS ?? "unset"} (inherited by the peer processes); ` +
  `mode: ${values.quick ? "quick" : "full"}`);
const suiteTimes: Record<string, number> = {};
const failures: Record<string, string> = {};
const here = dirname(fileURLToPath(import.meta.url));
const file = values.out ?? join(here, "results", `bench-${started.toISOString().replace(/[:.]/g, "-")}.json`);
mkdirSync(dirname(file), { recursive: true });

/** Writes the JSON + Markdown (atomically) with the suites finished so far: after every suite, so an
 * interrupted run keeps what it measured (`complete: false` until the last suite is done). */
function writeReport(complete: boolean): void {
  const report = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    complete,
    mode: values.quick ? "quick" : "full",
    suites: wanted,
    suiteMs: suiteTimes,
    failures,
    adapter: info.adapter,
    timestamps: rt.device.features.has("timestamp-query"),
    machine: startMachine,
    machineEnd: machine(),
    runtime: { ...rt.stats, buffersCreated: rt.pool.stats.buffersCreated },
    results: ctx.results,
    ...ctx.sections,
  };
  // The Targets table in the JSON too (the Markdown renders the same rows).
  const json = `${JSON.stringify({ ...report, targets: targets(report as unknown as ResultFile) }, null, 1)}\n`;
  const md = renderMarkdown(report as unknown as ResultFile);
  writeFileAtomic(file, json);
  writeFileAtomic(file.replace(/\.json$/, "") + ".md", md);
  if (!values.out) {
    writeFileAtomic(join(here, "results", "latest.json"), json);
    writeFileAtomic(join(here, "results", "latest.md"), md);
  }
}

for (const s of SUITES.filter((x) => wanted.includes(x.name))) {
  const t0 = performance.now();
  console.log(`\n== ${s.name}: ${s.describe}`);
  try {
    await s.run(ctx);
  } catch (e) {
    failures[s.name] = (e as Error).stack ?? String(e);
    console.error(`suite ${s.name} failed: ${(e as Error).message}`);
  }
  suiteTimes[s.name] = Math.round(performance.now() - t0);
  try {
    writeReport(false);
  } catch (e) {
    console.error(`could not write the partial report after suite ${s.name}: ${(e as Error).message}`);
  }
}

printTable(ctx.results, ctx.sections);
writeReport(true);
console.log(`\nwrote ${file} (and the Markdown report next to it)`);
const failed = ctx.results.filter((r) => r.check && !r.check.ok).length + Object.keys(failures).length;
process.exit(failed ? 1 : 0);
