// Timing a training step the one way every suite uses: the first step (its time and the
// pipelines it compiled), a warm step, then steady steps for the per-step counters (dispatches,
// submits, new GPU buffers and bind groups) and the host encode time (the synchronous part of a
// step, before its first await), then tinybench samples.
import type { Dispatch } from "../../src/shaders/wgsl";
import { captureDispatches } from "../../src/tensor/webgpu/timing";
import type { SuiteContext } from "./context";
import { measure, rt } from "./harness";

/** One training step: the synchronous encode part returns the promise of the readback. */
export type Step = () => Promise<unknown>;

/** What {@link timeSteps} measured; counters are per step. */
export interface StepReport {
  ms: Awaited<ReturnType<typeof measure>>;
  firstStepMs: number;
  /** Pipelines compiled by the first step. */
  pipelines: number;
  dispatches: number;
  submits: number;
  newBuffers: number;
  /** Bind groups created per steady step (0 when the step binds the same buffers as the one before). */
  newBindGroups: number;
  /** Host time to encode one step (ms). */
  encodeMs: number;
  jsUsPerDispatch: number;
}

/** Options of {@link timeSteps}. */
export interface TimeStepsOptions {
  /** Steady steps the counters average over (default 2). */
  steady?: number;
  /** At most this many timed samples (default 4). */
  maxSamples?: number;
  /**
   * Receives the dispatches of the last steady step, captured as it encodes, before any later
   * step runs (its uniforms and pool buffers are recycled by the next step).
   */
  onCapture?: (ds: Dispatch[]) => Promise<void>;
}

/** Warm-up (two steps), steady steps for the counters, then tinybench samples. */
export async function timeSteps(ctx: SuiteContext, name: string, step: Step, o: TimeStepsOptions = {}): Promise<StepReport> {
  const r = rt();
  const n = o.steady ?? 2;
  const p0 = r.stats.pipelines;
  let t0 = performance.now();
  await step();
  const firstStepMs = performance.now() - t0;
  const pipelines = r.stats.pipelines - p0;
  await step();
  const s0 = { ...r.stats }, b0 = r.pool.stats.buffersCreated;
  let encodeMs = 0;
  let captured: Dispatch[] | null = null;
  for (let i = 0; i < n; i++) {
    let pending: Promise<unknown> = Promise.resolve();
    t0 = performance.now();
    if (o.onCapture && i === n - 1) captured = captureDispatches(r, () => { pending = step(); });
    else pending = step();
    encodeMs += performance.now() - t0;
    await pending;
  }
  const dispatches = (r.stats.dispatches - s0.dispatches) / n;
  const submits = (r.stats.submits - s0.submits) / n;
  const newBuffers = (r.pool.stats.buffersCreated - b0) / n;
  const newBindGroups = (r.stats.bindGroups - s0.bindGroups) / n;
  if (o.onCapture && captured) await o.onCapture(captured);
  const ms = await measure(name, async () => {
    await step();
  }, { ...ctx.budget, minSamples: Math.min(ctx.budget.minSamples, o.maxSamples ?? 4), warmup: 0 });
  encodeMs /= n;
  return { ms, firstStepMs, pipelines, dispatches, submits, newBuffers, newBindGroups, encodeMs, jsUsPerDispatch: (encodeMs * 1000) / Math.max(1, dispatches) };
}
