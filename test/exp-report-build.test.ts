// Tests of the experiment-specific report assembly (exp/main.ts assembleReport and each
// experiment's report()): fixed, hand-made result JSON for E1–E6 becomes one report.md/report.html
// with every section, its verdict by the stated rules, the headline numbers and the figures; JSON
// made with other settings is left out. Also the verdict rules on edge cases.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIGS } from "../exp/config";
import { settingsKey, writeResult, type RunContext } from "../exp/context";
import { judgeE1, type E1Result, type E1Scores } from "../exp/e1";
import { judgeE2, type E2Result } from "../exp/e2";
import { judgeE3, type E3Result } from "../exp/e3";
import { fallingShare, judgeE4, type E4Result } from "../exp/e4";
import { judgeE5, type E5Result } from "../exp/e5";
import { judgeE6, type E6Result } from "../exp/e6";
import type { AlignmentByLayer } from "../exp/alignment";
import { assembleReport } from "../exp/main";
import { verdictOf } from "../exp/experiment";

const tmp = mkdtempSync(join(tmpdir(), "exp-report-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const settings = { config: CONFIGS.smoke, seed: 3, backend: "webgpu" as const, data: null, gpt2: null };
const ctx: RunContext = { ...settings, out: tmp, adapter: "fixture adapter", commit: "0123abc", key: settingsKey(settings), log: () => {} };
const defs = (d: string) => ({ [d]: `${d} fixture reading` });
const run = { id: "s1", steps: 8 };
const epochs = [0, 1, 2];
const grid3 = (f: (e: number, l: number) => number) => epochs.map((e) => [0, 1, 2].map((l) => f(e, l)));

const align = (c: number): AlignmentByLayer => ({
  reading: "D2 fixture reading", layers: [0, 1], cos: [c, c], cosAttn: [c / 2, c / 2], cosMlp: [c, c], cosRandom: [0.001, -0.002],
  eta: [0.5, 0.7], gradNorm: [1, 1],
});

const scores = (gain: number, chance: number): E1Scores => ({
  k: 4, chanceF1: chance, f1: grid3((e, l) => 0.2 + gain * e * l / 4), nmi: grid3(() => 0.1), ari: grid3(() => 0.05), purity: grid3(() => 0.3),
});
export const E1: E1Result = {
  definitions: defs("D6"), run, epochs, layers: [0, 1, 2], n: { val: 100, train: 100 },
  splits: {
    val: { seed: scores(0.4, 0.15), next: scores(0.3, 0.1), seedNext: scores(0.1, 0.3) },
    train: { seed: scores(0.4, 0.15), next: scores(0.3, 0.1), seedNext: scores(0.1, 0.3) },
  },
};
const E2: E2Result = {
  definitions: { ...defs("D1"), D2: "D2 fixture reading" }, run, epochs, layers: [0, 1, 2],
  innerTrain: [[4.2, 4.2, 4.2], [4.0, 3.5, 3.49], [3.9, 3.0, 2.5]], innerVal: [[4.2, 4.2, 4.2], [4.1, 3.6, 3.5], [4.0, 3.1, 2.6]],
  outerEpoch: [1, 2], outerEpochLoss: [3.8, 2.9], stepLoss: [4.2, 4.0, 3.9, 3.6, 3.2, 3.0, 2.8, 2.7], valLoss: [4.2, 3.6, 2.6],
  unigram: 4.1, alignment: [align(0.002), align(0.1), align(0.3)],
};
const E3: E3Result = {
  definitions: defs("D5"), run, epochs, layers: [0, 1], k: 10, queries: 32,
  labels: Object.fromEntries(["seed", "next", "seedNext"].map((lab) => [lab, {
    top: [[0.3, 0.3], [0.5, 0.6], [0.7, 0.91]], bottom: [[0.3, 0.3], [0.2, 0.1], [0.1, 0.07]], chance: [[0.3, 0.3], [0.3, 0.3], [0.3, 0.3]],
  }])),
};
const E4: E4Result = {
  definitions: { ...defs("D1"), D2: "D2 fixture reading" },
  models: [
    { name: "R1 1L-16", kind: "R1", data: "sotu (bytes)", nLayer: 1, nEmbd: 16, params: 1000, steps: 6, valLoss: 3.2, layers: [0, 1],
      mean: [4, 3], samples: [[4.1, 3.1], [3.9, 2.9], [4, 4.2]], alignment: align(0.2) },
    { name: "R1 2L-16", kind: "R1", data: "sotu (bytes)", nLayer: 2, nEmbd: 16, params: 2000, steps: 6, valLoss: 3.0, layers: [0, 1, 2],
      mean: [4, 3.2, 3], samples: [[4.1, 3.1, 3], [3.9, 2.9, 2.8]], alignment: align(0.2) },
  ],
};
const panel = (layer: number) => ({
  layer, pc1: [0, 1, 2, 3], pc2: [1, 0, 1, 0], norm: [1, 2, 3, 4], position: [0, 1, 2, 3], logFreq: [-1, -2, -3, -4],
  explained: [0.5, 0.2], rhoNormPc1: 1, rhoNormPc2: -0.2,
});
const E5: E5Result = {
  definitions: defs("D3"),
  models: [{
    name: "R1 2L-16", kind: "R1", data: "sotu (bytes)", layers: [0, 1, 2], panels: [panel(0), panel(2)], normPerLayer: [0.5, 2, 3],
    normByPosition: [[0.5, 0.5], [2, 2.1], [3, 3.2]], rhoFreq: [0.9, -0.5, -0.6], rhoNextFreq: [0.1, 0.2, 0.3], rhoPosition: [0, 0.1, 0.2],
    rhoEmbedding: -0.4, rhoUnembedding: -0.4,
  }],
};
const half = (share: number) => ({ residualMax: [1e-7, 2e-7, 3e-7], residualMean: [1e-8, 1e-8, 1e-8], share: [[share / 2, share], [share / 2, share], [share / 2, share]], meanSquare: [1, 2, 3] });
const snap = (x: number, share: number) => ({
  x, eigenvalues: [4, 2, 1, 0.5], logit: half(share), gradient: half(share / 2), normPerLayer: [1, 2, 3 + x],
  correlations: { confidence: [0.1, 0.2, 0.4], finalConfidence: [0.1, 0.1, 0.4], innerLoss: [-0.1, -0.2, -0.3], position: [0, 0, 0], logFrequency: [0.3, 0.2, 0.1] },
});
const E6: E6Result = {
  definitions: { ...defs("D4"), ...defs("D3") },
  models: [{ name: "S1 2L-16", kind: "S1", data: "seeds", xLabel: "epoch", C: 16, layers: [0, 1, 2], topK: [1, 4], snapshots: [snap(0, 0.3), snap(2, 0.8)] }],
};

describe("report assembly on fixed JSON", () => {
  let md = "", html = "";
  beforeAll(async () => {
    const results = { E1, E2, E3, E4, E5, E6 } as const;
    for (const [id, r] of Object.entries(results)) writeResult(ctx, id as keyof typeof results, r, 1);
    const notes: string[] = [];
    const { report, experiments } = await assembleReport(tmp, ctx.key, (l) => notes.push(l), { generatedAt: "2024-01-01T00:00:00Z" });
    expect(experiments.map((e) => e.id)).toEqual(["E1", "E2", "E3", "E4", "E5", "E6"]);
    expect(notes).toEqual([]);
    md = readFileSync(report!.md, "utf8");
    html = readFileSync(report!.html, "utf8");
  }, 120_000);

  it("has one section per experiment with claim, reading, verdict, headline numbers and adapter/seed/commit", () => {
    for (const id of ["E1", "E2", "E3", "E4", "E5", "E6"]) expect(md).toContain(`## ${id}: `);
    for (const d of ["D1", "D2", "D3", "D4", "D5", "D6"]) expect(md).toContain(`${d} fixture reading`);
    expect(md).toContain("Adapter: fixture adapter · seed: 3 · commit: `0123abc`");
    expect(md).toContain("inner loss falls monotonically over layers in 2/2 checkpoints from epoch 1");
    expect(md).toContain("top-10 share 0.91 vs last-10 0.07 at layer 1");
    expect(md).toMatch(/\| \[E2\]\(#e2\) \| [^|]+ \| yes \|/);
    expect(md).toMatch(/\| \[E3\]\(#e3\) \| [^|]+ \| yes \|/);
    expect(html).toContain('<span class="held held-yes">yes</span>');
  });

  it("writes every referenced figure as SVG and PNG", () => {
    const figs = [...md.matchAll(/\]\((figures\/[^)]+\.png)\)/g)].map((m) => m[1]);
    expect(figs.length).toBeGreaterThanOrEqual(12);
    for (const f of figs) {
      expect(existsSync(join(tmp, f)), f).toBe(true);
      expect(existsSync(join(tmp, f.replace(/\.png$/, ".svg"))), f).toBe(true);
    }
  });

  it("leaves out results made with other settings, saying so", async () => {
    const notes: string[] = [];
    const { experiments } = await assembleReport(tmp, "another-key", (l) => notes.push(l));
    expect(experiments).toEqual([]);
    expect(notes).toHaveLength(6);
    expect(notes[0]).toMatch(/e1\.json was made with other settings/);
  });
});

describe("verdict rules", () => {
  it("verdictOf: all pass → yes, some → partly, none → no", () => {
    expect(verdictOf([{ text: "a", pass: true }, { text: "b", pass: true }]).held).toBe("yes");
    expect(verdictOf([{ text: "a", pass: true }, { text: "b", pass: false }])).toEqual({ held: "partly", rules: ["a: pass", "b: fail"] });
    expect(verdictOf([{ text: "a", pass: false }]).held).toBe("no");
  });

  it("E1: seed and next-token gains over the untrained model and chance; next-token F1 rises with depth", () => {
    expect(judgeE1(E1).map((r) => r.pass)).toEqual([true, true, true]);
    const flat = { ...E1, splits: { ...E1.splits, val: { ...E1.splits.val, seed: scores(0, 0.15) } } };
    expect(judgeE1(flat).map((r) => r.pass)).toEqual([false, true, true]);
  });

  it("E2: monotone share counts checkpoints from epoch 1 only; a rise beyond the tolerance breaks monotonicity", () => {
    expect(judgeE2(E2).monotone).toBe(2);
    const bumpy = { ...E2, innerTrain: [E2.innerTrain[0], E2.innerTrain[1], [3.9, 3.0, 3.2]] };
    const j = judgeE2(bumpy);
    expect(j.monotone).toBe(1);
    expect(j.rules[0].pass).toBe(false);
    expect(judgeE2({ ...E2, alignment: [align(0.002), align(0.1), align(0.03)] }).rules[2].pass).toBe(false);
  });

  it("E3: the gap and ratio at the best layer, and growth over training", () => {
    expect(judgeE3(E3).map((r) => r.pass)).toEqual([true, true, true]);
    const weak = structuredClone(E3);
    weak.labels.seed.top[2] = [0.25, 0.2];
    expect(judgeE3(weak)[0].pass).toBe(false);
  });

  it("E4: per-sample falling share and per-model monotonicity", () => {
    expect(fallingShare(E4.models[0])).toBeCloseTo(2 / 3);
    expect(judgeE4(E4).map((r) => r.pass)).toEqual([true, false, true]);
  });

  it("E5: frequency correlation with one sign in most layers; norm along a principal direction", () => {
    expect(judgeE5(E5).map((r) => r.pass)).toEqual([true, true]);
    const mixed = structuredClone(E5);
    mixed.models[0].rhoFreq = [0.9, 0.5, -0.6, 0.1, 0.1];
    expect(judgeE5(mixed)[0].pass).toBe(false);
  });

  it("E6: identity residual and concentration against the isotropic share", () => {
    expect(judgeE6(E6).map((r) => r.pass)).toEqual([true, true]);
    const iso = structuredClone(E6);
    iso.models[0].snapshots[1].logit = half(0.4);
    expect(judgeE6(iso)[1].pass).toBe(false);
  });
});
