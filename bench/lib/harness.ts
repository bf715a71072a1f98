// Bench harness: tinybench runs with warm-up, GPU-synchronized samples (timestamp or wall), result
// records, the cpu64 correctness check every case runs first, and op-dispatch capture/replay.
import { Bench } from "tinybench";
import os from "node:os";
import { gpuRuntime, readAll, tidy, type Tensor } from "../../src/node";
import type { Dispatch } from "../../src/shaders/wgsl";
import { captureDispatches, GpuTimer } from "../../src/tensor/webgpu/timing";
import type { WebGpuRuntime } from "../../src/tensor/webgpu/runtime";

/** Latency statistics in milliseconds. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number;
}

/** One bench row. Throughput uses the median. */
export interface CaseResult {
  suite: string;
  name: string;
  shape: string;
  /** Who ran it: `metagrad`, `tfjs-webgpu`, `jax-js-webgpu`. */
  impl: string;
  variant?: string;
  /** `timestamp` (GPU pass time), `wall` (submit + completion), `wall-e2e` (JS encode + GPU + wait). */
  timing: string;
  ms: Stats;
  gflops?: number;
  gbps?: number;
  /** Max abs error vs the reference on the check shape (and whether it was within tolerance). */
  check?: { shape: string; maxErr: number; ok: boolean };
  /** Pipelines compiled for this case and the cold first-run time (compile + run). */
  pipelines?: number;
  firstRunMs?: number;
  /** Dispatches per repetition and JS microseconds spent encoding each. */
  dispatches?: number;
  jsUsPerDispatch?: number;
  extra?: Record<string, number | string | boolean>;
  note?: string;
}

/** Measurement budget. */
export interface Budget {
  /** Time budget per case in ms (tinybench `time`). */
  timeMs: number;
  /** Minimum samples per case. */
  minSamples: number;
  /** Warm-up iterations before sampling. */
  warmup: number;
}

/** Budgets for the full run and for `--quick`. */
export const BUDGETS: Record<"full" | "quick", Budget> = {
  full: { timeMs: 1500, minSamples: 5, warmup: 2 },
  quick: { timeMs: 300, minSamples: 3, warmup: 1 },
};

/**
 * Samples `fn` with tinybench. `fn` returns the sample's duration in ms (e.g. GPU time from
 * timestamps); when it returns nothing the sample is tinybench's own wall time of the call.
 */
export async function measure(name: string, fn: () => Promise<number | void>, b: Budget): Promise<Stats> {
  const bench = new Bench({
    time: b.timeMs, iterations: b.minSamples, warmupIterations: b.warmup, warmupTime: 0, throws: true,
  });
  bench.add(name, async () => {
    const ms = await fn();
    return typeof ms === "number" ? { overriddenDuration: ms } : undefined;
  });
  await bench.run();
  const r = bench.tasks[0].result;
  if (!("latency" in r)) throw new Error(`bench '${name}' produced no samples (state ${r.state})`);
  const l = r.latency;
  return { median: l.p50 ?? l.mean, min: l.min, max: l.max, samples: l.samplesCount };
}

/** The shared GPU timer (timestamp queries when the device has them). */
let timer: GpuTimer | null = null;
export function gpuTimer(): GpuTimer {
  return (timer ??= new GpuTimer(rt()));
}

/** The initialized WebGPU runtime. */
export function rt(): WebGpuRuntime {
  const r = gpuRuntime();
  if (!r) throw new Error("bench: webgpu is not initialized");
  return r;
}

/** Repetitions per sample so that one sample is about `targetMs` of GPU work. */
export function repsFor(estimateMs: number, targetMs = 20): number {
  return Math.max(1, Math.min(64, Math.round(targetMs / Math.max(estimateMs, 1e-3))));
}

/** What one op-level case measured: timing of the replayed kernels plus dispatch overhead. */
export interface OpTiming {
  stats: Stats;
  source: string;
  dispatches: number;
  pipelines: number;
  firstRunMs: number;
  jsUsPerDispatch: number;
}

/**
 * Times the kernels that `encode` issues: a cold first run (pipeline compiles counted), then
 * the JS encode cost per dispatch, then tinybench samples of the captured dispatches replayed
 * in one timestamped pass. `encode` must only encode (tidy-scoped, no reads).
 */
export async function timeEncoded(name: string, encode: () => void, b: Budget): Promise<OpTiming> {
  const r = rt();
  await r.sync();
  const p0 = r.stats.pipelines;
  let t0 = performance.now();
  tidy(() => encode());
  await r.sync();
  const firstRunMs = performance.now() - t0;
  const pipelines = r.stats.pipelines - p0;
  // JS encode cost: the median of a few encodes, each timed alone and then run to completion
  // (not timed), so its released buffers return to the pool and, on a software adapter, the
  // previous submission's worker threads are not competing with the encode for the CPU.
  const d0 = r.stats.dispatches;
  const n = 7;
  const encodeTimes: number[] = [];
  for (let i = 0; i < n; i++) {
    t0 = performance.now();
    tidy(() => encode());
    encodeTimes.push(performance.now() - t0);
    await r.sync();
  }
  const encodeMs = encodeTimes.sort((x, y) => x - y)[n >> 1];
  const dispatchesPerRun = (r.stats.dispatches - d0) / n;
  let ds: Dispatch[] = [];
  tidy(() => {
    ds = captureDispatches(r, () => encode());
  });
  // Buffers of tidy-disposed tensors go back to the pool but nothing allocates until we finish.
  await r.sync();
  const tm = gpuTimer();
  await tm.compile(ds);
  const one = await tm.time(ds, 1);
  const reps = repsFor(one.ms);
  let source = one.source;
  const stats = await measure(name, async () => {
    const t = await tm.time(ds, reps);
    source = t.source;
    return t.ms;
  }, b);
  return {
    stats, source, dispatches: dispatchesPerRun, pipelines, firstRunMs,
    jsUsPerDispatch: dispatchesPerRun > 0 ? (encodeMs * 1000) / dispatchesPerRun : 0,
  };
}

/** Max |a-b| / (atol + rtol·|b|) style check: returns the max abs error and whether all pass. */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): { maxErr: number; ok: boolean } {
  let maxErr = 0, ok = got.length === want.length;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= atol + rtol * Math.abs(want[i]))) ok = false;
    if (!(e <= maxErr)) maxErr = Number.isNaN(e) ? Infinity : Math.max(maxErr, e);
  }
  return { maxErr, ok };
}

/**
 * Runs `f` on cpu64 and on webgpu with the same inputs and compares every returned tensor.
 * `f` builds its inputs on the given backend; the outputs are read back and compared.
 */
export async function checkVsCpu64(f: (backend: "cpu64" | "webgpu") => Tensor[], atol = 2e-4, rtol = 2e-3): Promise<{ maxErr: number; ok: boolean }> {
  const run = async (backend: "cpu64" | "webgpu") => {
    let outs: Tensor[] = [];
    const data = await tidy(async () => {
      outs = f(backend);
      return readAll(outs);
    });
    return data;
  };
  const want = await run("cpu64");
  const got = await run("webgpu");
  let maxErr = 0, ok = true;
  want.forEach((w, i) => {
    const c = compare(got[i], w, atol, rtol);
    maxErr = Math.max(maxErr, c.maxErr);
    ok &&= c.ok;
  });
  return { maxErr, ok };
}

/** Machine facts recorded with every result file. */
export function machine(): Record<string, unknown> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    // Software-rasterizer threads; the peer child processes inherit the same value.
    lpNumThreads: process.env.LP_NUM_THREADS ?? null,
  };
}

/** Formats a shape list like `[4096,256]x[256,1024]`. */
export function shp(...shapes: readonly (readonly number[])[]): string {
  return shapes.map((s) => `[${s.join(",")}]`).join("x");
}
