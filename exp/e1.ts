// E1 (Fig. 1 and its appendix variants): clustering of representations (D6) per layer across the
// S1 run's training, against three labels (seed, next token, seed×next token), on validation and
// training positions; macro F1 (Fig. 1) plus NMI, ARI and purity. Controls, scored with the same
// clusters: labels permuted across positions (chance), seed labels reassigned at random to whole
// segments (segment identity: what contiguity alone earns), layer 0 and the untrained model. The
// judged layer is chosen on training positions and scored on validation positions.
import { clustering, type ClusteringResult } from "../src/probes/clustering";
import { matchedMacroF1, mulberry32 } from "../src/probes/metrics";
import type { ProbeBatch, ProbeSet } from "../src/probes/index";
import type { ExpConfig } from "./config";
import type { ExpJson, RunContext } from "./context";
import { s1Batches, s1Task } from "./data";
import { argmax, bandOver, f3, figure, reportMeta, type Experiment, type SeedResult } from "./experiment";
import { mean } from "./stats";
import { S1_LABELS } from "./e3";
import { overSnapshots, runInfo, snapshotX } from "./passes";
import { grid, lineChart } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";
import { claimLine, combineClaims, judgeClaim, type ClaimSpec, type Verdict } from "./verdict";

/** The scores D6 reports. */
export const E1_METRICS = ["f1", "nmi", "ari", "purity"] as const;
type Metric = (typeof E1_METRICS)[number];

/** Scores of one label on one split: metric → [snapshot][layer], plus the controls scored with the same clusters. */
export interface E1Scores {
  k: number;
  f1: number[][];
  nmi: number[][];
  ari: number[][];
  purity: number[][];
  /** Macro F1 against the labels permuted across the sampled positions (chance), [snapshot][layer]. */
  permutedF1: number[][];
  /** Seed label only: macro F1 against seed labels reassigned at random to whole segments, [snapshot][layer]. */
  segmentF1?: number[][];
}

/** One seed's E1 numbers. */
export interface E1Seed {
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

/** The claims E1 judges. */
export const E1_CLAIMS: readonly (ClaimSpec & { label: "seed" | "next" })[] = [
  {
    id: "seed-clusters", label: "seed", text: "representations cluster by seed",
    effect: "macro F1 (seed) at the layer chosen on training positions", better: "higher", minEffect: 0.05,
  },
  {
    id: "next-clusters", label: "next", text: "representations cluster by the next token",
    effect: "macro F1 (next token) at the layer chosen on training positions", better: "higher", minEffect: 0.05,
  },
];

/** Segment id of every position of the batches (a segment runs between separators, i.e. unlabelled seed positions). */
export function segmentIds(batches: readonly ProbeBatch[]): Int32Array[] {
  let next = 0;
  return batches.map((b) => {
    const seed = b.labels!.seed, out = new Int32Array(b.B * b.T).fill(-1);
    for (let r = 0; r < b.B; r++) {
      let open = false;
      for (let t = 0; t < b.T; t++) {
        const i = r * b.T + t;
        if (seed[i] < 0) { open = false; continue; }
        if (!open) { next++; open = true; }
        out[i] = next;
      }
    }
    return out;
  });
}

/** Labels permuted across positions (chance control), deterministic from `seed`. */
function permuted(y: Int32Array, seed: number): Int32Array {
  const p = Int32Array.from(y), rng = mulberry32(seed);
  for (let i = p.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Seed labels reassigned to whole segments: the segments' seeds shuffled among the segments. */
function segmentShuffled(y: Int32Array, seg: Int32Array, seed: number): Int32Array {
  const ids = [...new Set(seg)];
  const seeds = ids.map((s) => y[seg.indexOf(s)]);
  const shuffled = Array.from(permuted(Int32Array.from(seeds), seed));
  const of = new Map(ids.map((s, i) => [s, shuffled[i]]));
  return Int32Array.from(seg, (s) => of.get(s)!);
}

const REPEATS = 3;
const meanOf = (f: (r: number) => number) => Array.from({ length: REPEATS }, (_, r) => f(r)).reduce((a, v) => a + v, 0) / REPEATS;

/** Scores of one split from D6 results per snapshot (in order), with the controls scored with the same clusters. */
export function e1Scores(rows: readonly ClusteringResult[], batches: readonly ProbeBatch[], labels: readonly string[], seed: number): Record<string, E1Scores> {
  const segs = segmentIds(batches);
  const pos = rows[0].positions;
  const seg = Int32Array.from(pos, (q) => segs[q.forward][q.index]);
  const out: Record<string, E1Scores> = {};
  for (const lab of labels) {
    const y = Int32Array.from(pos, (q) => batches[q.forward].labels![lab][q.index]);
    const per = (m: Metric) => rows.map((r) => r.labels[lab][m]);
    const score = (f: (assign: Int32Array) => number) => rows.map((r) => r.labels[lab].assign.map(f));
    out[lab] = {
      k: rows[0].labels[lab].k, f1: per("f1"), nmi: per("nmi"), ari: per("ari"), purity: per("purity"),
      permutedF1: score((a) => meanOf((i) => matchedMacroF1(a, permuted(y, seed * 31 + i)))),
      ...(lab === "seed" ? { segmentF1: score((a) => meanOf((i) => matchedMacroF1(a, segmentShuffled(y, seg, seed * 31 + i)))) } : {}),
    };
  }
  return out;
}

/** The D6 probe as E1 configures it. */
export function d6Of(config: ExpConfig, seed: number) {
  const p = config.probes;
  return clustering({ labels: S1_LABELS.map(([k]) => k), samples: p.clusterPositions, restarts: p.kmeansRestarts, iters: p.kmeansIters, seed });
}

/** Runs D6 over `batches` with the ProbeSet's model (attaching the probe on first use). */
export async function measureD6(ps: ProbeSet, batches: readonly ProbeBatch[], config: ExpConfig, seed: number): Promise<ClusteringResult> {
  const d6 = ps.probes.find((p) => p.name === "D6") ?? ps.add(d6Of(config, seed));
  return (await ps.evaluate(batches, { probes: [d6] })).get(d6) as ClusteringResult;
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E1Seed> {
  const run = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  const p = ctx.config.probes;
  const labels = S1_LABELS.map(([k]) => k);
  const batches = { val: s1Batches(task.val, p.seqs, p.batch), train: s1Batches(task.train, p.seqs, p.batch) };
  let defs: Record<string, string> = {};
  const rows = await overSnapshots(ctx, "e1", run, async (_m, ps) => {
    const val = await measureD6(ps, batches.val, ctx.config, ctx.seed);
    const train = await measureD6(ps, batches.train, ctx.config, ctx.seed);
    defs = { D6: val.reading };
    return { val, train };
  });
  return {
    definitions: defs, run: runInfo(run), epochs: snapshotX(run), layers: rows[0].val.labels.seed.f1.map((_, l) => l),
    n: { val: rows[0].val.n, train: rows[0].train.n },
    splits: {
      val: e1Scores(rows.map((r) => r.val), batches.val, labels, ctx.seed),
      train: e1Scores(rows.map((r) => r.train), batches.train, labels, ctx.seed),
    },
  };
}

/** The layer a label is judged at: the best final-model F1 on training positions. */
export function chooseLayer(s: E1Seed, label: string): number {
  return argmax(s.splits.train[label].f1.at(-1)!);
}

/** E1's summary over seeds. */
export interface E1Summary {
  definitions: Record<string, string>;
  epochs: number[];
  layers: number[];
  n: { val: number; train: number };
  /** label → each seed's chosen layer. */
  chosen: Record<string, number[]>;
  /** split → label → metric (plus permutedF1 / segmentF1) → [seed][snapshot][layer]. */
  splits: Record<"val" | "train", Record<string, Record<string, number[][][]>>>;
  verdict: Verdict;
}

function summarize(rs: readonly SeedResult<E1Seed>[]): E1Summary {
  const first = rs[0].result, seeds = rs.map((r) => r.seed);
  const chosen = Object.fromEntries(S1_LABELS.map(([lab]) => [lab, rs.map((r) => chooseLayer(r.result, lab))]));
  const claims = E1_CLAIMS.map(({ label, ...spec }) => judgeClaim(spec, seeds, rs.map((r, i) => {
    const s = r.result.splits.val[label], l = chosen[label][i], end = s.f1.length - 1;
    const controls: Record<string, number> = {
      "untrained model (step 0)": s.f1[0][l], "permuted labels (chance)": s.permutedF1[end][l],
    };
    if (label === "seed") controls["segment-shuffled seeds (segment identity)"] = s.segmentF1![end][l];
    else controls["layer 0 (h⁰ = embeddings)"] = s.f1[end][0];
    return { effect: s.f1[end][l], controls };
  })));
  const splits = { val: {}, train: {} } as E1Summary["splits"];
  for (const split of ["val", "train"] as const) {
    for (const [lab] of S1_LABELS) {
      const keys = Object.keys(first.splits[split][lab]).filter((k) => k !== "k") as (keyof E1Scores)[];
      splits[split][lab] = Object.fromEntries(keys.map((k) => [k, rs.map((r) => r.result.splits[split][lab][k] as number[][])]));
    }
  }
  return {
    definitions: first.definitions, epochs: first.epochs, layers: first.layers, n: first.n, chosen, splits,
    verdict: combineClaims(claims),
  };
}

const METRIC_NAMES: Record<string, string> = {
  f1: "macro F1 (Hungarian)", nmi: "NMI", ari: "ARI", purity: "purity", permutedF1: "F1, permuted labels", segmentF1: "F1, segment-shuffled seeds",
};

function panels(r: E1Summary, split: "val" | "train", metrics: readonly string[]) {
  return metrics.flatMap((m) => S1_LABELS.map(([lab, name]) => {
    const perLayer = (key: string, l: number) => bandOver(r.splits[split][lab][key].map((seed) => seed.map((snap) => snap[l])));
    return lineChart({
      title: `${name}: ${METRIC_NAMES[m]}`, xLabel: "epoch", yLabel: METRIC_NAMES[m], width: 260, height: 200,
      series: [
        ...r.layers.map((l) => ({ name: `layer ${l}`, x: r.epochs, ...perLayer(m, l) })),
        ...(m === "f1" ? [{ name: "permuted labels (chance)", dash: "control", x: r.epochs, ...perLayer("permutedF1", r.layers.length - 1) }] : []),
        ...(m === "f1" && lab === "seed" ? [{ name: "segment-shuffled seeds", dash: "control", x: r.epochs, ...perLayer("segmentF1", r.layers.length - 1) }] : []),
      ],
    });
  }));
}

async function report(json: ExpJson<E1Summary>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const n = json.seeds.length;
  const figs = [
    await figure(outDir, "e1_clustering_f1_val", grid({ title: "E1 (Fig. 1): clustering of h^l on validation positions across training (S1)", panels: panels(r, "val", ["f1"]), columns: 3 }),
      `k-means (D6) of h^l at ${r.n.val} validation positions, Hungarian-matched macro F1 against each label, per layer (colour) and epoch; ` +
      `dashed: the same clusters scored against permuted labels and, for the seed, against seeds reassigned to whole segments (last layer). ` +
      `Mean over ${n} seed(s), band = 95% interval over seeds.`),
    await figure(outDir, "e1_clustering_all_val", grid({ title: "E1 (appendix): all clustering scores, validation positions", panels: panels(r, "val", ["f1", "nmi", "ari", "purity"]), columns: 3 }),
      "Macro F1, NMI, ARI and purity per layer and epoch, validation positions; mean and 95% interval over seeds."),
    await figure(outDir, "e1_clustering_all_train", grid({ title: "E1 (appendix): all clustering scores, training positions", panels: panels(r, "train", ["f1", "nmi", "ari", "purity"]), columns: 3 }),
      `The same on ${r.n.train} training positions (where the judged layer is chosen).`),
  ];
  const v = r.verdict;
  const end = r.epochs.length - 1;
  return {
    id: "E1", title: "Representations cluster by seed and next token (Fig. 1)",
    claim: "Representations cluster by what the inner loop needs, the identity of the task (seed) and the next token, and the " +
      "cluster quality per layer evolves during training (Fig. 1).",
    definition: `${r.definitions.D6 ?? "clustering: D6"}. Data: S1, validation (Fig. 1, judged) and training positions (appendix; ` +
      "where each seed's judged layer is chosen). Controls use the same clusters: permuted labels (chance), seeds reassigned " +
      "to whole segments (what segment contiguity alone earns), layer 0 (next token) and the untrained model.",
    headline: [
      ...v.claims.map(claimLine),
      ...S1_LABELS.map(([lab, name]) => `${name}: final F1 per layer (validation, mean over seeds) ` +
        `${r.layers.map((l) => f3(mean(r.splits.val[lab].f1.map((s) => s[end][l])))).join(", ")}; chosen layer per seed ${r.chosen[lab].join(", ")}`),
    ],
    held: v.held,
    figures: figs,
    tables: S1_LABELS.map(([lab, name]) => ({
      title: `Macro F1 (validation, mean over seeds), ${name}: epoch (rows) × layer (columns)`,
      columns: ["epoch", ...r.layers.map((l) => `l=${l}`)],
      rows: r.epochs.map((e, i) => [e, ...r.layers.map((l) => f3(mean(r.splits.val[lab].f1.map((s) => s[i][l]))))]),
    })),
    ...reportMeta(json),
  };
}

/** E1 as an {@link Experiment}. */
export const e1: Experiment<E1Seed, E1Summary> = {
  id: "E1", title: "Clustering per layer across training (Fig. 1)", compute, summarize: (rs) => summarize(rs), report,
};
