// Node entry: the same library, with WebGPU provided by Dawn (`webgpu` package) and a polite
// GPU wait that does not spin a CPU core.
import { setGpuProvider } from "./tensor/webgpu/device";
import { nodeGpuProvider } from "./tensor/webgpu/gpu-node";

setGpuProvider(nodeGpuProvider);

export * from "./index";
export { politeWait, spinWait } from "./tensor/webgpu/gpu-node";
