// E1 (Fig. 1 and its appendix variants): clustering of representations (D6) per layer across the
// S1 run's training, against three labels (seed, next token, seed×next token), on validation and
// training positions; macro F1 (Fig. 1) plus NMI, ARI and purity, with a random-assignment chance level.
import { clustering, type ClusteringResult } from "../src/probes/clustering";
import { matchedMacroF1, mulberry32 } from "../src/probes/metrics";
import type { ProbeBatch } from "../src/probes/index";
import type { ExpJson, RunContext } from "./context";
import { s1Batches, s1Task } from "./data";
import { argmax, f3, figure, reportMeta, verdictOf, type Experiment } from "./experiment";
import { S1_LABELS } from "./e3";
import { overSnapshots, runInfo, snapshotX } from "./passes";
import { grid, lineChart } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";

/** The scores D6 reports. */
export const E1_METRICS = ["f1", "nmi", "ari", "purity"] as const;
type Metric = (typeof E1_METRICS)[number];

/** Scores of one label on one split: metric → [snapshot][layer]; k and the chance F1. */
export interface E1Scores {
  k: number;
  chanceF1: number;
  f1: number[][];
  nmi: number[][];
  ari: number[][];
  purity: number[][];
}

/** Everything E1 reports. */
export interface E1Result {
  definitions: Record<string, string>;
  run: Record<string, unknown>;
  epochs: number[];
  /** Stream indices 0..L. */
  layers: number[];
  /** Positions clustered per split. */
  n: { val: number; train: number };
  /** split → label → scores. */
  splits: { val: Record<string, E1Scores>; train: Record<string, E1Scores> };
}

/** Thresholds of the verdict. */
export const E1_RULES = { gain: 0.1 };

/** Macro F1 of a uniformly random assignment into k clusters (mean of 3 draws): the chance level. */
export function chanceF1(labels: Int32Array, k: number, seed: number): number {
  let s = 0;
  for (let r = 0; r < 3; r++) {
    const rng = mulberry32(seed + 17 * r + 1);
    s += matchedMacroF1(Int32Array.from(labels, () => Math.floor(rng() * k)), labels);
  }
  return s / 3;
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E1Result> {
  const run = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  const p = ctx.config.probes;
  const labels = S1_LABELS.map(([k]) => k);
  const batches = { val: s1Batches(task.val, p.seqs, p.batch), train: s1Batches(task.train, p.seqs, p.batch) };
  let defs: Record<string, string> = {};
  const opts = { labels, samples: p.clusterPositions, restarts: p.kmeansRestarts, iters: p.kmeansIters, seed: ctx.seed };
  const rows = await overSnapshots(ctx, "e1", run, async (_m, ps) => {
    const d6 = ps.add(clustering(opts));
    const val = await ps.evaluate(batches.val);
    const train = await ps.evaluate(batches.train);
    defs = val.definitions;
    return { val: val.get(d6) as ClusteringResult, train: train.get(d6) as ClusteringResult };
  });
  const scores = (split: "val" | "train", b: ProbeBatch[]): Record<string, E1Scores> => {
    const first = rows[0][split];
    const out: Record<string, E1Scores> = {};
    for (const lab of labels) {
      const y = Int32Array.from(first.positions, (q) => b[q.forward].labels![lab][q.index]);
      const k = first.labels[lab].k;
      const per = (m: Metric) => rows.map((r) => r[split].labels[lab][m]);
      out[lab] = { k, chanceF1: chanceF1(y, k, ctx.seed), f1: per("f1"), nmi: per("nmi"), ari: per("ari"), purity: per("purity") };
    }
    return out;
  };
  return {
    definitions: defs, run: runInfo(run), epochs: snapshotX(run), layers: rows[0].val.labels.seed.f1.map((_, l) => l),
    n: { val: rows[0].val.n, train: rows[0].train.n },
    splits: { val: scores("val", batches.val), train: scores("train", batches.train) },
  };
}

/** The verdict rules of E1 (validation split). */
export function judgeE1(r: E1Result): { text: string; pass: boolean }[] {
  const last = r.epochs.length - 1;
  const gain = (lab: string, name: string) => {
    const s = r.splits.val[lab];
    const best = Math.max(...s.f1[last]), bestUntrained = Math.max(...s.f1[0]);
    return {
      text: `${name} clusters: best-layer F1 at epoch ${r.epochs[last]} (${f3(best)}) ≥ untrained best (${f3(bestUntrained)}) + ${E1_RULES.gain} ` +
        `and ≥ chance (${f3(s.chanceF1)}) + ${E1_RULES.gain}`,
      pass: best >= bestUntrained + E1_RULES.gain && best >= s.chanceF1 + E1_RULES.gain,
    };
  };
  const nx = r.splits.val.next.f1[last], L = r.layers.length - 1;
  return [
    gain("seed", "seed"), gain("next", "next-token"),
    { text: `the representation moves toward the next token: next-token F1 at layer ${L} (${f3(nx[L])}) > at layer 0 (${f3(nx[0])})`, pass: nx[L] > nx[0] },
  ];
}

const METRIC_NAMES: Record<Metric, string> = { f1: "macro F1 (Hungarian)", nmi: "NMI", ari: "ARI", purity: "purity" };

function panels(r: E1Result, split: "val" | "train", metrics: readonly Metric[]) {
  return metrics.flatMap((m) => S1_LABELS.map(([lab, name]) => lineChart({
    title: `${name}: ${METRIC_NAMES[m]}`, xLabel: "epoch", yLabel: METRIC_NAMES[m], width: 260, height: 200,
    series: [
      ...r.layers.map((l) => ({ name: `layer ${l}`, x: r.epochs, y: r.splits[split][lab][m].map((v) => v[l]) })),
      ...(m === "f1" ? [{ name: "chance", dash: "chance", x: r.epochs, y: r.epochs.map(() => r.splits[split][lab].chanceF1) }] : []),
    ],
  })));
}

async function report(json: ExpJson<E1Result>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const last = r.epochs.length - 1;
  const figs = [
    await figure(outDir, "e1_clustering_f1_val", grid({ title: "E1 (Fig. 1): clustering of h^l on validation positions across training (S1)", panels: panels(r, "val", ["f1"]), columns: 3 }),
      `k-means (D6) of h^l at ${r.n.val} validation positions, Hungarian-matched macro F1 against each label, per layer (colour) and epoch; dashed: a random assignment (chance).`),
    await figure(outDir, "e1_clustering_all_val", grid({ title: "E1 (appendix): all clustering scores, validation positions", panels: panels(r, "val", E1_METRICS), columns: 3 }),
      "Macro F1, NMI, ARI and purity per layer and epoch, validation positions."),
    await figure(outDir, "e1_clustering_all_train", grid({ title: "E1 (appendix): all clustering scores, training positions", panels: panels(r, "train", E1_METRICS), columns: 3 }),
      `The same on ${r.n.train} training positions.`),
  ];
  const v = verdictOf(judgeE1(r));
  const head = S1_LABELS.map(([lab, name]) => {
    const s = r.splits.val[lab], l = argmax(s.f1[last]);
    return `${name} (k = ${s.k}): best F1 ${f3(s.f1[last][l])} at layer ${l} (untrained ${f3(Math.max(...s.f1[0]))}, chance ${f3(s.chanceF1)}); ` +
      `F1 per layer ${s.f1[last].map(f3).join(", ")}`;
  });
  return {
    id: "E1", title: "Representations cluster by seed and next token (Fig. 1)",
    claim: "Representations cluster by what the inner loop needs, the identity of the task (seed) and the next token, and the " +
      "cluster quality per layer evolves during training (Fig. 1).",
    definition: `${r.definitions.D6 ?? "clustering: D6"}. Data: S1, validation (Fig. 1) and training positions (appendix); ` +
      "chance = a uniformly random assignment into k clusters scored the same way.",
    headline: [`at epoch ${r.epochs[last]}, validation: ${head[0]}`, ...head.slice(1), ...v.rules.map((t) => `rule: ${t}`)],
    held: v.held,
    figures: figs,
    tables: S1_LABELS.map(([lab, name]) => ({
      title: `Macro F1 (validation), ${name}: epoch (rows) × layer (columns)`,
      columns: ["epoch", ...r.layers.map((l) => `l=${l}`)],
      rows: r.epochs.map((e, i) => [e, ...r.splits.val[lab].f1[i]]),
    })),
    ...reportMeta(json),
  };
}

/** E1 as an {@link Experiment}. */
export const e1: Experiment<E1Result> = { id: "E1", title: "Clustering per layer across training (Fig. 1)", compute, report };
