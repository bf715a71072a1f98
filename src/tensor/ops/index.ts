// All ops, re-exported as free functions (the Tensor methods call these).
export * from "./core";
export * from "./matmul";
export * from "./movement";
export * from "./softmax";
export * from "./select";
export * from "./layer-norm";
export * from "./cross-entropy";
export * from "./embedding";
export * from "./attention";
export * from "./adamw";
