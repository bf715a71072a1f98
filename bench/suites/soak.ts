// Soak suite: 1,000 training steps of a small GPT on the S1 seeds data (Trainer + AdamW, a
// validation pass every 100 steps and a checkpoint every 250, the way `npm run train` runs),
// recording after warm-up (50 steps, one validation pass and one checkpoint) the GPU buffers
// created (should stay 0), the pool's bytes in use, and
// host memory (RSS, V8 heap after a GC when exposed) every 50 steps, with least-squares slopes.
// A leak shows as new buffers or a slope; noise shows as scatter around a flat line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { AdamW, GPT, Trainer, saveCheckpoint } from "../../src/nn/node";
import { seedsSource } from "../../src/data/sources";
import { record, type Suite, type SuiteContext } from "../lib/context";
import { rt } from "../lib/harness";

const MB = 2 ** 20;

/** V8's gc(), exposed at run time (so heap samples are taken after a collection), or undefined. */
function exposeGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}

/** Least-squares slope of y over x. */
function slope(x: number[], y: number[]): number {
  const n = x.length, mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i] - mx) * (y[i] - my);
    den += (x[i] - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

async function soak(ctx: SuiteContext): Promise<void> {
  const steps = ctx.quick ? 300 : 1000, warmup = 50, every = 50;
  const data = seedsSource({ B: 8, T: 32, seed: 1, nTrain: 512, nVal: 32, valBatches: 2 });
  const model = new GPT({ nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 32, vocabSize: data.vocabSize }, { seed: 1 });
  const opt = AdamW.forModel(model, { lr: 3e-3 });
  const trainer = new Trainer(model, opt, { schedule: { lr: 3e-3, warmup: 20, total: steps } });
  const dir = mkdtempSync(join(tmpdir(), "soak-"));
  const r = rt();
  const gc = exposeGc();
  const at: number[] = [], rss: number[] = [], heap: number[] = [], pool: number[] = [];
  let buffers0 = 0;
  const t0 = performance.now();
  const losses: number[] = [];
  try {
    for (let s = 1; s <= steps; s++) {
      losses.push((await trainer.trainStep([data.nextTrain()])).loss);
      const save = () => saveCheckpoint(join(dir, "soak.safetensors"), model, opt, { data: data.state() });
      if (s % 100 === 0) await trainer.evaluate(data.val);
      if (s % 250 === 0) await save();
      if (s === warmup) { // warm-up ends after one of everything
        await trainer.evaluate(data.val);
        await save();
        buffers0 = r.pool.stats.buffersCreated;
      }
      if (s >= warmup && s % every === 0) {
        gc?.();
        const m = process.memoryUsage();
        at.push(s);
        rss.push(m.rss / MB);
        heap.push(m.heapUsed / MB);
        pool.push(r.pool.stats.bytesInUse / MB);
      }
    }
  } finally {
    model.dispose();
    opt.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (performance.now() - t0) / steps;
  const newBuffers = r.pool.stats.buffersCreated - buffers0;
  const per1k = (y: number[]) => Number((slope(at, y) * 1000).toFixed(3));
  const section = {
    steps, warmupSteps: warmup, sampleEvery: every, model: "GPT 2L C32 H2 T32 V65, B8", msPerStep: Number(ms.toFixed(2)),
    gcExposed: gc !== undefined, newGpuBuffersAfterWarmup: newBuffers,
    rssMB: { first: rss[0], last: rss.at(-1)!, min: Math.min(...rss), max: Math.max(...rss), slopePer1kSteps: per1k(rss) },
    heapMB: { first: heap[0], last: heap.at(-1)!, min: Math.min(...heap), max: Math.max(...heap), slopePer1kSteps: per1k(heap) },
    poolInUseMB: { first: pool[0], last: pool.at(-1)!, slopePer1kSteps: per1k(pool) },
    samples: at.map((s, i) => ({ step: s, rssMB: Number(rss[i].toFixed(1)), heapMB: Number(heap[i].toFixed(2)), poolInUseMB: Number(pool[i].toFixed(3)) })),
    firstLoss: losses[0], lastLoss: losses.at(-1)!,
  };
  ctx.sections.soak = section;
  record(ctx, {
    suite: "soak", name: `soak: ${steps} training steps`, shape: section.model, impl: "metagrad", timing: "wall-e2e",
    ms: { median: ms, min: ms, max: ms, samples: steps },
    check: { shape: "0 new GPU buffers after warm-up", maxErr: newBuffers, ok: newBuffers === 0 },
    extra: { newGpuBuffersAfterWarmup: newBuffers, rssSlopeMBPer1k: section.rssMB.slopePer1kSteps, heapSlopeMBPer1k: section.heapMB.slopePer1kSteps,
      rssFirstMB: Number(section.rssMB.first.toFixed(1)), rssLastMB: Number(section.rssMB.last.toFixed(1)) },
    note: `RSS ${section.rssMB.first.toFixed(0)} → ${section.rssMB.last.toFixed(0)} MB, heap ${section.heapMB.first.toFixed(1)} → ${section.heapMB.last.toFixed(1)} MB`,
  });
}

/** The soak suite. */
export const soakSuite: Suite = {
  name: "soak",
  describe: "1,000 training steps (300 with --quick): new GPU buffers after warm-up and host memory over time",
  run: soak,
};
