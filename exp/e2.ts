// E2 (Fig. 2): the bi-level view. Inner loss (D1, logit lens) per layer × epoch on the S1 run,
// as a heatmap and as lines, beside the outer (training) loss; D2 inner-gradient alignment per
// layer. Judged on ℓ¹…ℓᴸ (with tied embeddings the lens on h⁰ favours the current token, so ℓ⁰ is
// high by construction and is shown but flagged), against the untrained model and the same model
// on shuffled next-token targets; ℓᴸ against the unigram baseline.
import { meanFinite } from "../src/probes/host";
import { innerLoss, type InnerLossResult, type ProbeBatch, type ProbeSet } from "../src/probes/index";
import { grid, heatmap, lineChart } from "./plot";
import type { ExpJson, RunContext } from "./context";
import type { ExperimentReport } from "./report";
import { s1Batches, s1Task, shuffleTargets } from "./data";
import { bandOver, f3, figure, meanOver, nonIncreasing, reportMeta, type Experiment, type SeedResult } from "./experiment";
import { alignmentOf, alignmentFigure, meanCos, type AlignmentByLayer } from "./alignment";
import { overSnapshots, runInfo, snapshotX, withSnapshot } from "./passes";
import type { SharedRuns } from "./runs";
import { mean } from "./stats";
import { claimLine, combineClaims, judgeClaim, type Check, type ClaimSpec, type Verdict } from "./verdict";

/** One seed's E2 numbers. */
export interface E2Seed {
  definitions: Record<string, string>;
  run: Record<string, unknown>;
  /** Epoch of each snapshot (0 = untrained). */
  epochs: number[];
  /** Stream indices 0..L (h^0 = embeddings, h^L = last block's output). */
  layers: number[];
  /** ℓ^l per snapshot and layer on training sequences ([snapshot][layer]) and on validation. */
  innerTrain: number[][];
  innerVal: number[][];
  /** Outer loss: mean training loss of each epoch (epoch 1..E) and of every step. */
  outerEpoch: number[];
  outerEpochLoss: number[];
  stepLoss: number[];
  /** Validation loss (= ℓ^L on the source's validation batches) per snapshot. */
  valLoss: number[];
  unigram: number;
  /** log V: the inner loss of a uniform prediction. */
  logV: number;
  /** D2 per snapshot on validation sequences (same order as `epochs`). */
  alignment: AlignmentByLayer[];
  /** The shuffled-target control on validation sequences: ℓ^l at the first epoch-≥1 snapshot and at the end, and D2 at the end. */
  shuffled: { snapshots: number[]; innerVal: number[][]; alignment: AlignmentByLayer };
}

/** The claims E2 judges. */
export const E2_CLAIMS = {
  layers: {
    id: "falls-across-layers", text: "the inner loss falls across layers",
    effect: "ℓ¹ − ℓᴸ on validation sequences (nats)", better: "higher", minEffect: 0.05,
  },
  unigram: {
    id: "beats-unigram", text: "the last layer beats the unigram baseline",
    effect: "ℓᴸ on validation sequences (nats)", better: "lower", minEffect: 0.05,
  },
  training: {
    id: "falls-across-training", text: "the per-layer curve falls across training",
    effect: "mean over l = 1..L−1 of ℓ^l(epoch 1) − ℓ^l(final) (nats)", better: "higher", minEffect: 0.05,
  },
  alignment: {
    id: "descent-steps", text: "each layer's update points down the inner loss (D2)",
    effect: "mean over layers of cos(Δ^l, −g^l)", better: "higher", minEffect: 0.02,
  },
} as const satisfies Record<string, ClaimSpec>;

/** D1 on `batches` (the probe attached on first use). */
export async function innerLossOf(ps: ProbeSet, batches: readonly ProbeBatch[]): Promise<InnerLossResult> {
  const d1 = ps.probes.find((p) => p.name === "D1") ?? ps.add(innerLoss(), { every: 0 });
  return (await ps.evaluate(batches, { probes: [d1] })).get(d1) as InnerLossResult;
}

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E2Seed> {
  const run = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  const p = ctx.config.probes;
  const train = s1Batches(task.train, p.seqs, p.batch);
  const val = s1Batches(task.val, p.seqs, p.batch);
  const shuffledVal = shuffleTargets(val, ctx.seed);
  const defs: Record<string, string> = {};
  const rows = await overSnapshots(ctx, "e2", run, async (_model, ps) => {
    const a = await innerLossOf(ps, train);
    const b = await innerLossOf(ps, val);
    const align = await alignmentOf(ps, val, ctx.seed);
    Object.assign(defs, { D1: a.reading, D2: align.reading });
    return { tr: a.perLayer, va: b.perLayer, align };
  });
  const firstEpoch = Math.max(1, run.snapshots.findIndex((s) => (s.epoch ?? s.step) >= 1));
  const end = run.snapshots.length - 1;
  const shuffled = { snapshots: [firstEpoch, end], innerVal: [] as number[][], alignment: rows[end].align };
  for (const i of shuffled.snapshots) {
    await withSnapshot(ctx, run, run.snapshots[i], async (_m, ps) => {
      shuffled.innerVal.push((await innerLossOf(ps, shuffledVal)).perLayer);
      if (i === end) shuffled.alignment = await alignmentOf(ps, shuffledVal, ctx.seed);
    });
  }
  const per = run.stepsPerEpoch ?? run.steps;
  const nEpochs = Math.floor(run.steps / per);
  const outerEpoch = Array.from({ length: nEpochs }, (_, i) => i + 1);
  return {
    definitions: defs, run: runInfo(run), epochs: snapshotX(run), layers: rows[0].tr.map((_, l) => l),
    innerTrain: rows.map((r) => r.tr), innerVal: rows.map((r) => r.va),
    outerEpoch, outerEpochLoss: outerEpoch.map((e) => meanFinite(run.lossHistory.slice((e - 1) * per, e * per))),
    stepLoss: run.lossHistory, valLoss: run.snapshots.map((s) => s.valLoss), unigram: run.unigram, logV: Math.log(task.vocabSize),
    alignment: rows.map((r) => r.align), shuffled,
  };
}

/** ℓ¹ − ℓᴸ of a per-layer inner-loss curve (NaN with fewer than two blocks). */
export function dropAfterLayer0(curve: readonly number[]): number {
  return curve.length >= 3 ? curve[1] - curve[curve.length - 1] : NaN;
}

/** Tolerance of the monotonicity count (nats): a rise smaller than this between layers still counts as falling. */
export const MONOTONE_TOL = 0.01;

/** Checkpoints from epoch 1 on whose ℓ¹…ℓᴸ never rises by more than {@link MONOTONE_TOL}, and how many there are. */
export function monotoneCount(epochs: readonly number[], curves: readonly (readonly number[])[]): [number, number] {
  const idx = epochs.map((e, i) => [e, i]).filter(([e]) => e >= 1).map(([, i]) => i);
  return [idx.filter((i) => nonIncreasing(curves[i].slice(1), MONOTONE_TOL)).length, idx.length];
}

/** Mean over l = 1..L−1 of before[l] − after[l] (NaN without intermediate layers). */
export function intermediateFall(before: readonly number[], after: readonly number[]): number {
  return mean(before.slice(1, -1).map((b, i) => b - after[i + 1]));
}

/** E2's summary over seeds. */
export interface E2Summary {
  definitions: Record<string, string>;
  epochs: number[];
  layers: number[];
  /** [seed][snapshot][layer]. */
  innerTrain: number[][][];
  innerVal: number[][][];
  /** [seed][snapshot][layer] for the shuffled snapshots (first epoch-≥1 and final). */
  shuffledVal: number[][][];
  shuffledEpochs: number[];
  outerEpoch: number[];
  /** [seed][epoch]. */
  outerEpochLoss: number[][];
  valLoss: number[][];
  unigram: number[];
  logV: number;
  alignment: { trained: AlignmentByLayer[]; shuffled: AlignmentByLayer[]; untrained: AlignmentByLayer[] };
  verdict: Verdict;
}

function summarize(rs: readonly SeedResult<E2Seed>[]): E2Summary {
  const first = rs[0].result, seeds = rs.map((r) => r.seed);
  const end = first.epochs.length - 1;
  const claim = (spec: ClaimSpec, f: (s: E2Seed) => { effect: number; controls: Record<string, number> }) =>
    judgeClaim(spec, seeds, rs.map((r) => f(r.result)));
  const claims = [
    claim(E2_CLAIMS.layers, (s) => ({
      effect: dropAfterLayer0(s.innerVal[end]),
      controls: { "untrained model (step 0)": dropAfterLayer0(s.innerVal[0]), "shuffled targets": dropAfterLayer0(s.shuffled.innerVal[1]) },
    })),
    claim(E2_CLAIMS.unigram, (s) => ({
      effect: s.innerVal[end].at(-1)!, controls: { "unigram baseline": s.unigram, "untrained model (step 0)": s.innerVal[0].at(-1)! },
    })),
  ];
  if (first.layers.length >= 3) {
    const e1 = first.shuffled.snapshots[0];
    claims.push(claim(E2_CLAIMS.training, (s) => ({
      effect: intermediateFall(s.innerVal[e1], s.innerVal[end]),
      controls: { "shuffled targets": intermediateFall(s.shuffled.innerVal[0], s.shuffled.innerVal[1]) },
    })));
  }
  claims.push(claim(E2_CLAIMS.alignment, (s) => ({
    effect: meanCos(s.alignment[end]),
    controls: { "shuffled-target gradient": meanCos(s.shuffled.alignment), "untrained model (step 0)": meanCos(s.alignment[0]) },
  })));
  const l0 = mean(rs.map((r) => r.result.innerVal[end][0]));
  const rnd = mean(rs.map((r) => Math.abs(mean(r.result.alignment[end].cosRandom))));
  const checks: Check[] = [
    { text: `ℓ⁰ = ${f3(l0)} nats vs log V = ${f3(first.logV)}: with tied embeddings the lens on h⁰ favours the current token, so ℓ⁰ is ` +
      "high by construction; it is shown, and the claims judge ℓ¹…ℓᴸ only", value: l0, pass: true },
    { text: `random-direction sanity row: |mean cos| = ${f3(rnd)} ≤ 0.02`, value: rnd, pass: rnd <= 0.02 },
  ];
  return {
    definitions: first.definitions, epochs: first.epochs, layers: first.layers,
    innerTrain: rs.map((r) => r.result.innerTrain), innerVal: rs.map((r) => r.result.innerVal),
    shuffledVal: rs.map((r) => r.result.shuffled.innerVal), shuffledEpochs: first.shuffled.snapshots.map((i) => first.epochs[i]),
    outerEpoch: first.outerEpoch, outerEpochLoss: rs.map((r) => r.result.outerEpochLoss), valLoss: rs.map((r) => r.result.valLoss),
    unigram: rs.map((r) => r.result.unigram), logV: first.logV,
    alignment: {
      trained: rs.map((r) => r.result.alignment[end]), shuffled: rs.map((r) => r.result.shuffled.alignment),
      untrained: rs.map((r) => r.result.alignment[0]),
    },
    verdict: combineClaims(claims, checks),
  };
}

async function report(json: ExpJson<E2Summary>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const n = json.seeds.length;
  const ep = r.epochs.map((e) => `epoch ${e}`);
  const last = r.epochs.length - 1;
  const innerTrain = r.epochs.map((_, i) => meanOver(r.innerTrain.map((s) => s[i])));
  const heat = heatmap({
    title: "Inner loss (D1) per layer and epoch, training sequences", xLabel: "layer l (h^l; l = 0 flagged)", yLabel: "epoch",
    x: r.layers, y: r.epochs, z: innerTrain, colorLabel: "inner loss (nats)", width: 340, height: 260,
  });
  const lines = lineChart({
    title: "Inner loss over layers 1..L, one line per epoch", xLabel: "layer l (h^l)", yLabel: "inner loss (nats)", ordered: true,
    series: r.epochs.map((_, i) => ({ name: ep[i], x: r.layers.slice(1), y: innerTrain[i].slice(1) })), width: 340, height: 260,
  });
  const outer = lineChart({
    title: "Outer loss = training loss", xLabel: "epoch", yLabel: "cross-entropy (nats)",
    series: [
      { name: "training loss (epoch mean)", x: r.outerEpoch, ...bandOver(r.outerEpochLoss) },
      { name: "validation loss", x: r.epochs, ...bandOver(r.valLoss) },
      { name: "unigram baseline", dash: "baseline", x: [0, r.epochs[last]], y: [mean(r.unigram), mean(r.unigram)] },
    ], width: 340, height: 260,
  });
  const valPanel = lineChart({
    title: "Validation inner loss vs its controls", xLabel: "layer l (h^l)", yLabel: "inner loss (nats)", width: 340, height: 260,
    series: [
      { name: `final (epoch ${r.epochs[last]})`, x: r.layers, ...bandOver(r.innerVal.map((s) => s[last])) },
      { name: "untrained (epoch 0)", dash: "control", x: r.layers, ...bandOver(r.innerVal.map((s) => s[0])) },
      { name: "final, shuffled targets", dash: "control", x: r.layers, ...bandOver(r.shuffledVal.map((s) => s[1])) },
      { name: "unigram baseline", dash: "baseline", x: [0, r.layers.at(-1)!], y: [mean(r.unigram), mean(r.unigram)] },
      { name: "log V (uniform)", dash: "baseline", x: [0, r.layers.at(-1)!], y: [r.logV, r.logV] },
    ],
  });
  const figs = [
    await figure(outDir, "e2_inner_loss", grid({ title: "E2 (Fig. 2): inner optimization across layers and epochs, outer loss", panels: [heat, lines, outer], columns: 3, independentColor: true }),
      `(a) Inner loss ℓ^l (logit lens, D1) on S1 training sequences per layer and epoch (mean over ${n} seed(s)), as a heatmap and as lines ` +
      "over layers 1..L (ℓ⁰ is high by construction with tied embeddings); (b) the outer loss, i.e. the training loss per epoch, with " +
      "validation loss and the unigram baseline; bands = 95% interval over seeds."),
    await figure(outDir, "e2_inner_loss_val", valPanel,
      "Inner loss per layer on unseen S1 validation sequences: the final model against the untrained model and against the final model " +
      "scored on shuffled next-token targets; mean and 95% interval over seeds."),
    await alignmentFigure(outDir, "e2_alignment", "E2: does each layer step along the inner loss's negative gradient? (D2, S1)",
      [{ name: `S1 model (epoch ${r.epochs[last]})`, ...r.alignment }]),
  ];
  const v = r.verdict;
  return {
    id: "E2", title: "Bi-level optimization: inner loss across layers and epochs",
    claim: "Inside one forward pass the layers act as an inner loop that lowers the loss of the current token's representation " +
      "for predicting the next token: the inner loss falls across layers, the whole per-layer curve falls across training epochs, " +
      "and the outer loss is the training loss (Fig. 2).",
    definition: `${r.definitions.D1 ?? "inner loss: logit-lens CE, D1"}. ${r.definitions.D2 ?? ""} Data: S1 seeds task; epochs are ` +
      `passes over the training sequences; ${n} seed(s).`,
    headline: [
      ...v.claims.map(claimLine),
      `validation inner loss per layer at epoch ${r.epochs[last]} (mean over seeds): ${meanOver(r.innerVal.map((s) => s[last])).map(f3).join(" → ")} ` +
      `(ℓ⁰ flagged); untrained ${meanOver(r.innerVal.map((s) => s[0])).map(f3).join(" → ")}; unigram ${f3(mean(r.unigram))}`,
      `ℓ¹…ℓᴸ non-increasing (tolerance ${MONOTONE_TOL} nats) in ${r.innerTrain.map((s) => monotoneCount(r.epochs, s).join("/")).join(", ")} ` +
      "checkpoints from epoch 1 (per seed, training sequences)",
    ],
    held: v.held,
    figures: figs,
    tables: [{
      title: "Inner loss ℓ^l (nats) on training sequences, mean over seeds, per epoch (rows) and layer (columns)",
      columns: ["epoch", ...r.layers.map((l) => `l=${l}`)],
      rows: r.epochs.map((e, i) => [e, ...innerTrain[i].map(f3)]),
    }],
    ...reportMeta(json),
  };
}

/** E2 as an {@link Experiment}. */
export const e2: Experiment<E2Seed, E2Summary> = {
  id: "E2", title: "Inner loss across layers and epochs (Fig. 2)", compute, summarize: (rs) => summarize(rs), report,
};
