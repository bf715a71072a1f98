// The cpu64 backend: storage is a Float64Array and ops run their f64 reference immediately.
// It is the oracle every GPU kernel is tested against, not a fast CPU backend.
import { OpError } from "../shape";
import { Storage, type Arg, type Backend, type DType, type OpKernels } from "../backend";

/** Counters for the cpu64 backend (for symmetry with the GPU pool counters). */
export interface Cpu64Stats {
  /** Storages allocated so far. */
  allocated: number;
  /** Storages currently alive. */
  live: number;
}

class Cpu64Backend implements Backend {
  readonly name = "cpu64" as const;
  readonly precision = "f64" as const;
  readonly maxBindingBytes = Infinity;
  readonly stats: Cpu64Stats = { allocated: 0, live: 0 };
  alloc(numel: number, dtype: DType): Storage {
    this.stats.allocated++;
    this.stats.live++;
    return new Storage(this, numel, dtype, new Float64Array(numel));
  }
  upload(s: Storage, values: ArrayLike<number>): void {
    const d = s.f64;
    if (s.dtype === "i32") for (let i = 0; i < d.length; i++) d[i] = Math.trunc(values[i]);
    else for (let i = 0; i < d.length; i++) d[i] = values[i];
  }
  release(_s: Storage): void {
    this.stats.live--;
  }
  async readMany(ss: readonly Storage[]): Promise<Float64Array[]> {
    return ss.map((s) => s.f64.slice());
  }
  /** Runs the op's f64 reference at once. */
  run<A>(op: OpKernels<A>, inputs: readonly Arg[], outputs: readonly Arg[], attrs: A): void {
    op.cpu(inputs, outputs, attrs);
  }
  /** Scans the values now and throws the first non-finite one. */
  checkFinite(s: Storage, _key: string, report: (value: string, index: number) => Error): void {
    const a = s.f64;
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) throw report(Number.isNaN(a[i]) ? "NaN" : a[i] > 0 ? "+Inf" : "-Inf", i);
    }
  }
  /** Nothing is deferred on the host. */
  flush(): void {}
  /** Work is done when an op returns. */
  async sync(): Promise<void> {}
}

/** The process-wide cpu64 backend. */
export const cpu64: Cpu64Backend = new Cpu64Backend();

const disposed = (): never => { throw new OpError("tensor", "a disposed tensor was used"); };
/** What a disposed tensor reports as its backend: every operation on it throws. */
export const disposedBackend: Backend = {
  name: "cpu64",
  precision: "f64",
  maxBindingBytes: Infinity,
  alloc: disposed,
  upload: disposed,
  release: () => undefined,
  readMany: async () => { throw new OpError("tensor", "a disposed tensor was read"); },
  run: disposed,
  checkFinite: disposed,
  flush: () => undefined,
  sync: async () => undefined,
};
