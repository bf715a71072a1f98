// Node-only part of src/nn: checkpoints, GPT-2 import and export, and safetensors file I/O
// (node:fs), plus everything in index.ts.
export * from "./index";
export { saveCheckpoint, loadCheckpoint, readCheckpointMeta, CHECKPOINT_FORMAT } from "./checkpoint";
export type { CheckpointMeta, CheckpointExtra } from "./checkpoint";
export { loadGpt2, saveGpt2 } from "./gpt2-file";
export type { Gpt2Model, LoadGpt2Options } from "./gpt2-file";
export { readSafetensors, writeSafetensors } from "./safetensors-file";
export { writeFileAtomic } from "./atomic-write";
