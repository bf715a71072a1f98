// Checkpoints: a save/load round trip restores weights, AdamW moments and step; resuming from a
// mid-run checkpoint reproduces the uninterrupted loss curve bit for bit on each backend (with
// gradient accumulation and an epoch rollover in the data); corrupt or mismatched files fail with
// an error naming the file and tensor and leave the model untouched.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type BackendName } from "../src/node";
import {
  AdamW, GPT, Trainer, loadCheckpoint, readCheckpointMeta, readSafetensors, saveCheckpoint, writeSafetensors,
  type GPTConfig, type TensorInput,
} from "../src/nn/node";
import { seedsSource } from "../src/data/sources";
import { gpu } from "./helpers/gpu";

const CFG: GPTConfig = { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11 };
const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await gpu();
});

/** A training setup on the S1 seeds data (T = 8, 10 sequences: 5 batches of 2 per epoch, 2 per step). */
function setup(backend: BackendName, seed = 0) {
  const data = seedsSource({ B: 2, T: 8, seed: 3, nTrain: 10, nVal: 4, valBatches: 1 });
  const model = new GPT({ ...CFG, vocabSize: data.vocabSize }, { backend, seed });
  const opt = AdamW.forModel(model, { lr: 1e-2 });
  const trainer = new Trainer(model, opt, { schedule: { lr: 1e-2, warmup: 2, total: 8 }, maxGradNorm: 0.5 });
  const step = async () => (await trainer.trainStep([data.nextTrain(), data.nextTrain()])).loss;
  return { data, model, opt, trainer, step, dispose: () => (model.dispose(), opt.dispose()) };
}

for (const backend of ["cpu64", "webgpu"] as const) {
  describe(`checkpoints on ${backend}`, () => {
    test("resume reproduces the uninterrupted loss curve exactly", async () => {
      const full = setup(backend);
      const want: number[] = [];
      for (let i = 0; i < 6; i++) want.push(await full.step());
      full.dispose();

      const first = setup(backend);
      const got: number[] = [];
      for (let i = 0; i < 3; i++) got.push(await first.step());
      const path = join(dir, `resume-${backend}.safetensors`);
      await saveCheckpoint(path, first.model, first.opt, { data: first.data.state(), run: { note: "test" } });
      first.dispose();

      const second = setup(backend, 99); // different init: everything must come from the file
      const meta = loadCheckpoint(path, second.model, second.opt);
      second.data.setState(meta.data);
      expect(meta.step).toBe(3);
      expect(second.trainer.step).toBe(3);
      expect(meta.run).toEqual({ note: "test" });
      for (let i = 0; i < 3; i++) got.push(await second.step());
      second.dispose();
      expect(got).toEqual(want);
    });
  });
}

test("round trip: weights, moments, step and config come back; the header is readable alone", async () => {
  const a = setup("cpu64");
  await a.step();
  const path = join(dir, "roundtrip.safetensors");
  await saveCheckpoint(path, a.model, a.opt, { data: a.data.state() });
  const meta = readCheckpointMeta(path);
  expect(meta.config).toEqual(a.model.config);
  expect(meta.step).toBe(1);
  expect(meta.optimizer).toEqual(a.opt.opts);
  const b = setup("cpu64", 42);
  loadCheckpoint(path, b.model, b.opt);
  for (const [n, p] of a.model.namedParameters()) {
    expect(await b.model.namedParameters().get(n)!.data(), n).toEqual(await p.data());
    expect(await b.opt.m.get(n)!.data(), n).toEqual(await a.opt.m.get(n)!.data());
    expect(await b.opt.v.get(n)!.data(), n).toEqual(await a.opt.v.get(n)!.data());
  }
  // Weights alone load into a model without an optimizer.
  const c = new GPT(b.model.config, { backend: "cpu64", seed: 8 });
  loadCheckpoint(path, c, null);
  expect(await c.wte.weight.data()).toEqual(await a.model.wte.weight.data());
  for (const x of [a, b]) x.dispose();
  c.dispose();
});

describe("bad checkpoints fail clearly and load nothing", () => {
  let good = "";
  let parsed: ReturnType<typeof readSafetensors>;
  beforeAll(async () => {
    const a = setup("cpu64");
    await a.step();
    good = join(dir, "good.safetensors");
    await saveCheckpoint(good, a.model, a.opt, { data: a.data.state() });
    a.dispose();
    parsed = readSafetensors(good);
  });

  /** Writes a variant of the good file with edited tensors or metadata. */
  function variant(name: string, edit: (t: Record<string, TensorInput>, md: Record<string, string>) => void): string {
    const tensors: Record<string, TensorInput> = {};
    for (const [k, t] of Object.entries(parsed.tensors)) tensors[k] = { dtype: t.dtype, shape: t.shape, data: t.data as Float64Array };
    const md = { ...parsed.metadata };
    edit(tensors, md);
    const path = join(dir, name);
    writeSafetensors(path, tensors, md);
    return path;
  }

  async function expectRejected(path: string, pattern: RegExp, cfg: GPTConfig = { ...CFG, vocabSize: 65 }) {
    const m = new GPT(cfg, { backend: "cpu64", seed: 1 });
    const opt = AdamW.forModel(m);
    const before = await m.blocks[0].attn.cAttn.weight.data();
    expect(() => loadCheckpoint(path, m, opt)).toThrow(pattern);
    expect(() => loadCheckpoint(path, m, opt)).toThrow(path);
    expect(await m.blocks[0].attn.cAttn.weight.data()).toEqual(before);
    expect(opt.stepCount).toBe(0);
    m.dispose();
    opt.dispose();
  }

  test("missing tensor", async () => {
    const p = variant("missing.safetensors", (t) => void delete t["model.blocks.1.mlp.c_fc.bias"]);
    await expectRejected(p, /tensor "model\.blocks\.1\.mlp\.c_fc\.bias" is missing; nothing was loaded/);
  });

  test("wrong shape", async () => {
    const p = variant("shape.safetensors", (t) => {
      t["adam_v.ln_f.weight"] = { dtype: "F64", shape: [4, 4], data: new Float64Array(16) };
    });
    await expectRejected(p, /tensor "adam_v\.ln_f\.weight" has shape \[4, 4\], the model needs \[16\]/);
  });

  test("unexpected tensor", async () => {
    const p = variant("extra.safetensors", (t) => {
      t["model.blocks.2.ln_1.weight"] = { dtype: "F64", shape: [16], data: new Float64Array(16) };
    });
    await expectRejected(p, /unexpected tensor "model\.blocks\.2\.ln_1\.weight"/);
  });

  test("different config", async () => {
    await expectRejected(good, /config differs from the model \(nLayer: checkpoint 2 vs model 3\)/, { ...CFG, nLayer: 3, vocabSize: 65 });
    await expectRejected(good, /vocabSize: checkpoint 65 vs model 11/, CFG);
  });

  test("not a checkpoint, bad metadata, truncated file", async () => {
    await expectRejected(variant("format.safetensors", (_t, md) => void delete md.format), /__metadata__\.format is undefined/);
    await expectRejected(variant("step.safetensors", (_t, md) => void (md.step = "x")), /__metadata__\.step is "x"/);
    await expectRejected(variant("cfg.safetensors", (_t, md) => void (md.config = "{")), /__metadata__\.config is not valid JSON/);
    const bytes = readFileSync(good);
    const cut = join(dir, "truncated.safetensors");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    await expectRejected(cut, /safetensors .*truncated\.safetensors/);
    await expectRejected(join(dir, "nope.safetensors"), /cannot read file/);
  });
});
