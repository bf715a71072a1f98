// Public surface of the tensor engine: tensors, creation, autograd, scopes, backends, ops. Loading
// it attaches Tensor's fluent methods (methods.ts).
import "./methods";
export { Tensor, tensor, fromValues, zeros, ones, full, arange, rand, randn, randint, readAll } from "./tensor";
export type { TensorLike, TensorOptions, RandomOptions, NestedArray } from "./tensor";
export { tidy, keep, noGrad, isGradEnabled } from "./scope";
export type { Scoped } from "./scope";
export { backward, grad } from "./autograd";
export { AnomalyError, detectAnomaly, isAnomalyDetectionEnabled, setAnomalyContext, setAnomalyDetection } from "./anomaly";
export { apply, apply1, defineOp, REGISTRY } from "./op";
export type { OpDef, Meta, Arg, GradCtx } from "./op";
export { OpError, numel, fmt, broadcastShapes } from "./shape";
export type { Shape } from "./shape";
export type { DType, BackendName, Backend, OpKernels } from "./backend";
export type { KernelEncoder } from "./webgpu/encoder";
export { init, shutdown, useBackend, defaultBackend, backendOf, gpuRuntime, setGpuProvider } from "./webgpu/device";
export type { InitOptions, DeviceInfo, GpuProvider } from "./webgpu/device";
export type { AdapterInfo, RuntimeStats } from "./webgpu/runtime";
export type { Kernel } from "../shaders/wgsl";
export type { PoolStats } from "./webgpu/pool";
/** Every op as a free function, the same functions as the top-level exports (`ops.matmul` = `matmul`). */
export * as ops from "./ops/index";
export * from "./ops/index";
