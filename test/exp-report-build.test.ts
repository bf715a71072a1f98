// Tests of the experiment-specific summaries and report assembly (each experiment's summarize()
// and report(), exp/main.ts assembleReport) on hand-made per-seed results for three seeds: one
// report.md/report.html with every section, its verdict table, rules and checks, the figures,
// and summary JSON made with other settings left out. Also the verdict rule (exp/verdict.ts)
// and the statistics under it (exp/stats.ts) on edge cases.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIGS } from "../exp/config";
import { settingsKey, writeResult, type ResultMeta } from "../exp/context";
import type { AlignmentByLayer } from "../exp/alignment";
import { e1, type E1Scores, type E1Seed } from "../exp/e1";
import { e2, type E2Seed } from "../exp/e2";
import { e3, type E3Label, type E3Seed } from "../exp/e3";
import { e4, type E4Model, type E4Seed } from "../exp/e4";
import { e5, type E5Model, type E5Seed } from "../exp/e5";
import { e6, spectralNull, type E6Seed } from "../exp/e6";
import type { Experiment, SeedResult } from "../exp/experiment";
import { assembleReport } from "../exp/main";
import { bootstrapMean, meanCI, partialSpearman, tQuantile975 } from "../exp/stats";
import { combineClaims, judgeClaim, type ClaimSpec } from "../exp/verdict";

const tmp = mkdtempSync(join(tmpdir(), "exp-report-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SEEDS = [3, 4, 5];
const cfg = CONFIGS.smoke;
const set = { config: cfg, seeds: SEEDS, backend: "webgpu" as const, data: null, gpt2: null };
const meta: ResultMeta = { ...set, out: tmp, key: settingsKey(set), adapter: "fixture adapter", commit: "0123abc" };
const run = { id: "s1", steps: 8 };
const epochs = [0, 1, 2];
const grid = (f: (e: number, l: number) => number, layers = 3) => epochs.map((e) => Array.from({ length: layers }, (_, l) => f(e, l)));
const jitter = (s: number) => 0.01 * (s - 4); // a small seed-to-seed spread

const align = (c: number): AlignmentByLayer => ({
  reading: "D2 fixture reading", layers: [0, 1], cos: [c, c], cosAttn: [c / 2, c / 2], cosMlp: [c, c], cosRandom: [0.001, -0.002],
  eta: [0.5, 0.7], gradNorm: [1, 1],
});

const scores = (gain: number, chance: number, s: number, seg = false): E1Scores => ({
  k: 4, f1: grid((e, l) => 0.2 + gain * e * l / 4 + jitter(s)), nmi: grid(() => 0.1), ari: grid(() => 0.05), purity: grid(() => 0.3),
  permutedF1: grid(() => chance), ...(seg ? { segmentF1: grid(() => chance + 0.1) } : {}),
});
const E1 = (s: number): E1Seed => ({
  definitions: { D6: "D6 fixture reading" }, run, epochs, layers: [0, 1, 2], n: { val: 100, train: 100 },
  splits: {
    val: { seed: scores(0.4, 0.15, s, true), next: scores(0.3, 0.1, s), seedNext: scores(0.1, 0.3, s) },
    train: { seed: scores(0.4, 0.15, s, true), next: scores(0.3, 0.1, s), seedNext: scores(0.1, 0.3, s) },
  },
});
const E2 = (s: number): E2Seed => ({
  definitions: { D1: "D1 fixture reading", D2: "D2 fixture reading" }, run, epochs, layers: [0, 1, 2],
  innerTrain: [[8, 4.2, 4.2], [8.5, 3.5, 3.49], [9.1, 3.0, 2.5 + jitter(s)]], innerVal: [[8, 4.2, 4.2], [8.6, 3.6, 3.5], [9.2, 3.1, 2.6 + jitter(s)]],
  outerEpoch: [1, 2], outerEpochLoss: [3.8, 2.9], stepLoss: [4.2, 4.0, 3.9, 3.6, 3.2, 3.0, 2.8, 2.7], valLoss: [4.2, 3.6, 2.6],
  unigram: 4.1, logV: Math.log(65), alignment: [align(0.002), align(0.1), align(0.3 + jitter(s))],
  shuffled: { snapshots: [1, 2], innerVal: [[8.6, 4.4, 4.5], [9.2, 4.6, 4.9]], alignment: align(0.05) },
});
const head = (v: number) => [[v, v / 2], [v / 2, v / 3]]; // [layer][head]
const E3 = (s: number): E3Seed => {
  const label = (top: number): E3Label => ({
    val: { top: [head(0.3), head(0.5), head(top + jitter(s))], bottom: [head(0.3), head(0.2), head(0.07)], recency: [head(0.6), head(0.6), head(0.6)],
      distance: [head(0.4), head(0.4), head(0.5)], chance: [head(0.3), head(0.3), head(0.3)] },
    train: { top: head(top), bottom: head(0.07), recency: head(0.6), distance: head(0.5), chance: head(0.3) },
  });
  return { definitions: { D5: "D5 fixture reading" }, run, epochs, layers: [0, 1], heads: 2, k: 10, queries: 320,
    labels: { seed: label(0.91), next: label(0.8), seedNext: label(0.7) } };
};
const measure = (mean: number[], c: number) => ({ mean, alignment: align(c) });
const model4 = (name: string, nLayer: number, s: number): E4Model => {
  const mean = Array.from({ length: nLayer + 1 }, (_, l) => (l === 0 ? 4 : 3.2 - 0.3 * l + jitter(s)));
  return {
    name, kind: "R1", data: "sotu (bytes)", nLayer, nEmbd: 16, untied: false, params: 1000, steps: 6, valLoss: 3.2, unigram: 3.0,
    layers: mean.map((_, l) => l), ...measure(mean, 0.2), samples: [mean, mean.map((v) => v + 0.1)],
    untrained: measure(mean.map(() => 4.2), 0.0), shuffled: measure(mean.map((v, l) => v + 0.1 * l), 0.05),
  };
};
const E4 = (s: number): E4Seed => ({
  definitions: { D1: "D1 fixture reading", D2: "D2 fixture reading" }, models: [model4("R1 2L-16", 2, s), model4("R1 3L-16", 3, s)],
});
const panel = (layer: number) => ({
  layer, pc1: [0, 1, 2, 3], pc2: [1, 0, 1, 0], norm: [1, 2, 3, 4], position: [0, 1, 2, 3], logFreq: [-1, -2, -3, -4],
  explained: [0.5, 0.2], rhoNormPc1: 1, rhoNormPc2: -0.2,
});
const model5 = (kind: "R1" | "S1", s: number): E5Model => ({
  name: `${kind} 2L-16`, kind, data: "fixture", layers: [0, 1, 2], panels: [panel(0), panel(2)], normPerLayer: [0.5, 2, 3],
  normByPosition: [[0.5, 0.5], [2, 2.1], [3, 3.2]], rhoFreq: [0.9, -0.5, -0.6], rhoFreqCI: [[0.8, 0.95], [-0.6, -0.4], [-0.7, -0.5]],
  partialRhoCI: [[0.7, 0.9], [-0.6, -0.4], [-0.65, -0.45]], pcRhoCI: [0.85, 0.95],
  rhoNextFreq: [0.1, 0.2, 0.3], rhoPosition: [0, 0.1, 0.2], partialRho: [0.8, -0.5 + jitter(s), -0.55], pcRho: 0.9,
  rhoEmbedding: -0.4, rhoUnembedding: -0.4, untrained: { rhoFreq: [0.1, 0, 0], partialRho: [0.05, 0.02, -0.03], pcRho: 0.3 },
});
const E5 = (s: number): E5Seed => ({ definitions: { D3: "D3 fixture reading" }, models: [model5("R1", s), model5("S1", s)] });
const half = (share: number) => ({ residualMax: [1e-7, 2e-7, 3e-7], residualMean: [1e-8, 1e-8, 1e-8], share: [[share / 2, share], [share / 2, share], [share / 2, share]], meanSquare: [1, 2, 3] });
const snap = (x: number, share: number) => ({
  x, eigenvalues: [4, 2, 1, 1, 1, 1, 1, 1], logit: half(share), gradient: half(0.68), normPerLayer: [1, 2, 3 + x],
  correlations: { confidence: [0.1, 0.2, 0.4], finalConfidence: [0.1, 0.1, 0.4], innerLoss: [-0.1, -0.2, -0.3], position: [0, 0, 0], logFrequency: [0.3, 0.2, 0.1] },
});
const E6 = (s: number): E6Seed => ({
  definitions: { D4: "D4 fixture reading", D3: "D3 fixture reading" }, k: 4,
  models: [{ name: "S1 2L-16", kind: "S1", data: "seeds", xLabel: "epoch", C: 16, layers: [0, 1, 2], topK: [1, 4], snapshots: [snap(0, 0.85), snap(2, 0.97 + jitter(s))] }],
});

const FIXTURES: [Experiment, (s: number) => unknown][] = [
  [e1 as unknown as Experiment, E1], [e2 as unknown as Experiment, E2], [e3 as unknown as Experiment, E3],
  [e4 as unknown as Experiment, E4], [e5 as unknown as Experiment, E5], [e6 as unknown as Experiment, E6],
];

describe("summaries and report assembly on hand-made per-seed results", () => {
  let md = "", html = "";
  const held: Record<string, string> = {};
  beforeAll(async () => {
    for (const [ex, make] of FIXTURES) {
      const perSeed: SeedResult<unknown>[] = SEEDS.map((seed) => ({ seed, result: make(seed) }));
      const summary = ex.summarize(perSeed, cfg);
      held[ex.id] = summary.verdict.held;
      writeResult(meta, ex.id, JSON.parse(JSON.stringify(summary)), 1);
    }
    const notes: string[] = [];
    const { report, experiments } = await assembleReport(tmp, meta.key, (l) => notes.push(l), { generatedAt: "2024-01-01T00:00:00Z" });
    expect(experiments.map((e) => e.id)).toEqual(["E1", "E2", "E3", "E4", "E5", "E6"]);
    expect(notes).toEqual([]);
    md = readFileSync(report!.md, "utf8");
    html = readFileSync(report!.html, "utf8");
  }, 120_000);

  it("gives each fixture the verdict its numbers call for", () => {
    // E1: seed F1 0.6 at the chosen layer vs segment-shuffled 0.25: yes; next token 0.5 vs layer 0 0.2: yes.
    // E2: every claim clears its strongest control. E3: top-10 0.91 vs recency 0.6. E4: falls and beats
    // unigram by > δ. E5: |partial ρ| 0.53 vs 0.025 untrained. E6: spectral null 8/12; logit share 0.97 vs
    // untrained 0.85 → yes; gradient share 0.68 in both → no; so partly.
    expect(held).toEqual({ E1: "yes", E2: "yes", E3: "yes", E4: "yes", E5: "yes", E6: "partly" });
  });

  it("has one section per experiment with claim, reading, verdict table, rules, checks and provenance", () => {
    for (const id of ["E1", "E2", "E3", "E4", "E5", "E6"]) expect(md).toContain(`## ${id}: `);
    for (const d of ["D1", "D2", "D3", "D4", "D5", "D6"]) expect(md).toContain(`${d} fixture reading`);
    expect(md).toContain("Adapter: fixture adapter · seeds: 3, 4, 5 · commit: `0123abc`");
    expect(md).toMatch(/\| \[E3\]\(#e3\) \| [^|]+ \| yes \|/);
    expect(md).toContain("**segment-shuffled seeds (segment identity)**");
    expect(md).toContain("**recency (10 most recent)**");
    expect(md).toMatch(/- Rule \(seed-retrieval\): margin = top-10 same-seed share .* − recency \(10 most recent\)/);
    expect(md).toContain("- Check (not evidence): Proposition 1's identity holds numerically");
    expect(md).toMatch(/- Check \(not evidence\): ℓ⁰ = 9\.2 nats vs log V = 4\.17/);
    expect(html).toContain('<span class="held held-yes">yes</span>');
    expect(md).not.toMatch(/NaN|undefined/);
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

  it("E3 chooses the layer and head on training sequences, and E1 the layer on training positions", () => {
    const s3 = e3.summarize(SEEDS.map((seed) => ({ seed, result: E3(seed) })), cfg);
    expect(s3.labels.seed.chosen).toEqual([[0, 0], [0, 0], [0, 0]]);
    const moved = E3(3);
    moved.labels.seed.train.top = [[0.1, 0.1], [0.1, 0.95]];
    const s3b = e3.summarize([{ seed: 3, result: moved }], cfg);
    expect(s3b.labels.seed.chosen).toEqual([[1, 1]]);
    expect(s3b.verdict.claims[0].effectValue.perSeed).toEqual([moved.labels.seed.val.top[2][1][1]]);
    const s1 = e1.summarize(SEEDS.map((seed) => ({ seed, result: E1(seed) })), cfg);
    expect(s1.chosen.seed).toEqual([2, 2, 2]);
  });
});

describe("the verdict rule", () => {
  const spec: ClaimSpec = { id: "c", text: "claim", effect: "effect", better: "higher", minEffect: 0.05 };
  const samples = (effects: number[], control: number[]) => effects.map((effect, i) => ({ effect, controls: { weak: 0, strong: control[i] } }));

  it("yes needs the margin's interval over seeds above δ and the same sign in every seed", () => {
    const yes = judgeClaim(spec, [0, 1, 2], samples([0.5, 0.52, 0.48], [0.3, 0.31, 0.29]));
    expect(yes.held).toBe("yes");
    expect(yes.strongest).toBe("strong");
    expect(yes.margin.perSeed.map((m) => +m.toFixed(6))).toEqual([0.2, 0.21, 0.19]);
    // Every seed above δ but an interval that reaches 0 → partly; a large mean with a seed of the other sign → no.
    expect(judgeClaim(spec, [0, 1, 2], samples([0.9, 0.9, 0.36], [0.3, 0.3, 0.3])).held).toBe("partly");
    expect(judgeClaim(spec, [0, 1, 2], samples([0.9, 0.9, 0.25], [0.3, 0.3, 0.3])).held).toBe("no");
    // The interval above 0 and reaching past δ → partly; above 0 but wholly under δ (a negligible effect) → no; around 0 → no.
    expect(judgeClaim(spec, [0, 1, 2], samples([0.34, 0.37, 0.355], [0.3, 0.3, 0.3])).held).toBe("partly");
    expect(judgeClaim(spec, [0, 1, 2], samples([0.31, 0.32, 0.315], [0.3, 0.3, 0.3])).held).toBe("no");
    expect(judgeClaim(spec, [0, 1, 2], samples([0.31, 0.29, 0.3], [0.3, 0.3, 0.3])).held).toBe("no");
  });

  it("one seed gives at most partly; 'lower' claims flip the sign; a claim needs a control", () => {
    const one = judgeClaim(spec, [0], samples([0.9], [0.1]));
    expect(one.held).toBe("partly");
    expect(judgeClaim(spec, [0], samples([0.12], [0.1])).held).toBe("no");
    expect(one.rule).toMatch(/one seed: no interval over seeds, so at most partly/);
    const lower = judgeClaim({ ...spec, better: "lower" }, [0, 1, 2], [2.5, 2.6, 2.55].map((effect) => ({ effect, controls: { unigram: 3, untrained: 4.2 } })));
    expect(lower.strongest).toBe("unigram");
    expect(lower.held).toBe("yes");
    expect(() => judgeClaim(spec, [0], [{ effect: 1, controls: {} }])).toThrow(/needs a control/);
  });

  it("combines claims: all yes → yes, all no → no, else partly; the primary claim's numbers lead", () => {
    const y = judgeClaim(spec, [0, 1, 2], samples([0.5, 0.52, 0.48], [0.3, 0.31, 0.29]));
    const n = judgeClaim(spec, [0, 1, 2], samples([0.31, 0.29, 0.3], [0.3, 0.3, 0.3]));
    expect(combineClaims([y, y]).held).toBe("yes");
    expect(combineClaims([n, n]).held).toBe("no");
    const v = combineClaims([y, n], [{ text: "an identity", value: 0, pass: true }]);
    expect(v.held).toBe("partly");
    expect(v.effect.value).toBeCloseTo(0.5, 12);
    expect(v.controls.map((c) => c.name)).toEqual(["weak", "strong"]);
    expect(v.seeds).toEqual([0, 1, 2]);
    expect(v.checks).toHaveLength(1);
  });
});

describe("statistics", () => {
  it("Student-t intervals over seeds; none from one seed", () => {
    expect(tQuantile975(2)).toBe(4.303);
    const e = meanCI([1, 2, 3]);
    expect(e.value).toBe(2);
    expect(e.ci95[0]).toBeCloseTo(2 - 4.303 / Math.sqrt(3), 12);
    expect(meanCI([5]).ci95.every(Number.isNaN)).toBe(true);
  });

  it("a seeded bootstrap interval covers the mean; the partial Spearman removes a shared cause", () => {
    const v = Array.from({ length: 200 }, (_, i) => Math.sin(i) + 1);
    const b = bootstrapMean(v, { seed: 1 });
    expect(b.ci95[0]).toBeLessThan(b.value);
    expect(b.ci95[1]).toBeGreaterThan(b.value);
    expect(bootstrapMean(v, { seed: 1 })).toEqual(b);
    const z = Array.from({ length: 300 }, (_, i) => i);
    const x = z.map((t) => t + 40 * Math.sin(t * 7.1)), y = z.map((t) => t + 40 * Math.cos(t * 3.3));
    expect(partialSpearman(x, y, z)).toBeLessThan(0.2); // x and y share only z
    expect(partialSpearman(x, x.map((a) => 2 * a), z)).toBeCloseTo(1, 6);
    expect(spectralNull([4, 2, 1, 1], 1)).toBeCloseTo(0.5, 12);
  });
});
