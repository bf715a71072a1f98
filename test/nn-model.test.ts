// The GPT module tree on both backends: parameter names and init, tap names and the guarantee
// that taps (with or without attention probabilities) change neither logits nor gradients,
// forward errors, and the cpu64/webgpu agreement of logits and gradients.
import { beforeAll, describe, expect, test } from "vitest";
import { fromValues, readAll, tidy, type BackendName, type Tensor } from "../src/node";
import { GPT, type GPTConfig } from "../src/nn/index";
import { gpu } from "./helpers/gpu";

const CFG: GPTConfig = { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11 };
const B = 2, T = 8;
const X = Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 11);
const Y = Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % 11);

beforeAll(async () => {
  await gpu();
});

const ids = (v: number[], backend: BackendName) => fromValues(v, [B, T], { dtype: "i32", backend });

/** Logits, loss and all gradients (by parameter name) of one forward+backward. */
async function run(model: GPT, backend: BackendName): Promise<{ logits: Float64Array; loss: number; grads: Map<string, Float64Array> }> {
  return tidy(async () => {
    const { logits, loss } = model.forward(ids(X, backend), ids(Y, backend));
    loss!.backward();
    const names = [...model.namedParameters().keys()];
    const [lg, ls, ...gs] = await readAll([logits, loss!, ...model.parameters().map((p) => p.grad!)]);
    model.zeroGrad();
    return { logits: lg, loss: ls[0], grads: new Map(names.map((n, i) => [n, gs[i]])) };
  });
}

function maxRelDiff(a: Float64Array, b: Float64Array): number {
  let scale = 1e-6;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / scale;
}

describe("GPT structure", () => {
  test("parameter names follow HF GPT-2 (h.{l} spelled blocks.{l}), GPT-2 init statistics", async () => {
    const model = new GPT({ ...CFG, nEmbd: 64, vocabSize: 500 }, { backend: "cpu64", seed: 3 });
    const names = [...model.namedParameters().keys()];
    expect(names.slice(0, 3)).toEqual(["wte.weight", "wpe.weight", "blocks.0.ln_1.weight"]);
    expect(names).toContain("blocks.1.attn.c_attn.weight");
    expect(names).toContain("blocks.1.mlp.c_proj.bias");
    expect(names.at(-1)).toBe("ln_f.bias");
    expect(names.length).toBe(2 + 2 * 12 + 2);
    const p = model.namedParameters();
    expect(p.get("blocks.0.attn.c_attn.weight")!.shape).toEqual([64, 192]);
    expect(p.get("blocks.0.mlp.c_fc.weight")!.shape).toEqual([64, 256]);
    expect(p.get("blocks.0.ln_1.weight")!.name).toBe("blocks.0.ln_1.weight");
    const std = async (n: string) => {
      const v = await p.get(n)!.data();
      let s = 0;
      for (const x of v) s += x * x;
      return Math.sqrt(s / v.length);
    };
    expect(await std("wte.weight")).toBeCloseTo(0.02, 3);
    expect(await std("blocks.0.attn.c_attn.weight")).toBeCloseTo(0.02, 3);
    expect(await std("blocks.0.attn.c_proj.weight")).toBeCloseTo(0.02 / 2, 3); // 1/sqrt(2·nLayer)
    expect(await std("blocks.1.mlp.c_proj.weight")).toBeCloseTo(0.02 / 2, 3);
    expect([...(await p.get("blocks.0.ln_2.weight")!.data())].every((v) => v === 1)).toBe(true);
    expect([...(await p.get("blocks.0.attn.c_attn.bias")!.data())].every((v) => v === 0)).toBe(true);
    const other = new GPT({ ...CFG, nEmbd: 64, vocabSize: 500 }, { backend: "cpu64", seed: 4 });
    expect((await other.wte.weight.data())[0]).not.toBe((await model.wte.weight.data())[0]);
    expect(model.wU).toBe(model.wte.weight);
    const untied = new GPT({ ...CFG, tiedUnembedding: false }, { backend: "cpu64" });
    expect(untied.wU.shape).toEqual([11, 16]);
    expect(untied.namedParameters().has("lm_head.weight")).toBe(true);
    for (const m of [model, other, untied]) m.dispose();
  });

  test("forward errors name the problem", () => {
    const model = new GPT(CFG, { backend: "cpu64" });
    tidy(() => {
      expect(() => model.forward(fromValues([1, 2], [1, 2], { backend: "cpu64" }))).toThrow(/idx must be an i32 \[B, T\]/);
      expect(() => model.forward(fromValues(new Array(9).fill(0), [1, 9], { dtype: "i32", backend: "cpu64" })))
        .toThrow(/sequence length 9 exceeds blockSize 8/);
      expect(() => model.forward(ids(X, "cpu64"), fromValues([1], [1, 1], { dtype: "i32", backend: "cpu64" })))
        .toThrow(/targets must be i32 \[2, 8\]/);
    });
    expect(() => new GPT({ ...CFG, nHead: 3 })).toThrow(/divisible by nHead/);
    model.dispose();
  });
});

for (const backend of ["cpu64", "webgpu"] as const) {
  describe(`taps on ${backend}`, () => {
    test("every tap point fires once with the right shape; taps change neither logits nor gradients", async () => {
      const model = new GPT(CFG, { backend, seed: 7 });
      const plain = await run(model, backend);
      const seen: [string, number[]][] = [];
      model.setTapHook({ tap: (name, x) => void seen.push([name, [...x.shape]]), wants: (name) => name.endsWith(".attn_probs") });
      const tapped = await run(model, backend);
      expect(seen.map(([n]) => n)).toEqual([
        ...[0, 1].flatMap((l) => ["in", "attn_probs", "attn_out", "mid", "mlp_out", "out"].map((s) => `blocks.${l}.${s}`)),
        "ln_f.out", "logits",
      ]);
      const shapes = new Map(seen);
      expect(shapes.get("blocks.0.in")).toEqual([B, T, 16]);
      expect(shapes.get("blocks.1.attn_probs")).toEqual([B, 2, T, T]);
      expect(shapes.get("logits")).toEqual([B, T, 11]);
      // Bit-identical: same kernels, same order.
      expect(tapped.loss).toBe(plain.loss);
      expect(tapped.logits).toEqual(plain.logits);
      for (const [n, g] of plain.grads) expect(tapped.grads.get(n), n).toEqual(g);

      // Probabilities only when asked (per layer), and they are causal rows summing to 1.
      const probs: Tensor[] = [];
      model.setTapHook({ tap: (n, x) => { if (n.endsWith("attn_probs")) probs.push(x.keep()); }, wants: (name) => name === "blocks.1.attn_probs" });
      await run(model, backend);
      expect(probs.length).toBe(1);
      const p = await probs[0].data();
      probs[0].dispose();
      for (let row = 0; row < B * 2 * T; row++) {
        const t = row % T;
        let s = 0;
        for (let j = 0; j < T; j++) {
          if (j > t) expect(p[row * T + j]).toBe(0);
          s += p[row * T + j];
        }
        expect(s).toBeCloseTo(1, 5);
      }
      // The residual identities h' = m + mlp_out and m = h + attn_out hold on the tapped tensors.
      const got = new Map<string, Tensor>();
      model.setTapHook((n, x) => void got.set(n, x.keep()));
      await tidy(async () => {
        model.forward(ids(X, backend));
        const [h, a, m, f, o] = await readAll(["in", "attn_out", "mid", "mlp_out", "out"].map((s) => got.get(`blocks.0.${s}`)!));
        for (let i = 0; i < h.length; i += 37) {
          expect(m[i]).toBeCloseTo(h[i] + a[i], 5);
          expect(o[i]).toBeCloseTo(m[i] + f[i], 5);
        }
      });
      for (const t of got.values()) t.dispose();
      model.setTapHook(null);
      expect(model.blocks[1].tapHook).toBeNull();
      model.dispose();
    });
  });
}

test("logit lens helpers: unembed(lnF(h^L)) equals the model's logits", async () => {
  const model = new GPT(CFG, { backend: "cpu64", seed: 2 });
  let hL: Tensor | null = null;
  model.setTapHook((n, x) => { if (n === "blocks.1.out") hL = x; });
  await tidy(async () => {
    const { logits } = model.forward(ids(X, "cpu64"));
    const lens = model.unembed(model.lnF.forward(hL!));
    const [a, b] = await readAll([logits, lens]);
    expect(b).toEqual(a);
  });
  model.dispose();
});

test("cpu64 and webgpu agree on logits, loss and every gradient (f32 tolerance), tied and untied", async () => {
  for (const tiedUnembedding of [true, false]) {
    const ref = new GPT({ ...CFG, tiedUnembedding }, { backend: "cpu64", seed: 11 });
    const gpuModel = new GPT({ ...CFG, tiedUnembedding }, { backend: "webgpu", seed: 11 });
    const a = await run(ref, "cpu64");
    const b = await run(gpuModel, "webgpu");
    expect(a.grads.has("lm_head.weight")).toBe(!tiedUnembedding);
    expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
    expect(maxRelDiff(b.logits, a.logits)).toBeLessThan(1e-4);
    for (const [n, g] of a.grads) expect(maxRelDiff(b.grads.get(n)!, g), n).toBeLessThan(2e-3);
    ref.dispose();
    gpuModel.dispose();
  }
});
