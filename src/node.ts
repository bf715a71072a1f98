// Node entry: the same library, with WebGPU provided by Dawn (`webgpu` package) and a polite
// GPU wait that does not spin a CPU core, plus what needs Node: checkpoints, safetensors files,
// Hugging Face GPT-2 folders (loadGpt2 / saveGpt2), the bundled corpora and WikiText, tokenizers.
import { setGpuProvider } from "./tensor/webgpu/device";
import { nodeGpuProvider } from "./tensor/webgpu/gpu-node";

setGpuProvider(nodeGpuProvider);

export * from "./index";
export * from "./nn/node";
export * from "./data/text";
export { politeWait, spinWait } from "./tensor/webgpu/gpu-node";
