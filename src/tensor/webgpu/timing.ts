// GPU timing for benches: replays recorded dispatches in one compute pass bracketed by
// timestamp queries (when the device has 'timestamp-query'), else times submit + completion on
// the wall clock. Not used by ops or training; the runtime's own encoder is never touched.
import type { Dispatch, Kernel } from "../../shaders/wgsl";
import { createPipeline, type PipelineEntry } from "./pipelines";
import { bindEntries, type WebGpuRuntime } from "./runtime";

/** One timed run of `reps` repetitions of a dispatch list. */
export interface Timing {
  /** Milliseconds per repetition: GPU time from timestamps, else wall time of submit + wait. */
  ms: number;
  /** `timestamp` or `wall`. */
  source: "timestamp" | "wall";
  /** Wall milliseconds per repetition (submit + completion, always measured). */
  wallMs: number;
}

/**
 * Records the dispatches that `fn` encodes through `rt.dispatch` (they still run normally), so
 * an op's kernels can be replayed and timed in isolation.
 */
export function captureDispatches(rt: WebGpuRuntime, fn: () => void): Dispatch[] {
  const out: Dispatch[] = [];
  const inner = rt.dispatch;
  rt.dispatch = (kernel, buffers, grid) => {
    out.push({ kernel, buffers: [...buffers], grid: [...grid] });
    inner.call(rt, kernel, buffers, grid);
  };
  try {
    fn();
  } finally {
    delete (rt as { dispatch?: unknown }).dispatch; // back to the prototype method
    if (rt.dispatch !== inner) rt.dispatch = inner;
  }
  return out;
}

/** Times dispatch lists on a runtime's device, with its pipelines built once per kernel code. */
export class GpuTimer {
  /** Whether GPU timestamps are used (the device was created with 'timestamp-query'). */
  readonly hasTimestamps: boolean;
  #pipes = new Map<string, PipelineEntry>();
  #query: GPUQuerySet | null = null;
  #resolve: GPUBuffer | null = null;
  #read: GPUBuffer | null = null;

  constructor(readonly rt: WebGpuRuntime, useTimestamps = true) {
    this.hasTimestamps = useTimestamps && rt.device.features.has("timestamp-query");
    if (this.hasTimestamps) {
      const d = rt.device;
      this.#query = d.createQuerySet({ type: "timestamp", count: 2 });
      this.#resolve = d.createBuffer({ size: 16, usage: 0x0200 | 0x0004 }); // QUERY_RESOLVE | COPY_SRC
      this.#read = d.createBuffer({ size: 16, usage: 0x0001 | 0x0008 }); // MAP_READ | COPY_DST
    }
  }

  /** Runs `reps` repetitions of `ds` in one pass and one submit; returns per-repetition times. */
  async time(ds: readonly Dispatch[], reps: number): Promise<Timing> {
    const d = this.rt.device;
    this.rt.flush(); // earlier work must not be counted
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass(this.#query
      ? { timestampWrites: { querySet: this.#query, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
      : {});
    const groups = ds.map((x) => d.createBindGroup({
      layout: this.#pipe(x.kernel).layout,
      entries: bindEntries(x.buffers),
    }));
    for (let r = 0; r < reps; r++) {
      ds.forEach((x, i) => {
        pass.setPipeline(this.#pipe(x.kernel).pipeline);
        pass.setBindGroup(0, groups[i]);
        pass.dispatchWorkgroups(x.grid[0], x.grid[1] ?? 1, x.grid[2] ?? 1);
      });
    }
    pass.end();
    if (this.#query) {
      enc.resolveQuerySet(this.#query, 0, 2, this.#resolve!, 0);
      enc.copyBufferToBuffer(this.#resolve!, 0, this.#read!, 0, 16);
    }
    const t0 = performance.now();
    d.queue.submit([enc.finish()]);
    await this.rt.wait(d.queue.onSubmittedWorkDone());
    const wallMs = (performance.now() - t0) / reps;
    this.rt.throwIfErrors();
    if (!this.#query) return { ms: wallMs, source: "wall", wallMs };
    await this.rt.wait(this.#read!.mapAsync(1));
    const ts = new BigInt64Array(this.#read!.getMappedRange().slice(0));
    this.#read!.unmap();
    const ns = Number(ts[1] - ts[0]);
    // Some drivers report 0 or wrapped values; fall back to the wall clock then.
    if (!(ns > 0)) return { ms: wallMs, source: "wall", wallMs };
    return { ms: ns / 1e6 / reps, source: "timestamp", wallMs };
  }

  /** Compiles the pipelines of `ds` now; returns the milliseconds it took (0 when all cached). */
  async compile(ds: readonly Dispatch[]): Promise<number> {
    const t0 = performance.now();
    for (const x of ds) this.#pipe(x.kernel);
    await this.rt.wait(this.rt.device.queue.onSubmittedWorkDone());
    return performance.now() - t0;
  }

  /** Releases the query resources. */
  destroy(): void {
    this.#query?.destroy();
    this.#resolve?.destroy();
    this.#read?.destroy();
  }

  #pipe(k: Kernel): PipelineEntry {
    const hit = this.#pipes.get(k.code);
    if (hit) return hit;
    const entry = createPipeline(this.rt.device, k);
    this.#pipes.set(k.code, entry);
    return entry;
  }
}
