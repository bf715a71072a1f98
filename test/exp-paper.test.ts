// The paper configuration cannot rot: `npm run exp -- --config paper --budget tiny --seeds 1` runs
// all six experiments with the paper's architectures (GPT-2-small sized S1 and R1 models, the
// untied R1 model, 12 heads of 64, T = 256, k = 8, sampled D5 queries) for a couple of steps and
// sequences on this machine's adapter, and its report states the measured seconds per step and
// the estimated time of the full study here.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCli } from "../exp/cli";
import { readResult, seedDir } from "../exp/context";
import type { E3Seed } from "../exp/e3";
import type { E4Seed } from "../exp/e4";
import type { E6Seed } from "../exp/e6";
import { runExperiments, type RunSummary } from "../exp/main";
import { gpu } from "./helpers/gpu";

const out = mkdtempSync(join(tmpdir(), "exp-paper-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

let summary: RunSummary;
beforeAll(async () => {
  await gpu();
  summary = await runExperiments(parseCli(["--config", "paper", "--budget", "tiny", "--seeds", "1", "--out", out]), () => {});
}, 900_000);

describe("npm run exp -- --config paper --budget tiny", () => {
  it("runs every experiment of the paper configuration end to end", () => {
    expect(summary.config).toBe("paper");
    expect(summary.budget).toBe("tiny");
    expect(summary.computed).toEqual(["e1@0", "e2@0", "e3@0", "e4@0", "e5@0", "e6@0"]);
    expect(summary.experiments.map((e) => e.id)).toEqual(["E1", "E2", "E3", "E4", "E5", "E6"]);
    const e4 = readResult<E4Seed>(seedDir(out, 0), "E4")!.result;
    expect(e4.models.map((m) => `${m.nLayer}L-${m.nEmbd}${m.untied ? "u" : ""}`)).toEqual(["6L-512", "12L-768", "4L-256", "6L-512u"]);
    const e3 = readResult<E3Seed>(seedDir(out, 0), "E3")!.result;
    expect(e3.heads).toBe(12);
    expect(e3.layers).toHaveLength(12);
    expect(e3.queries).toBe(2 * 4); // the paper's sampled queries (d5Queries), cut to 4 per sequence
    const e6 = readResult<E6Seed>(seedDir(out, 0), "E6")!.result;
    expect(e6.k).toBe(8);
    expect(e6.models[0].C).toBe(768);
  });

  it("measures seconds per step of every paper-sized run and estimates the full study on this adapter", () => {
    const ids = summary.timing.runs.map((r) => r.id).sort();
    expect(ids).toEqual(["r1-12L-768", "r1-4L-256", "r1-6L-512", "r1-6L-512u", "s1"]);
    for (const r of summary.timing.runs) {
      expect(r.batch).toBe(1);
      expect(r.secondsPerStep).toBeGreaterThan(0);
    }
    const est = summary.timing.estimate!;
    expect(est.trainingSeconds).toBeGreaterThan(0);
    expect(est.totalSeconds).toBeGreaterThan(est.trainingSeconds);
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toMatch(/\*\*Estimated full paper study on this adapter:\*\* [\d.]+ h \(training [\d.]+ h, probe passes [\d.]+ h\)/);
    expect(md).toMatch(/s1 [\d.]+ s\/step \(batch 1, 2 steps\)/);
    expect(md).not.toMatch(/NaN|undefined/);
  });
});
