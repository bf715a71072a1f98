// End-to-end smoke test of `npm run exp`: the `smoke` configuration of all six experiments runs
// on this machine's adapter (tiny models, a few steps), writes one JSON per experiment with every
// field the report needs, figures and report.md/html; a second invocation skips all six.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCli } from "../exp/cli";
import { readResult } from "../exp/context";
import { runExperiments, type RunSummary } from "../exp/main";
import type { E1Result } from "../exp/e1";
import type { E2Result } from "../exp/e2";
import type { E3Result } from "../exp/e3";
import type { E4Result } from "../exp/e4";
import type { E5Result } from "../exp/e5";
import type { E6Result } from "../exp/e6";
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

describe("npm run exp --config smoke", () => {
  it("computes all six experiments and reports which adapter it used", () => {
    expect(first.computed).toEqual(["e1", "e2", "e3", "e4", "e5", "e6"]);
    expect(first.adapter).toMatch(/^webgpu: /);
    expect(lines[0]).toContain(first.adapter);
    expect(first.experiments.map((e) => e.id)).toEqual(["E1", "E2", "E3", "E4", "E5", "E6"]);
    for (const e of first.experiments) {
      expect(["yes", "partly", "no", "n/a"]).toContain(e.held);
      expect(e.headline.length).toBeGreaterThan(1);
      expect(e.headline.some((h) => h.startsWith("rule: "))).toBe(true);
    }
  });

  it("writes JSON with the run's metadata and every number the report uses", () => {
    for (const id of ["E1", "E2", "E3", "E4", "E5", "E6"] as const) {
      const j = readResult(out, id)!;
      expect(j).toMatchObject({ id, schema: 1, seed: 0, backend: "webgpu", adapter: first.adapter });
      expect(j.config.name).toBe("smoke");
      expect(j.commit).toMatch(/^([0-9a-f]{40}|unknown)$/);
    }
    const e1 = readResult<E1Result>(out, "E1")!.result;
    expect(e1.epochs).toEqual([0, 1, 2]);
    for (const split of ["val", "train"] as const) {
      for (const lab of ["seed", "next", "seedNext"]) {
        const s = e1.splits[split][lab];
        expect(s.k).toBeGreaterThan(1);
        for (const m of ["f1", "nmi", "ari", "purity"] as const) {
          expect(s[m]).toHaveLength(3);
          expect(allFinite(s[m]), `${split} ${lab} ${m}`).toBe(true);
        }
      }
    }
    const e2 = readResult<E2Result>(out, "E2")!.result;
    expect(e2.layers).toEqual([0, 1, 2]);
    expect(allFinite(e2.innerTrain) && allFinite(e2.innerVal) && allFinite(e2.outerEpochLoss) && allFinite(e2.stepLoss)).toBe(true);
    expect(e2.alignment).toHaveLength(3);
    for (const a of e2.alignment) expect(allFinite([a.cos, a.cosAttn, a.cosMlp, a.cosRandom, a.eta])).toBe(true);
    const e3 = readResult<E3Result>(out, "E3")!.result;
    expect(e3.k).toBe(10);
    for (const lab of ["seed", "next", "seedNext"]) expect(allFinite([e3.labels[lab].top, e3.labels[lab].bottom, e3.labels[lab].chance])).toBe(true);
    const e4 = readResult<E4Result>(out, "E4")!.result;
    expect(e4.models.map((m) => m.name)).toEqual(["R1 1L-16", "R1 2L-16"]);
    for (const m of e4.models) expect(allFinite([m.mean, m.samples]) && m.samples.length === 16).toBe(true);
    const e5 = readResult<E5Result>(out, "E5")!.result;
    expect(e5.models.map((m) => m.kind)).toEqual(["R1", "S1"]);
    for (const m of e5.models) {
      expect(m.panels.length).toBeGreaterThan(1);
      for (const p of m.panels) expect(allFinite([p.pc1, p.pc2, p.norm, p.position, p.logFreq])).toBe(true);
      expect(allFinite(m.rhoFreq)).toBe(true);
    }
    const e6 = readResult<E6Result>(out, "E6")!.result;
    expect(e6.models.map((m) => m.kind)).toEqual(["S1", "R1"]);
    for (const m of e6.models) {
      const s = m.snapshots.at(-1)!;
      expect(Math.max(...s.logit.residualMax, ...s.gradient.residualMax)).toBeLessThan(1e-3);
      expect(allFinite([s.logit.share, s.gradient.share, s.normPerLayer, s.eigenvalues])).toBe(true);
    }
  });

  it("writes the report with every figure and a summary", () => {
    const md = readFileSync(join(out, "report.md"), "utf8");
    for (const id of ["E1", "E2", "E3", "E4", "E5", "E6"]) expect(md).toContain(`## ${id}: `);
    const figs = [...md.matchAll(/\]\((figures\/[^)]+\.png)\)/g)].map((m) => m[1]);
    expect(figs.length).toBeGreaterThanOrEqual(12);
    for (const f of figs) expect(existsSync(join(out, f)), f).toBe(true);
    expect(existsSync(join(out, "report.html"))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).experiments).toHaveLength(6);
  });

  it("a second run skips every finished experiment and retrains nothing", async () => {
    const again: string[] = [];
    const second = await runExperiments(parseCli(["--config", "smoke", "--out", out]), (l) => again.push(l));
    expect(second.computed).toEqual([]);
    expect(second.skipped).toEqual(["e1", "e2", "e3", "e4", "e5", "e6"]);
    expect(again.filter((l) => /finished earlier/.test(l))).toHaveLength(6);
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
    const s = await runExperiments(parseCli(["e4", "--config", "smoke", "--data", wiki, "--out", r2out]), () => {});
    expect(s.computed).toEqual(["e4"]);
    const e4 = readResult<E4Result>(r2out, "E4")!.result;
    expect(e4.models.map((m) => m.kind)).toEqual(["R1", "R1", "R2"]);
    const r2 = e4.models[2];
    expect(r2.data).toBe("wikitext-103 (gpt2)");
    expect(allFinite([r2.mean, r2.samples])).toBe(true);
    expect(readFileSync(join(r2out, "report.md"), "utf8")).toContain("R2 1L-16");
  }, 120_000);
});
