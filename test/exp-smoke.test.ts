// End-to-end smoke test of `npm run exp`: the `smoke` configuration of all six experiments runs
// on this machine's adapter for two seeds (tiny models, a few steps), writes one JSON per
// experiment and seed, a summary per experiment with its verdict (controls, intervals, rules),
// figures and report.md/html; a second invocation skips all twelve experiment-seed units.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCli } from "../exp/cli";
import { readResult, seedDir } from "../exp/context";
import { runExperiments, type RunSummary } from "../exp/main";
import type { E1Seed } from "../exp/e1";
import type { E2Seed } from "../exp/e2";
import type { E3Seed } from "../exp/e3";
import type { E4Seed } from "../exp/e4";
import type { E5Seed } from "../exp/e5";
import type { E6Seed } from "../exp/e6";
import type { Verdict } from "../exp/verdict";
import { loadDocs } from "../src/data/text";
import { allFinite } from "./helpers/finite";
import { gpu } from "./helpers/gpu";

const out = mkdtempSync(join(tmpdir(), "exp-smoke-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

let first: RunSummary;
const lines: string[] = [];
beforeAll(async () => {
  await gpu();
  first = await runExperiments(parseCli(["--config", "smoke", "--out", out]), (l) => lines.push(l));
}, 180_000);

const IDS = ["E1", "E2", "E3", "E4", "E5", "E6"] as const;
const SEEDS = [0, 1];

describe("npm run exp --config smoke (two seeds)", () => {
  it("computes all six experiments for every seed and reports which adapter it used", () => {
    expect(first.computed).toEqual(SEEDS.flatMap((s) => ["e1", "e2", "e3", "e4", "e5", "e6"].map((e) => `${e}@${s}`)));
    expect(first.seeds).toEqual(SEEDS);
    expect(first.adapter).toMatch(/^webgpu: /);
    expect(lines[0]).toContain(first.adapter);
    expect(lines.some((l) => /^\[seed 1 \(2\/2\) · e3\] .* run: 8\/12 done, .* ETA \d+:\d\d$/.test(l))).toBe(true);
    expect(first.experiments.map((e) => e.id)).toEqual([...IDS]);
    for (const e of first.experiments) {
      expect(["yes", "partly", "no", "n/a"]).toContain(e.held);
      expect(e.headline.length).toBeGreaterThan(1);
    }
    expect(first.timing.runs.map((r) => `${r.seed}:${r.id}`).sort()).toEqual(["0:r1-2L-16", "0:r1-2L-16u", "0:s1", "1:r1-2L-16", "1:r1-2L-16u", "1:s1"]);
    for (const r of first.timing.runs) expect(r.secondsPerStep).toBeGreaterThan(0);
  });

  it("writes one JSON per experiment and seed, and a summary per experiment with a machine-readable verdict", () => {
    for (const id of IDS) {
      for (const seed of SEEDS) {
        const j = readResult(seedDir(out, seed), id)!;
        expect(j).toMatchObject({ id, schema: 2, kind: "seed", seeds: [seed], backend: "webgpu", adapter: first.adapter });
      }
      const sum = readResult<{ verdict: Verdict }>(out, id)!;
      expect(sum).toMatchObject({ id, schema: 2, kind: "summary", seeds: SEEDS });
      expect(sum.config.name).toBe("smoke");
      expect(sum.commit).toMatch(/^([0-9a-f]{40}|unknown)$/);
      const v = sum.result.verdict;
      expect(["yes", "partly", "no"]).toContain(v.held);
      expect(v.seeds).toEqual(SEEDS);
      expect(v.rule).toMatch(/yes iff/);
      expect(Number.isFinite(v.effect.value)).toBe(true);
      expect(v.effect.ci95).toHaveLength(2);
      expect(v.controls.length).toBeGreaterThan(0);
      for (const c of v.controls) expect(Number.isFinite(c.value) && c.ci95.length === 2).toBe(true);
      for (const c of v.claims) {
        expect(c.margin.perSeed).toHaveLength(2);
        expect(c.controls.map((x) => x.name)).toContain(c.strongest);
      }
    }
    // The controls each verdict names, by the words a reader searches for.
    const names = (id: (typeof IDS)[number]) => readResult<{ verdict: Verdict }>(out, id)!.result.verdict.claims.flatMap((c) => c.controls.map((x) => x.name)).join(" | ");
    expect(names("E1")).toMatch(/untrained/);
    expect(names("E1")).toMatch(/permuted/);
    expect(names("E1")).toMatch(/segment/);
    expect(names("E2")).toMatch(/shuffled/);
    expect(names("E2")).toMatch(/untrained/);
    expect(names("E3")).toMatch(/recency/);
    expect(names("E3")).toMatch(/distance/);
    expect(names("E4")).toMatch(/shuffled/);
    expect(names("E5")).toMatch(/untrained/);
    expect(names("E6")).toMatch(/spectral/);
    const e6 = readResult<{ verdict: Verdict }>(out, "E6")!.result.verdict;
    expect(e6.checks[0].text).toMatch(/identity/);
    expect(e6.checks[0].pass).toBe(true);
  });

  it("per-seed results hold every number the summaries use", () => {
    const e1 = readResult<E1Seed>(seedDir(out, 0), "E1")!.result;
    expect(e1.epochs).toEqual([0, 1, 2]);
    for (const split of ["val", "train"] as const) {
      for (const lab of ["seed", "next", "seedNext"]) {
        const s = e1.splits[split][lab];
        expect(s.k).toBeGreaterThan(1);
        for (const m of ["f1", "nmi", "ari", "purity", "permutedF1"] as const) {
          expect(s[m]).toHaveLength(3);
          expect(allFinite(s[m]), `${split} ${lab} ${m}`).toBe(true);
        }
      }
      expect(allFinite(e1.splits[split].seed.segmentF1!)).toBe(true);
    }
    const e2 = readResult<E2Seed>(seedDir(out, 1), "E2")!.result;
    expect(e2.layers).toEqual([0, 1, 2]);
    expect(allFinite(e2.innerTrain) && allFinite(e2.innerVal) && allFinite(e2.shuffled.innerVal) && allFinite(e2.outerEpochLoss)).toBe(true);
    expect(e2.alignment).toHaveLength(3);
    for (const a of [...e2.alignment, e2.shuffled.alignment]) expect(allFinite([a.cos, a.cosAttn, a.cosMlp, a.cosRandom, a.eta])).toBe(true);
    const e3 = readResult<E3Seed>(seedDir(out, 0), "E3")!.result;
    expect(e3.k).toBe(10);
    expect(e3.queries).toBeGreaterThan(16 * 8); // every query position with ≥ 20 earlier positions, not one per sequence
    for (const lab of ["seed", "next", "seedNext"]) {
      const v = e3.labels[lab].val;
      expect(allFinite([v.top, v.bottom, v.recency, v.distance, v.chance])).toBe(true);
      expect(v.top[0]).toHaveLength(2); // [layer][head]
      expect(v.top[0][0]).toHaveLength(2);
    }
    const e4 = readResult<E4Seed>(seedDir(out, 0), "E4")!.result;
    expect(e4.models.map((m) => m.name)).toEqual(["R1 2L-16", "R1 2L-16 untied"]);
    for (const m of e4.models) {
      expect(allFinite([m.mean, m.samples, m.untrained!.mean, m.shuffled.mean]) && m.samples.length === 16).toBe(true);
      expect(m.unigram).toBeGreaterThan(1);
    }
    const e5 = readResult<E5Seed>(seedDir(out, 0), "E5")!.result;
    expect(e5.models.map((m) => m.kind)).toEqual(["R1", "S1"]);
    for (const m of e5.models) {
      expect(m.panels.length).toBeGreaterThan(1);
      for (const p of m.panels) expect(allFinite([p.pc1, p.pc2, p.norm, p.position, p.logFreq])).toBe(true);
      expect(allFinite([m.rhoFreq, m.partialRho, m.untrained!.partialRho])).toBe(true);
    }
    const e6 = readResult<E6Seed>(seedDir(out, 0), "E6")!.result;
    expect(e6.models.map((m) => m.kind)).toEqual(["S1", "R1"]);
    for (const m of e6.models) {
      const s = m.snapshots.at(-1)!;
      expect(Math.max(...s.logit.residualMax, ...s.gradient.residualMax)).toBeLessThan(1e-3);
      expect(allFinite([s.logit.share, s.gradient.share, s.normPerLayer, s.eigenvalues])).toBe(true);
      expect(m.topK).toContain(e6.k);
    }
  });

  it("seeds differ in the task's functions, the data and the initialisation", () => {
    const a = readResult<E2Seed>(seedDir(out, 0), "E2")!.result, b = readResult<E2Seed>(seedDir(out, 1), "E2")!.result;
    expect(a.unigram).not.toBe(b.unigram);
    expect(a.innerVal[0]).not.toEqual(b.innerVal[0]);
  });

  it("writes the report with every figure, the verdict tables and a summary with timings", () => {
    const md = readFileSync(join(out, "report.md"), "utf8");
    for (const id of IDS) expect(md).toContain(`## ${id}: `);
    expect(md.match(/\*\*Verdict\*\* \(seeds 0, 1; bold = the strongest control\)/g)).toHaveLength(6);
    expect(md).toContain("**Cost.**");
    expect(md).not.toMatch(/NaN|undefined/);
    const figs = [...md.matchAll(/\]\((figures\/[^)]+\.png)\)/g)].map((m) => m[1]);
    expect(figs.length).toBeGreaterThanOrEqual(12);
    for (const f of figs) expect(existsSync(join(out, f)), f).toBe(true);
    expect(existsSync(join(out, "report.html"))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).experiments).toHaveLength(6);
  });

  it("a second run skips every finished experiment of every seed and retrains nothing", async () => {
    const again: string[] = [];
    const second = await runExperiments(parseCli(["--config", "smoke", "--out", out]), (l) => again.push(l));
    expect(second.computed).toEqual([]);
    expect(second.skipped).toHaveLength(12);
    expect(again.filter((l) => /finished earlier/.test(l))).toHaveLength(12);
    expect(again.some((l) => /params/.test(l))).toBe(false);
    expect(second.experiments.map((e) => e.held)).toEqual(first.experiments.map((e) => e.held));
  }, 60_000);
});

describe("npm run exp -- e4 --data <WikiText folder>", () => {
  it("adds an R2 model trained on the folder's text (GPT-2 BPE) to E4", async () => {
    const wiki = join(out, "wikitext");
    mkdirSync(wiki);
    const docs = loadDocs("sotu");
    writeFileSync(join(wiki, "wiki.train.tokens"), docs.slice(0, 4).map((d) => d.text).join("\n"));
    writeFileSync(join(wiki, "wiki.valid.tokens"), docs[5].text);
    const r2out = join(out, "r2");
    const s = await runExperiments(parseCli(["e4", "--config", "smoke", "--seeds", "1", "--data", wiki, "--out", r2out]), () => {});
    expect(s.computed).toEqual(["e4@0"]);
    const e4 = readResult<E4Seed>(seedDir(r2out, 0), "E4")!.result;
    expect(e4.models.map((m) => m.kind)).toEqual(["R1", "R1", "R2"]);
    const r2 = e4.models[2];
    expect(r2.data).toBe("wikitext-103 (gpt2)");
    expect(allFinite([r2.mean, r2.samples])).toBe(true);
    expect(readFileSync(join(r2out, "report.md"), "utf8")).toContain("R2 1L-16");
  }, 120_000);
});
