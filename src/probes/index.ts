// Probes of a model's inner optimization, run as ordinary ops inside the model's own forward on
// the same backend and in the same command stream (PROTOCOL.md D1–D6), plus the host-side metrics
// they report with. The API in one page:
//
//   const ps = new ProbeSet(model);                  // any Module; a GPT brings its lens, logits(ids), lastTap
//   const d1 = ps.add(innerLoss());                  // D1 in every training step (scalars)
//   const d3 = ps.add(norms());                      // D3
//   const d2 = ps.add(alignment(), { every: 10 });   // D2 every 10th step (its own small grad())
//   const r = await ps.trainStep(trainer, [batch]);  // = trainer.trainStep + probes, still one readback
//   r.records  // ProbeRecord[]: { step, values: { "D1.inner_loss": [ℓ^0..ℓ^L], "D3.norm": [...], ... } },
//              // delivered every `ringSize` steps (a device-side ring), the rest by `await ps.flush()`
//   ps.add(gram()); ps.add(attentionHistory({ labels })); ps.add(clustering({ labels }));  // D4–D6: eval only
//   const rep = await ps.evaluate(valBatches);       // evaluation pass: arrays, one readback, then finish()
//   rep.get(d1).perLayer; rep.get(d3).byToken[l]; rep.definitions  // results typed by their probe
//
// Batches are ProbeBatch = { B, T, x, y?, labels? } (an LMBatch is one). Hand-written loops:
// ps.beginStep(step, batches) → forwards/backward/update → ps.endStep() gives the tensors to add to
// the step's readAll → ps.ingest(values) decodes them into records. A probe is
// { name, definition, reading, taps (globs like "blocks.*.out"), onTap(name, x, index, ctx),
// onForwardEnd?, prepare?, finish? } (probe.ts). What the ProbeSet asks of the model beyond its taps is
// the ProbeTarget interface (lens, lastTap, vocabSize, logits(ids)): a GPT has it, any Module may, and
// options { lens, forward, lastTap } override it. On-request taps (a GPT's blocks.{l}.attn_probs) are
// computed while an armed probe's tap patterns match them.
// Keys: D1.inner_loss; D2.cos|cos_attn|cos_mlp|cos_random|eta|grad_norm; D3.norm (all [index]).
export { ProbeSet } from "./probe-set";
export type { ProbeSetOptions, AddOptions, ProbedStepResult } from "./probe-set";
export { ProbeReport } from "./report";
export type { ProbeRecord } from "./ring";
export { gptLens, lensLogits, describeProbe, RESIDUAL_TAPS } from "./probe";
export type {
  Definition, ProbeBatch, Lens, ProbeTarget, Combine, ProbeContext, HostArray, PrepareEnv, PassOutput, Probe, ResultOf,
} from "./probe";
export { TapPattern, matchTap } from "./pattern";
export { innerLoss, D1_READING } from "./inner-loss";
export type { InnerLossOptions, InnerLossResult } from "./inner-loss";
export { alignment, innerGradient, D2_READING } from "./alignment";
export type { AlignmentOptions, AlignmentResult } from "./alignment";
export { norms, D3_READING } from "./norms";
export type { NormsOptions, NormsResult } from "./norms";
export { gram, D4_READING } from "./gram";
export type { GramOptions, GramHalf, GramResult } from "./gram";
export { attentionHistory, D5_READING } from "./attention-history";
export type { AttentionHistoryOptions, AttentionHistoryResult, HistoryShares } from "./attention-history";
export { clustering, D6_READING } from "./clustering";
export type { ClusteringOptions, ClusteringResult, LabelClusterScores } from "./clustering";
export { symEigQL } from "./eig";
export { kmeansGpu, kmeansGpuMany, kmeansPlusPlusFromDistances, pairwiseSqDistances, seedOnDevice, DISTANCES_MAX_N, LLOYD_MAX_ELEMENTS } from "./kmeans";
export type { KmeansGpuOptions, KmeansGpuResult } from "./kmeans";
export * from "./metrics";
