// The fluent methods of Tensor (x.add(y), x.matmul(w), loss.backward(), …): each calls the free
// function of the same op. They are attached here, by the one module that imports both the
// Tensor class and the ops, so tensor.ts needs no op and the ops need no Tensor method; the
// interface below merges their types into the class. The package entry (index.ts) loads this
// module, so every import of the library sees the methods.
import { Tensor, type TensorLike } from "./tensor";
import type { Shape } from "./shape";
import { backward } from "./autograd";
import * as ops from "./ops/index";

declare module "./tensor.js" {
  interface Tensor {
    /** Runs reverse-mode autodiff from this scalar (or with an explicit output gradient). */
    backward(grad?: Tensor, opts?: { retainGraph?: boolean }): void;
    /** A new tensor sharing storage, cut from the graph. */
    detach(): Tensor;
    // ---- elementwise ----
    /** Elementwise this + b (broadcasting). */
    add(b: TensorLike): Tensor;
    /** Elementwise this − b (broadcasting). */
    sub(b: TensorLike): Tensor;
    /** Elementwise this · b (broadcasting). */
    mul(b: TensorLike): Tensor;
    /** Elementwise this / b (broadcasting). */
    div(b: TensorLike): Tensor;
    /** Elementwise max(this, b) (broadcasting). */
    maximum(b: TensorLike): Tensor;
    /** this^p for a scalar p. */
    pow(p: number): Tensor;
    /** −this. */
    neg(): Tensor;
    /** e^this. */
    exp(): Tensor;
    /** Natural log. */
    log(): Tensor;
    /** Square root. */
    sqrt(): Tensor;
    /** 1 / sqrt(this). */
    rsqrt(): Tensor;
    /** Hyperbolic tangent. */
    tanh(): Tensor;
    /** Logistic sigmoid. */
    sigmoid(): Tensor;
    /** max(this, 0). */
    relu(): Tensor;
    /** GELU, tanh approximation (GPT-2's). */
    gelu(): Tensor;
    /** |this|. */
    abs(): Tensor;
    /** this². */
    square(): Tensor;
    /** 1 where this < b, else 0 (no gradient). */
    lt(b: TensorLike): Tensor;
    /** 1 where this > b, else 0 (no gradient). */
    gt(b: TensorLike): Tensor;
    /** 1 where this ≤ b, else 0 (no gradient). */
    le(b: TensorLike): Tensor;
    /** 1 where this ≥ b, else 0 (no gradient). */
    ge(b: TensorLike): Tensor;
    /** 1 where this = b, else 0 (no gradient). */
    eq(b: TensorLike): Tensor;
    // ---- matmul and shape ----
    /** Matrix product this · b over the last two axes, batch axes broadcast (see {@link matmul}). */
    matmul(b: Tensor, opts?: ops.MatmulOptions): Tensor;
    /** The same values in a new shape (a view when possible). */
    reshape(shape: Shape): Tensor;
    // ---- reductions (all axes when `axis` is omitted) ----
    /** Sum over `axis` (all axes when omitted). */
    sum(axis?: number | readonly number[], keepdim?: boolean): Tensor;
    /** Mean over `axis` (all axes when omitted). */
    mean(axis?: number | readonly number[], keepdim?: boolean): Tensor;
    /** Maximum over `axis` (all axes when omitted). */
    max(axis?: number | readonly number[], keepdim?: boolean): Tensor;
    /** Variance (population by default; `{ correction: 1 }` for the sample variance). */
    var(axis?: number | readonly number[], keepdim?: boolean, opts?: ops.VarianceOptions): Tensor;
    // ---- movement and selection ----
    /** Axes reordered by `dims`. */
    permute(dims: readonly number[]): Tensor;
    /** Axes `d0` and `d1` swapped (the last two by default). */
    transpose(d0?: number, d1?: number): Tensor;
    /** The box [starts, ends) of every axis. */
    slice(starts: readonly number[], ends: readonly number[]): Tensor;
    /** Broadcast to `shape`. */
    broadcastTo(shape: Shape): Tensor;
    /** Entries along `axis` at the i32 indices `idx`. */
    indexSelect(axis: number, idx: Tensor): Tensor;
    /** `value` where `mask` is nonzero, this elsewhere. */
    maskedFill(mask: Tensor, value: number): Tensor;
    // ---- normalizations ----
    /** Softmax along `axis` (last by default). */
    softmax(axis?: number): Tensor;
    /** Log-softmax along `axis` (last by default). */
    logSoftmax(axis?: number): Tensor;
  }
}

/** The names of the methods this module attaches. */
type Fluent = "backward" | "detach" | "add" | "sub" | "mul" | "div" | "maximum" | "pow" | "neg" | "exp" | "log" |
  "sqrt" | "rsqrt" | "tanh" | "sigmoid" | "relu" | "gelu" | "abs" | "square" | "lt" | "gt" | "le" | "ge" | "eq" |
  "matmul" | "reshape" | "sum" | "mean" | "max" | "var" | "permute" | "transpose" | "slice" | "broadcastTo" |
  "indexSelect" | "maskedFill" | "softmax" | "logSoftmax";

/** The methods, each the free function of its op with `this` as the first argument. */
const methods: { [K in Fluent]: (this: Tensor, ...args: Parameters<Tensor[K]>) => ReturnType<Tensor[K]> } = {
  backward(this: Tensor, grad?: Tensor, opts?: { retainGraph?: boolean }) { backward(this, grad, opts); },
  detach(this: Tensor) { return ops.detach(this); },
  add(this: Tensor, b: TensorLike) { return ops.add(this, b); },
  sub(this: Tensor, b: TensorLike) { return ops.sub(this, b); },
  mul(this: Tensor, b: TensorLike) { return ops.mul(this, b); },
  div(this: Tensor, b: TensorLike) { return ops.div(this, b); },
  maximum(this: Tensor, b: TensorLike) { return ops.maximum(this, b); },
  pow(this: Tensor, p: number) { return ops.pow(this, p); },
  neg(this: Tensor) { return ops.neg(this); },
  exp(this: Tensor) { return ops.exp(this); },
  log(this: Tensor) { return ops.log(this); },
  sqrt(this: Tensor) { return ops.sqrt(this); },
  rsqrt(this: Tensor) { return ops.rsqrt(this); },
  tanh(this: Tensor) { return ops.tanh(this); },
  sigmoid(this: Tensor) { return ops.sigmoid(this); },
  relu(this: Tensor) { return ops.relu(this); },
  gelu(this: Tensor) { return ops.gelu(this); },
  abs(this: Tensor) { return ops.abs(this); },
  square(this: Tensor) { return ops.square(this); },
  lt(this: Tensor, b: TensorLike) { return ops.lt(this, b); },
  gt(this: Tensor, b: TensorLike) { return ops.gt(this, b); },
  le(this: Tensor, b: TensorLike) { return ops.le(this, b); },
  ge(this: Tensor, b: TensorLike) { return ops.ge(this, b); },
  eq(this: Tensor, b: TensorLike) { return ops.eq(this, b); },
  matmul(this: Tensor, b: Tensor, opts?: ops.MatmulOptions) { return ops.matmul(this, b, opts); },
  reshape(this: Tensor, shape: Shape) { return ops.reshape(this, shape); },
  sum(this: Tensor, axis?: number | readonly number[], keepdim = false) { return ops.sum(this, axis, keepdim); },
  mean(this: Tensor, axis?: number | readonly number[], keepdim = false) { return ops.mean(this, axis, keepdim); },
  max(this: Tensor, axis?: number | readonly number[], keepdim = false) { return ops.max(this, axis, keepdim); },
  var(this: Tensor, axis?: number | readonly number[], keepdim = false, opts?: ops.VarianceOptions) {
    return ops.variance(this, axis, keepdim, opts);
  },
  permute(this: Tensor, dims: readonly number[]) { return ops.permute(this, dims); },
  transpose(this: Tensor, d0 = -2, d1 = -1) { return ops.transpose(this, d0, d1); },
  slice(this: Tensor, starts: readonly number[], ends: readonly number[]) { return ops.slice(this, starts, ends); },
  broadcastTo(this: Tensor, shape: Shape) { return ops.broadcastTo(this, shape); },
  indexSelect(this: Tensor, axis: number, idx: Tensor) { return ops.indexSelect(this, axis, idx); },
  maskedFill(this: Tensor, mask: Tensor, value: number) { return ops.maskedFill(this, mask, value); },
  softmax(this: Tensor, axis = -1) { return ops.softmax(this, axis); },
  logSoftmax(this: Tensor, axis = -1) { return ops.logSoftmax(this, axis); },
};

// Attached like class methods: non-enumerable, writable, on the prototype.
for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
}
