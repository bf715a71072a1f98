// Browser / bundler entry: the whole library with WebGPU from navigator.gpu.
export * from "./tensor/index";
export * from "./nn/index";
export * from "./data/seeds";
export * from "./data/batcher";
// Names exported by both tensor/ and nn/: the entry exposes the engine's (init() options, the fused
// adamwUpdate op options); nn's are reachable as the parameter types of its classes.
export type { InitOptions, AdamWOptions } from "./tensor/index";
