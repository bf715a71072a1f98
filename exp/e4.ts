// E4 (Fig. 4): inner loss (D1) per layer on real text for several trained models: R1 models of
// different depths and widths (one with an untied unembedding, which shows ℓ⁰ without the
// tied-embedding artefact), R2 WikiText models with --data, pretrained GPT-2 with --gpt2;
// per-sample dots (one validation window = one sample) and mean circles; D2 alignment per model.
// Judged on the models trained here (R1, R2), on ℓ¹…ℓᴸ, against the untrained model, shuffled
// targets and the unigram baseline; P1 is reported beside them (one pretrained model, no seeds).
import { countIds, meanFinite } from "../src/probes/host";
import { ProbeSet, type ProbeBatch } from "../src/probes/index";
import { alignmentOf, alignmentFigure, meanCos, type AlignmentByLayer } from "./alignment";
import type { ExpJson, RunContext } from "./context";
import { r1Ids, r2Ids, shuffleTargets, textBatches } from "./data";
import { MONOTONE_TOL, dropAfterLayer0, innerLossOf } from "./e2";
import { f3, figure, meanOver, nonIncreasing, reportMeta, type Experiment, type SeedResult } from "./experiment";
import { loadP1 } from "./p1";
import { withSnapshot } from "./passes";
import { grid, scatter } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";
import { mean } from "./stats";
import type { TrainedRun } from "./train-run";
import { claimLine, combineClaims, judgeClaim, type ClaimSpec, type Verdict } from "./verdict";

/** D1 and D2 of one model on one set of batches. */
export interface E4Measure {
  /** Mean over every scored position, per layer. */
  mean: number[];
  alignment: AlignmentByLayer;
}

/** One model's numbers in one seed. */
export interface E4Model extends E4Measure {
  name: string;
  /** R1 (bundled corpus), R2 (WikiText) or P1 (pretrained GPT-2). */
  kind: "R1" | "R2" | "P1";
  data: string;
  nLayer: number;
  nEmbd: number;
  untied: boolean;
  params: number;
  /** Training steps (0 for P1). */
  steps: number;
  /** Final validation loss of the training run; null for P1, which is not trained here. */
  valLoss: number | null;
  /** Unigram cross-entropy (add-one smoothed training counts) on the probed targets. */
  unigram: number;
  layers: number[];
  /** Per sample (validation window): mean over its positions, per layer ([sample][layer]). */
  samples: number[][];
  /** The untrained model (step 0) on the same batches; null for P1. */
  untrained: E4Measure | null;
  /** The same model on the same batches with shuffled next-token targets. */
  shuffled: E4Measure;
}

/** One seed's E4 numbers. */
export interface E4Seed {
  definitions: Record<string, string>;
  models: E4Model[];
}

/** The claims E4 judges (means over the models trained here with at least two blocks). */
export const E4_CLAIMS = {
  layers: {
    id: "falls-across-layers", text: "on real text the inner loss falls across layers",
    effect: "mean over models of ℓ¹ − ℓᴸ (nats)", better: "higher", minEffect: 0.05,
  },
  unigram: {
    id: "beats-unigram", text: "the last layer beats the unigram baseline",
    effect: "mean over models of ℓᴸ − unigram (nats)", better: "lower", minEffect: 0.05,
  },
  alignment: {
    id: "descent-steps", text: "each layer's update points down the inner loss (D2)",
    effect: "mean over models and layers of cos(Δ^l, −g^l)", better: "higher", minEffect: 0.02,
  },
} as const satisfies Record<string, ClaimSpec>;

/** Unigram cross-entropy of the scored targets of `batches` under add-one smoothed `counts`. */
export function unigramOf(counts: Float64Array, batches: readonly ProbeBatch[], ignoreIndex = -1): number {
  const total = counts.reduce((a, c) => a + c, 0), logZ = Math.log(total + counts.length);
  let nll = 0, n = 0;
  for (const b of batches) for (const y of b.y!) if (y !== ignoreIndex) { nll += logZ - Math.log((counts[y] ?? 0) + 1); n++; }
  return nll / n;
}

/** D1 (mean and per sample) and D2 with one ProbeSet on `batches`. */
async function measure(ps: ProbeSet, batches: readonly ProbeBatch[], seed: number) {
  const r = await innerLossOf(ps, batches);
  const [nSeq, T] = r.shape;
  const samples = Array.from({ length: nSeq }, (_, s) => r.perPosition.map((v) => meanFinite(v.subarray(s * T, (s + 1) * T))));
  const alignment = await alignmentOf(ps, batches, seed);
  return { defs: { D1: r.reading, D2: alignment.reading }, mean: r.perLayer, samples, alignment };
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E4Seed> {
  const p = ctx.config.probes;
  const models: E4Model[] = [];
  const defs: Record<string, string> = {};
  const trained = async (kind: "R1" | "R2", run: TrainedRun, batches: ProbeBatch[], counts: Float64Array) => {
    const shuffledBatches = shuffleTargets(batches, ctx.seed);
    const final = await withSnapshot(ctx, run, run.snapshots.at(-1)!, async (_m, ps) => {
      const m = await measure(ps, batches, ctx.seed);
      const s = await measure(ps, shuffledBatches, ctx.seed);
      return { m, shuffled: { mean: s.mean, alignment: s.alignment } };
    });
    const untrained = await withSnapshot(ctx, run, run.snapshots[0], async (_m, ps) => {
      const u = await measure(ps, batches, ctx.seed);
      return { mean: u.mean, alignment: u.alignment };
    });
    Object.assign(defs, final.m.defs);
    models.push({
      name: `${kind} ${run.model.nLayer}L-${run.model.nEmbd}${run.model.tiedUnembedding ? "" : " untied"}`, kind, data: run.dataName,
      nLayer: run.model.nLayer, nEmbd: run.model.nEmbd, untied: !run.model.tiedUnembedding, params: run.params, steps: run.steps,
      valLoss: run.snapshots.at(-1)!.valLoss, unigram: unigramOf(counts, batches), layers: final.m.mean.map((_, l) => l),
      mean: final.m.mean, samples: final.m.samples, alignment: final.m.alignment, untrained, shuffled: final.shuffled,
    });
    ctx.log(`[e4] ${models.at(-1)!.name}: inner loss ${final.m.mean.map(f3).join(" → ")} (untrained ${untrained.mean.map(f3).join(" → ")})`);
  };
  const ids = r1Ids(ctx.config, ctx.seed);
  const r1b = textBatches(ids.val, ctx.config.r1.T, p.seqs, p.batch);
  const r1Counts = countIds(ids.tokenizer.vocabSize, ids.train);
  for (const run of await runs.r1()) await trained("R1", run, r1b, r1Counts);
  if (ctx.data) {
    const r2 = await r2Ids(ctx.config, ctx.data);
    const r2b = textBatches(r2.val, ctx.config.r2.T, p.seqs, p.batch);
    const r2Counts = countIds(r2.tokenizer.vocabSize, r2.train);
    for (const run of await runs.r2()) await trained("R2", run, r2b, r2Counts);
  }
  const p1 = await loadP1(ctx);
  if (p1) {
    const ps = new ProbeSet(p1.model);
    try {
      const m = await measure(ps, p1.batches, ctx.seed);
      const s = await measure(ps, shuffleTargets(p1.batches, ctx.seed), ctx.seed);
      Object.assign(defs, m.defs);
      const c = p1.model.config;
      models.push({
        name: p1.name, kind: "P1", data: p1.dataName, nLayer: c.nLayer, nEmbd: c.nEmbd, untied: !c.tiedUnembedding,
        params: p1.model.numParameters(), steps: 0, valLoss: null, unigram: unigramOf(p1.trainCounts, p1.batches),
        layers: m.mean.map((_, l) => l), mean: m.mean, samples: m.samples, alignment: m.alignment, untrained: null,
        shuffled: { mean: s.mean, alignment: s.alignment },
      });
      ctx.log(`[e4] ${p1.name}: inner loss ${m.mean.map(f3).join(" → ")}`);
    } finally {
      ps.dispose();
      p1.model.dispose();
    }
  }
  return { definitions: defs, models };
}

/** Share of samples whose last-layer inner loss is below their layer-1 one. */
export function fallingShare(m: Pick<E4Model, "samples" | "layers">): number {
  const L = m.layers.length - 1;
  if (L < 2) return NaN;
  return m.samples.filter((s) => s[L] < s[1]).length / Math.max(1, m.samples.length);
}

/** The models a seed's claims average over: trained here (R1, R2) with at least two blocks. */
export function judgedModels(s: E4Seed): E4Model[] {
  return s.models.filter((m) => m.kind !== "P1" && m.nLayer >= 2 && m.untrained);
}

/** E4's summary over seeds. */
export interface E4Summary {
  definitions: Record<string, string>;
  /** Model names in order (the same in every seed). */
  names: string[];
  /** [seed][model]. */
  models: E4Model[][];
  verdict: Verdict;
}

function summarize(rs: readonly SeedResult<E4Seed>[]): E4Summary {
  const seeds = rs.map((r) => r.seed);
  const over = (s: E4Seed, f: (m: E4Model) => number) => mean(judgedModels(s).map(f));
  const claims = [
    judgeClaim(E4_CLAIMS.layers, seeds, rs.map(({ result: s }) => ({
      effect: over(s, (m) => dropAfterLayer0(m.mean)),
      controls: {
        "untrained model (step 0)": over(s, (m) => dropAfterLayer0(m.untrained!.mean)),
        "shuffled targets": over(s, (m) => dropAfterLayer0(m.shuffled.mean)),
      },
    }))),
    judgeClaim(E4_CLAIMS.unigram, seeds, rs.map(({ result: s }) => ({
      effect: over(s, (m) => m.mean.at(-1)! - m.unigram),
      controls: { "unigram baseline": 0, "untrained model (step 0)": over(s, (m) => m.untrained!.mean.at(-1)! - m.unigram) },
    }))),
    judgeClaim(E4_CLAIMS.alignment, seeds, rs.map(({ result: s }) => ({
      effect: over(s, (m) => meanCos(m.alignment)),
      controls: {
        "shuffled-target gradient": over(s, (m) => meanCos(m.shuffled.alignment)),
        "untrained model (step 0)": over(s, (m) => meanCos(m.untrained!.alignment)),
      },
    }))),
  ];
  return {
    definitions: rs[0].result.definitions, names: rs[0].result.models.map((m) => m.name),
    models: rs.map((r) => r.result.models), verdict: combineClaims(claims),
  };
}

async function report(json: ExpJson<E4Summary>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const n = json.seeds.length;
  const shown = json.config.probes.samplesShown;
  const first = r.models[0];
  const byName = (name: string) => r.models.map((s) => s.find((m) => m.name === name)!).filter(Boolean);
  const panels = first.map((m0) => {
    const ms = byName(m0.name);
    const meanCurve = meanOver(ms.map((m) => m.mean));
    return scatter({
      title: `${m0.name} (${m0.data})`, xLabel: "layer l (h^l)", yLabel: "inner loss (nats)", colorLabel: "", width: 260, height: 220,
      points: [
        ...m0.samples.slice(0, shown).flatMap((s) => s.map((y, l) => ({ x: l, y, color: "per sample (first seed)", size: 16, opacity: 0.4 }))),
        ...meanCurve.map((y, l) => ({ x: l, y, color: `mean over samples and ${ms.length} seed(s)`, size: 160, opacity: 1 })),
        ...(ms[0].untrained ? meanOver(ms.map((m) => m.untrained!.mean)).map((y, l) => ({ x: l, y, color: "untrained (step 0)", size: 60, opacity: 0.9 })) : []),
        ...meanOver(ms.map((m) => m.shuffled.mean)).map((y, l) => ({ x: l, y, color: "shuffled targets", size: 60, opacity: 0.9 })),
        ...[0, m0.layers.length - 1].map((l) => ({ x: l, y: mean(ms.map((m) => m.unigram)), color: "unigram baseline", size: 40, opacity: 0.9 })),
      ],
    });
  });
  const figs = [
    await figure(outDir, "e4_inner_loss_models", grid({ title: "E4 (Fig. 4): inner loss across layers on real text", panels, columns: Math.min(3, panels.length) }),
      `Inner loss ℓ^l (D1) per layer for each model: small dots are samples (validation windows of the first seed, ${shown} shown), large ` +
      `circles the mean over all samples and ${n} seed(s); the untrained model, shuffled targets and the unigram baseline as controls. ` +
      "ℓ⁰ of the tied models is high by construction (the lens on h⁰ favours the current token); the untied model shows ℓ⁰ without it."),
    await alignmentFigure(outDir, "e4_alignment", "E4: alignment of each layer's update with −∇ of the inner loss (D2, real text)",
      first.map((m0) => {
        const ms = byName(m0.name);
        return { name: m0.name, trained: ms.map((m) => m.alignment), shuffled: ms.map((m) => m.shuffled.alignment), untrained: ms.map((m) => (m.untrained ?? m).alignment) };
      })),
  ];
  const v = r.verdict;
  const width = Math.max(...first.map((m) => m.layers.length));
  return {
    id: "E4", title: "Inner loss across layers on real text (Fig. 4)",
    claim: "On real text, the inner loss of trained causal language models falls across layers (Fig. 4).",
    definition: `${r.definitions.D1 ?? "inner loss: logit-lens CE, D1"}. ${r.definitions.D2 ?? ""} A sample is one validation window; ` +
      `its inner loss is the mean over its positions. The claims average over the models trained here with ≥ 2 blocks; ${n} seed(s).`,
    headline: [
      ...v.claims.map(claimLine),
      ...first.map((m0) => {
        const ms = byName(m0.name);
        return `${m0.name} (${m0.params} params, ${m0.steps} steps): ℓ^l = ${meanOver(ms.map((m) => m.mean)).map(f3).join(", ")} ` +
          `(unigram ${f3(mean(ms.map((m) => m.unigram)))}); ℓᴸ < ℓ¹ in ${f3(100 * mean(ms.map((m) => fallingShare(m))))}% of samples; ` +
          `ℓ¹…ℓᴸ non-increasing (tolerance ${MONOTONE_TOL}) in ${ms.filter((m) => nonIncreasing(m.mean.slice(1), MONOTONE_TOL)).length}/${ms.length} seeds`;
      }),
    ],
    held: v.held,
    figures: figs,
    tables: [{
      title: "Mean inner loss (nats) per layer, mean over seeds (ℓ⁰ of tied models flagged: high by construction)",
      columns: ["model", "data", "unigram", ...Array.from({ length: width }, (_, l) => `l=${l}`)],
      rows: first.map((m0) => {
        const ms = byName(m0.name), c = meanOver(ms.map((m) => m.mean));
        return [m0.name, m0.data, f3(mean(ms.map((m) => m.unigram))), ...Array.from({ length: width }, (_, l) => (c[l] === undefined ? "" : f3(c[l])))];
      }),
    }],
    ...reportMeta(json),
  };
}

/** E4 as an {@link Experiment}. */
export const e4: Experiment<E4Seed, E4Summary> = {
  id: "E4", title: "Inner loss on real text for several models (Fig. 4)", compute, summarize: (rs) => summarize(rs), report,
};
