// Node-only part of src/nn: checkpoints, GPT-2 import and safetensors file I/O (node:fs), plus
// everything in index.ts.
export * from "./index";
export { saveCheckpoint, loadCheckpoint, readCheckpointMeta, CHECKPOINT_FORMAT } from "./checkpoint";
export type { CheckpointMeta, CheckpointExtra } from "./checkpoint";
export { loadGpt2, gpt2ConfigFromHf, hfToOurName } from "./gpt2";
export type { Gpt2Model, LoadGpt2Options } from "./gpt2";
export { readSafetensors, writeSafetensors } from "./safetensors-file";
export { writeFileAtomic } from "./atomic-write";
