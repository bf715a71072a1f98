// Browser / bundler entry: the whole library with WebGPU from navigator.gpu.
export * from "./tensor/index";
export * from "./nn/index";
export * from "./data/seeds";
export * from "./data/batcher";
export * from "./probes/index";
