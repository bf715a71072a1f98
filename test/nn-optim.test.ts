// Optimizer pieces on cpu64: the warm-up + cosine schedule, the GPU-side global-norm clip factor
// against a host computation, the default weight-decay set, AdamW with a tensor gradScale equal to
// the same number, and the modules' basic contracts (Linear layout, dotted names, train/eval).
import { expect, test } from "vitest";
import { fromValues, full, tidy } from "../src/node";
import { AdamW, GPT, Linear, Module, clipFactor, decayedParameterNames, lrAt } from "../src/nn/index";

test("lrAt: linear warm-up to the peak, cosine to minLr, then flat", () => {
  const s = { lr: 1, warmup: 4, total: 14, minLr: 0.1 };
  expect([0, 1, 2, 3].map((i) => lrAt(i, s))).toEqual([0.25, 0.5, 0.75, 1]);
  expect(lrAt(4, s)).toBe(1);
  expect(lrAt(9, s)).toBeCloseTo(0.55, 12);
  expect(lrAt(14, s)).toBeCloseTo(0.1, 12);
  expect(lrAt(100, s)).toBe(0.1);
  expect(lrAt(100, { lr: 1, warmup: 0, total: 10 })).toBe(0.1); // default minLr = lr / 10
});

test("clipFactor: norm = sqrt(sum of squares) over all grads, scale = min(1, max/(norm+1e-6))", async () => {
  const a = fromValues([3, 0, 0, 0], [2, 2], { backend: "cpu64", requiresGrad: true }).keep();
  const b = fromValues([4], [1], { backend: "cpu64", requiresGrad: true }).keep();
  a.grad = fromValues([1, 2, 2, 0], [2, 2], { backend: "cpu64" }).keep();
  b.grad = fromValues([4], [1], { backend: "cpu64" }).keep();
  await tidy(async () => {
    const c = clipFactor([a, b], 2.5);
    expect(await c.norm.item()).toBeCloseTo(5, 12);
    expect(await c.scale.item()).toBeCloseTo(2.5 / (5 + 1e-6), 12);
    expect(await clipFactor([a, b], 10).scale.item()).toBe(1);
  });
  expect(() => clipFactor([fromValues([1], [1], { backend: "cpu64" })], 1)).toThrow(/no parameter has a gradient/);
});

test("default weight decay: Linear weights only (no embeddings, LayerNorm or biases)", () => {
  const model = new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, blockSize: 4, vocabSize: 5 }, { backend: "cpu64" });
  expect([...decayedParameterNames(model)].sort()).toEqual([
    "blocks.0.attn.c_attn.weight", "blocks.0.attn.c_proj.weight", "blocks.0.mlp.c_fc.weight", "blocks.0.mlp.c_proj.weight",
  ]);
  const opt = AdamW.forModel(model);
  expect(opt.decay.has("wte.weight")).toBe(false);
  opt.dispose();
  model.dispose();
  const untied = new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, blockSize: 4, vocabSize: 5, tiedUnembedding: false }, { backend: "cpu64" });
  expect(decayedParameterNames(untied).has("lm_head.weight")).toBe(true);
  untied.dispose();
});

test("AdamW: a tensor gradScale gives the same update as the number; decay only where asked", async () => {
  const mk = () => {
    const p = fromValues([0.5, -1, 2], [3], { backend: "cpu64", requiresGrad: true }).keep();
    const q = fromValues([0.5, -1, 2], [3], { backend: "cpu64", requiresGrad: true }).keep();
    p.grad = fromValues([0.1, 0.2, -0.3], [3], { backend: "cpu64" }).keep();
    q.grad = fromValues([0.1, 0.2, -0.3], [3], { backend: "cpu64" }).keep();
    return { p, q, opt: new AdamW(new Map([["p", p], ["q", q]]), { lr: 0.1, weightDecay: 0.5 }, new Set(["p"])) };
  };
  const a = mk(), b = mk();
  a.opt.step({ gradScale: 0.25 });
  tidy(() => b.opt.step({ gradScale: full([], 0.25, { backend: "cpu64" }) }));
  expect(await b.p.data()).toEqual(await a.p.data());
  expect(a.opt.stepCount).toBe(1);
  // q had no decay: after one Adam step with bias correction each entry moves by lr·sign(g).
  const qv = await a.q.data();
  [0.5 - 0.1, -1 - 0.1, 2 + 0.1].forEach((v, i) => expect(qv[i]).toBeCloseTo(v, 6));
  const pv = await a.p.data();
  expect(pv[0]).toBeCloseTo(0.5 * (1 - 0.1 * 0.5) - 0.1, 6);
});

test("Module: dotted names, Linear stores W as [in, out], train/eval reach every descendant", async () => {
  class Pair extends Module {
    readonly a = this.child("a", new Linear(3, 2, { backend: "cpu64", seed: 1 }));
    readonly b = this.child("b", new Linear(2, 1, { backend: "cpu64", seed: 2, bias: false }));
  }
  class Outer extends Module {
    readonly inner = this.child("inner", new Pair());
  }
  const m = new Outer();
  expect([...m.namedParameters().keys()]).toEqual(["inner.a.weight", "inner.a.bias", "inner.b.weight"]);
  expect(m.inner.a.weight.name).toBe("inner.a.weight");
  expect(m.inner.a.weight.shape).toEqual([3, 2]);
  expect(m.inner.path).toBe("inner");
  expect(m.numParameters()).toBe(6 + 2 + 2);
  m.eval();
  expect(m.inner.b.training).toBe(false);
  m.train();
  expect(m.inner.b.training).toBe(true);
  await tidy(async () => {
    const x = fromValues([1, 0, 0], [1, 3], { backend: "cpu64" });
    const w = await m.inner.a.weight.data();
    expect(Array.from(await m.inner.a.forward(x).data())).toEqual([w[0], w[1]]); // row 0 of W (bias 0)
  });
  m.dispose();
});
