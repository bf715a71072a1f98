// The Tensor: shape, dtype, backend, refcounted storage and autograd fields, plus creation
// functions. Every computing method goes through apply() in op.ts; nothing here runs kernels.
import { checkShape, fmt, numel, OpError, type Shape } from "./shape";
import type { Backend, BackendName, DType, Storage } from "./storage";
import type { Node } from "./op";
import { track, keep, registerTensorClass } from "./scope";
import { defaultBackend, backendOf } from "./webgpu/device";
import { Philox } from "./random";
import * as ops from "./ops/index";
import { backward as runBackward } from "./autograd";

let nextId = 1;

/** A value that broadcasts like a tensor: a Tensor or a plain number. */
export type TensorLike = Tensor | number;

/** An n-dimensional array on one backend, with optional gradient tracking. */
export class Tensor {
  /** Unique id (for debugging and tape ordering). */
  readonly id = nextId++;
  /** Whether gradients flow to (and, for leaves, accumulate in) this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf (or of an intermediate after retainGrad()). */
  grad: Tensor | null = null;
  /** The tape entry that produced this tensor (null for leaves and non-recorded results). */
  node: Node | null = null;
  /** Keep `.grad` on this intermediate during backward. */
  retainsGrad = false;
  /** Optional name (parameters carry theirs; used in errors and checkpoints). */
  name?: string;
  #storage: Storage | null;

  private constructor(storage: Storage, readonly shape: Shape, readonly dtype: DType) {
    this.#storage = storage;
    track(this);
  }

  /** Wraps existing storage (taking ownership of one reference). Internal. */
  static _fromStorage(s: Storage, shape: Shape, dtype: DType): Tensor {
    return new Tensor(s, shape, dtype);
  }

  /** The backend holding this tensor. */
  get backend(): Backend {
    return this.#storage?.backend ?? DISPOSED_BACKEND;
  }
  /** Storage; throws when the tensor was disposed. */
  get storage(): Storage {
    if (!this.#storage) throw new OpError("tensor", `tensor ${fmt(this.shape)} was used after dispose()`);
    return this.#storage;
  }
  /** True after dispose(). */
  get isDisposed(): boolean {
    return this.#storage === null;
  }
  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }
  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Releases this tensor's storage reference (the tape may keep it alive for backward). */
  dispose(): void {
    if (!this.#storage) return;
    this.#storage.drop();
    this.#storage = null;
    this.node?.unref(); // the pointer stays: downstream tape entries still traverse through it
  }

  /** Reads the values back to the host (f64). Submits pending GPU work. */
  async data(): Promise<Float64Array> {
    return (await this.backend.readMany([this.storage]))[0];
  }
  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new OpError("item", `needs a one-element tensor, got ${fmt(this.shape)}`);
    return (await this.data())[0];
  }
  /** Reads the values as nested arrays. */
  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }
  /** Copies this tensor to another backend (a leaf with the same requiresGrad). */
  async to(backend: BackendName): Promise<Tensor> {
    const vals = await this.data();
    return fromValues(vals, this.shape, { dtype: this.dtype, backend, requiresGrad: this.requiresGrad });
  }

  /** Marks an intermediate tensor to keep its `.grad` after backward(). */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }
  /** Runs reverse-mode autodiff from this scalar (or with an explicit output gradient). */
  backward(grad?: Tensor, opts?: { retainGraph?: boolean }): void {
    runBackward(this, grad, opts);
  }
  /** A new tensor sharing storage, cut from the graph. */
  detach(): Tensor {
    return ops.detach(this);
  }
  /** Protects this tensor from the enclosing tidy() scopes. */
  keep(): this {
    return keep(this);
  }
  /** Sets requiresGrad on a leaf and returns it. */
  requireGrad(flag = true): this {
    if (this.node) throw new OpError("requireGrad", "only leaf tensors can change requiresGrad");
    this.requiresGrad = flag;
    return this;
  }

  // ---- elementwise ----
  /** Elementwise this + b (broadcasting). */
  add(b: TensorLike): Tensor { return ops.add(this, b); }
  /** Elementwise this − b (broadcasting). */
  sub(b: TensorLike): Tensor { return ops.sub(this, b); }
  /** Elementwise this · b (broadcasting). */
  mul(b: TensorLike): Tensor { return ops.mul(this, b); }
  /** Elementwise this / b (broadcasting). */
  div(b: TensorLike): Tensor { return ops.div(this, b); }
  /** Elementwise max(this, b) (broadcasting). */
  maximum(b: TensorLike): Tensor { return ops.maximum(this, b); }
  /** this^p for a scalar p. */
  pow(p: number): Tensor { return ops.pow(this, p); }
  /** −this. */
  neg(): Tensor { return ops.neg(this); }
  /** e^this. */
  exp(): Tensor { return ops.exp(this); }
  /** Natural log. */
  log(): Tensor { return ops.log(this); }
  /** Square root. */
  sqrt(): Tensor { return ops.sqrt(this); }
  /** 1 / sqrt(this). */
  rsqrt(): Tensor { return ops.rsqrt(this); }
  /** Hyperbolic tangent. */
  tanh(): Tensor { return ops.tanh(this); }
  /** Logistic sigmoid. */
  sigmoid(): Tensor { return ops.sigmoid(this); }
  /** max(this, 0). */
  relu(): Tensor { return ops.relu(this); }
  /** GELU, tanh approximation (GPT-2's). */
  gelu(): Tensor { return ops.gelu(this); }
  /** |this|. */
  abs(): Tensor { return ops.abs(this); }
  /** this². */
  square(): Tensor { return ops.square(this); }
  /** 1 where this < b, else 0 (no gradient). */
  lt(b: TensorLike): Tensor { return ops.lt(this, b); }
  /** 1 where this > b, else 0 (no gradient). */
  gt(b: TensorLike): Tensor { return ops.gt(this, b); }
  /** 1 where this ≤ b, else 0 (no gradient). */
  le(b: TensorLike): Tensor { return ops.le(this, b); }
  /** 1 where this ≥ b, else 0 (no gradient). */
  ge(b: TensorLike): Tensor { return ops.ge(this, b); }
  /** 1 where this = b, else 0 (no gradient). */
  eq(b: TensorLike): Tensor { return ops.eq(this, b); }
  // ---- matmul and shape ----
  /** Matrix product this · b over the last two axes, batch axes broadcast (see {@link matmul}). */
  matmul(b: Tensor, opts?: ops.MatmulOptions): Tensor { return ops.matmul(this, b, opts); }
  /** The same values in a new shape (a view when possible). */
  reshape(shape: Shape): Tensor { return ops.reshape(this, shape); }
  // ---- reductions (all axes when `axis` is omitted) ----
  /** Sum over `axis` (all axes when omitted). */
  sum(axis?: number | readonly number[], keepdim = false): Tensor { return ops.sum(this, axis, keepdim); }
  /** Mean over `axis` (all axes when omitted). */
  mean(axis?: number | readonly number[], keepdim = false): Tensor { return ops.mean(this, axis, keepdim); }
  /** Maximum over `axis` (all axes when omitted). */
  max(axis?: number | readonly number[], keepdim = false): Tensor { return ops.max(this, axis, keepdim); }
  /** Variance (population by default; `{ correction: 1 }` for the sample variance). */
  var(axis?: number | readonly number[], keepdim = false, opts?: ops.VarianceOptions): Tensor {
    return ops.variance(this, axis, keepdim, opts);
  }
  // ---- movement and selection ----
  /** Axes reordered by `dims`. */
  permute(dims: readonly number[]): Tensor { return ops.permute(this, dims); }
  /** Axes `d0` and `d1` swapped (the last two by default). */
  transpose(d0 = -2, d1 = -1): Tensor { return ops.transpose(this, d0, d1); }
  /** The box [starts, ends) of every axis. */
  slice(starts: readonly number[], ends: readonly number[]): Tensor { return ops.slice(this, starts, ends); }
  /** Broadcast to `shape`. */
  broadcastTo(shape: Shape): Tensor { return ops.broadcastTo(this, shape); }
  /** Entries along `axis` at the i32 indices `idx`. */
  indexSelect(axis: number, idx: Tensor): Tensor { return ops.indexSelect(this, axis, idx); }
  /** `value` where `mask` is nonzero, this elsewhere. */
  maskedFill(mask: Tensor, value: number): Tensor { return ops.maskedFill(this, mask, value); }
  // ---- normalizations ----
  /** Softmax along `axis` (last by default). */
  softmax(axis = -1): Tensor { return ops.softmax(this, axis); }
  /** Log-softmax along `axis` (last by default). */
  logSoftmax(axis = -1): Tensor { return ops.logSoftmax(this, axis); }
}
registerTensorClass(Tensor);

/** Nested number arrays returned by toArray(). */
export type NestedArray = number | NestedArray[];

const DISPOSED_BACKEND: Backend = {
  name: "cpu64",
  alloc: () => { throw new Error("disposed"); },
  upload: () => { throw new Error("disposed"); },
  release: () => undefined,
  readMany: async () => { throw new OpError("tensor", "a disposed tensor was read"); },
};

function nest(vals: Float64Array, shape: Shape): NestedArray {
  if (shape.length === 0) return vals[0];
  const inner = numel(shape.slice(1));
  return Array.from({ length: shape[0] }, (_, i) =>
    nest(vals.subarray(i * inner, (i + 1) * inner), shape.slice(1)));
}

/** Options shared by tensor constructors. */
export interface TensorOptions {
  /** Element type (default `f32`). */
  dtype?: DType;
  /** Backend (default: the one chosen by init()). */
  backend?: BackendName;
  /** Track gradients for this leaf. */
  requiresGrad?: boolean;
}

/** Creates a tensor from flat values and a shape (an i32 tensor rejects values that are not 32-bit integers). */
export function fromValues(values: ArrayLike<number>, shape: Shape, opts: TensorOptions = {}): Tensor {
  checkShape("tensor", shape);
  if (values.length !== numel(shape)) {
    throw new OpError("tensor", `${values.length} values do not fill shape ${fmt(shape)} (${numel(shape)} elements)`);
  }
  const backend = opts.backend ? backendOf(opts.backend) : defaultBackend();
  const dtype = opts.dtype ?? "f32";
  if (dtype === "i32") {
    // webgpu would truncate (Int32Array) what cpu64 keeps: reject it on both.
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
        throw new OpError("tensor", `i32 value ${v} at index ${i} is not a 32-bit integer; ids and targets must be integers`);
      }
    }
  }
  const s = backend.alloc(values.length, dtype);
  backend.upload(s, values);
  const t = Tensor._fromStorage(s, [...shape], dtype);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

function flatten(data: NestedArray | ArrayLike<number>, shape: number[], out: number[], depth = 0): void {
  if (typeof data === "number") {
    if (depth !== shape.length && shape.length > 0) throw new OpError("tensor", "ragged nested array");
    out.push(data);
    return;
  }
  const arr = Array.from(data as ArrayLike<NestedArray>);
  if (shape.length === depth) shape.push(arr.length);
  else if (shape[depth] !== arr.length) throw new OpError("tensor", "ragged nested array: rows differ in length");
  for (const x of arr) flatten(x, shape, out, depth + 1);
}

/** Creates a tensor from a number, a (nested) array or a typed array. */
export function tensor(data: NestedArray | ArrayLike<number>, opts: TensorOptions & { shape?: Shape } = {}): Tensor {
  if (opts.shape) return fromValues(data as ArrayLike<number>, opts.shape, opts);
  const shape: number[] = [];
  const flat: number[] = [];
  flatten(data, shape, flat);
  return fromValues(flat, shape, opts);
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  return fromValues(new Float64Array(numel(shape)).fill(value), shape, opts);
}
/** A tensor of zeros. */
export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}
/** A tensor of ones. */
export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}
/** [start, start+step, ...) below `end`, as a 1-D tensor. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const n = Math.max(0, Math.ceil((end - start) / step));
  return fromValues(Float64Array.from({ length: n }, (_, i) => start + i * step), [n], opts);
}

/** Options for seeded random tensors. */
export interface RandomOptions extends TensorOptions {
  /** Integer seed: the same seed gives the same values on both backends. */
  seed?: number;
}
let autoSeed = 1;

/** Uniform values in [low, high). */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const g = new Philox(opts.seed ?? autoSeed++);
  const lo = opts.low ?? 0, hi = opts.high ?? 1;
  return fromValues(Float64Array.from({ length: numel(shape) }, () => lo + (hi - lo) * g.uniform()), shape, opts);
}
/** Normal values with the given mean and std (default 0, 1). */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const g = new Philox(opts.seed ?? autoSeed++);
  const m = opts.mean ?? 0, sd = opts.std ?? 1;
  return fromValues(Float64Array.from({ length: numel(shape) }, () => m + sd * g.normal()), shape, opts);
}
/** Uniform integers in [0, high) as an i32 tensor. */
export function randint(high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  const g = new Philox(opts.seed ?? autoSeed++);
  return fromValues(Float64Array.from({ length: numel(shape) }, () => Math.floor(g.uniform() * high)),
    shape, { ...opts, dtype: "i32" });
}

/** Reads several tensors back in one GPU round-trip (they must share a backend). */
export async function readAll(ts: readonly Tensor[]): Promise<Float64Array[]> {
  if (ts.length === 0) return [];
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) throw new OpError("readAll", "tensors are on different backends");
  }
  return b.readMany(ts.map((t) => t.storage));
}
