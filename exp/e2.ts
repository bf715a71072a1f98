// E2 (Fig. 2): the bi-level view. Inner loss (D1, logit lens) per layer × epoch on the S1 run,
// as a heatmap and as lines, beside the outer (training) loss; D2 inner-gradient alignment per
// layer with the random-direction and untrained-model controls.
import { meanFinite } from "../src/probes/host";
import { innerLoss, type InnerLossResult } from "../src/probes/index";
import { grid, heatmap, lineChart } from "./plot";
import type { ExpJson, RunContext } from "./context";
import type { ExperimentReport } from "./report";
import { s1Batches, s1Task } from "./data";
import { f3, figure, nonIncreasing, reportMeta, verdictOf, type Experiment } from "./experiment";
import { alignmentOf, alignmentFigure, alignmentRules, type AlignmentByLayer } from "./alignment";
import { overSnapshots, runInfo, snapshotX } from "./passes";
import type { SharedRuns } from "./runs";

/** Everything E2 reports. */
export interface E2Result {
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
  /** D2 per snapshot (same order as `epochs`). */
  alignment: AlignmentByLayer[];
}

/** Rule thresholds of the verdict. */
export const E2_RULES = { monotoneShare: 0.8, tol: 0.01, fromEpoch: 1 };

async function compute(ctx: RunContext, runs: SharedRuns): Promise<E2Result> {
  const run = await runs.s1();
  const task = s1Task(ctx.config, ctx.seed);
  const p = ctx.config.probes;
  const train = s1Batches(task.train, p.seqs, p.batch);
  const val = s1Batches(task.val, p.seqs, p.batch);
  const defs: Record<string, string> = {};
  const rows = await overSnapshots(ctx, "e2", run, async (_model, ps) => {
    const d1 = ps.add(innerLoss(), { every: 0 });
    const a = await ps.evaluate(train, { probes: [d1] });
    const b = await ps.evaluate(val, { probes: [d1] });
    Object.assign(defs, a.definitions);
    const align = await alignmentOf(ps, val, ctx.seed);
    defs.D2 = align.reading;
    return { tr: a.get(d1) as InnerLossResult, va: b.get(d1) as InnerLossResult, align };
  });
  const per = run.stepsPerEpoch ?? run.steps;
  const nEpochs = Math.floor(run.steps / per);
  const outerEpoch = Array.from({ length: nEpochs }, (_, i) => i + 1);
  const outerEpochLoss = outerEpoch.map((e) => meanFinite(run.lossHistory.slice((e - 1) * per, e * per)));
  return {
    definitions: defs, run: runInfo(run), epochs: snapshotX(run),
    layers: rows[0].tr.perLayer.map((_, l) => l),
    innerTrain: rows.map((r) => r.tr.perLayer), innerVal: rows.map((r) => r.va.perLayer),
    outerEpoch, outerEpochLoss, stepLoss: run.lossHistory, valLoss: run.snapshots.map((s) => s.valLoss),
    unigram: run.unigram, alignment: rows.map((r) => r.align),
  };
}

/** The verdict rules of E2, applied to its numbers. */
export function judgeE2(r: E2Result): { rules: { text: string; pass: boolean }[]; monotone: number; considered: number } {
  const idx = r.epochs.map((e, i) => [e, i]).filter(([e]) => e >= E2_RULES.fromEpoch).map(([, i]) => i);
  const monotone = idx.filter((i) => nonIncreasing(r.innerTrain[i], E2_RULES.tol)).length;
  const first = idx[0], last = idx.at(-1)!;
  const L = r.layers.length - 1;
  const fell = r.layers.filter((l) => l >= 1 && r.innerTrain[last][l] < r.innerTrain[first][l]).length;
  const rules = [
    { text: `inner loss (train) non-increasing over layers (tolerance ${E2_RULES.tol}) in ≥ ${E2_RULES.monotoneShare * 100}% of ` +
      `checkpoints from epoch ${E2_RULES.fromEpoch}: ${monotone}/${idx.length}`, pass: idx.length > 0 && monotone >= E2_RULES.monotoneShare * idx.length },
    { text: `the per-layer curve falls across training: ℓ^l(epoch ${r.epochs[last]}) < ℓ^l(epoch ${r.epochs[first]}) for ` +
      `≥ ${E2_RULES.monotoneShare * 100}% of layers 1..${L}: ${fell}/${L}`, pass: L > 0 && fell >= E2_RULES.monotoneShare * L },
    ...alignmentRules(r.alignment.at(-1)!, r.alignment[0]),
  ];
  return { rules, monotone, considered: idx.length };
}

async function report(json: ExpJson<E2Result>, outDir: string): Promise<ExperimentReport> {
  const r = json.result;
  const ep = r.epochs.map((e) => `epoch ${e}`);
  const last = r.epochs.length - 1, L = r.layers.length - 1;
  const heat = heatmap({
    title: "Inner loss (D1) per layer and epoch, training sequences", xLabel: "layer l (h^l)", yLabel: "epoch",
    x: r.layers, y: r.epochs, z: r.innerTrain, colorLabel: "inner loss (nats)", width: 340, height: 260,
  });
  const lines = lineChart({
    title: "Inner loss over layers, one line per epoch", xLabel: "layer l (h^l)", yLabel: "inner loss (nats)", ordered: true,
    series: r.epochs.map((_, i) => ({ name: ep[i], x: r.layers, y: r.innerTrain[i] })), width: 340, height: 260,
  });
  const outer = lineChart({
    title: "Outer loss = training loss", xLabel: "epoch", yLabel: "cross-entropy (nats)",
    series: [
      { name: "training loss (epoch mean)", x: r.outerEpoch, y: r.outerEpochLoss },
      { name: "validation loss", x: r.epochs, y: r.valLoss },
      { name: "unigram baseline", x: [0, r.epochs[last]], y: [r.unigram, r.unigram] },
    ], width: 340, height: 260,
  });
  const figs = [
    await figure(outDir, "e2_inner_loss", grid({ title: "E2 (Fig. 2): inner optimization across layers and epochs, outer loss", panels: [heat, lines, outer], columns: 3, independentColor: true }),
      "(a) Inner loss ℓ^l (logit lens, D1) on S1 training sequences per layer and epoch, as a heatmap and as lines; (b) the outer loss, i.e. the training loss per epoch, with validation loss and the unigram baseline."),
    await figure(outDir, "e2_inner_loss_val", lineChart({
      title: "Inner loss over layers on validation sequences", xLabel: "layer l (h^l)", yLabel: "inner loss (nats)", ordered: true,
      series: r.epochs.map((_, i) => ({ name: ep[i], x: r.layers, y: r.innerVal[i] })),
    }), "Inner loss per layer on unseen S1 validation sequences, one line per epoch."),
    await alignmentFigure(outDir, "e2_alignment", "E2: does each layer step along the inner loss's negative gradient? (D2, S1)",
      [{ name: `trained (epoch ${r.epochs[last]})`, a: r.alignment[last] }, { name: "untrained (epoch 0)", a: r.alignment[0] }]),
  ];
  const j = judgeE2(r);
  const v = verdictOf(j.rules);
  const fin = r.alignment[last];
  return {
    id: "E2", title: "Bi-level optimization: inner loss across layers and epochs",
    claim: "Inside one forward pass the layers act as an inner loop that lowers the loss of the current token's representation " +
      "for predicting the next token: the inner loss falls across layers, the whole per-layer curve falls across training epochs, " +
      "and the outer loss is the training loss (Fig. 2).",
    definition: `${r.definitions.D1 ?? "inner loss: logit-lens CE, D1"}. ${r.definitions.D2 ?? ""} Data: S1 seeds task; epochs are passes over the training sequences.`,
    headline: [
      `inner loss falls monotonically over layers in ${j.monotone}/${j.considered} checkpoints from epoch ${E2_RULES.fromEpoch}; ` +
      `at epoch ${r.epochs[last]}: ℓ^0 = ${f3(r.innerTrain[last][0])} → ℓ^${L} = ${f3(r.innerTrain[last][L])} nats (train)`,
      `last-layer inner loss over training: ${r.epochs.map((e, i) => `${f3(r.innerTrain[i][L])} (ep ${e})`).join(", ")}`,
      `outer (training) loss ${f3(r.outerEpochLoss[0])} in epoch 1 → ${f3(r.outerEpochLoss.at(-1)!)} in epoch ${r.outerEpoch.at(-1)}; ` +
      `validation ${f3(r.valLoss[last])} vs unigram ${f3(r.unigram)}`,
      `D2 alignment cos(Δ^l, −g^l), mean over layers: trained ${f3(meanFinite(fin.cos))} (attention part ${f3(meanFinite(fin.cosAttn))}, ` +
      `MLP part ${f3(meanFinite(fin.cosMlp))}), random direction ${f3(meanFinite(fin.cosRandom))}, untrained ${f3(meanFinite(r.alignment[0].cos))}`,
      ...v.rules.map((t) => `rule: ${t}`),
    ],
    held: v.held,
    figures: figs,
    tables: [{
      title: "Inner loss ℓ^l (nats) on training sequences, per epoch (rows) and layer (columns)",
      columns: ["epoch", ...r.layers.map((l) => `l=${l}`)],
      rows: r.epochs.map((e, i) => [e, ...r.innerTrain[i]]),
    }],
    ...reportMeta(json),
  };
}

/** E2 as an {@link Experiment}. */
export const e2: Experiment<E2Result> = { id: "E2", title: "Inner loss across layers and epochs (Fig. 2)", compute, report };
