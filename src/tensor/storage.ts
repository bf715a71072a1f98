// Reference-counted storage behind tensors, and the small interface each backend implements.
// Views (reshape, detach) share one Storage; its memory returns to the backend at refcount 0.

/** Element type. `f32` is a float (f32 on webgpu, f64 on cpu64); `i32` holds indices. */
export type DType = "f32" | "i32";

/** The two backends: `webgpu` (f32 WGSL kernels) and `cpu64` (Float64Array reference, the oracle). */
export type BackendName = "webgpu" | "cpu64";

/** What a backend must provide: allocation, upload, release and readback of flat storage. */
export interface Backend {
  readonly name: BackendName;
  /** Allocates uninitialized storage for `numel` elements. */
  alloc(numel: number, dtype: DType): Storage;
  /** Copies host values into storage (converting to the storage's element type). */
  upload(s: Storage, values: ArrayLike<number>): void;
  /** Returns memory to the backend; called when the refcount reaches zero. */
  release(s: Storage): void;
  /** Reads storages back to the host, in one round-trip where the backend can. */
  readMany(ss: readonly Storage[]): Promise<Float64Array[]>;
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
