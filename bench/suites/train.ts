// Training-step suite: one full GPT training step (src/nn GPT + AdamW + Trainer: forward, fused
// cross-entropy, backward, clipping, AdamW, one loss readback) and the small MLP step of the peer
// comparison, with tokens/s, dispatches/submits per step, new GPU buffers after warm-up, and the
// JS encode time per dispatch (the synchronous part of a step, before its first await); the GPT
// step again with anomaly detection on (its cost as a ratio to off).
import * as mg from "../../src/node";
import type { Tensor } from "../../src/node";
import { SplitMix32 } from "../../src/tensor/random";
import { record, type Suite, type SuiteContext } from "../lib/context";
import { timeSteps } from "../lib/steps";
import type { Dispatch } from "../../src/shaders/wgsl";
import { GPT_SHAPES, peerCases } from "../lib/shapes";
import { inputs } from "../peers/common";
import { mlpSgdStep } from "../peers/impl-metagrad";

interface NnModule {
  GPT: new (c: Record<string, number>, o?: Record<string, unknown>) => { dispose?: () => void };
  AdamW: { forModel: (m: unknown, o?: Record<string, number>) => { dispose: () => void } };
  Trainer: new (m: unknown, opt: unknown, o: Record<string, unknown>) => {
    trainStep: (b: { B: number; T: number; x: Int32Array; y: Int32Array }[]) => Promise<{ loss: number }>;
  };
}

async function gptStep(ctx: SuiteContext): Promise<void> {
  let nn: NnModule;
  const path = "../../src/nn/index";
  try {
    nn = (await import(/* @vite-ignore */ path)) as NnModule;
    if (typeof nn.GPT !== "function" || typeof nn.Trainer !== "function") throw new Error("GPT/Trainer not exported");
  } catch (e) {
    ctx.log(`  GPT step skipped: src/nn has no GPT/Trainer yet (${(e as Error).message.split("\n")[0]})`);
    (ctx.sections.unavailable ??= {} as Record<string, string>);
    (ctx.sections.unavailable as Record<string, string>)["gpt step"] = "src/nn GPT/Trainer not available";
    return;
  }
  const g = GPT_SHAPES;
  const [B, T] = ctx.quick ? [4, 128] : [8, 128]; // the kernel-level suites use the full B16 × T256
  const config = { nLayer: 2, nHead: g.H, nEmbd: g.C, blockSize: g.T, vocabSize: g.V };
  const model = new nn.GPT(config, { seed: 1 });
  const opt = nn.AdamW.forModel(model, { lr: 1e-3 });
  const trainer = new nn.Trainer(model, opt, { schedule: { lr: 1e-3, warmup: 2, total: 1000 } });
  const rng = new SplitMix32(5);
  const batch = () => {
    const x = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * g.V));
    const y = Int32Array.from({ length: B * T }, (_, i) => x[(i + 1) % x.length]);
    return [{ B, T, x, y }];
  };
  const data = [batch(), batch(), batch()];
  let k = 0;
  const losses: number[] = [];
  let ds: Dispatch[] = [];
  const rep = await timeSteps(ctx, "gpt step", () => trainer.trainStep(data[k++ % data.length]).then((r) => losses.push(r.loss)),
    { onCapture: async (d) => { ds = d; } });
  ctx.sections.gptPipelines = pipelineCensus(ds, rep.firstStepMs - rep.ms.median);
  const ok = losses.every(Number.isFinite) && losses[losses.length - 1] < losses[0];
  const shape = `L2 C${g.C} H${g.H} V${g.V} B${B} T${T}`;
  record(ctx, {
    suite: "train", name: "GPT training step", shape, impl: "metagrad",
    timing: "wall-e2e", ms: rep.ms, check: { shape: "loss decreases", maxErr: 0, ok },
    pipelines: rep.pipelines, firstRunMs: rep.firstStepMs, dispatches: rep.dispatches, jsUsPerDispatch: rep.jsUsPerDispatch,
    extra: { tokensPerS: Math.round((B * T * 1000) / rep.ms.median), submitsPerStep: rep.submits, newBuffersPerStep: rep.newBuffers, newBindGroupsPerStep: rep.newBindGroups,
      firstLoss: losses[0], lastLoss: losses[losses.length - 1] },
  });
  // The same step with anomaly detection on (a non-finite check of every tensor); off costs nothing.
  mg.setAnomalyDetection(true);
  try {
    const an = await timeSteps(ctx, "gpt step (anomaly detection)", () =>
      trainer.trainStep(data[k++ % data.length]).then((r) => losses.push(r.loss)));
    record(ctx, {
      suite: "train", name: "GPT training step, anomaly detection on", shape, impl: "metagrad", timing: "wall-e2e", ms: an.ms,
      check: { shape: "loss finite", maxErr: 0, ok: losses.every(Number.isFinite) },
      pipelines: an.pipelines, firstRunMs: an.firstStepMs, dispatches: an.dispatches, jsUsPerDispatch: an.jsUsPerDispatch,
      extra: { overOff: an.ms.median / rep.ms.median, checkDispatchesPerStep: an.dispatches - rep.dispatches, newBuffersPerStep: an.newBuffers },
    });
  } finally {
    mg.setAnomalyDetection(false);
  }
  opt.dispose();
}

/**
 * Which kernels of a step exist in several shape-baked copies: the pipelines a kernel that reads
 * its sizes from a uniform would not need to compile (the measurement behind item 4 of the bench
 * issue; the core keeps baking shapes).
 */
function pipelineCensus(ds: readonly Dispatch[], coldExtraMs: number): Record<string, unknown> {
  const byName = new Map<string, Set<string>>();
  for (const d of ds) {
    if (!byName.has(d.kernel.name)) byName.set(d.kernel.name, new Set());
    byName.get(d.kernel.name)!.add(d.kernel.code);
  }
  const codes = [...byName.values()].reduce((a, s) => a + s.size, 0);
  const copies = Object.fromEntries([...byName].filter(([, s]) => s.size > 1).map(([n, s]) => [n, s.size]));
  return {
    dispatchesPerStep: ds.length, distinctKernels: byName.size, distinctPipelines: codes,
    shapeCopiesAvoidable: codes - byName.size, copiesByKernel: copies,
    coldFirstStepExtraMs: Math.round(coldExtraMs), msPerPipelineCold: Math.round(coldExtraMs / Math.max(1, codes)),
  };
}

async function mlpStep(ctx: SuiteContext): Promise<void> {
  const c = peerCases(true).find((x) => x.kind === "mlp")!;
  let xs: Tensor[] = inputs(c).map((x) => mg.fromValues(x.data, x.shape));
  for (const p of xs.slice(2)) p.requireGrad();
  const step = () => {
    const r = mlpSgdStep(xs);
    xs = r.xs;
    const loss = r.loss;
    return loss.item().finally(() => loss.dispose());
  };
  const rep = await timeSteps(ctx, "mlp step", step);
  record(ctx, {
    suite: "train", name: "MLP training step (SGD)", shape: c.dims.join("x"), impl: "metagrad", timing: "wall-e2e",
    ms: rep.ms, gflops: c.flop! / rep.ms.median / 1e6, pipelines: rep.pipelines, firstRunMs: rep.firstStepMs,
    dispatches: rep.dispatches, jsUsPerDispatch: rep.jsUsPerDispatch,
    extra: { submitsPerStep: rep.submits, newBuffersPerStep: rep.newBuffers },
  });
  for (const x of xs) x.dispose();
}

/** The training-step suite. */
export const trainSuite: Suite = {
  name: "train",
  describe: "full GPT training step (tokens/s, dispatches and submits per step, new buffers) and the MLP step",
  run: async (ctx) => {
    await mlpStep(ctx);
    await gptStep(ctx);
  },
};
