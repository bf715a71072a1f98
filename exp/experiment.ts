// The shape every experiment module (e1.ts … e6.ts) has: compute one seed's numbers from that
// seed's shared training runs (on the device), summarize the seeds into means, intervals and a
// verdict whose rules can fail (verdict.ts), and turn the summary JSON into figures plus a report
// section. Also the small helpers those modules share.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../src/nn/atomic-write";
import type { ExperimentId, ExperimentReport, ReportFigure } from "./report";
import type { ExpJson, RunContext } from "./context";
import type { ExpConfig } from "./config";
import type { SharedRuns } from "./runs";
import { savePlot, type PlotSpec } from "./plot";
import { meanCI } from "./stats";
import type { Verdict } from "./verdict";

/** One seed's result of an experiment. */
export interface SeedResult<S> {
  seed: number;
  result: S;
}

/** One experiment of PROTOCOL.md: S is one seed's result, A the summary over seeds. */
export interface Experiment<S = unknown, A extends { verdict: Verdict } = { verdict: Verdict }> {
  id: ExperimentId;
  title: string;
  /** Computes every number of one seed (`ctx.seed`), training that seed's shared runs on first use. */
  compute(ctx: RunContext, runs: SharedRuns): Promise<S>;
  /** Means, intervals and the verdict over the seeds (pure: no device, no files). */
  summarize(perSeed: readonly SeedResult<S>[], config: ExpConfig): A;
  /** Figures (written under `<outDir>/figures`) and the report section, from the summary JSON alone. */
  report(json: ExpJson<A>, outDir: string): Promise<ExperimentReport>;
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
export function reportMeta(json: ExpJson<{ verdict: Verdict }>): Pick<ExperimentReport, "config" | "adapter" | "seeds" | "commit" | "verdict"> {
  return {
    config: { backend: json.backend, ...json.config }, adapter: json.adapter, seeds: json.seeds, commit: json.commit,
    verdict: json.result.verdict,
  };
}

/** Per-seed values of `pick` (seeds in order). */
export function perSeed<S>(rs: readonly SeedResult<S>[], pick: (r: S) => number): number[] {
  return rs.map((r) => pick(r.result));
}

/** Element-wise mean over seeds of equally shaped number arrays (NaN where every seed is NaN). */
export function meanOver(arrays: readonly (readonly number[])[]): number[] {
  const n = Math.max(0, ...arrays.map((a) => a.length));
  return Array.from({ length: n }, (_, i) => {
    let s = 0, c = 0;
    for (const a of arrays) if (Number.isFinite(a[i])) { s += a[i]; c++; }
    return c ? s / c : NaN;
  });
}

/** Element-wise mean and 95 % interval over seeds (a band for lineChart's lo/hi). */
export function bandOver(arrays: readonly (readonly number[])[]): { y: number[]; lo: number[]; hi: number[] } {
  const n = Math.max(0, ...arrays.map((a) => a.length));
  const y: number[] = [], lo: number[] = [], hi: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = meanCI(arrays.map((a) => a[i] ?? NaN));
    y.push(e.value);
    lo.push(e.ci95[0]);
    hi.push(e.ci95[1]);
  }
  return { y, lo, hi };
}

/** Element-wise mean over seeds of [rows][cols] matrices. */
export function meanOver2(mats: readonly (readonly (readonly number[])[])[]): number[][] {
  const rows = Math.max(0, ...mats.map((m) => m.length));
  return Array.from({ length: rows }, (_, r) => meanOver(mats.map((m) => m[r] ?? [])));
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
