// Probe-overhead suite: a GPT training step on the S1 task without probes, with D1+D3 in every
// step (target ≤ 5% more time), with D1+D2+D3, and a full D1–D6 evaluation pass amortized over
// k steps. Writes the figures to the JSON's `probes` section and one row per variant.
import { makeSeedsData, seedsBatch } from "../../src/data/seeds";
import { AdamW, GPT, Trainer, type GPTConfig } from "../../src/nn/index";
import {
  ProbeSet, alignment, attentionHistory, clustering, gram, innerLoss, kmeansGpuMany, norms, seedOnDevice,
} from "../../src/probes/index";
import { randn, readAll } from "../../src/node";
import { record, type Suite, type SuiteContext } from "../lib/context";
import { rt, type Stats } from "../lib/harness";

interface Config {
  name: string;
  model: GPTConfig;
  B: number;
  /** The full set (D1–D6 pass) runs every k steps. */
  k: number;
}

const LABELS = ["seed", "next", "seedNext"];

/** Quick: one small model. Full: the S1 default model, plus a 6-layer width-384 one on hardware
 * GPUs only (on a software adapter one of its steps takes tens of seconds). */
function configs(quick: boolean, software: boolean): Config[] {
  const V = 65; // S1 default: 64 tokens + separator
  if (quick) return [{ name: "S1 quick", model: { nLayer: 2, nHead: 2, nEmbd: 64, blockSize: 64, vocabSize: V }, B: 8, k: 50 }];
  const full: Config[] = [{ name: "S1 default", model: { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 256, vocabSize: V }, B: 16, k: 50 }];
  if (!software) full.push({ name: "S1 mid", model: { nLayer: 6, nHead: 6, nEmbd: 384, blockSize: 256, vocabSize: V }, B: 16, k: 50 });
  return full;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function stats(v: number[]): Stats {
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), samples: v.length };
}

async function runConfig(ctx: SuiteContext, c: Config): Promise<Record<string, unknown>> {
  const T = c.model.blockSize;
  const data = makeSeedsData({ T, nTrain: 4 * c.B, nVal: c.B, seed: 1 });
  const train = [0, 1, 2, 3].map((i) => [seedsBatch(data.train, Array.from({ length: c.B }, (_, j) => i * c.B + j))]);
  const val = [seedsBatch(data.val, Array.from({ length: c.B }, (_, j) => j))];
  const model = new GPT(c.model, { seed: 1 });
  const opt = AdamW.forModel(model, { lr: 1e-3 });
  const trainer = new Trainer(model, opt, { schedule: { lr: 1e-3, warmup: 2, total: 100000 } });
  // The three step variants run interleaved, round by round, so drift and noise hit them alike.
  const ps13 = new ProbeSet(model, { ringSize: 8 });
  ps13.add(innerLoss());
  ps13.add(norms());
  const ps123 = new ProbeSet(model, { ringSize: 8 });
  for (const p of [innerLoss(), norms(), alignment()]) ps123.add(p);
  const variants: [string, (b: typeof train[number]) => Promise<unknown>][] = [
    ["base", (b) => trainer.trainStep(b)],
    ["d13", (b) => ps13.trainStep(trainer, b)],
    ["d123", (b) => ps123.trainStep(trainer, b)],
  ];
  const times = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  const dispatches = new Map<string, number>(variants.map(([n]) => [n, 0]));
  const rounds = ctx.quick ? 12 : 30;
  let readbacks = 0, probedSteps = 0;
  for (let r = -2; r < rounds; r++) { // two warm-up rounds
    for (const [name, step] of variants) {
      const r0 = rt().stats.readbacks, d0 = rt().stats.dispatches, t0 = performance.now();
      await step(train[(r + 2) % train.length]);
      const ms = performance.now() - t0;
      if (r < 0) continue;
      times.get(name)!.push(ms);
      dispatches.set(name, dispatches.get(name)! + (rt().stats.dispatches - d0) / rounds);
      if (name === "d13") { readbacks += rt().stats.readbacks - r0; probedSteps++; }
    }
  }
  await ps13.flush();
  await ps123.flush();
  ps123.dispose();
  ps13.dispose();
  const [base1, d13, d123] = variants.map(([n]) => stats(times.get(n)!));
  // Paired ratios: each round's probed step over the same round's plain step.
  const paired = (n: string) => 100 * (median(times.get(n)!.map((t, j) => t / times.get("base")![j])) - 1);
  // The full set: one evaluation pass with D1–D6 on a validation batch.
  const ps = new ProbeSet(model);
  for (const p of [innerLoss(), alignment(), norms(), gram(), attentionHistory({ labels: LABELS }),
    clustering({ labels: LABELS, samples: Math.min(512, c.B * T), restarts: 2 })]) ps.add(p);
  await ps.evaluate(val); // compiles the k-means kernels of every k
  const fullTimes: number[] = [];
  for (let r = 0; r < (ctx.quick ? 2 : 3); r++) {
    const t0 = performance.now();
    await ps.evaluate(val);
    fullTimes.push(performance.now() - t0);
  }
  const full = stats(fullTimes);
  ps.dispose();
  opt.dispose();
  model.dispose();

  const base = base1.median;
  const shape = `L${c.model.nLayer} C${c.model.nEmbd} H${c.model.nHead} V${c.model.vocabSize} B${c.B} T${T}`;
  const row = (name: string, ms: Stats, extra: Record<string, number | string | boolean>) => record(ctx, {
    suite: "probes", name, shape, impl: "metagrad", timing: "wall-e2e", ms, extra,
  });
  const figures = {
    config: c.name, shape, rounds, baseMs: base,
    d1d3Ms: d13.median, d1d3OverheadPct: paired("d13"), targetPct: 5, d1d3MeetsTarget: paired("d13") <= 5,
    d1d3ReadbacksPerStep: readbacks / probedSteps,
    dispatchesPerStep: Object.fromEntries(dispatches),
    d1d2d3Ms: d123.median, d1d2d3OverheadPct: paired("d123"),
    fullPassMs: full.median, k: c.k,
    // Every k-th step runs D1+D2+D3 in the step plus a D1–D6 evaluation pass; the others run no probes.
    fullEveryKOverheadPct: (100 * (d123.median - base + full.median)) / c.k / base,
  };
  row("train step (no probes)", base1, {});
  row("train step + D1+D3 every step", d13, { overheadPct: +figures.d1d3OverheadPct.toFixed(2), readbacksPerStep: figures.d1d3ReadbacksPerStep });
  row("train step + D1+D2+D3 every step", d123, { overheadPct: +figures.d1d2d3OverheadPct.toFixed(2) });
  row(`D1–D6 evaluation pass (B${c.B})`, full, { everyK: c.k, amortizedOverheadPct: +figures.fullEveryKOverheadPct.toFixed(2) });
  ctx.log(`  ${c.name}: D1+D3 every step ${figures.d1d3OverheadPct.toFixed(1)}% (target ≤ 5%), D1+D2+D3 ` +
    `${figures.d1d2d3OverheadPct.toFixed(1)}%, full set every ${c.k} steps ${figures.fullEveryKOverheadPct.toFixed(1)}% (paired medians)`);
  return figures;
}

/**
 * D6 at the paper's scale: one layer's 8,192 positions × 768 dims clustered for the three S1
 * labels (k = 16, 65, 1,040) with 5 restarts, on the device: the k-means++ seeding of every k (all
 * restarts at once) and Lloyd iterations (timed over `iters`, then per iteration). The paper runs
 * 12 layers and up to 100 iterations; the estimate multiplies. Quick mode: 2,048 × 256 and k ≤ 65.
 */
async function kmeansScale(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const [n, d, ks, R, iters, layers] = ctx.quick ? [2048, 256, [16, 65], 5, 2, 12] : [8192, 768, [16, 65, 1040], 5, 2, 12];
  const X = randn([n, d], { seed: 3 }); // [n, d]: the cost does not depend on the data
  const seedMs: Record<string, number> = {}, lloydMsPerIter: Record<string, number> = {};
  try {
    await readAll([X]);
    for (const k of ks) {
      let t0 = performance.now();
      const picks = await seedOnDevice(X, k, R, 7);
      seedMs[k] = performance.now() - t0;
      const init = picks.map((p) => Array.from(p));
      t0 = performance.now();
      await kmeansGpuMany(X, [k], { restarts: R, iters, init, checkEvery: iters + 1 });
      lloydMsPerIter[k] = (performance.now() - t0) / iters;
      ctx.log(`  D6 scale n ${n} d ${d} k ${k} R ${R}: seeding ${(seedMs[k] / 1000).toFixed(1)} s, Lloyd ${(lloydMsPerIter[k] / 1000).toFixed(2)} s/iteration`);
    }
  } finally {
    X.dispose();
  }
  const perLayerSeed = Object.values(seedMs).reduce((a, v) => a + v, 0);
  const perLayerIter = Object.values(lloydMsPerIter).reduce((a, v) => a + v, 0);
  const figures = {
    n, d, ks, restarts: R, layers, seedMs, lloydMsPerIter,
    estimatedSeconds: { seedingAllLayers: (perLayerSeed * layers) / 1000, per10ItersAllLayers: (perLayerIter * 10 * layers) / 1000 },
  };
  record(ctx, {
    suite: "probes", name: "D6 k-means seeding, one layer, every k", shape: `n${n} d${d} k${ks.join("/")} R${R}`, impl: "metagrad",
    timing: "wall-e2e", ms: { median: perLayerSeed, min: perLayerSeed, max: perLayerSeed, samples: 1 },
    extra: { lloydMsPerIterationAllK: perLayerIter, layers, estimatedSecondsAllLayersSeeding: figures.estimatedSeconds.seedingAllLayers },
  });
  return figures;
}

/** The probe-overhead suite. */
export const probesSuite: Suite = {
  name: "probes",
  describe: "training-step overhead of in-graph probes (D1+D3 every step, target ≤ 5%; D2; D1–D6 pass every k steps); D6 k-means at the paper's scale",
  run: async (ctx) => {
    const out: Record<string, unknown>[] = [];
    for (const c of configs(ctx.quick, rt().info.isSoftware)) out.push(await runConfig(ctx, c));
    ctx.sections.probes = { definitions: "D1–D6 of docs/PROTOCOL.md (src/probes)", configs: out, kmeansScale: await kmeansScale(ctx) };
  },
};
