// The Tensor: shape, dtype, backend, refcounted storage and autograd fields; the tape entry that
// records how a tensor was made (Node); and creation functions. Nothing here runs kernels or
// knows an op: ops (ops/*) go through apply() in op.ts, and the fluent methods (x.add(y), …) are
// attached by methods.ts, which imports both this file and the ops.
import { checkShape, fmt, numel, OpError, type Shape } from "./shape";
import type { Backend, BackendName, DType, Storage } from "./backend";
import { track, keep } from "./scope";
import { disposedBackend } from "./cpu/cpu64";
import { defaultBackend, backendOf } from "./webgpu/device";
import { SplitMix32 } from "./random";

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
    return this.#storage?.backend ?? disposedBackend;
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
  async to(backend: Backend | BackendName): Promise<Tensor> {
    const vals = await this.data();
    return fromValues(vals, this.shape, { dtype: this.dtype, backend, requiresGrad: this.requiresGrad });
  }

  /** Marks an intermediate tensor to keep its `.grad` after backward(). */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
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

}

/** What a backward rule receives: attributes, the saved inputs/outputs (null when not saved). */
export interface GradCtx<A> {
  readonly attrs: A;
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: readonly (Tensor | null)[];
  /** Shapes of all inputs (available even when the input itself was not saved). */
  readonly shapes: readonly Shape[];
  /** Which inputs need a gradient (skip work for the others). */
  readonly needs: readonly boolean[];
}

/** What the tape needs of an op (an {@link OpDef} is one): its name and backward rule. */
export interface TapeOp<A = unknown> {
  /** Name used in errors. */
  readonly name: string;
  /** Gradients of the inputs from the gradients of the outputs (null = zero). Uses ops. */
  backward?(ctx: GradCtx<A>, dOutputs: readonly (Tensor | null)[]): (Tensor | null)[];
}

/** A recorded application of an op: the tape entry. */
export class Node {
  /** Live references: output tensors holding it plus downstream nodes reading its outputs. */
  refs = 0;
  freed = false;
  constructor(
    readonly op: TapeOp,
    readonly attrs: unknown,
    readonly inputs: readonly Tensor[],
    readonly outputs: Tensor[],
    readonly saved: { inputs: (Storage | null)[]; outputs: (Storage | null)[] },
  ) {
    for (const t of inputs) if (t.node) t.node.refs++;
  }
  /** Releases saved storage (after backward, or when nothing refers to this node any more). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const s of this.saved.inputs) s?.drop();
    for (const s of this.saved.outputs) s?.drop();
  }
  /** Drops one reference; at zero frees this node and its upstream references. */
  unref(): void {
    if (--this.refs > 0) return;
    this.free();
    for (const t of this.inputs) t.node?.unref();
  }
}

/** Nested number arrays returned by toArray(). */
export type NestedArray = number | NestedArray[];


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
  /**
   * Backend: a backend object (e.g. `x.backend`, to match a tensor) or a name (default: the one
   * chosen by init()).
   */
  backend?: Backend | BackendName;
  /** Track gradients for this leaf. */
  requiresGrad?: boolean;
}

/** Creates a tensor from flat values and a shape (an i32 tensor rejects values that are not 32-bit integers). */
export function fromValues(values: ArrayLike<number>, shape: Shape, opts: TensorOptions = {}): Tensor {
  checkShape("tensor", shape);
  if (values.length !== numel(shape)) {
    throw new OpError("tensor", `${values.length} values do not fill shape ${fmt(shape)} (${numel(shape)} elements)`);
  }
  const backend = resolveBackend(opts.backend);
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

/** The backend an option names: an object as it is, a name through {@link backendOf}, none the default. */
export function resolveBackend(b: Backend | BackendName | undefined): Backend {
  return b === undefined ? defaultBackend() : typeof b === "string" ? backendOf(b) : b;
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
  const g = new SplitMix32(opts.seed ?? autoSeed++);
  const lo = opts.low ?? 0, hi = opts.high ?? 1;
  return fromValues(Float64Array.from({ length: numel(shape) }, () => lo + (hi - lo) * g.uniform()), shape, opts);
}
/** Normal values with the given mean and std (default 0, 1). */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const g = new SplitMix32(opts.seed ?? autoSeed++);
  const m = opts.mean ?? 0, sd = opts.std ?? 1;
  return fromValues(Float64Array.from({ length: numel(shape) }, () => m + sd * g.normal()), shape, opts);
}
/** Uniform integers in [0, high) as an i32 tensor. */
export function randint(high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  const g = new SplitMix32(opts.seed ?? autoSeed++);
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
