// E3 (Fig. 3): attention over history (D5) on the S1 run across training. From every query
// position of the unseen validation sequences, per layer and head, the share of the 10 most and
// the 10 least attended earlier positions that share the query's label (seed, next token,
// seed×next), beside the recency, distance-matched and chance baselines and the untrained model.
// The layer and head are chosen on training sequences and judged on validation sequences.
import { attentionHistory, type AttentionHistoryResult } from "../src/probes/attention-history";
import type { ProbeBatch, ProbeSet } from "../src/probes/index";
import type { ExpConfig } from "./config";
import type { ExpJson, RunContext } from "./context";
import { s1Batches, s1Task } from "./data";
import { bandOver, f3, figure, reportMeta, type Experiment, type SeedResult } from "./experiment";
import { overSnapshots, runInfo, snapshotX, withSnapshot } from "./passes";
import { grid, lineChart } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";
import { claimLine, combineClaims, judgeClaim, type ClaimSpec, type Verdict } from "./verdict";

/** The three S1 labels, with their names in figures. */
export const S1_LABELS = [["seed", "seed"], ["next", "next token"], ["seedNext", "seed × next token"]] as const;

/** The D5 statistics E3 keeps, each [layer][head]. */
export const E3_STATS = ["top", "bottom", "recency", "distance", "chance"] as const;
type Stat = (typeof E3_STATS)[number];

/** One label's shares in one seed. */
export interface E3Label {
  /** Validation shares per snapshot, layer and head: stat → [snapshot][layer][head]. */
  val: Record<Stat, number[][][]>;
  /** Training-sequence shares of the final model, stat → [layer][head] (where the layer and head are chosen). */
  train: Record<Stat, number[][]>;
}

/** One seed's E3 numbers. */
export interface E3Seed {
  definitions: Record<string, string>;
  run: Record<string, unknown>;
  epochs: number[];
  /** Block indices 0..L−1 (attention of block l). */
  layers: number[];
  heads: number;
  k: number;
  /** Validation query positions that contributed (seed label). */
  queries: number;
  labels: Record<string, E3Label>;
}

/** The claims E3 judges (labels seed and next token). */
export const E3_CLAIMS: readonly (ClaimSpec & { label: string })[] = [
  {
    id: "seed-retrieval", label: "seed", text: "the most attended history shares the query's seed",
    effect: "top-10 same-seed share at the layer/head chosen on training sequences", better: "higher", minEffect: 0.05,
  },
  {
    id: "next-retrieval", label: "next", text: "the most attended history shares the query's next token",
    effect: "top-10 same-next-token share at the layer/head chosen on training sequences", better: "higher", minEffect: 0.05,
  },
];

/** The D5 probe as E3 configures it. */
function d5Of(config: ExpConfig, seed: number) {
  const p = config.probes;
  return attentionHistory({
    labels: S1_LABELS.map(([k]) => k), k: 10, minHistory: p.d5MinHistory, seed,
    ...(p.d5Queries > 0 ? { maxQueriesPerSeq: p.d5Queries } : {}),
  });
}

/** Runs D5 over `batches` with the ProbeSet's model. */
export async function measureD5(ps: ProbeSet, batches: readonly ProbeBatch[], config: ExpConfig, seed: number): Promise<AttentionHistoryResult> {
  const d5 = ps.add(d5Of(config, seed));
  const r = (await ps.evaluate(batches, { probes: [d5] })).get(d5) as AttentionHistoryResult;
  return r;
}

/** One seed's E3 numbers from D5 on validation sequences per snapshot (in order) and on training sequences of the final model. */
export function e3Seed(val: readonly AttentionHistoryResult[], train: AttentionHistoryResult, meta: Pick<E3Seed, "run" | "epochs">): E3Seed {
  const labels: Record<string, E3Label> = {};
  for (const [lab] of S1_LABELS) {
    const pick = (r: AttentionHistoryResult, s: Stat) => r.labels[lab].byHead[s];
    labels[lab] = {
      val: Object.fromEntries(E3_STATS.map((s) => [s, val.map((r) => pick(r, s))])) as Record<Stat, number[][][]>,
      train: Object.fromEntries(E3_STATS.map((s) => [s, pick(train, s)])) as Record<Stat, number[][]>,
    };
  }
  const first = val[0].labels.seed;
  return {
    definitions: { D5: val[0].reading }, ...meta, layers: first.top.map((_, l) => l), heads: first.byHead.top[0]?.length ?? 0,
    k: val[0].k, queries: val.at(-1)!.labels.seed.queries, labels,
  };
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E3Seed> {
  const run = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  const p = ctx.config.probes;
  const val = s1Batches(task.val, Math.max(p.seqs, task.val.nSeq), p.batch);
  const train = s1Batches(task.train, Math.max(p.seqs, task.val.nSeq), p.batch);
  const rows = await overSnapshots(ctx, "e3", run, (_m, ps) => measureD5(ps, val, ctx.config, ctx.seed));
  const last = await withSnapshot(ctx, run, run.snapshots.at(-1)!, (_m, ps) => measureD5(ps, train, ctx.config, ctx.seed));
  return e3Seed(rows, last, { run: runInfo(run), epochs: snapshotX(run) });
}

/** The layer and head of a label chosen on training sequences: the largest top-k share above its recency and distance baselines. */
export function chooseHead(lab: E3Label): [number, number] {
  let best: [number, number] = [0, 0], score = -Infinity;
  lab.train.top.forEach((row, l) => row.forEach((t, h) => {
    const s = t - Math.max(lab.train.recency[l][h], lab.train.distance[l][h]);
    if (s > score) [best, score] = [[l, h], s];
  }));
  return best;
}

/** Per label: each seed's chosen (layer, head) and its curves over epochs; per layer means over heads at the end. */
export interface E3LabelSummary {
  chosen: [number, number][];
  /** stat → [seed][snapshot] at each seed's chosen layer and head. */
  atChosen: Record<Stat, number[][]>;
  /** stat → [seed][layer]: final validation shares averaged over heads. */
  finalByLayer: Record<Stat, number[][]>;
}

/** E3's summary over seeds. */
export interface E3Summary {
  definitions: Record<string, string>;
  epochs: number[];
  layers: number[];
  heads: number;
  k: number;
  queries: number[];
  labels: Record<string, E3LabelSummary>;
  verdict: Verdict;
}

function summarize(rs: readonly SeedResult<E3Seed>[]): E3Summary {
  const first = rs[0].result, seeds = rs.map((r) => r.seed);
  const labels: Record<string, E3LabelSummary> = {};
  for (const [lab] of S1_LABELS) {
    const chosen = rs.map((r) => chooseHead(r.result.labels[lab]));
    const stat = <T>(f: (v: number[][][], i: number) => T) =>
      Object.fromEntries(E3_STATS.map((s) => [s, rs.map((r, i) => f(r.result.labels[lab].val[s], i))])) as Record<Stat, T[]>;
    labels[lab] = {
      chosen,
      atChosen: stat((v, i) => v.map((snap) => snap[chosen[i][0]][chosen[i][1]])),
      finalByLayer: stat((v) => v.at(-1)!.map((heads) => heads.reduce((a, x) => a + x, 0) / heads.length)),
    };
  }
  const claims = E3_CLAIMS.map(({ label, ...spec }) => judgeClaim(spec, seeds, rs.map((r, i) => {
    const v = r.result.labels[label].val, [l, h] = labels[label].chosen[i], end = v.top.length - 1;
    return {
      effect: v.top[end][l][h],
      controls: {
        "recency (10 most recent)": v.recency[end][l][h], "distance-matched": v.distance[end][l][h],
        "untrained model (step 0)": v.top[0][l][h], "least attended (last-10)": v.bottom[end][l][h], "chance (all history)": v.chance[end][l][h],
      },
    };
  })));
  return {
    definitions: first.definitions, epochs: first.epochs, layers: first.layers, heads: first.heads, k: first.k,
    queries: rs.map((r) => r.result.queries), labels, verdict: combineClaims(claims),
  };
}

const STAT_NAMES: Record<Stat, string> = {
  top: "top-10 attended", bottom: "last-10 attended", recency: "10 most recent", distance: "distance-matched", chance: "chance (all history)",
};

async function report(json: ExpJson<E3Summary>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const n = json.seeds.length;
  const curves = S1_LABELS.map(([lab, name]) => lineChart({
    title: `label: ${name}`, xLabel: "epoch", yLabel: "share with the query's label", width: 300, height: 240,
    series: E3_STATS.map((s) => ({ name: STAT_NAMES[s], x: r.epochs, ...bandOver(r.labels[lab].atChosen[s]) })),
  }));
  const byLayer = S1_LABELS.map(([lab, name]) => lineChart({
    title: `label: ${name}, final model`, xLabel: "layer l (attention of block l)", yLabel: "share (mean over heads)", width: 300, height: 240,
    series: E3_STATS.map((s) => ({ name: STAT_NAMES[s], x: r.layers, ...bandOver(r.labels[lab].finalByLayer[s]) })),
  }));
  const figs = [
    await figure(outDir, "e3_attention_history", grid({ title: "E3 (Fig. 3): attention over the history across training (S1)", panels: curves, columns: 3 }),
      `At each seed's layer and head chosen on training sequences: the share of the ${r.k} most attended and ${r.k} least attended ` +
      `earlier positions with the query's label, and the baselines (the ${r.k} most recent positions, ${r.k} positions drawn with the ` +
      `top-${r.k}'s distance distribution, all earlier positions), over every validation query with ≥ 20 earlier positions ` +
      `(${r.queries.join(", ")} queries per seed); mean over ${n} seed(s), band = 95% interval over seeds.`),
    await figure(outDir, "e3_by_layer", grid({ title: "E3: final model, per layer (mean over heads)", panels: byLayer, columns: 3 }),
      "The same shares for the final model per layer, averaged over heads; mean and 95% interval over seeds."),
  ];
  const v = r.verdict;
  return {
    id: "E3", title: "Attention retrieves same-label history (Fig. 3)",
    claim: "From an unseen instance, the most attended past positions share its label (the seed, the next token) far more often " +
      "than the least attended ones, and than attention that only looks at recent positions could explain (Fig. 3).",
    definition: `${r.definitions.D5 ?? "attention over history: D5"}. Data: S1 validation sequences (judged) and training sequences ` +
      `(where each seed's layer and head are chosen); epoch ${r.epochs.at(-1)} is the final model; ${n} seed(s).`,
    headline: [
      ...v.claims.map(claimLine),
      ...S1_LABELS.map(([lab, name]) => `${name}: chosen (layer, head) per seed ${r.labels[lab].chosen.map(([l, h]) => `(${l}, ${h})`).join(", ")}`),
    ],
    held: v.held,
    figures: figs,
    tables: S1_LABELS.map(([lab, name]) => ({
      title: `Final model, same-${name} share per layer (mean over heads and seeds): top-10 / recency / distance-matched / chance`,
      columns: ["layer", ...E3_STATS.map((s) => STAT_NAMES[s])],
      rows: r.layers.map((l) => [l, ...E3_STATS.map((s) => f3(bandOver(r.labels[lab].finalByLayer[s]).y[l]))]),
    })),
    ...reportMeta(json),
  };
}

/** E3 as an {@link Experiment}. */
export const e3: Experiment<E3Seed, E3Summary> = {
  id: "E3", title: "Attention over history across training (Fig. 3)", compute, summarize: (rs) => summarize(rs), report,
};
