// End-to-end training of a tiny GPT: it overfits one batch on both backends, the two backends'
// loss curves agree over the first steps, a run is deterministic, gradient accumulation equals
// the big batch, a step submits once and reads back once, and GPU memory stays flat over 50 steps.
import { beforeAll, expect, test } from "vitest";
import { gpuRuntime, type BackendName } from "../src/node";
import type { LMBatch } from "../src/nn/index";
import { gpu } from "./helpers/gpu";
import { tinyBatch, tinySetup } from "./helpers/tiny-gpt";

beforeAll(async () => {
  await gpu();
});

async function curve(backend: BackendName, steps: number, b = tinyBatch(2)): Promise<number[]> {
  const s = tinySetup(backend);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push((await s.trainer.trainStep([b])).loss);
  s.dispose();
  return out;
}

test("overfits one batch on both backends; the backends' loss curves agree over the first steps", async () => {
  const cpu = await curve("cpu64", 40);
  const web = await curve("webgpu", 40);
  expect(cpu[0]).toBeGreaterThan(2); // ≈ ln 11 at init
  for (const c of [cpu, web]) expect(c.at(-1)!).toBeLessThan(0.15 * c[0]);
  for (let i = 0; i < 5; i++) expect(Math.abs(web[i] - cpu[i]) / cpu[i], `step ${i}`).toBeLessThan(1e-4);
});

test("same seed, same backend: identical loss curve (webgpu)", async () => {
  const a = await curve("webgpu", 4);
  const b = await curve("webgpu", 4);
  expect(b).toEqual(a);
});

test("gradient accumulation over two half batches equals one full batch (cpu64)", async () => {
  const full = tinySetup("cpu64");
  const acc = tinySetup("cpu64");
  const big = tinyBatch(4);
  const half = (k: number): LMBatch => ({ B: 2, T: 8, x: big.x.slice(k * 16, k * 16 + 16), y: big.y.slice(k * 16, k * 16 + 16) });
  for (let i = 0; i < 3; i++) {
    const a = await full.trainer.trainStep([big]);
    const b = await acc.trainer.trainStep([half(0), half(1)]);
    expect(b.loss).toBeCloseTo(a.loss, 12);
    expect(b.gradNorm).toBeCloseTo(a.gradNorm, 12);
  }
  const pa = await full.model.blocks[1].mlp.cFc.weight.data();
  const pb = await acc.model.blocks[1].mlp.cFc.weight.data();
  for (let i = 0; i < pa.length; i++) expect(pb[i]).toBeCloseTo(pa[i], 10);
  full.dispose();
  acc.dispose();
});

test("webgpu: one submit and one readback per step; no new GPU buffers or bind groups over 50 steps after warm-up", async () => {
  const rt = gpuRuntime()!;
  const s = tinySetup("webgpu", 3e-3);
  const created: number[] = [];
  const groups: number[] = [];
  let last = 0;
  for (let i = 0; i < 50; i++) {
    const before = { ...rt.stats };
    const r = await s.trainer.trainStep([tinyBatch(2, i % 3)]);
    if (i > 0) {
      expect(rt.stats.submits - before.submits).toBe(1);
      expect(rt.stats.readbacks - before.readbacks).toBe(1);
    }
    created.push(rt.pool.stats.buffersCreated);
    groups.push(rt.stats.bindGroups);
    last = r.loss;
  }
  expect(Number.isFinite(last)).toBe(true);
  expect(created.slice(3)).toEqual(new Array(47).fill(created[2]));
  // The same buffers in the same order every step: the step's bind groups are reused.
  expect(groups.slice(3)).toEqual(new Array(47).fill(groups[2]));
  // Validation on the same model afterwards is flat too.
  await s.trainer.evaluate([tinyBatch(2), tinyBatch(2, 1)]);
  const after = rt.pool.stats.buffersCreated;
  await s.trainer.evaluate([tinyBatch(2), tinyBatch(2, 1)]);
  expect(rt.pool.stats.buffersCreated).toBe(after);
  s.dispose();
});
