// GPT-2 import against an independent reference: test/fixtures/gpt2-tiny holds random GPT-2
// weights in Hugging Face format and the float64 PyTorch results of scripts/make-gpt2-fixture.py
// (loss, logits at a few positions, per-layer hidden-state norms). Both backends must match;
// other key layouts load too, and missing files or tensors give clear errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fromValues, readAll, tidy, type Tensor } from "../src/node";
import { loadGpt2, readSafetensors, writeSafetensors, type TensorInput } from "../src/nn/node";
import { gpu } from "./helpers/gpu";

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
    await expect(loadGpt2(missing, { backend: "cpu64" })).rejects.toThrow(/model\.safetensors: tensor "h\.1\.mlp\.c_fc\.weight" is missing/);
    const shape = folder("shape", (t) => {
      t["transformer.h.0.attn.c_attn.weight"] = { dtype: "F32", shape: [48, 16], data: new Float32Array(768) };
    });
    await expect(loadGpt2(shape, { backend: "cpu64" })).rejects.toThrow(/tensor "h\.0\.attn\.c_attn\.weight" has shape \[48, 16\], expected \[16, 48\]/);
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
