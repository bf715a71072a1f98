// E6 (Proposition 1): the Gram decomposition ‖Mv‖² = Σ_i λ_i(u_iᵀv)² (D4) checked numerically for
// the unembedding acting on LN_f(h^l) and on the inner gradient, the share of that norm carried by
// the top-k eigen-directions per layer, and how ‖h^l_t‖ relates to confidence, inner loss,
// position, token frequency, layer and training (D3, D4) on the S1 run and the first R1 model.
import { countIds } from "../src/probes/host";
import { gram, type GramResult } from "../src/probes/gram";
import { norms, type NormsResult, type ProbeBatch } from "../src/probes/index";
import type { ExpJson, RunContext } from "./context";
import { r1Ids, s1Batches, s1Task, textBatches } from "./data";
import { f3, figure, reportMeta, verdictOf, type Experiment } from "./experiment";
import { overSnapshots } from "./passes";
import { grid, lineChart } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";
import type { TrainedRun } from "./train-run";

/** D4 + D3 of one snapshot. */
export interface E6Snapshot {
  /** Epoch (S1) or step (R1). */
  x: number;
  eigenvalues: number[];
  logit: GramResult["logit"];
  gradient: GramResult["gradient"];
  correlations: GramResult["correlations"];
  /** D3: mean ‖h^l‖ per layer. */
  normPerLayer: number[];
}

/** One model across its snapshots. */
export interface E6Model {
  name: string;
  kind: "S1" | "R1";
  data: string;
  /** "epoch" or "step". */
  xLabel: string;
  C: number;
  layers: number[];
  topK: number[];
  snapshots: E6Snapshot[];
}

/** Everything E6 reports. */
export interface E6Result {
  definitions: Record<string, string>;
  models: E6Model[];
}

/** Thresholds of the verdict: identity residual (f32 arithmetic) and concentration factor. */
export const E6_RULES = { residual: 1e-3, concentration: 2 };

async function measure(ctx: RunContext, label: string, run: TrainedRun, batches: ProbeBatch[], counts: Float64Array, topK: number[]) {
  let defs: Record<string, string> = {};
  const snaps = await overSnapshots(ctx, label, run, async (_m, ps, snap): Promise<E6Snapshot> => {
    const d4 = ps.add(gram({ topK, tokenFrequency: counts }));
    const d3 = ps.add(norms({ tokenFrequency: counts, vocabSize: counts.length }), { every: 0 });
    const rep = await ps.evaluate(batches);
    defs = rep.definitions;
    const g = rep.get(d4) as GramResult, n = rep.get(d3) as NormsResult;
    return {
      x: snap.epoch ?? snap.step, eigenvalues: Array.from(g.eigenvalues), logit: g.logit, gradient: g.gradient,
      correlations: g.correlations, normPerLayer: n.perLayer,
    };
  });
  return { defs, snaps };
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E6Result> {
  const p = ctx.config.probes;
  const models: E6Model[] = [];
  let defs: Record<string, string> = {};
  // One model: its top-k list (the configured k up to its width), measured and recorded.
  const add = async (name: string, kind: E6Model["kind"], run: TrainedRun, xLabel: string, label: string,
    batches: ProbeBatch[], counts: Float64Array) => {
    const C = run.model.nEmbd;
    const topK = p.topK.filter((k) => k <= C);
    const m = await measure(ctx, label, run, batches, counts, topK);
    defs = { ...defs, ...m.defs };
    models.push({ name, kind, data: run.dataName, xLabel, C, layers: m.snaps[0].normPerLayer.map((_, l) => l), topK, snapshots: m.snaps });
  };
  const s1 = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  await add(`S1 ${ctx.config.s1.model.name}`, "S1", s1, "epoch", "e6 s1",
    s1Batches(task.val, p.seqs, p.batch), countIds(task.vocabSize, task.train.tokens));
  const r1 = (await runs.r1())[0];
  const ids = r1Ids(ctx.config);
  await add(`R1 ${ctx.config.r1.models[0].name}`, "R1", r1, "step", "e6 r1",
    textBatches(ids.val, ctx.config.r1.T, p.seqs, p.batch), countIds(ids.tokenizer.vocabSize, ids.train));
  return { definitions: defs, models };
}

/** The verdict rules of E6 (final snapshots). */
export function judgeE6(r: E6Result): { text: string; pass: boolean }[] {
  const fin = r.models.map((m) => ({ m, s: m.snapshots.at(-1)! }));
  const worst = Math.max(...fin.flatMap(({ s }) => [...s.logit.residualMax, ...s.gradient.residualMax]));
  const conc = fin.map(({ m, s }) => {
    const j = m.topK.findIndex((k) => k > 1);
    const k = m.topK[j] ?? m.topK[0];
    const L = s.logit.share.length - 1;
    return { m, k, share: s.logit.share[L][m.topK.indexOf(k)], uniform: k / m.C };
  });
  return [
    { text: `Proposition 1's identity holds numerically: max relative residual over models, layers, positions and both halves ${worst.toExponential(2)} ≤ ${E6_RULES.residual}`, pass: worst <= E6_RULES.residual },
    ...conc.map(({ m, k, share, uniform }) => ({
      text: `${m.name}: the logit norm at the last layer concentrates on the top eigen-directions of W_UᵀW_U: top-${k} share ${f3(share)} ≥ ` +
        `${E6_RULES.concentration}× the isotropic share ${f3(uniform)}`, pass: share >= E6_RULES.concentration * uniform,
    })),
  ];
}

async function report(json: ExpJson<E6Result>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const sharePanels = r.models.flatMap((m) => {
    const s = m.snapshots.at(-1)!;
    return (["logit", "gradient"] as const).map((h) => lineChart({
      title: `${m.name}: ${h === "logit" ? "‖W_U LN_f(h^l)‖²" : "‖W_Uᵀ(p − e_y)‖² (inner gradient)"}`, xLabel: "layer l",
      yLabel: "share of the squared norm", width: 260, height: 200,
      series: m.topK.flatMap((k, j) => [
        { name: `top-${k}`, dash: "measured", x: m.layers, y: s[h].share.map((v) => v[j]) },
        { name: `top-${k}`, dash: "isotropic k/C", x: m.layers, y: m.layers.map(() => k / m.C) },
      ]),
    }));
  });
  const normPanels = r.models.map((m) => lineChart({
    title: `${m.name}: mean ‖h^l‖ over training`, xLabel: m.xLabel, yLabel: "mean ‖h^l_t‖", ordered: true, width: 260, height: 200,
    series: m.layers.map((l) => ({ name: `layer ${l}`, x: m.snapshots.map((s) => s.x), y: m.snapshots.map((s) => s.normPerLayer[l]) })),
  }));
  const corrPanels = r.models.map((m) => {
    const c = m.snapshots.at(-1)!.correlations;
    return lineChart({
      title: `${m.name}: Spearman ρ of ‖h^l_t‖ with …`, xLabel: "layer l", yLabel: "Spearman ρ", width: 260, height: 200,
      series: [
        { name: "lens confidence max p^l", x: m.layers, y: c.confidence },
        { name: "final confidence", x: m.layers, y: c.finalConfidence },
        { name: "inner loss ℓ^l_t", x: m.layers, y: c.innerLoss },
        { name: "position t", x: m.layers, y: c.position },
        { name: "log frequency of x_t", x: m.layers, y: c.logFrequency },
      ],
    });
  });
  const eigPanel = lineChart({
    title: "Eigenvalues of W_UᵀW_U (final models)", xLabel: "index i (descending)", yLabel: "λ_i", logY: true, width: 260, height: 200,
    series: r.models.map((m) => ({ name: m.name, x: m.snapshots.at(-1)!.eigenvalues.map((_, i) => i + 1), y: m.snapshots.at(-1)!.eigenvalues })),
  });
  const figs = [
    await figure(outDir, "e6_energy_shares", grid({ title: "E6 (Prop. 1): share of the norm on the top-k eigen-directions of W_UᵀW_U", panels: [...sharePanels, eigPanel], columns: 3, independentColor: true }),
      "Share of ‖W_U v‖² (v = LN_f(h^l_t)) and of the inner gradient's ‖W_Uᵀ(p − e_y)‖² carried by the top-k eigen-directions, pooled over positions, per layer (final models), with the isotropic share k/C dashed; last panel: the eigenvalue spectrum."),
    await figure(outDir, "e6_norm_relations", grid({ title: "E6: representation norms vs layer, training, confidence, loss, position and frequency", panels: [...normPanels, ...corrPanels], columns: 2, independentColor: true }),
      "Top: mean ‖h^l‖ per layer over training (D3). Bottom: Spearman correlation of ‖h^l_t‖ with the lens confidence, the final confidence, the inner loss, the position and the log frequency of the current token (D4, final models)."),
  ];
  const v = verdictOf(judgeE6(r));
  const head = r.models.map((m) => {
    const s = m.snapshots.at(-1)!, L = m.layers.length - 1, c = s.correlations;
    return `${m.name}: identity residual max ${Math.max(...s.logit.residualMax, ...s.gradient.residualMax).toExponential(1)}; ` +
      `top-${m.topK.at(-1)} share at layer ${L}: logit ${f3(s.logit.share[L].at(-1)!)}, gradient ${f3(s.gradient.share[L].at(-1)!)} ` +
      `(isotropic ${f3(m.topK.at(-1)! / m.C)}); ‖h^${L}‖ vs confidence ρ = ${f3(c.confidence[L])}, vs inner loss ${f3(c.innerLoss[L])}, ` +
      `vs position ${f3(c.position[L])}, vs log freq ${f3(c.logFrequency[L])}; mean ‖h^l‖ ${s.normPerLayer.map(f3).join(" → ")} ` +
      `(first snapshot: ${m.snapshots[0].normPerLayer.map(f3).join(" → ")})`;
  });
  return {
    id: "E6", title: "Proposition 1: the Gram decomposition of norms",
    claim: "For a linear map M with Gram matrix MᵀM = UΛUᵀ, ‖Mv‖² = Σ_i λ_i(u_iᵀv)² (Proposition 1): the norm a representation " +
      "(or an inner gradient) produces through the unembedding is governed by its alignment with the top eigen-directions, " +
      "which is how the inner optimization explains the special characteristic of representation norms.",
    definition: `${r.definitions.D4 ?? "Gram decomposition: D4"}. ${r.definitions.D3 ?? ""}`,
    headline: [...head, ...v.rules.map((t) => `rule: ${t}`)],
    held: v.held,
    figures: figs,
    tables: r.models.map((m) => ({
      title: `${m.name}: per layer at the final snapshot`,
      columns: ["layer", "residual (logit)", "residual (gradient)", ...m.topK.map((k) => `top-${k} share (logit)`), "ρ(‖h‖, confidence)", "ρ(‖h‖, log freq)", "mean ‖h‖"],
      rows: m.layers.map((l) => {
        const s = m.snapshots.at(-1)!;
        return [l, s.logit.residualMax[l], s.gradient.residualMax[l], ...s.logit.share[l], s.correlations.confidence[l], s.correlations.logFrequency[l], s.normPerLayer[l]];
      }),
    })),
    ...reportMeta(json),
  };
}

/** E6 as an {@link Experiment}. */
export const e6: Experiment<E6Result> = { id: "E6", title: "Proposition 1: Gram decomposition and norms", compute, report };

