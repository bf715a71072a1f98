// E6 (Proposition 1): the Gram decomposition ‖Mv‖² = Σ_i λ_i(u_iᵀv)² (D4) for the unembedding
// acting on LN_f(h^l) and on the inner gradient, the share of that norm carried by the top-k
// eigen-directions per layer, and how ‖h^l_t‖ relates to confidence, inner loss, position, token
// frequency, layer and training (D3, D4) on the S1 run and the first R1 model. The concentration
// is judged against the spectral null (a direction with no alignment carries Σ_{i≤k}λ_i / Σλ_i of
// ‖Mv‖², not k/C) and the untrained model; the identity itself is reported as a numerical check.
import { countIds } from "../src/probes/host";
import { gram, type GramResult } from "../src/probes/gram";
import { norms, type NormsResult, type ProbeBatch, type ProbeSet } from "../src/probes/index";
import type { ExpJson, RunContext } from "./context";
import { r1Ids, s1Batches, s1Task, textBatches } from "./data";
import { bandOver, f3, figure, meanOver, reportMeta, type Experiment, type SeedResult } from "./experiment";
import { overSnapshots } from "./passes";
import { grid, lineChart } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";
import { mean } from "./stats";
import type { TrainedRun } from "./train-run";
import { claimLine, combineClaims, judgeClaim, type Check, type ClaimSpec, type Verdict } from "./verdict";

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

/** One model across its snapshots in one seed. */
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

/** One seed's E6 numbers. */
export interface E6Seed {
  definitions: Record<string, string>;
  /** The k of the headline and the verdict. */
  k: number;
  models: E6Model[];
}

/** Maximal relative residual of the identity allowed by f32 arithmetic (a check, not evidence). */
export const E6_RESIDUAL = 1e-3;

/** The claims E6 judges (means over the S1 and R1 models, last layer, k = the configuration's judgeK). */
export const E6_CLAIMS = {
  logit: {
    id: "logit-concentration", text: "the logit norm concentrates on the top eigen-directions of W_UᵀW_U",
    effect: "top-k share of ‖W_U LN_f(h^L)‖² minus its spectral null", better: "higher", minEffect: 0.02,
  },
  gradient: {
    id: "gradient-concentration", text: "the inner gradient's norm concentrates on the top eigen-directions",
    effect: "top-k share of ‖W_Uᵀ(p − e_y)‖² minus its spectral null", better: "higher", minEffect: 0.02,
  },
} as const satisfies Record<string, ClaimSpec>;

/** The spectral null of the top-k share: Σ_{i≤k} λ_i / Σ_i λ_i (what a direction with no alignment carries). */
export function spectralNull(eigenvalues: readonly number[], k: number): number {
  const total = eigenvalues.reduce((a, v) => a + Math.max(0, v), 0);
  return eigenvalues.slice(0, k).reduce((a, v) => a + Math.max(0, v), 0) / total;
}

/** D4 + D3 of the ProbeSet's model on `batches`. */
export async function measureGram(ps: ProbeSet, batches: readonly ProbeBatch[], counts: Float64Array, topK: number[], x: number) {
  const d4 = ps.add(gram({ topK, tokenFrequency: counts }));
  const d3 = ps.add(norms({ tokenFrequency: counts, vocabSize: counts.length }), { every: 0 });
  const rep = await ps.evaluate(batches, { probes: [d4, d3] });
  const g = rep.get(d4) as GramResult, n = rep.get(d3) as NormsResult;
  const snap: E6Snapshot = {
    x, eigenvalues: Array.from(g.eigenvalues), logit: g.logit, gradient: g.gradient, correlations: g.correlations, normPerLayer: n.perLayer,
  };
  return { defs: rep.definitions, snap };
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E6Seed> {
  const p = ctx.config.probes;
  const models: E6Model[] = [];
  let defs: Record<string, string> = {};
  const add = async (name: string, kind: E6Model["kind"], run: TrainedRun, xLabel: string, label: string,
    batches: ProbeBatch[], counts: Float64Array) => {
    const C = run.model.nEmbd;
    const topK = [...new Set([...p.topK, p.judgeK])].filter((k) => k <= C).sort((a, b) => a - b);
    const snaps = await overSnapshots(ctx, label, run, async (_m, ps, snap) => {
      const m = await measureGram(ps, batches, counts, topK, snap.epoch ?? snap.step);
      defs = { ...defs, ...m.defs };
      return m.snap;
    });
    models.push({ name, kind, data: run.dataName, xLabel, C, layers: snaps[0].normPerLayer.map((_, l) => l), topK, snapshots: snaps });
  };
  const s1 = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  await add(`S1 ${ctx.config.s1.model.name}`, "S1", s1, "epoch", "e6 s1",
    s1Batches(task.val, p.seqs, p.batch), countIds(task.vocabSize, task.train.tokens));
  const r1 = (await runs.r1())[0];
  const ids = r1Ids(ctx.config, ctx.seed);
  await add(`R1 ${ctx.config.r1.models[0].name}`, "R1", r1, "step", "e6 r1",
    textBatches(ids.val, ctx.config.r1.T, p.seqs, p.batch), countIds(ids.tokenizer.vocabSize, ids.train));
  return { definitions: defs, k: p.judgeK, models };
}

/** Top-k share minus the spectral null at the last layer of one snapshot, for one half. */
export function excessShare(m: Pick<E6Model, "topK">, s: E6Snapshot, half: "logit" | "gradient", k: number): number {
  const j = m.topK.indexOf(k);
  if (j < 0) return NaN;
  return s[half].share.at(-1)![j] - spectralNull(s.eigenvalues, k);
}

/** Largest relative residual of the identity over a model's final snapshot (both halves, every layer). */
export function worstResidual(m: E6Model): number {
  const s = m.snapshots.at(-1)!;
  return Math.max(...s.logit.residualMax, ...s.gradient.residualMax);
}

/** E6's summary over seeds. */
export interface E6Summary {
  definitions: Record<string, string>;
  k: number;
  /** [seed][model]. */
  models: E6Model[][];
  verdict: Verdict;
}

function summarize(rs: readonly SeedResult<E6Seed>[]): E6Summary {
  const seeds = rs.map((r) => r.seed), k = rs[0].result.k;
  const claim = (half: "logit" | "gradient") => judgeClaim(E6_CLAIMS[half], seeds, rs.map(({ result: s }) => ({
    effect: mean(s.models.map((m) => excessShare(m, m.snapshots.at(-1)!, half, k))),
    controls: {
      "spectral null Σ_{i≤k}λ_i/Σλ_i": 0,
      "untrained model (step 0)": mean(s.models.map((m) => excessShare(m, m.snapshots[0], half, k))),
    },
  })));
  const worst = Math.max(...rs.flatMap((r) => r.result.models.map(worstResidual)));
  const checks: Check[] = [{
    text: `Proposition 1's identity holds numerically (it is an identity: it can only fail on a bug): max relative residual ` +
      `${worst.toExponential(2)} ≤ ${E6_RESIDUAL}`, value: worst, pass: worst <= E6_RESIDUAL,
  }];
  return {
    definitions: rs[0].result.definitions, k, models: rs.map((r) => r.result.models),
    verdict: combineClaims([claim("logit"), claim("gradient")], checks),
  };
}

async function report(json: ExpJson<E6Summary>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const n = json.seeds.length;
  const first = r.models[0];
  const byName = (name: string) => r.models.map((s) => s.find((m) => m.name === name)!).filter(Boolean);
  const sharePanels = first.flatMap((m0) => {
    const ms = byName(m0.name), j = m0.topK.indexOf(r.k);
    return (["logit", "gradient"] as const).map((h) => lineChart({
      title: `${m0.name}: ${h === "logit" ? "‖W_U LN_f(h^l)‖²" : "‖W_Uᵀ(p − e_y)‖² (inner gradient)"}`, xLabel: "layer l",
      yLabel: `top-${r.k} share of the squared norm`, width: 260, height: 200,
      series: [
        { name: "final model", x: m0.layers, ...bandOver(ms.map((m) => m.snapshots.at(-1)![h].share.map((v) => v[j]))) },
        { name: "spectral null (final)", dash: "control", x: m0.layers, ...bandOver(ms.map((m) => m0.layers.map(() => spectralNull(m.snapshots.at(-1)!.eigenvalues, r.k)))) },
        { name: "untrained model", dash: "control", x: m0.layers, ...bandOver(ms.map((m) => m.snapshots[0][h].share.map((v) => v[j]))) },
        { name: "spectral null (untrained)", dash: "control", x: m0.layers, ...bandOver(ms.map((m) => m0.layers.map(() => spectralNull(m.snapshots[0].eigenvalues, r.k)))) },
        { name: "isotropic k/C", dash: "reference", x: m0.layers, y: m0.layers.map(() => r.k / m0.C) },
      ],
    }));
  });
  const normPanels = first.map((m0) => lineChart({
    title: `${m0.name}: mean ‖h^l‖ over training`, xLabel: m0.xLabel, yLabel: "mean ‖h^l_t‖", ordered: true, width: 260, height: 200,
    series: m0.layers.map((l) => ({ name: `layer ${l}`, x: m0.snapshots.map((s) => s.x), y: meanOver(byName(m0.name).map((m) => m.snapshots.map((s) => s.normPerLayer[l]))) })),
  }));
  const corrPanels = first.map((m0) => {
    const cs = byName(m0.name).map((m) => m.snapshots.at(-1)!.correlations);
    const c = (k: keyof E6Snapshot["correlations"]) => bandOver(cs.map((x) => x[k]));
    return lineChart({
      title: `${m0.name}: Spearman ρ of ‖h^l_t‖ with …`, xLabel: "layer l", yLabel: "Spearman ρ", width: 260, height: 200,
      series: [
        { name: "lens confidence max p^l", x: m0.layers, ...c("confidence") },
        { name: "final confidence", x: m0.layers, ...c("finalConfidence") },
        { name: "inner loss ℓ^l_t", x: m0.layers, ...c("innerLoss") },
        { name: "position t", x: m0.layers, ...c("position") },
        { name: "log frequency of x_t", x: m0.layers, ...c("logFrequency") },
      ],
    });
  });
  const eigPanel = lineChart({
    title: "Eigenvalues of W_UᵀW_U (final models, first seed)", xLabel: "index i (descending)", yLabel: "λ_i", logY: true, width: 260, height: 200,
    series: first.map((m) => ({ name: m.name, x: m.snapshots.at(-1)!.eigenvalues.map((_, i) => i + 1), y: m.snapshots.at(-1)!.eigenvalues })),
  });
  const figs = [
    await figure(outDir, "e6_energy_shares", grid({ title: `E6 (Prop. 1): share of the norm on the top-${r.k} eigen-directions of W_UᵀW_U`, panels: [...sharePanels, eigPanel], columns: 3, independentColor: true }),
      `Share of ‖W_U v‖² (v = LN_f(h^l_t)) and of the inner gradient's ‖W_Uᵀ(p − e_y)‖² carried by the top-${r.k} eigen-directions, pooled over ` +
      `positions, per layer: final and untrained models beside their spectral nulls Σ_{i≤k}λ_i/Σλ_i (what a direction with no alignment ` +
      `carries) and the isotropic k/C; mean over ${n} seed(s), band = 95% interval over seeds; last panel: the eigenvalue spectrum.`),
    await figure(outDir, "e6_norm_relations", grid({ title: "E6: representation norms vs layer, training, confidence, loss, position and frequency", panels: [...normPanels, ...corrPanels], columns: 2, independentColor: true }),
      "Top: mean ‖h^l‖ per layer over training (D3). Bottom: Spearman correlation of ‖h^l_t‖ with the lens confidence, the final confidence, the inner loss, the position and the log frequency of the current token (D4, final models); mean and 95% interval over seeds."),
  ];
  const v = r.verdict;
  return {
    id: "E6", title: "Proposition 1: the Gram decomposition of norms",
    claim: "For a linear map M with Gram matrix MᵀM = UΛUᵀ, ‖Mv‖² = Σ_i λ_i(u_iᵀv)² (Proposition 1): the norm a representation " +
      "(or an inner gradient) produces through the unembedding is governed by its alignment with the top eigen-directions, " +
      "which is how the inner optimization explains the special characteristic of representation norms. Tested: at the last layer " +
      "the norm sits on the top eigen-directions more than the spectrum alone (a direction with no alignment) and the untrained model give.",
    definition: `${r.definitions.D4 ?? "Gram decomposition: D4"}. ${r.definitions.D3 ?? ""} k = ${r.k} in the headline and the verdict; ${n} seed(s).`,
    headline: [
      ...v.claims.map(claimLine),
      ...first.map((m0) => {
        const ms = byName(m0.name), j = m0.topK.indexOf(r.k), L = m0.layers.length - 1;
        return `${m0.name}: top-${r.k} logit share at layer ${L} ${f3(mean(ms.map((m) => m.snapshots.at(-1)!.logit.share[L][j])))} vs spectral null ` +
          `${f3(mean(ms.map((m) => spectralNull(m.snapshots.at(-1)!.eigenvalues, r.k))))} (untrained ${f3(mean(ms.map((m) => m.snapshots[0].logit.share[L][j])))} ` +
          `vs ${f3(mean(ms.map((m) => spectralNull(m.snapshots[0].eigenvalues, r.k))))}); identity residual max ${Math.max(...ms.map(worstResidual)).toExponential(1)}`;
      }),
    ],
    held: v.held,
    figures: figs,
    tables: first.map((m0) => {
      const ms = byName(m0.name), j = m0.topK.indexOf(r.k);
      return {
        title: `${m0.name}: per layer at the final snapshot, mean over seeds`,
        columns: ["layer", "residual (logit)", "residual (gradient)", `top-${r.k} share (logit)`, `top-${r.k} share (gradient)`, "spectral null", "ρ(‖h‖, confidence)", "mean ‖h‖"],
        rows: m0.layers.map((l) => {
          const f = (g: (s: E6Snapshot) => number) => mean(ms.map((m) => g(m.snapshots.at(-1)!)));
          return [l, Math.max(...ms.map((m) => m.snapshots.at(-1)!.logit.residualMax[l])), Math.max(...ms.map((m) => m.snapshots.at(-1)!.gradient.residualMax[l])),
            f((s) => s.logit.share[l][j]), f((s) => s.gradient.share[l][j]), f((s) => spectralNull(s.eigenvalues, r.k)),
            f((s) => s.correlations.confidence[l]), f((s) => s.normPerLayer[l])];
        }),
      };
    }),
    ...reportMeta(json),
  };
}

/** E6 as an {@link Experiment}. */
export const e6: Experiment<E6Seed, E6Summary> = {
  id: "E6", title: "Proposition 1: Gram decomposition and norms", compute, summarize: (rs) => summarize(rs), report,
};
