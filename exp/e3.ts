// E3 (Fig. 3): attention over history (D5) on the S1 run across training. From each unseen
// validation sequence's query position, the share of the 10 most and the 10 least attended
// earlier positions that share its label (seed, next token, seed×next), per layer and epoch.
import { attentionHistory, type AttentionHistoryResult } from "../src/probes/attention-history";
import type { ExpJson, RunContext } from "./context";
import { s1Batches, s1Task } from "./data";
import { argmax, f3, figure, reportMeta, verdictOf, type Experiment } from "./experiment";
import { overSnapshots, runInfo, snapshotX } from "./passes";
import { grid, lineChart } from "./plot";
import type { ExperimentReport } from "./report";
import type { SharedRuns } from "./runs";

/** The three S1 labels, with their names in figures. */
export const S1_LABELS = [["seed", "seed"], ["next", "next token"], ["seedNext", "seed × next token"]] as const;

/** Shares of one label: [snapshot][layer]. */
export interface E3Shares {
  top: number[][];
  bottom: number[][];
  chance: number[][];
}

/** Everything E3 reports. */
export interface E3Result {
  definitions: Record<string, string>;
  run: Record<string, unknown>;
  epochs: number[];
  /** Block indices 0..L−1 (attention of block l). */
  layers: number[];
  k: number;
  /** Validation sequences with a usable query. */
  queries: number;
  labels: Record<string, E3Shares>;
}

/** Thresholds of the verdict: top-k at least `ratio`× the last-k share and above chance; growth over training. */
export const E3_RULES = { ratio: 2, growth: 0.1 };

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E3Result> {
  const run = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  const p = ctx.config.probes;
  const batches = s1Batches(task.val, Math.max(p.seqs, task.val.nSeq), p.batch);
  const labels = S1_LABELS.map(([k]) => k);
  let defs: Record<string, string> = {};
  const rows = await overSnapshots(ctx, "e3", run, async (_m, ps) => {
    const d5 = ps.add(attentionHistory({ labels, k: 10 }));
    const rep = await ps.evaluate(batches);
    defs = rep.definitions;
    return rep.get(d5) as AttentionHistoryResult;
  });
  const out: Record<string, E3Shares> = {};
  for (const l of labels) {
    out[l] = { top: rows.map((r) => r.labels[l].top), bottom: rows.map((r) => r.labels[l].bottom), chance: rows.map((r) => r.labels[l].chance) };
  }
  return {
    definitions: defs, run: runInfo(run), epochs: snapshotX(run), layers: rows[0].labels.seed.top.map((_, l) => l),
    k: rows[0].k, queries: rows[0].labels.seed.queries, labels: out,
  };
}

/** Best layer (largest top − bottom gap) of a label at a snapshot. */
export function bestLayer(s: E3Shares, snap: number): number {
  return argmax(s.top[snap].map((t, l) => t - s.bottom[snap][l]));
}

/** The verdict rules of E3. */
export function judgeE3(r: E3Result): { text: string; pass: boolean }[] {
  const last = r.epochs.length - 1;
  const rule = (lab: string, name: string) => {
    const s = r.labels[lab], l = bestLayer(s, last);
    const top = s.top[last][l], bot = s.bottom[last][l], chance = s.chance[last][l];
    return {
      text: `same-${name} share at epoch ${r.epochs[last]}, best layer ${l}: top-${r.k} ${f3(top)} ≥ ${E3_RULES.ratio}× last-${r.k} ${f3(bot)} ` +
        `and > chance ${f3(chance)}`, pass: top >= E3_RULES.ratio * bot && top > chance,
    };
  };
  const s = r.labels.seed, l = bestLayer(s, last);
  return [
    rule("seed", "seed"), rule("next", "next-token"),
    { text: `training builds it: top-${r.k} same-seed share at layer ${l} rises by ≥ ${E3_RULES.growth} from epoch ${r.epochs[0]} ` +
      `(${f3(s.top[0][l])}) to epoch ${r.epochs[last]} (${f3(s.top[last][l])})`, pass: s.top[last][l] >= s.top[0][l] + E3_RULES.growth },
  ];
}

async function report(json: ExpJson<E3Result>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const last = r.epochs.length - 1;
  const panels = S1_LABELS.map(([lab, name]) => lineChart({
    title: `label: ${name}`, xLabel: "epoch", yLabel: "share with the query's label", width: 300, height: 240,
    series: [
      ...r.layers.flatMap((l) => [
        { name: `layer ${l}`, dash: `top-${r.k} attended`, x: r.epochs, y: r.labels[lab].top.map((v) => v[l]) },
        { name: `layer ${l}`, dash: `last-${r.k} attended`, x: r.epochs, y: r.labels[lab].bottom.map((v) => v[l]) },
      ]),
      { name: "chance (all history)", dash: "chance", x: r.epochs, y: r.labels[lab].chance.map((v) => v[0]) },
    ],
  }));
  const fig = await figure(outDir, "e3_attention_history", grid({ title: "E3 (Fig. 3): attention over the history across training (S1)", panels, columns: 3 }),
    `From each validation sequence's query (its last labelled position), the share of the ${r.k} most attended (solid) and ${r.k} least ` +
    `attended (dashed) earlier positions with the query's label, mean over heads and ${r.queries} sequences, per layer (colour) and epoch; dotted: chance (all earlier positions).`);
  const v = verdictOf(judgeE3(r));
  const head = S1_LABELS.map(([lab, name]) => {
    const s = r.labels[lab], l = bestLayer(s, last);
    return `${name}: top-${r.k} share ${f3(s.top[last][l])} vs last-${r.k} ${f3(s.bottom[last][l])} at layer ${l} (chance ${f3(s.chance[last][l])})`;
  });
  return {
    id: "E3", title: "Attention retrieves same-label history (Fig. 3)",
    claim: "From an unseen instance, the most attended past positions share its label (the seed, the next token) far more often " +
      "than the least attended ones, and training builds this (Fig. 3).",
    definition: `${r.definitions.D5 ?? "attention over history: D5"}. Data: S1 validation sequences; epoch ${r.epochs[last]} is the final model.`,
    headline: [`at epoch ${r.epochs[last]}: ${head[0]}`, ...head.slice(1), ...v.rules.map((t) => `rule: ${t}`)],
    held: v.held,
    figures: [fig],
    tables: S1_LABELS.map(([lab, name]) => ({
      title: `Top-${r.k} / last-${r.k} same-${name} share per epoch (rows) and layer (columns)`,
      columns: ["epoch", ...r.layers.map((l) => `layer ${l}`)],
      rows: r.epochs.map((e, i) => [e, ...r.layers.map((l) => `${f3(r.labels[lab].top[i][l])} / ${f3(r.labels[lab].bottom[i][l])}`)]),
    })),
    ...reportMeta(json),
  };
}

/** E3 as an {@link Experiment}. */
export const e3: Experiment<E3Result> = { id: "E3", title: "Attention over history across training (Fig. 3)", compute, report };
