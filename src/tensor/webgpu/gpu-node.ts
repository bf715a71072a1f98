// Node-only: gets WebGPU from the `webgpu` package (Dawn) and waits on GPU promises politely.
// dawn.node polls with setImmediate while a promise is pending, which pins a CPU core; on a
// 2-core machine that halves a software adapter's throughput. We block in 0.25 ms slices instead.
// Creating the GPU also sets LP_NUM_THREADS in this process's environment when it is unset (see
// softwareRasterizerThreads); child processes inherit it.
import { availableParallelism } from "node:os";
import { create, globals } from "webgpu";
import type { GpuProvider } from "./device";

let gpuObject: GPU | null = null; // keep referenced for the process lifetime (Dawn crashes otherwise)

/** Waits for `p` while sleeping the main thread in short slices between event-loop turns. */
export async function politeWait<T>(p: Promise<T>): Promise<T> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!settled) {
    Atomics.wait(cell, 0, 0, 0.25);
    await new Promise<void>((r) => setImmediate(r));
  }
  return p;
}

/** Dawn's default behaviour: a plain await (kept for the bench that shows the difference). */
export function spinWait<T>(p: Promise<T>): Promise<T> {
  return p;
}

/**
 * Worker threads for Mesa's software rasterizer (lavapipe/llvmpipe reads LP_NUM_THREADS when the
 * adapter is created; hardware drivers ignore it), or null to keep llvmpipe's default (one
 * worker per core on multi-core machines). A few more threads than cores balance workgroups
 * better: on a 2-core VM, 8 threads made the 1024³ matmul 15 % faster and the
 * [4096,256]×[256,1024] one 12 % (bench/RESULTS.md). Single-core machines were not measured and
 * keep the default.
 */
export function softwareRasterizerThreads(cores = availableParallelism()): number | null {
  return cores < 2 ? null : Math.max(cores, Math.min(8, 4 * cores));
}

/**
 * The Node GPU provider used by the Node entry point. Its first `gpu()` call creates Dawn's GPU
 * object, after setting XDG_RUNTIME_DIR and LP_NUM_THREADS in `process.env` where they are unset.
 */
export const nodeGpuProvider: GpuProvider = {
  gpu: () => {
    if (!gpuObject) {
      if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = "/tmp";
      const threads = softwareRasterizerThreads();
      if (process.env.LP_NUM_THREADS === undefined && threads !== null) process.env.LP_NUM_THREADS = String(threads);
      Object.assign(globalThis, globals);
      gpuObject = create([]);
    }
    return gpuObject;
  },
  wait: (p) => (process.env.METAGRAD_WAIT === "spin" ? spinWait(p) : politeWait(p)),
  onExit: (fn) => void process.once("exit", fn),
};
