// The shape every experiment module (e1.ts … e6.ts) has: compute its numbers from the shared
// training runs (on the device), and turn its finished JSON into figures plus a report section
// whose verdict follows explicit rules. Also the small helpers those modules share.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../src/nn/atomic-write";
import type { ExperimentId, ExperimentReport, ReportFigure } from "./report";
import type { ExpJson, RunContext } from "./context";
import type { SharedRuns } from "./runs";
import { savePlot, type PlotSpec } from "./plot";

/** One experiment of PROTOCOL.md. */
export interface Experiment<R = unknown> {
  id: ExperimentId;
  title: string;
  /** Computes every number the experiment reports (trains shared runs on first use). */
  compute(ctx: RunContext, runs: SharedRuns): Promise<R>;
  /** Figures (written under `<outDir>/figures`) and the report section, from the JSON alone. */
  report(json: ExpJson<R>, outDir: string): Promise<ExperimentReport>;
}

/** A verdict and the rule that produced it, in words. */
export interface Verdict {
  held: ExperimentReport["held"];
  /** The rules applied and how each came out, e.g. "monotone in 6/6 ≥ 80%: pass". */
  rules: string[];
}

/** Combines pass/fail rules: all pass → yes, none → no, otherwise partly. */
export function verdictOf(rules: { text: string; pass: boolean }[]): Verdict {
  const n = rules.filter((r) => r.pass).length;
  const held = n === rules.length ? "yes" : n === 0 ? "no" : "partly";
  return { held, rules: rules.map((r) => `${r.text}: ${r.pass ? "pass" : "fail"}`) };
}

/**
 * Saves a figure as `<outDir>/figures/<name>.svg` and `.png` and returns its report entry. A
 * figure whose files exist and whose spec hash (kept in `.<name>.hash` beside them) is unchanged
 * is not rendered again, so rebuilding the report of a resumed run is quick.
 */
export async function figure(outDir: string, name: string, spec: PlotSpec, caption: string): Promise<ReportFigure> {
  const base = join(outDir, "figures", name);
  const stamp = join(outDir, "figures", `.${name}.hash`);
  const hash = createHash("sha256").update(JSON.stringify(spec)).digest("hex");
  const fresh = existsSync(`${base}.svg`) && existsSync(`${base}.png`) && existsSync(stamp) && readFileSync(stamp, "utf8") === hash;
  if (!fresh) {
    await savePlot(spec, base);
    writeFileAtomic(stamp, hash);
  }
  return { path: join("figures", name), caption };
}

/** The report fields every experiment copies from its JSON. */
export function reportMeta(json: ExpJson): Pick<ExperimentReport, "config" | "adapter" | "seed" | "commit"> {
  return { config: { backend: json.backend, ...json.config }, adapter: json.adapter, seed: json.seed, commit: json.commit };
}

/** Number formatting for headlines: 3 significant digits. */
export function f3(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : "n/a";
}

/** Whether `v` is non-increasing from each entry to the next, allowing a rise of `tol`. */
export function nonIncreasing(v: readonly number[], tol = 0): boolean {
  for (let i = 1; i < v.length; i++) if (!(v[i] <= v[i - 1] + tol)) return false;
  return true;
}

/** Index of the largest finite entry (−1 when none). */
export function argmax(v: ArrayLike<number>): number {
  let b = -1;
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i]) && (b < 0 || v[i] > v[b])) b = i;
  return b;
}

/** `n` indices spread evenly over [0, len), always including the first and the last. */
export function spread(len: number, n: number): number[] {
  if (len <= n) return Array.from({ length: len }, (_, i) => i);
  return [...new Set(Array.from({ length: n }, (_, i) => Math.round((i * (len - 1)) / (n - 1))))];
}
