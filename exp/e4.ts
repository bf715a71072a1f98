// E4 (Fig. 4): inner loss (D1) per layer on real text for several trained models: R1 models of
// different depths and widths, R2 WikiText models with --data, pretrained GPT-2 with --gpt2;
// per-sample dots (one validation window = one sample) and mean circles; D2 alignment per model.
import { meanFinite } from "../src/probes/host";
import { innerLoss, type InnerLossResult, type ProbeBatch } from "../src/probes/index";
import { ProbeSet } from "../src/probes/index";
import { alignmentOf, alignmentFigure, alignmentRules, type AlignmentByLayer } from "./alignment";
import type { ExpJson, RunContext } from "./context";
import { r1Ids, r2Ids, textBatches } from "./data";
import { f3, figure, nonIncreasing, reportMeta, verdictOf, type Experiment } from "./experiment";
import { loadP1 } from "./p1";
import { withSnapshot } from "./passes";
import { grid, scatter } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";
import type { TrainedRun } from "./train-run";

/** One model's inner-loss curve. */
export interface E4Model {
  name: string;
  /** R1 (bundled corpus), R2 (WikiText) or P1 (pretrained GPT-2). */
  kind: "R1" | "R2" | "P1";
  data: string;
  nLayer: number;
  nEmbd: number;
  params: number;
  /** Training steps (0 for P1). */
  steps: number;
  /** Final validation loss of the training run; null for P1, which is not trained here. */
  valLoss: number | null;
  layers: number[];
  /** Mean over every scored position, per layer. */
  mean: number[];
  /** Per sample (validation window): mean over its positions, per layer ([sample][layer]). */
  samples: number[][];
  alignment: AlignmentByLayer;
}

/** Everything E4 reports. */
export interface E4Result {
  definitions: Record<string, string>;
  models: E4Model[];
}

/** Thresholds of the verdict. */
export const E4_RULES = { tol: 0.01, modelShare: 0.8, sampleShare: 0.8 };

async function measure(ps: ProbeSet, batches: ProbeBatch[], seed: number) {
  const d1 = ps.add(innerLoss(), { every: 0 });
  const rep = await ps.evaluate(batches, { probes: [d1] });
  const r = rep.get(d1) as InnerLossResult;
  const [nSeq, T] = r.shape;
  const samples = Array.from({ length: nSeq }, (_, s) => r.perPosition.map((v) => meanFinite(v.subarray(s * T, (s + 1) * T))));
  const alignment = await alignmentOf(ps, batches, seed);
  return { defs: { ...rep.definitions, D2: alignment.reading }, mean: r.perLayer, samples, alignment, layers: r.perLayer.map((_, l) => l) };
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E4Result> {
  const p = ctx.config.probes;
  const models: E4Model[] = [];
  const defs: Record<string, string> = {};
  const trained = async (kind: "R1" | "R2", run: TrainedRun, batches: ProbeBatch[]) => {
    const m = await withSnapshot(ctx, run, run.snapshots.at(-1)!, (_model, ps) => measure(ps, batches, ctx.seed));
    Object.assign(defs, m.defs);
    models.push({
      name: `${kind} ${run.model.nLayer}L-${run.model.nEmbd}`, kind, data: run.dataName, nLayer: run.model.nLayer, nEmbd: run.model.nEmbd,
      params: run.params, steps: run.steps, valLoss: run.snapshots.at(-1)!.valLoss, layers: m.layers, mean: m.mean, samples: m.samples, alignment: m.alignment,
    });
    ctx.log(`[e4] ${models.at(-1)!.name}: inner loss ${m.mean.map(f3).join(" → ")}`);
  };
  const ids = r1Ids(ctx.config);
  const r1b = textBatches(ids.val, ctx.config.r1.T, p.seqs, p.batch);
  for (const run of await runs.r1()) await trained("R1", run, r1b);
  if (ctx.data) {
    const r2 = await r2Ids(ctx.config, ctx.data);
    const r2b = textBatches(r2.val, ctx.config.r2.T, p.seqs, p.batch);
    for (const run of await runs.r2()) await trained("R2", run, r2b);
  }
  const p1 = await loadP1(ctx);
  if (p1) {
    const ps = new ProbeSet(p1.model);
    try {
      const m = await measure(ps, p1.batches, ctx.seed);
      Object.assign(defs, m.defs);
      const c = p1.model.config;
      models.push({
        name: p1.name, kind: "P1", data: p1.dataName, nLayer: c.nLayer, nEmbd: c.nEmbd, params: p1.model.numParameters(), steps: 0,
        valLoss: null, layers: m.layers, mean: m.mean, samples: m.samples, alignment: m.alignment,
      });
      ctx.log(`[e4] ${p1.name}: inner loss ${m.mean.map(f3).join(" → ")}`);
    } finally {
      ps.dispose();
      p1.model.dispose();
    }
  }
  return { definitions: defs, models };
}

/** Share of samples whose last-layer inner loss is below their first-layer one. */
export function fallingShare(m: E4Model): number {
  const L = m.layers.length - 1;
  return m.samples.filter((s) => s[L] < s[0]).length / Math.max(1, m.samples.length);
}

/** The verdict rules of E4. */
export function judgeE4(r: E4Result): { text: string; pass: boolean }[] {
  const mono = r.models.filter((m) => nonIncreasing(m.mean, E4_RULES.tol));
  const falling = r.models.filter((m) => fallingShare(m) >= E4_RULES.sampleShare);
  const aligned = r.models.filter((m) => alignmentRules(m.alignment).every((x) => x.pass));
  return [
    { text: `mean inner loss non-increasing over layers (tolerance ${E4_RULES.tol}) for ≥ ${E4_RULES.modelShare * 100}% of models: ` +
      `${mono.length}/${r.models.length}`, pass: mono.length >= E4_RULES.modelShare * r.models.length },
    { text: `ℓ^L < ℓ^0 for ≥ ${E4_RULES.sampleShare * 100}% of samples, in every model: ${falling.length}/${r.models.length}`, pass: falling.length === r.models.length },
    { text: `D2 alignment rules hold for ≥ ${E4_RULES.modelShare * 100}% of models: ${aligned.length}/${r.models.length}`, pass: aligned.length >= E4_RULES.modelShare * r.models.length },
  ];
}

async function report(json: ExpJson<E4Result>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const shown = json.config.probes.samplesShown;
  const panels = r.models.map((m) => scatter({
    title: `${m.name} (${m.data})`, xLabel: "layer l (h^l)", yLabel: "inner loss (nats)", colorLabel: "", width: 260, height: 220,
    points: [
      ...m.samples.slice(0, shown).flatMap((s) => s.map((y, l) => ({ x: l, y, color: "per sample", size: 16, opacity: 0.4 }))),
      ...m.mean.map((y, l) => ({ x: l, y, color: "mean over samples", size: 160, opacity: 1 })),
    ],
  }));
  const figs = [
    await figure(outDir, "e4_inner_loss_models", grid({ title: "E4 (Fig. 4): inner loss across layers on real text", panels, columns: Math.min(3, panels.length) }),
      `Inner loss ℓ^l (D1) per layer for each trained model: small dots are samples (validation windows, first ${shown} shown), large circles the mean over all samples.`),
    await alignmentFigure(outDir, "e4_alignment", "E4: alignment of each layer's update with −∇ of the inner loss (D2, real text)",
      r.models.map((m) => ({ name: m.name, a: m.alignment }))),
  ];
  const v = verdictOf(judgeE4(r));
  return {
    id: "E4", title: "Inner loss across layers on real text (Fig. 4)",
    claim: "On real text, the inner loss of trained causal language models falls across layers (Fig. 4).",
    definition: `${r.definitions.D1 ?? "inner loss: logit-lens CE, D1"}. ${r.definitions.D2 ?? ""} A sample is one validation window; ` +
      "its inner loss is the mean over its positions.",
    headline: [
      r.models.map((m) => `${m.name}: ${f3(m.mean[0])} → ${f3(m.mean.at(-1)!)}`).join("; ") + " (mean inner loss, layer 0 → L)",
      ...r.models.map((m) => `${m.name} (${m.params} params, ${m.steps} steps${m.valLoss !== null ? `, val loss ${f3(m.valLoss)}` : ""}): ` +
        `ℓ^l = ${m.mean.map(f3).join(", ")}; ℓ^L < ℓ^0 in ${(fallingShare(m) * 100).toFixed(0)}% of ${m.samples.length} samples; ` +
        `cos(Δ,−g) mean ${f3(meanFinite(m.alignment.cos))} vs random ${f3(meanFinite(m.alignment.cosRandom))}`),
      ...v.rules.map((t) => `rule: ${t}`),
    ],
    held: v.held,
    figures: figs,
    tables: [{
      title: "Mean inner loss (nats) per layer",
      columns: ["model", "data", ...Array.from({ length: Math.max(...r.models.map((m) => m.layers.length)) }, (_, l) => `l=${l}`)],
      rows: r.models.map((m) => [m.name, m.data, ...Array.from({ length: Math.max(...r.models.map((x) => x.layers.length)) }, (_, l) => m.mean[l] ?? "")]),
    }],
    ...reportMeta(json),
  };
}

/** E4 as an {@link Experiment}. */
export const e4: Experiment<E4Result> = { id: "E4", title: "Inner loss on real text for several models (Fig. 4)", compute, report };
