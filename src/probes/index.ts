// Probes of a model's inner optimization, run as ordinary ops inside the model's own forward
// (PROTOCOL.md D1–D6), plus the host-side metrics they report with. The API in one page:
//
//   const ps = new ProbeSet(model);                  // any Module; a GPT gets its lens and forward
//   const d1 = ps.add(innerLoss());                  // D1 every training step (scalars only)
//   const d3 = ps.add(norms(), { every: 1 });        // D3
//   const r = await ps.trainStep(trainer, [batch]);  // = trainer.trainStep + probes, one readback
//   r.records  // ProbeRecord[]: { step, values: { "D1.inner_loss": [ℓ^0..ℓ^L], "D3.norm": [...] } },
//              // delivered every `ringSize` steps (the device-side ring), the rest via ps.flush()
//   const rep = await ps.evaluate(valBatches);       // evaluation pass: heavier outputs + finish()
//   rep.get(d1).perLayer; rep.get(d3).byToken[l]; rep.definitions
//
// Hand-written loops: ps.beginStep(step, batches) → forwards/backward/update → ps.endStep() gives
// the tensors to add to the step's readAll → ps.ingest(values) decodes them into records.
// A probe is { name, definition, reading, taps (globs like "blocks.*.out"), onTap(name, x, index,
// ctx), finish? }; see probe.ts. Non-GPT modules pass { lens, forward } to the ProbeSet.
export { ProbeSet, ProbeReport } from "./probe-set";
export type { ProbeSetOptions, AddOptions, ProbeRecord, ProbedStepResult } from "./probe-set";
export { gptLens, lensLogits, describeProbe, RESIDUAL_TAPS } from "./probe";
export type {
  Definition, ProbeBatch, Lens, Combine, ProbeContext, HostArray, PrepareEnv, PassOutput, Probe, ResultOf,
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
export { kmeansGpu, kmeansPlusPlusFromDistances, pairwiseSqDistances } from "./kmeans";
export type { KmeansGpuOptions, KmeansGpuResult } from "./kmeans";
export * from "./metrics";
