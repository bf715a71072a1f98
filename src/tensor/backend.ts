// The one interface every backend implements — memory (alloc, upload, release, readback),
// running an op its own way, submitting and waiting, device-side non-finite checks — and the
// reference-counted storage behind tensors. Code above the backends talks to this interface
// only, never to a backend's name. Views (reshape, detach) share one Storage; its memory
// returns to the backend at refcount 0.
import { type Shape } from "./shape";
import type { KernelEncoder } from "./webgpu/encoder";

/** Element type. `f32` is a float (f32 on webgpu, f64 on cpu64); `i32` holds indices. */
export type DType = "f32" | "i32";

/** The two backends: `webgpu` (f32 WGSL kernels) and `cpu64` (Float64Array reference, the oracle). */
export type BackendName = "webgpu" | "cpu64";

/** Shape and dtype of an op input or output, known before any kernel runs. */
export interface Meta {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** An input or output as a kernel sees it: metadata plus storage. */
export interface Arg extends Meta {
  readonly s: Storage;
}

/**
 * An op's implementations, one per backend: the f64 reference on host arrays (`cpu`) and the
 * WGSL kernel choice (`gpu`, which encodes into the step's command encoder). A backend runs
 * the one that is its own ({@link Backend.run}).
 */
export interface OpKernels<A> {
  /** Name used in errors, the registry and tests. */
  readonly name: string;
  /** f64 reference implementation on Float64Arrays: the specification of the op. */
  cpu(inputs: readonly Arg[], outputs: readonly Arg[], attrs: A): void;
  /** Encodes the op's WGSL kernels; all output elements must be written. */
  gpu(enc: KernelEncoder, inputs: readonly Arg[], outputs: readonly Arg[], attrs: A): void;
}

/**
 * What a backend provides: allocation, upload, release and readback of flat storage; running an
 * op; submitting and waiting; non-finite checks. `webgpu` and `cpu64` implement it.
 */
export interface Backend {
  /** The backend's name, for messages and `init`/`useBackend`; code never branches on it. */
  readonly name: BackendName;
  /** The element type floats are stored in (`f64` on the reference backend). */
  readonly precision: "f32" | "f64";
  /** Set once the backend was shut down (webgpu's shutdown()): a clause saying so and what to do ("was shut down …"). */
  readonly closed?: string | null;
  /** The largest tensor, in bytes, one kernel can bind (Infinity when there is no limit). */
  readonly maxBindingBytes: number;
  /** Allocates uninitialized storage for `numel` elements. */
  alloc(numel: number, dtype: DType): Storage;
  /** Copies host values into storage (converting to the storage's element type). */
  upload(s: Storage, values: ArrayLike<number>): void;
  /** Returns memory to the backend; called when the refcount reaches zero. */
  release(s: Storage): void;
  /** Reads storages back to the host, in one round-trip where the backend can. */
  readMany(ss: readonly Storage[]): Promise<Float64Array[]>;
  /** Runs one application of `op` on allocated outputs, the backend's own way. */
  run<A>(op: OpKernels<A>, inputs: readonly Arg[], outputs: readonly Arg[], attrs: A): void;
  /**
   * Checks the f32 storage `s` for NaN/±Inf. The first one found becomes `report(value, index)`
   * (value "NaN", "+Inf" or "-Inf"): thrown at once, or at the next readback on a backend that
   * checks on the device. `key` names the check site (one per op, phase and tensor).
   */
  checkFinite(s: Storage, key: string, report: (value: string, index: number) => Error): void;
  /** Submits work encoded so far, so storage released so far can be reused (no-op when nothing is deferred). */
  flush(): void;
  /** Submits and waits until the backend has finished all work (timing, benchmarks). */
  sync(): Promise<void>;
}

/** Flat, contiguous, reference-counted memory on one backend. */
export class Storage {
  /** References held by tensors and by the autograd tape. */
  rc = 1;
  constructor(
    readonly backend: Backend,
    readonly numel: number,
    readonly dtype: DType,
    /** Backend handle: a Float64Array on cpu64, a pooled GPU buffer on webgpu. */
    readonly handle: Float64Array | GPUBuffer,
  ) {}
  /** Adds a reference. */
  retain(): this {
    this.rc++;
    return this;
  }
  /** Drops a reference; frees the memory at zero. Returns true when it was freed. */
  drop(): boolean {
    if (this.rc <= 0) return false;
    if (--this.rc === 0) {
      this.backend.release(this);
      return true;
    }
    return false;
  }
  /** The f64 array of a cpu64 storage. */
  get f64(): Float64Array {
    return this.handle as Float64Array;
  }
  /** The GPU buffer of a webgpu storage. */
  get buffer(): GPUBuffer {
    return this.handle as GPUBuffer;
  }
}
