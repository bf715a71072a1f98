// Browser / bundler entry: the whole library with WebGPU from navigator.gpu.
export * from "./tensor/index";
