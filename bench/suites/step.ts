// Step suite: the training step a user runs (GPT + AdamW + clipping through Trainer, one readback)
// at the three shapes of the step targets (L4 H4 B16 V256: T128 d128 = "config a", T512 d128,
// T128 d512), each with dispatches, submits, distinct pipelines, the host (JavaScript) time to
// encode one step, and a per-kernel GPU-time breakdown (every dispatch of one step replayed alone
// with GPU timestamps); the cold and warm first step of config a in fresh processes (a cold
// pipeline cache = an empty Mesa shader cache); the encode time of a GPT-2-small step (full mode);
// and, when `python3 -c "import torch"` works, the same step in PyTorch on the same cores.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as mg from "../../src/node";
import { SplitMix32 } from "../../src/tensor/random";
import type { Dispatch } from "../../src/shaders/wgsl";
import { captureDispatches } from "../../src/tensor/webgpu/timing";
import { runChild } from "../lib/child";
import { record, type Suite, type SuiteContext } from "../lib/context";
import { gpuTimer, rt } from "../lib/harness";
import { timeSteps } from "../lib/steps";

/** One step shape: the model and batch, and the step-time target (ms, lavapipe on 2 cores). */
export interface StepShape {
  id: string;
  L: number;
  H: number;
  C: number;
  B: number;
  T: number;
  V: number;
  targetMs: number;
}

/** The shapes of the step targets (issue 18), config a first. */
export const STEP_SHAPES: readonly StepShape[] = [
  { id: "T128 d128 (config a)", L: 4, H: 4, C: 128, B: 16, T: 128, V: 256, targetMs: 550 },
  { id: "T512 d128", L: 4, H: 4, C: 128, B: 16, T: 512, V: 256, targetMs: 3000 },
  { id: "T128 d512", L: 4, H: 4, C: 512, B: 16, T: 128, V: 256, targetMs: 4500 },
];

const here = dirname(fileURLToPath(import.meta.url));

/** A model, optimizer and trainer of a shape, with three fixed batches. */
function setup(s: Pick<StepShape, "L" | "H" | "C" | "B" | "T" | "V">) {
  const model = new mg.GPT({ nLayer: s.L, nHead: s.H, nEmbd: s.C, blockSize: s.T, vocabSize: s.V }, { seed: 1 });
  const opt = mg.AdamW.forModel(model, { lr: 1e-3 });
  const trainer = new mg.Trainer(model, opt, { schedule: { lr: 1e-3, warmup: 2, total: 1000 } });
  const rng = new SplitMix32(5);
  const batch = () => {
    const x = Int32Array.from({ length: s.B * s.T }, () => Math.floor(rng.uniform() * s.V));
    return [{ B: s.B, T: s.T, x, y: Int32Array.from(x, (_, i) => x[(i + 1) % x.length]) }];
  };
  const data = [batch(), batch(), batch()];
  let k = 0;
  return {
    step: () => trainer.trainStep(data[k++ % data.length]),
    dispose: () => {
      model.dispose();
      opt.dispose();
    },
  };
}

/** GPU milliseconds per kernel name for one step's dispatches, each replayed alone (`reps` times). */
async function breakdown(ds: readonly Dispatch[], reps: number): Promise<{ kernel: string; dispatches: number; ms: number; share: number }[]> {
  const timer = gpuTimer();
  const by = new Map<string, { n: number; ms: number }>();
  for (const d of ds) {
    const t = await timer.time([d], reps);
    const e = by.get(d.kernel.name) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += t.ms;
    by.set(d.kernel.name, e);
  }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  return [...by].map(([kernel, e]) => ({ kernel, dispatches: e.n, ms: e.ms, share: e.ms / total })).sort((a, b) => b.ms - a.ms);
}

/** Whether a kernel name is part of attention (forward, backward, probabilities). */
const isAttention = (k: string): boolean => /attention|flash/i.test(k);

async function shapeCase(ctx: SuiteContext, s: StepShape): Promise<void> {
  const { step, dispose } = setup(s);
  try {
    let ds: Dispatch[] = [];
    let kernels: Awaited<ReturnType<typeof breakdown>> = [];
    // One steady step, captured; its dispatches are replayed at once, before the next step
    // reuses their uniforms and pool buffers.
    const rep = await timeSteps(ctx, `step ${s.id}`, step, {
      steady: 1, maxSamples: 3, onCapture: async (d) => { ds = d; kernels = await breakdown(d, ctx.quick ? 1 : 2); },
    });
    const { ms, encodeMs, submits, newBuffers } = rep;
    const gpuMs = kernels.reduce((a, k) => a + k.ms, 0);
    const attention = kernels.filter((k) => isAttention(k.kernel)).reduce((a, k) => a + k.share, 0);
    const tokens = s.B * s.T;
    record(ctx, {
      suite: "step", name: `GPT step ${s.id}`, shape: `L${s.L} H${s.H} C${s.C} B${s.B} T${s.T} V${s.V}`, impl: "metagrad",
      timing: "wall-e2e", ms, pipelines: rep.pipelines, firstRunMs: rep.firstStepMs, dispatches: ds.length,
      jsUsPerDispatch: (encodeMs * 1000) / Math.max(1, ds.length),
      extra: {
        targetMs: s.targetMs, tokensPerS: Math.round((tokens * 1000) / ms.median), submitsPerStep: submits, newBuffersPerStep: newBuffers,
        newBindGroupsPerStep: rep.newBindGroups, distinctPipelines: new Set(ds.map((d) => d.kernel.code)).size, hostEncodeMs: encodeMs, gpuMsKernelsAlone: gpuMs,
        attentionShare: attention,
      },
    });
    (ctx.sections.stepBreakdown ??= {} as Record<string, unknown>);
    (ctx.sections.stepBreakdown as Record<string, unknown>)[s.id] = kernels.map((k) => ({ ...k, ms: +k.ms.toFixed(3), share: +k.share.toFixed(4) }));
    ctx.log(`    ${s.id}: ${ds.length} dispatches, ${submits} submit(s), encode ${encodeMs.toFixed(1)} ms, GPU ${gpuMs.toFixed(0)} ms ` +
      `(attention ${(attention * 100).toFixed(0)} %); top: ${kernels.slice(0, 4).map((k) => `${k.kernel} ${(k.share * 100).toFixed(0)}%`).join(", ")}`);
  } finally {
    dispose();
  }
}

/** Whether PyTorch is importable here (the optional side-by-side row). */
function hasTorch(): string | null {
  try {
    return execFileSync("python3", ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 60_000 }).trim();
  } catch {
    return null;
  }
}

async function torchCase(ctx: SuiteContext, s: StepShape, version: string): Promise<void> {
  const out = execFileSync("python3", [join(here, "../peers/torch_gpt_step.py"), ...[s.L, s.H, s.C, s.B, s.T, s.V, ctx.quick ? 4 : 6].map(String)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 600_000 });
  const j = JSON.parse(out.trim().split("\n").at(-1)!) as { msMedian: number; msMin: number; msFirst: number; threads: number };
  const ours = ctx.results.find((r) => r.suite === "step" && r.name === `GPT step ${s.id}`);
  record(ctx, {
    suite: "step", name: `GPT step ${s.id}`, shape: `L${s.L} H${s.H} C${s.C} B${s.B} T${s.T} V${s.V}`, impl: "pytorch-cpu",
    timing: "wall-e2e", ms: { median: j.msMedian, min: j.msMin, max: j.msMedian, samples: 0 },
    note: `torch ${version}, ${j.threads} threads, CPU`,
    extra: { ...(ours ? { oursOverTorch: ours.ms.median / j.msMedian } : {}), firstStepMs: j.msFirst },
  });
}

/**
 * The first step of config a in fresh processes: with a Mesa shader cache that is empty (cold),
 * the same with the compile helper off (one compile queue: METAGRAD_PARALLEL_COMPILE=0), and
 * with the cache the last cold run filled (warm). The full bench runs each kind 3 times,
 * alternated, each cold run with a new empty cache, and reports the median: on a shared VM one
 * sample of the cold step ranges over 6–11 s (bench/RESULTS.md, "First step").
 */
async function firstStep(ctx: SuiteContext): Promise<void> {
  const caches: string[] = [];
  const a = STEP_SHAPES[0];
  type Run = { firstStepMs: number; secondStepMs: number; pipelines: number };
  const kinds = [
    { which: "cold", parallel: "1", name: "first step, cold pipeline cache", targetMs: 8000, runs: [] as Run[] },
    { which: "cold-serial", parallel: "0", name: "first step, cold cache, one compile queue", targetMs: 0, runs: [] as Run[] },
    { which: "warm", parallel: "1", name: "first step, warm pipeline cache", targetMs: 0, runs: [] as Run[] },
  ];
  try {
    for (let round = 0; round < (ctx.quick ? 1 : 3); round++) {
      let filled = ""; // the cache this round's cold run filled, which its warm run reuses
      for (const { which, parallel, runs } of kinds) {
        const cache = which === "warm" ? filled : mkdtempSync(join(tmpdir(), "metagrad-mesa-cache-"));
        if (which !== "warm") caches.push(cache);
        if (which === "cold") filled = cache;
        const env = { MESA_SHADER_CACHE_DIR: cache, MESA_SHADER_CACHE_DISABLE: "false", METAGRAD_PARALLEL_COMPILE: parallel };
        const o = await runChild<Run>(join(here, "../lib/first-step-child.ts"), [JSON.stringify(a)], { env, timeoutMs: 600_000, prefix: `    [${which}] ` });
        if (o.report) runs.push(o.report);
        else ctx.log(`    first step (${which}) failed: ${o.error}`);
      }
    }
  } finally {
    for (const c of caches) rmSync(c, { recursive: true, force: true });
  }
  const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1];
  for (const { name, targetMs, runs } of kinds) {
    if (!runs.length) continue;
    const first = runs.map((r) => r.firstStepMs);
    record(ctx, {
      suite: "step", name, shape: a.id, impl: "metagrad", timing: "wall-e2e",
      ms: { median: median(first), min: Math.min(...first), max: Math.max(...first), samples: first.length },
      pipelines: runs[0].pipelines,
      extra: { secondStepMs: median(runs.map((r) => r.secondStepMs)), targetMs, firstStepSamplesMs: first.map(Math.round).join(" ") },
    });
  }
}

/**
 * Host time to encode one training step of GPT-2 small (12L-768, B1 T128): what stays when GPU
 * time shrinks. Its vocabulary is GPT-2's 50,257 where the adapter binds the [V, 768] embedding
 * (154 MB), else the largest multiple of 64 that fits (lavapipe binds at most 128 MiB: V 43,648).
 * The vocabulary changes no dispatch count, only the head's and embedding's sizes.
 */
async function gpt2SmallEncode(ctx: SuiteContext): Promise<void> {
  const r = rt();
  const C = 768;
  const fits = Math.floor(r.maxBindingBytes / (4 * C) / 64) * 64;
  const s = { L: 12, H: 12, C, B: 1, T: 128, V: Math.min(50257, fits) };
  if (s.V < 50257) ctx.log(`    GPT-2 small encode with V ${s.V}: the adapter binds at most ${r.maxBindingBytes} bytes, and [50257, 768] f32 needs ${50257 * C * 4}`);
  const { step, dispose } = setup(s);
  try {
    await step();
    await step();
    let pending: Promise<unknown> = Promise.resolve();
    const g0 = r.stats.bindGroups;
    const t0 = performance.now();
    const ds = captureDispatches(r, () => { pending = step(); });
    const encodeMs = performance.now() - t0;
    const newBindGroups = r.stats.bindGroups - g0;
    const w0 = performance.now();
    await pending;
    const waitMs = performance.now() - w0;
    record(ctx, {
      suite: "step", name: "GPT-2 small step: host encode", shape: `L12 H12 C768 B1 T128 V${s.V}`, impl: "metagrad", timing: "wall-e2e",
      ms: { median: encodeMs, min: encodeMs, max: encodeMs, samples: 1 }, dispatches: ds.length,
      jsUsPerDispatch: (encodeMs * 1000) / ds.length, extra: { gpuAndWaitMs: waitMs, newBindGroups },
    });
  } finally {
    dispose();
  }
}

/** The step suite. */
export const stepSuite: Suite = {
  name: "step",
  describe: "the GPT training step at the three target shapes (breakdown, encode time, pipelines), the cold first step, PyTorch alongside",
  run: async (ctx) => {
    const shapes = ctx.quick ? STEP_SHAPES.slice(0, 1) : STEP_SHAPES;
    for (const s of shapes) await shapeCase(ctx, s);
    const torch = hasTorch();
    const unavailable = (why: string) => {
      (ctx.sections.unavailable ??= {} as Record<string, string>);
      (ctx.sections.unavailable as Record<string, string>)["pytorch step"] = why;
      ctx.log(`    PyTorch row skipped: ${why}`);
    };
    if (!torch) unavailable("python3 cannot import torch on this machine (optional row; never a dependency)");
    else {
      try {
        for (const s of shapes) await torchCase(ctx, s, torch);
      } catch (e) {
        // The optional row must not cost the suite's own cases after it (the first step, the encode).
        unavailable(`torch ${torch} failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    await firstStep(ctx);
    if (!ctx.quick) await gpt2SmallEncode(ctx);
  },
};
