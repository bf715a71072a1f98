// All ops, re-exported as free functions (the Tensor methods call these).
export * from "./elementwise";
export * from "./reduce";
export * from "./movement-core";
export * from "./matmul";
export * from "./movement";
export * from "./softmax";
export * from "./select";
