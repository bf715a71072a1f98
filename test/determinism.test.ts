// Same seed, same run: two fresh training runs (model init, data order, 20 AdamW steps with
// clipping) give bit-identical losses and weights on webgpu and on cpu64, and another seed differs.
// (No float atomics anywhere: every reduction runs in a fixed order.)
import { beforeAll, expect, it } from "vitest";
import { readAll, type BackendName } from "../src/node";
import { AdamW, GPT, Trainer } from "../src/nn/index";
import { seedsSource } from "../src/data/sources";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

async function run(backend: BackendName, seed: number): Promise<{ losses: number[]; weights: Float64Array[] }> {
  const data = seedsSource({ B: 4, T: 16, seed, nTrain: 64, nVal: 8, valBatches: 1 });
  const model = new GPT({ nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16, vocabSize: data.vocabSize }, { backend, seed });
  const opt = AdamW.forModel(model, { lr: 1e-2, weightDecay: 0.1 });
  const trainer = new Trainer(model, opt, { schedule: { lr: 1e-2, warmup: 3, total: 20 }, maxGradNorm: 0.5 });
  const losses: number[] = [];
  for (let s = 0; s < 20; s++) losses.push((await trainer.trainStep([data.nextTrain()])).loss);
  const weights = await readAll([...model.parameters()]);
  model.dispose();
  opt.dispose();
  return { losses, weights };
}

for (const backend of ["webgpu", "cpu64"] as const) {
  it(`${backend}: two runs with the same seed give bit-identical losses and weights; another seed does not`, async () => {
    const a = await run(backend, 3), b = await run(backend, 3), c = await run(backend, 4);
    expect(b.losses).toEqual(a.losses);
    b.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(a.weights[i].buffer)), `param ${i}`).toBe(true));
    expect(c.losses).not.toEqual(a.losses);
  });
}
