// E5 (Fig. 5): 2-D PCA projections of current-token representations h^l per layer, coloured by
// norm, position and token frequency, for the R1 model, the S1 model and (with --gpt2) GPT-2;
// with D3's norm statistics: Spearman correlations of the norm with log token frequency (per
// token, with bootstrap intervals over tokens; and per position, as a partial correlation that
// holds the position fixed) and with the principal directions, each beside the untrained model.
import { countIds, meanFinite } from "../src/probes/host";
import { ProbeSet, norms, pca, spearman, type NormsResult, type ProbeBatch } from "../src/probes/index";
import type { ExpJson, RunContext } from "./context";
import { r1Ids, s1Batches, s1Task, textBatches } from "./data";
import { bandOver, f3, figure, meanOver, reportMeta, spread, type Experiment, type SeedResult } from "./experiment";
import { loadP1 } from "./p1";
import { withSnapshot } from "./passes";
import { grid, lineChart, scatter } from "./plot";
import type { ExperimentReport } from "./report";
import { representations, samplePositions, type RepsResult } from "./reps";
import type { SharedRuns } from "./runs";
import { bootstrapCI, mean, partialSpearman } from "./stats";
import type { TrainedRun } from "./train-run";
import { claimLine, combineClaims, judgeClaim, type ClaimSpec, type Verdict } from "./verdict";

/** One layer's projection. */
export interface E5Panel {
  layer: number;
  pc1: number[];
  pc2: number[];
  norm: number[];
  position: number[];
  /** log of the current token's relative training frequency (add-one smoothed). */
  logFreq: number[];
  explained: number[];
  /** Spearman of the norm with PC1 / PC2 over the projected points. */
  rhoNormPc1: number;
  rhoNormPc2: number;
}

/** The norm statistics the claims read, for one model state. */
export interface E5Stats {
  /** D3 per layer: Spearman of the per-token mean norm with log frequency (over tokens). */
  rhoFreq: number[];
  /** Per layer: Spearman of ‖h^l_t‖ with log frequency of x_t holding the position t fixed (over positions). */
  partialRho: number[];
  /** max |ρ(norm, PC1 or PC2)| at the last layer. */
  pcRho: number;
}

/** One model's projections and D3 statistics in one seed. */
export interface E5Model extends E5Stats {
  name: string;
  kind: "S1" | "R1" | "P1";
  data: string;
  layers: number[];
  panels: E5Panel[];
  /** D3: mean ‖h^l‖ per layer, and by position ([layer][t]). */
  normPerLayer: number[];
  normByPosition: number[][];
  /** 95 % bootstrap intervals within the seed: rhoFreq over tokens, partialRho over sequences, pcRho over points. */
  rhoFreqCI: [number, number][];
  partialRhoCI: [number, number][];
  pcRhoCI: [number, number];
  rhoNextFreq: number[];
  rhoPosition: number[];
  rhoEmbedding: number;
  rhoUnembedding: number;
  /** The untrained model (step 0) on the same positions; null for P1. */
  untrained: E5Stats | null;
}

/** One seed's E5 numbers. */
export interface E5Seed {
  definitions: Record<string, string>;
  models: E5Model[];
}

/** The claims E5 judges (means over the models trained here: R1 and S1). */
export const E5_CLAIMS = {
  frequency: {
    id: "norm-tracks-frequency", text: "representation norms track token frequency",
    effect: "mean over models and layers 1..L of |partial ρ(‖h^l_t‖, log freq(x_t) | t)|", better: "higher", minEffect: 0.1,
  },
  principal: {
    id: "norm-along-principal-direction", text: "the norm is organised along a principal direction",
    effect: "mean over models of max |ρ(‖h^L‖, PC1 or PC2)|", better: "higher", minEffect: 0.1,
  },
} as const satisfies Record<string, ClaimSpec>;

const NPANELS = 4;

/** D3 and the PCA projections of the ProbeSet's model on `batches` (token frequencies from `counts`). */
export async function normsAndProjections(ps: ProbeSet, batches: ProbeBatch[], counts: Float64Array, seed: number, nPoints: number) {
  const picks = samplePositions(batches, nPoints, seed);
  const d3 = ps.add(norms({ tokenFrequency: counts, vocabSize: counts.length }), { every: 0 });
  const reps = ps.add(representations(picks));
  const rep = await ps.evaluate(batches);
  const n3 = rep.get(d3) as NormsResult, rr = rep.get(reps) as RepsResult;
  const total = counts.reduce((s, c) => s + c, 0);
  const logF = (v: number) => Math.log(((counts[v] ?? 0) + 1) / (total + counts.length));
  const layers = n3.perLayer.map((_, l) => l);
  const panels: E5Panel[] = spread(layers.length, NPANELS).map((l) => {
    const X = rr.perLayer[l];
    const p = pca(X, rr.n, rr.C, 2);
    const pc1 = Array.from({ length: rr.n }, (_, i) => p.projections[2 * i]);
    const pc2 = Array.from({ length: rr.n }, (_, i) => p.projections[2 * i + 1]);
    const norm = Array.from({ length: rr.n }, (_, i) => Math.hypot(...X.subarray(i * rr.C, (i + 1) * rr.C)));
    return {
      layer: l, pc1, pc2, norm, position: Array.from(rr.position), logFreq: Array.from(rr.token, logF),
      explained: Array.from(p.explainedVarianceRatio), rhoNormPc1: spearman(norm, pc1), rhoNormPc2: spearman(norm, pc2),
    };
  });
  const [nSeq, T] = n3.shape;
  const pos = Float64Array.from({ length: nSeq * T }, (_, i) => i % T);
  const xs = batches.flatMap((b) => Array.from(b.x));
  const lf = Float64Array.from(xs, logF);
  // Per-token ρ over tokens that occur in the pass and in training, with a bootstrap over those tokens.
  const tokens = Array.from({ length: counts.length }, (_, v) => v).filter((v) => counts[v] > 0 && n3.tokenCount[v] > 0);
  const rhoFreqCI = n3.byToken.map((byTok, l) => bootstrapCI(tokens.length, (idx) => {
    const a = Array.from(idx, (i) => byTok[tokens[i]]), b = Array.from(idx, (i) => Math.log(counts[tokens[i]]));
    return spearman(a, b);
  }, { seed: seed + l }).ci95);
  const last = panels.at(-1)!;
  // Bootstrap over whole sequences (positions of a sequence are not independent).
  const partialRhoCI = n3.perPosition.map((v, l) => bootstrapCI(nSeq, (seqs) => {
    const rows = Array.from(seqs).flatMap((q) => Array.from({ length: T }, (_, t) => q * T + t));
    return partialSpearman(rows.map((i) => v[i]), rows.map((i) => lf[i]), rows.map((i) => pos[i]));
  }, { seed: seed + 100 + l, reps: 200 }).ci95);
  const pcRhoCI = bootstrapCI(last.norm.length, (idx) => {
    const nv = Array.from(idx, (i) => last.norm[i]);
    return Math.max(Math.abs(spearman(nv, Array.from(idx, (i) => last.pc1[i]))), Math.abs(spearman(nv, Array.from(idx, (i) => last.pc2[i]))));
  }, { seed: seed + 200, reps: 200 }).ci95;
  return {
    defs: rep.definitions, layers, panels,
    normPerLayer: n3.perLayer, normByPosition: n3.byPosition.map((v) => Array.from(v)),
    rhoFreq: n3.spearman.byToken, rhoFreqCI, partialRhoCI, pcRhoCI, rhoNextFreq: n3.spearman.byNextToken,
    rhoPosition: n3.perPosition.map((v) => spearman(v, pos)),
    partialRho: n3.perPosition.map((v) => partialSpearman(v, lf, pos)),
    pcRho: Math.max(Math.abs(last.rhoNormPc1), Math.abs(last.rhoNormPc2)),
    rhoEmbedding: n3.spearman.embedding, rhoUnembedding: n3.spearman.unembedding,
  };
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E5Seed> {
  const p = ctx.config.probes;
  const models: E5Model[] = [];
  const defs: Record<string, string> = {};
  const trained = async (name: string, kind: "R1" | "S1", run: TrainedRun, batches: ProbeBatch[], counts: Float64Array) => {
    const fin = await withSnapshot(ctx, run, run.snapshots.at(-1)!, (_m, ps) => normsAndProjections(ps, batches, counts, ctx.seed, p.pcaPoints));
    const u = await withSnapshot(ctx, run, run.snapshots[0], (_m, ps) => normsAndProjections(ps, batches, counts, ctx.seed, p.pcaPoints));
    Object.assign(defs, fin.defs);
    const { defs: _d, ...rest } = fin;
    models.push({ name, kind, data: run.dataName, ...rest, untrained: { rhoFreq: u.rhoFreq, partialRho: u.partialRho, pcRho: u.pcRho } });
    ctx.log(`[e5] ${name}: partial ρ(norm, log freq | position) per layer ${fin.partialRho.map(f3).join(", ")} ` +
      `(untrained ${u.partialRho.map(f3).join(", ")})`);
  };
  const r1 = (await runs.r1())[0];
  const ids = r1Ids(ctx.config, ctx.seed);
  await trained(`R1 ${ctx.config.r1.models[0].name}`, "R1", r1, textBatches(ids.val, ctx.config.r1.T, p.seqs, p.batch),
    countIds(ids.tokenizer.vocabSize, ids.train));
  const s1 = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  await trained(`S1 ${ctx.config.s1.model.name}`, "S1", s1, s1Batches(task.val, p.seqs, p.batch), countIds(task.vocabSize, task.train.tokens));
  const p1 = await loadP1(ctx);
  if (p1) {
    const ps = new ProbeSet(p1.model);
    try {
      const { defs: d, ...rest } = await normsAndProjections(ps, p1.batches, p1.trainCounts, ctx.seed, p.pcaPoints);
      Object.assign(defs, d);
      models.push({ name: p1.name, kind: "P1", data: p1.dataName, ...rest, untrained: null });
    } finally {
      ps.dispose();
      p1.model.dispose();
    }
  }
  return { definitions: defs, models };
}

/** Mean over layers 1..L of |partial ρ| (layer 0 is the embedding itself). */
export function freqEffect(s: E5Stats): number {
  return mean(s.partialRho.slice(1).map(Math.abs));
}

/** E5's summary over seeds. */
export interface E5Summary {
  definitions: Record<string, string>;
  /** [seed][model]. */
  models: E5Model[][];
  verdict: Verdict;
}

function summarize(rs: readonly SeedResult<E5Seed>[]): E5Summary {
  const seeds = rs.map((r) => r.seed);
  const judged = (s: E5Seed) => s.models.filter((m) => m.untrained);
  const claims = [
    judgeClaim(E5_CLAIMS.frequency, seeds, rs.map(({ result: s }) => ({
      effect: mean(judged(s).map(freqEffect)), controls: { "untrained model (step 0)": mean(judged(s).map((m) => freqEffect(m.untrained!))) },
    }))),
    judgeClaim(E5_CLAIMS.principal, seeds, rs.map(({ result: s }) => ({
      effect: mean(judged(s).map((m) => m.pcRho)), controls: { "untrained model (step 0)": mean(judged(s).map((m) => m.untrained!.pcRho)) },
    }))),
  ];
  return { definitions: rs[0].result.definitions, models: rs.map((r) => r.result.models), verdict: combineClaims(claims) };
}

function panelsOf(m: E5Model): ReturnType<typeof scatter>[] {
  const keys: [keyof E5Panel, string][] = [["norm", "‖h^l‖"], ["position", "position t"], ["logFreq", "log frequency"]];
  return m.panels.flatMap((p) => keys.map(([k, label]) => scatter({
    title: `layer ${p.layer}: colour = ${label}`, xLabel: `PC1 (${(p.explained[0] * 100).toFixed(0)}%)`,
    yLabel: `PC2 (${(p.explained[1] * 100).toFixed(0)}%)`, colorLabel: label, width: 220, height: 180,
    points: p.pc1.map((x, i) => ({ x, y: p.pc2[i], color: (p[k] as number[])[i] })),
  })));
}

async function report(json: ExpJson<E5Summary>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const n = json.seeds.length;
  const first = r.models[0];
  const byName = (name: string) => r.models.map((s) => s.find((m) => m.name === name)!).filter(Boolean);
  const figs = [];
  for (const m of first) {
    figs.push(await figure(outDir, `e5_pca_${m.kind.toLowerCase()}`, grid({
      title: `E5 (Fig. 5): PCA of current-token representations, ${m.name} on ${m.data} (seed ${json.seeds[0]})`, panels: panelsOf(m), columns: 3, independentColor: true,
    }), `2-D PCA of h^l at ${m.panels[0]?.pc1.length ?? 0} sampled positions per layer (rows), coloured by the norm ‖h^l_t‖, the position t and the log training frequency of the current token (columns); ${m.name}, first seed.`));
  }
  figs.push(await figure(outDir, "e5_norm_by_position", grid({
    title: "D3: mean norm ‖h^l_t‖ by position", columns: Math.min(3, first.length), independentColor: true,
    panels: first.map((m) => lineChart({
      title: m.name, xLabel: "position t", yLabel: "mean ‖h^l_t‖", ordered: true, width: 300, height: 220,
      series: m.layers.map((l) => ({ name: `layer ${l}`, x: m.normByPosition[l].map((_, t) => t), y: meanOver(byName(m.name).map((x) => x.normByPosition[l])) })),
    })),
  }), "Mean representation norm per position, one line per layer, for each model; mean over seeds."));
  figs.push(await figure(outDir, "e5_spearman", grid({
    title: "D3: Spearman ρ of the norm with log token frequency", columns: 2, independentColor: true,
    panels: [
      lineChart({
        title: "per token (mean norm of each token)", xLabel: "layer l", yLabel: "Spearman ρ", width: 300, height: 220,
        series: first.flatMap((m) => {
          const ms = byName(m.name);
          return [
            { name: m.name, x: m.layers, ...bandOver(ms.map((x) => x.rhoFreq)) },
            ...(m.untrained ? [{ name: `${m.name} untrained`, dash: "untrained", x: m.layers, ...bandOver(ms.map((x) => x.untrained!.rhoFreq)) }] : []),
          ];
        }),
      }),
      lineChart({
        title: "per position, position held fixed (partial ρ)", xLabel: "layer l", yLabel: "partial Spearman ρ", width: 300, height: 220,
        series: first.flatMap((m) => {
          const ms = byName(m.name);
          return [
            { name: m.name, x: m.layers, ...bandOver(ms.map((x) => x.partialRho)) },
            ...(m.untrained ? [{ name: `${m.name} untrained`, dash: "untrained", x: m.layers, ...bandOver(ms.map((x) => x.untrained!.partialRho)) }] : []),
          ];
        }),
      }),
    ],
  }), `Rank correlation between the norm and log training frequency, per layer and model, beside the untrained model (dashed); mean over ${n} seed(s), band = 95% interval over seeds.`));
  const v = r.verdict;
  const width = Math.max(0, ...first.map((m) => m.layers.length));
  return {
    id: "E5", title: "Norms of token representations (Fig. 5)",
    claim: "The norms of learned token representations show a special characteristic that the inner optimization explains " +
      "(Fig. 5, Proposition 1). Reading tested here: the norm tracks token frequency beyond what position explains, and is " +
      "organised along a principal direction of the representations, more than in the untrained model.",
    definition: `${r.definitions.D3 ?? "norms: D3"}. Projections: PCA (2 components) of h^l at sampled positions of the validation text; ` +
      "frequency = add-one smoothed relative frequency in the training text; the S1 tokens are not uniform in training " +
      "(their counts differ several-fold), so S1 is judged too. Intervals in the headline are within one seed (bootstrap: per-token ρ " +
      "over tokens, partial ρ over sequences, ρ with the PCs over points); the verdict's are over seeds.",
    headline: [
      ...v.claims.map(claimLine),
      ...first.map((m) => {
        const ms = byName(m.name);
        return `${m.name}: per-token ρ(norm, log freq) per layer ${meanOver(ms.map((x) => x.rhoFreq)).map(f3).join(", ")}` +
          ` (first seed's bootstrap intervals over tokens ${m.rhoFreqCI.map(([lo, hi]) => `[${f3(lo)}, ${f3(hi)}]`).join(" ")}); partial ρ | position ` +
          `${meanOver(ms.map((x) => x.partialRho)).map(f3).join(", ")} (first seed, over sequences ${m.partialRhoCI.map(([lo, hi]) => `[${f3(lo)}, ${f3(hi)}]`).join(" ")}); ` +
          `max |ρ(norm, PC)| at layer ${m.panels.at(-1)!.layer} ${f3(mean(ms.map((x) => x.pcRho)))} (first seed [${m.pcRhoCI.map(f3).join(", ")}]); ` +
          `‖E[v]‖ vs log freq ρ = ${f3(mean(ms.map((x) => x.rhoEmbedding)))}; ` +
          `ρ(norm, position) mean ${f3(mean(ms.map((x) => meanFinite(x.rhoPosition))))}`;
      }),
    ],
    held: v.held,
    figures: figs,
    tables: [{
      title: "Spearman ρ of ‖h^l‖ with log frequency (per token), mean over seeds; in brackets: the untrained model",
      columns: ["model", ...Array.from({ length: width }, (_, l) => `l=${l}`)],
      rows: first.map((m) => {
        const ms = byName(m.name), t = meanOver(ms.map((x) => x.rhoFreq));
        const u = m.untrained ? meanOver(ms.map((x) => x.untrained!.rhoFreq)) : null;
        return [m.name, ...Array.from({ length: width }, (_, l) => (t[l] === undefined ? "" : `${f3(t[l])}${u ? ` (${f3(u[l])})` : ""}`))];
      }),
    }],
    ...reportMeta(json),
  };
}

/** E5 as an {@link Experiment}. */
export const e5: Experiment<E5Seed, E5Summary> = {
  id: "E5", title: "Representation projections and norms (Fig. 5)", compute, summarize: (rs) => summarize(rs), report,
};
