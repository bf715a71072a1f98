// Public surface of src/nn that runs anywhere (browser or Node): modules, the GPT, AdamW, the
// schedule and clipping, the training step, the safetensors codec and the Hugging Face GPT-2
// format in memory. File I/O is in node.ts.
export { Module, setValues } from "./module";
export type { TapFn, TapHook } from "./module";
export type { Lens } from "./lens";
export { Linear, Embedding, LayerNorm, initNormal } from "./layers";
export type { ParamInitOptions } from "./layers";
export { CausalSelfAttention, MLP, Block } from "./transformer";
export type { BlockOptions } from "./transformer";
export { GPT, gptConfig, hfToOurName, ourToHfName } from "./gpt";
export type { GPTConfig, GPTOptions, GPTOutput, StateValue, LoadStateDictOptions } from "./gpt";
export { gpt2ConfigFromHf, gpt2ConfigToHf, gpt2FromBuffers, gpt2ToBuffers } from "./gpt2";
export type { Gpt2Weights, Gpt2FromBuffersOptions, Gpt2Buffers } from "./gpt2";
export { AdamW, decayedParameterNames, lrAt, clipFactor } from "./optim";
export type { AdamWConfig, LrSchedule } from "./optim";
export { Trainer, flushBackend } from "./train";
export type { LMBatch, TrainerOptions, StepResult } from "./train";
export { parseSafetensors, serializeSafetensors, toFloat32 } from "./safetensors";
export type { SafeTensor, TensorInput, ParsedSafetensors, Dtype, TensorData } from "./safetensors";
