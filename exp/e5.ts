// E5 (Fig. 5): 2-D PCA projections of current-token representations h^l per layer, coloured by
// norm, position and token frequency, for the R1 model, the S1 model and (with --gpt2) GPT-2;
// with D3's norm statistics (Spearman correlations with log frequency and with position).
import { countIds, meanFinite } from "../src/probes/host";
import { ProbeSet, norms, pca, spearman, type NormsResult, type ProbeBatch } from "../src/probes/index";
import type { ExpJson, RunContext } from "./context";
import { r1Ids, s1Batches, s1Task, textBatches } from "./data";
import { f3, figure, reportMeta, spread, verdictOf, type Experiment } from "./experiment";
import { loadP1 } from "./p1";
import { withSnapshot } from "./passes";
import { grid, lineChart, scatter } from "./plot";
import type { ExperimentReport } from "./report";
import { representations, samplePositions, type RepsResult } from "./reps";
import type { SharedRuns } from "./runs";

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

/** One model's projections and D3 statistics. */
export interface E5Model {
  name: string;
  kind: "S1" | "R1" | "P1";
  data: string;
  layers: number[];
  panels: E5Panel[];
  /** D3: mean ‖h^l‖ per layer, and by position ([layer][t]). */
  normPerLayer: number[];
  normByPosition: number[][];
  /** D3 Spearman per layer: per-token mean norm vs log frequency (current / next token), norm vs position. */
  rhoFreq: number[];
  rhoNextFreq: number[];
  rhoPosition: number[];
  rhoEmbedding: number;
  rhoUnembedding: number;
}

/** Everything E5 reports. */
export interface E5Result {
  definitions: Record<string, string>;
  models: E5Model[];
}

/** Thresholds of the verdict. */
export const E5_RULES = { rhoFreq: 0.3, layerShare: 0.5, rhoPc: 0.5 };

async function project(ps: ProbeSet, batches: ProbeBatch[], counts: Float64Array, seed: number, nPoints: number, nPanels: number) {
  const picks = samplePositions(batches, nPoints, seed);
  const d3 = ps.add(norms({ tokenFrequency: counts, vocabSize: counts.length }), { every: 0 });
  const reps = ps.add(representations(picks));
  const rep = await ps.evaluate(batches);
  const n3 = rep.get(d3) as NormsResult, rr = rep.get(reps) as RepsResult;
  const total = counts.reduce((s, c) => s + c, 0);
  const logFreq = Array.from(rr.token, (v) => Math.log(((counts[v] ?? 0) + 1) / (total + counts.length)));
  const layers = n3.perLayer.map((_, l) => l);
  const panels: E5Panel[] = spread(layers.length, nPanels).map((l) => {
    const X = rr.perLayer[l];
    const p = pca(X, rr.n, rr.C, 2);
    const pc1 = Array.from({ length: rr.n }, (_, i) => p.projections[2 * i]);
    const pc2 = Array.from({ length: rr.n }, (_, i) => p.projections[2 * i + 1]);
    const norm = Array.from({ length: rr.n }, (_, i) => Math.hypot(...X.subarray(i * rr.C, (i + 1) * rr.C)));
    return {
      layer: l, pc1, pc2, norm, position: Array.from(rr.position), logFreq, explained: Array.from(p.explainedVarianceRatio),
      rhoNormPc1: spearman(norm, pc1), rhoNormPc2: spearman(norm, pc2),
    };
  });
  const pos = (nSeq: number, T: number) => Float64Array.from({ length: nSeq * T }, (_, i) => i % T);
  return {
    defs: rep.definitions, layers, panels,
    normPerLayer: n3.perLayer, normByPosition: n3.byPosition.map((v) => Array.from(v)),
    rhoFreq: n3.spearman.byToken, rhoNextFreq: n3.spearman.byNextToken,
    rhoPosition: n3.perPosition.map((v) => spearman(v, pos(n3.shape[0], n3.shape[1]))),
    rhoEmbedding: n3.spearman.embedding, rhoUnembedding: n3.spearman.unembedding,
  };
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E5Result> {
  const p = ctx.config.probes;
  const models: E5Model[] = [];
  const defs: Record<string, string> = {};
  const add = (name: string, kind: E5Model["kind"], data: string, r: Awaited<ReturnType<typeof project>>) => {
    Object.assign(defs, r.defs);
    const { defs: _d, ...rest } = r;
    models.push({ name, kind, data, ...rest });
    ctx.log(`[e5] ${name}: norm vs log frequency ρ per layer ${r.rhoFreq.map(f3).join(", ")}`);
  };
  const r1 = (await runs.r1())[0];
  const ids = r1Ids(ctx.config);
  const r1Counts = countIds(ids.tokenizer.vocabSize, ids.train);
  const r1Batches = textBatches(ids.val, ctx.config.r1.T, p.seqs, p.batch);
  add(`R1 ${ctx.config.r1.models[0].name}`, "R1", r1.dataName,
    await withSnapshot(ctx, r1, r1.snapshots.at(-1)!, (_m, ps) => project(ps, r1Batches, r1Counts, ctx.seed, p.pcaPoints, 4)));
  const s1 = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  const s1b = s1Batches(task.val, p.seqs, p.batch);
  add(`S1 ${ctx.config.s1.model.name}`, "S1", s1.dataName, await withSnapshot(ctx, s1, s1.snapshots.at(-1)!,
    (_m, ps) => project(ps, s1b, countIds(task.vocabSize, task.train.tokens), ctx.seed, p.pcaPoints, 4)));
  const p1 = await loadP1(ctx);
  if (p1) {
    const ps = new ProbeSet(p1.model);
    try {
      add(p1.name, "P1", p1.dataName, await project(ps, p1.batches, p1.trainCounts, ctx.seed, p.pcaPoints, 4));
    } finally {
      ps.dispose();
      p1.model.dispose();
    }
  }
  return { definitions: defs, models };
}

/** The verdict rules of E5 (on the real-text models R1 and P1; S1's tokens are uniform by design). */
export function judgeE5(r: E5Result): { text: string; pass: boolean }[] {
  const out: { text: string; pass: boolean }[] = [];
  for (const m of r.models.filter((x) => x.kind !== "S1")) {
    const inner = m.rhoFreq.slice(1).filter(Number.isFinite);
    const signs = [inner.filter((x) => x >= E5_RULES.rhoFreq).length, inner.filter((x) => x <= -E5_RULES.rhoFreq).length];
    const strong = Math.max(...signs);
    out.push({
      text: `${m.name}: |ρ(norm, log frequency)| ≥ ${E5_RULES.rhoFreq} with one sign in ≥ ${E5_RULES.layerShare * 100}% of layers 1..L ` +
        `(${strong}/${inner.length})`, pass: inner.length > 0 && strong >= E5_RULES.layerShare * inner.length,
    });
    const last = m.panels.at(-1)!;
    const best = Math.max(Math.abs(last.rhoNormPc1), Math.abs(last.rhoNormPc2));
    out.push({ text: `${m.name}: the norm varies along a principal direction at layer ${last.layer} (max |ρ(norm, PC)| = ${f3(best)} ≥ ${E5_RULES.rhoPc})`, pass: best >= E5_RULES.rhoPc });
  }
  return out;
}

function panelsOf(m: E5Model): ReturnType<typeof scatter>[] {
  const keys: [keyof E5Panel, string][] = [["norm", "‖h^l‖"], ["position", "position t"], ["logFreq", "log frequency"]];
  return m.panels.flatMap((p) => keys.map(([k, label]) => scatter({
    title: `layer ${p.layer}: colour = ${label}`, xLabel: `PC1 (${(p.explained[0] * 100).toFixed(0)}%)`,
    yLabel: `PC2 (${(p.explained[1] * 100).toFixed(0)}%)`, colorLabel: label, width: 220, height: 180,
    points: p.pc1.map((x, i) => ({ x, y: p.pc2[i], color: (p[k] as number[])[i] })),
  })));
}

async function report(json: ExpJson<E5Result>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const figs = [];
  for (const m of r.models) {
    figs.push(await figure(outDir, `e5_pca_${m.kind.toLowerCase()}`, grid({
      title: `E5 (Fig. 5): PCA of current-token representations, ${m.name} on ${m.data}`, panels: panelsOf(m), columns: 3, independentColor: true,
    }), `2-D PCA of h^l at ${m.panels[0]?.pc1.length ?? 0} sampled positions per layer (rows), coloured by the norm ‖h^l_t‖, the position t and the log training frequency of the current token (columns); ${m.name}.`));
  }
  figs.push(await figure(outDir, "e5_norm_by_position", grid({
    title: "D3: mean norm ‖h^l_t‖ by position", columns: Math.min(3, r.models.length), independentColor: true,
    panels: r.models.map((m) => lineChart({
      title: m.name, xLabel: "position t", yLabel: "mean ‖h^l_t‖", ordered: true, width: 300, height: 220,
      series: m.layers.map((l) => ({ name: `layer ${l}`, x: m.normByPosition[l].map((_, t) => t), y: m.normByPosition[l] })),
    })),
  }), "Mean representation norm per position, one line per layer, for each model."));
  figs.push(await figure(outDir, "e5_spearman", lineChart({
    title: "D3: Spearman ρ of the per-token mean norm with log token frequency", xLabel: "layer l", yLabel: "Spearman ρ",
    series: r.models.map((m) => ({ name: m.name, x: m.layers, y: m.rhoFreq })),
  }), "Rank correlation between a token's mean ‖h^l‖ (as current token) and its log training frequency, per layer and model."));
  const v = verdictOf(judgeE5(r));
  const width = Math.max(0, ...r.models.map((m) => m.layers.length));
  return {
    id: "E5", title: "Norms of token representations (Fig. 5)",
    claim: "The norms of learned token representations show a special characteristic that the inner optimization explains " +
      "(Fig. 5, Proposition 1). Reading tested here: in projections of current-token representations the norm is organized " +
      "along a principal direction and tracks token frequency (|Spearman ρ| ≥ 0.3 with one sign in most layers).",
    definition: `${r.definitions.D3 ?? "norms: D3"}. Projections: PCA (2 components) of h^l at sampled positions of the validation text; ` +
      "frequency = add-one smoothed relative frequency in the training text.",
    headline: [
      ...r.models.map((m) => `${m.name}: ρ(norm, log freq) per layer ${m.rhoFreq.map(f3).join(", ")}; ‖E[v]‖ vs log freq ρ = ` +
        `${f3(m.rhoEmbedding)}; ρ(norm, position) mean ${f3(meanFinite(m.rhoPosition))}; mean ‖h^l‖ ${m.normPerLayer.map(f3).join(" → ")}`),
      ...v.rules.map((t) => `rule: ${t}`),
    ],
    held: v.rules.length ? v.held : "n/a",
    figures: figs,
    tables: [{
      title: "Spearman ρ of ‖h^l‖ with log frequency (current token) per layer",
      columns: ["model", ...Array.from({ length: width }, (_, l) => `l=${l}`)],
      rows: r.models.map((m) => [m.name, ...Array.from({ length: width }, (_, l) => m.rhoFreq[l] ?? "")]),
    }],
    ...reportMeta(json),
  };
}

/** E5 as an {@link Experiment}. */
export const e5: Experiment<E5Result> = { id: "E5", title: "Representation projections and norms (Fig. 5)", compute, report };
