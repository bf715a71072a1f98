// GPT-2 import against an independent reference: test/fixtures/gpt2-tiny holds random GPT-2
// weights in Hugging Face format and the float64 PyTorch results of scripts/make-gpt2-fixture.py
// (loss, logits at a few positions, per-layer hidden-state norms). Both backends must match;
// other key layouts load too, and missing files or tensors give clear errors. Export: the imported
// fixture exported again (saveGpt2) holds tensors equal to the fixture's, and a model trained here
// (tied or untied) exported and re-imported gives the same logits.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fromValues, readAll, tidy, type Tensor } from "../src/node";
import {
  AdamW, GPT, Trainer, gpt2ConfigFromHf, gpt2FromBuffers, gpt2ToBuffers, loadGpt2, parseSafetensors, readSafetensors, saveGpt2,
  writeSafetensors, type TensorInput,
} from "../src/nn/node";
import { gpu } from "./helpers/gpu";
import { tinyBatch, TINY } from "./helpers/tiny-gpt";

const FIXTURE = join(import.meta.dirname, "fixtures", "gpt2-tiny");
const expected = JSON.parse(readFileSync(join(FIXTURE, "expected.json"), "utf8")) as {
  x: number[][]; y: number[][]; loss: number; positions: [number, number][]; logits: number[][];
  hiddenNormMean: number[]; hiddenNorms0: number[][];
};
const tmp = mkdtempSync(join(tmpdir(), "gpt2-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await gpu();
});

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/** Loss, logits and per-layer norms (through the taps) of the fixture input. */
async function evaluate(dir: string, backend: "cpu64" | "webgpu") {
  const { model, config, tokenizer } = await loadGpt2(dir, { backend, tokenizer: false });
  expect(tokenizer).toBeNull();
  const hs: Tensor[] = [];
  model.setTapHook((name, x) => {
    if (/^blocks\.\d+\.in$/.test(name) || name === `blocks.${config.nLayer - 1}.out`) hs.push(x);
  });
  const [B, T] = [expected.x.length, expected.x[0].length];
  const out = await tidy(async () => {
    const x = fromValues(expected.x.flat(), [B, T], { dtype: "i32", backend });
    const y = fromValues(expected.y.flat(), [B, T], { dtype: "i32", backend });
    const { logits, loss } = model.forward(x, y);
    const [lg, ls, ...h] = await readAll([logits, loss!, ...hs]);
    return { logits: lg, loss: ls[0], hs: h, V: config.vocabSize, T, C: config.nEmbd };
  });
  model.dispose();
  return out;
}

for (const backend of ["cpu64", "webgpu"] as const) {
  test(`${backend}: loss, logits and hidden-state norms match the PyTorch reference`, async () => {
    const r = await evaluate(FIXTURE, backend);
    expect(rel(r.loss, expected.loss)).toBeLessThan(backend === "cpu64" ? 1e-6 : 1e-4);
    expected.positions.forEach(([b, t], k) => {
      const row = r.logits.subarray((b * r.T + t) * r.V, (b * r.T + t + 1) * r.V);
      expected.logits[k].forEach((v, j) => expect(Math.abs(row[j] - v), `logit (${b}, ${t}, ${j})`).toBeLessThan(1e-4 + 1e-4 * Math.abs(v)));
    });
    expect(r.hs.length).toBe(expected.hiddenNormMean.length);
    r.hs.forEach((h, l) => {
      const norms = Array.from({ length: h.length / r.C }, (_, i) => Math.hypot(...h.subarray(i * r.C, (i + 1) * r.C)));
      const mean = norms.reduce((a, b) => a + b, 0) / norms.length;
      expect(rel(mean, expected.hiddenNormMean[l]), `layer ${l}`).toBeLessThan(1e-4);
      expected.hiddenNorms0[l].forEach((v, t) => expect(rel(norms[t], v), `layer ${l} position ${t}`).toBeLessThan(1e-4));
    });
  });
}

describe("other layouts and errors", () => {
  const src = readSafetensors(join(FIXTURE, "model.safetensors"));
  const config = readFileSync(join(FIXTURE, "config.json"), "utf8");
  function folder(name: string, edit: (t: Record<string, TensorInput>) => void, cfg = config): string {
    const d = join(tmp, name);
    const t: Record<string, TensorInput> = {};
    for (const [k, v] of Object.entries(src.tensors)) t[k] = { dtype: v.dtype, shape: v.shape, data: v.data as Float32Array };
    edit(t);
    writeSafetensors(join(d, "model.safetensors"), t);
    writeFileSync(join(d, "config.json"), cfg);
    return d;
  }

  test("keys without the `transformer.` prefix, no mask buffers, an explicit tied lm_head", async () => {
    const d = folder("plain", (t) => {
      for (const k of Object.keys(t)) {
        const v = t[k];
        delete t[k];
        if (!/\.attn\.bias$/.test(k)) t[k.replace(/^transformer\./, "")] = v;
      }
      t["lm_head.weight"] = t["wte.weight"];
    });
    const r = await evaluate(d, "cpu64");
    expect(rel(r.loss, expected.loss)).toBeLessThan(1e-6);
  });

  test("missing files, missing or misshapen tensors, unsupported activation", async () => {
    await expect(loadGpt2(join(tmp, "nowhere"))).rejects.toThrow(/missing file .*nowhere\/config\.json/);
    writeSafetensors(join(tmp, "dummy", "x.safetensors"), {});
    writeFileSync(join(tmp, "dummy", "config.json"), config);
    await expect(loadGpt2(join(tmp, "dummy"))).rejects.toThrow(/missing file .*dummy\/model\.safetensors/);
    const missing = folder("missing", (t) => void delete t["transformer.h.1.mlp.c_fc.weight"]);
    await expect(loadGpt2(missing, { backend: "cpu64" })).rejects.toThrow(/model\.safetensors: tensor "transformer\.h\.1\.mlp\.c_fc\.weight" is missing; nothing was loaded/);
    const shape = folder("shape", (t) => {
      t["transformer.h.0.attn.c_attn.weight"] = { dtype: "F32", shape: [48, 16], data: new Float32Array(768) };
    });
    await expect(loadGpt2(shape, { backend: "cpu64" })).rejects.toThrow(/tensor "transformer\.h\.0\.attn\.c_attn\.weight" has shape \[48, 16\], expected \[16, 48\]/);
    const act = folder("act", () => undefined, config.replace('"gelu_new"', '"relu"'));
    await expect(loadGpt2(act, { backend: "cpu64" })).rejects.toThrow(/config\.json has activation_function "relu"/);
  });

  test("the GPT-2 BPE tokenizer comes with the model by default", async () => {
    const { model, tokenizer } = await loadGpt2(FIXTURE, { backend: "cpu64" });
    expect(tokenizer!.vocabSize).toBe(50257);
    expect(tokenizer!.decode(tokenizer!.encode("Hello world"))).toBe("Hello world");
    model.dispose();
  });
});

/** Logits of `model` on a fixed [2, 8] input (values mod the vocabulary). */
async function logitsOf(model: GPT): Promise<Float64Array> {
  const V = model.config.vocabSize;
  return tidy(async () => {
    const x = fromValues(Array.from({ length: 16 }, (_, i) => (i * 5 + 2) % V), [2, 8], { dtype: "i32", backend: model.backend });
    const [lg] = await readAll([model.forward(x).logits]);
    return lg;
  });
}

describe("export to Hugging Face GPT-2", () => {
  test("stateDict() uses GPT2LMHeadModel names; a tied model has no lm_head.weight", () => {
    const model = new GPT(TINY, { backend: "cpu64" });
    const names = [...model.stateDict().keys()];
    expect(names.slice(0, 4)).toEqual(["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias"]);
    expect(names).toContain("transformer.h.1.mlp.c_proj.weight");
    expect(names.at(-1)).toBe("transformer.ln_f.bias");
    expect(names).not.toContain("lm_head.weight");
    expect(model.stateDict().get("transformer.h.0.attn.c_attn.weight")!.shape).toEqual([16, 48]); // Conv1D (in, out)
    const untied = new GPT({ ...TINY, tiedUnembedding: false }, { backend: "cpu64" });
    expect(untied.stateDict().get("lm_head.weight")!.shape).toEqual([11, 16]);
    model.dispose();
    untied.dispose();
  });

  for (const backend of ["cpu64", "webgpu"] as const) {
    test(`${backend}: the imported fixture, exported, holds tensors equal to the fixture's`, async () => {
      const { model } = await loadGpt2(FIXTURE, { backend, tokenizer: false });
      const dir = join(tmp, `export-${backend}`);
      const paths = await saveGpt2(model, dir);
      model.dispose();
      const fixture = readSafetensors(join(FIXTURE, "model.safetensors"));
      const out = readSafetensors(paths.safetensors);
      expect(out.metadata).toEqual({ format: "pt" }); // transformers refuses safetensors without it
      const weights = Object.keys(fixture.tensors).filter((k) => !/\.attn\.(masked_)?bias$/.test(k)).sort();
      expect(Object.keys(out.tensors).sort()).toEqual(weights);
      for (const k of weights) {
        expect(out.tensors[k]!.dtype, k).toBe("F32");
        expect(out.tensors[k]!.shape, k).toEqual(fixture.tensors[k]!.shape);
        expect(out.tensors[k]!.data, k).toEqual(fixture.tensors[k]!.data);
      }
      const cfgOut = JSON.parse(readFileSync(paths.config, "utf8")) as Record<string, unknown>;
      const cfgIn = JSON.parse(readFileSync(join(FIXTURE, "config.json"), "utf8")) as Record<string, unknown>;
      expect(gpt2ConfigFromHf("out", cfgOut)).toEqual(gpt2ConfigFromHf("in", cfgIn));
      for (const k of Object.keys(cfgIn)) expect(cfgOut[k], k).toEqual(cfgIn[k]);
    });
  }

  for (const untied of [false, true]) {
    test(`webgpu: a model trained here${untied ? " (untied lm_head)" : ""}, exported and re-imported, gives the same logits`, async () => {
      const trained = new GPT({ ...TINY, tiedUnembedding: !untied }, { backend: "webgpu", seed: 5 });
      const opt = AdamW.forModel(trained, { lr: 1e-2 });
      const trainer = new Trainer(trained, opt, { schedule: { lr: 1e-2, warmup: 1, total: 100 } });
      for (let s = 0; s < 3; s++) await trainer.trainStep([tinyBatch(4, s)]);
      const dir = join(tmp, `trained-${untied}`);
      await saveGpt2(trained, dir);
      const back = await loadGpt2(dir, { backend: "webgpu", tokenizer: false });
      expect(back.config).toEqual(trained.config);
      const [a, b] = [await logitsOf(trained), await logitsOf(back.model)];
      expect(b).toEqual(a);
      const bytes = await gpt2ToBuffers(trained); // the in-memory path (what a page would use)
      const mem = await gpt2FromBuffers(JSON.stringify(bytes.config), bytes.safetensors.slice().buffer, { backend: "cpu64" });
      const c = await logitsOf(mem.model);
      c.forEach((v, i) => expect(Math.abs(v - a[i]!)).toBeLessThan(1e-5));
      for (const m of [trained, back.model, mem.model]) m.dispose();
      opt.dispose();
    });
  }

  test("loadStateDict checks everything first and loads nothing on a problem", async () => {
    const model = new GPT(TINY, { backend: "cpu64", seed: 1 });
    const before = await logitsOf(model);
    const other = new GPT(TINY, { backend: "cpu64", seed: 2 });
    const sd = new Map(Object.entries(parseSafetensors((await gpt2ToBuffers(other)).safetensors).tensors));
    other.dispose();
    sd.set("transformer.h.9.ln_1.weight", sd.get("transformer.h.0.ln_1.weight")!);
    sd.set("h.0.ln_2.bias", sd.get("transformer.h.0.ln_2.bias")!);
    sd.delete("transformer.wpe.weight");
    await expect(model.loadStateDict(sd, { source: "x.safetensors" })).rejects.toThrow(
      /loadStateDict: x\.safetensors: unexpected tensor "transformer\.h\.9\.ln_1\.weight"; tensor "h\.0\.ln_2\.bias" is given twice .*; tensor "transformer\.wpe\.weight" is missing; nothing was loaded/);
    expect(await logitsOf(model)).toEqual(before);
    model.dispose();
  });

  test("GPT-2 cannot express linear layers without biases: the export says so", async () => {
    const model = new GPT({ ...TINY, bias: false }, { backend: "cpu64" });
    await expect(gpt2ToBuffers(model)).rejects.toThrow(/bias: false cannot be exported/);
    model.dispose();
  });
});
