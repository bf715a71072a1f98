// Autograd and lifetime semantics: accumulation, retainGraph, retainGrad, noGrad, detach,
// shared subexpressions, non-scalar roots, tidy/keep and use-after-dispose. Mostly on cpu64
// (exact f64 values); the GPU block repeats the key ones on webgpu.
import { describe, expect, test } from "vitest";
import * as T from "../src/node";
import { cpu64 } from "../src/tensor/cpu/cpu64";
import { gpu } from "./helpers/gpu";

const cpu = { backend: "cpu64" as const };
const vals = (t: T.Tensor | null): number[] => Array.from(t!.storage.f64);

describe("autograd on cpu64", () => {
  test("gradients accumulate across two backward calls", () => {
    T.tidy(() => {
      const x = T.tensor([1, -2, 3], { ...cpu, requiresGrad: true });
      x.square().sum().backward();
      expect(vals(x.grad)).toEqual([2, -4, 6]);
      x.mul(3).sum().backward();
      expect(vals(x.grad)).toEqual([5, -1, 9]);
    });
  });

  test("backward twice without retainGraph gives a clear error; with it, gradients add up", () => {
    T.tidy(() => {
      const x = T.tensor([1, 2], { ...cpu, requiresGrad: true });
      const y = x.exp().sum();
      y.backward();
      expect(() => y.backward()).toThrow(/backward: the tape through '.*' was freed.*retainGraph: true/);
      const z = x.square().sum();
      z.backward(undefined, { retainGraph: true });
      z.backward();
      expect(vals(x.grad)).toEqual([Math.exp(1) + 4, Math.exp(2) + 8]);
    });
  });

  test("retainGrad keeps the gradient of an intermediate; others stay null", () => {
    T.tidy(() => {
      const x = T.tensor([1, 2, 3], { ...cpu, requiresGrad: true });
      const h = x.mul(3).retainGrad(); // [3, 6, 9]
      const u = h.add(1); // not retained
      u.square().sum().backward();
      expect(vals(h.grad)).toEqual([8, 14, 20]); // 2(h + 1)
      expect(u.grad).toBeNull();
      expect(vals(x.grad)).toEqual([24, 42, 60]);
    });
  });

  test("noGrad records no tape", () => {
    T.tidy(() => {
      const x = T.tensor([1, 2], { ...cpu, requiresGrad: true });
      const y = T.noGrad(() => x.mul(2).softmax());
      expect(y.node).toBeNull();
      expect(y.requiresGrad).toBe(false);
      expect(T.isGradEnabled()).toBe(true);
      expect(() => y.sum().backward()).toThrow(/backward: .*does not require grad/);
    });
  });

  test("detach shares storage and cuts the graph", () => {
    T.tidy(() => {
      const x = T.tensor([2, 3], { ...cpu, requiresGrad: true });
      const d = x.detach();
      expect(d.requiresGrad).toBe(false);
      expect(d.storage).toBe(x.storage);
      d.mul(x).sum().backward(); // d/dx (c·x) with c = x treated as a constant
      expect(vals(x.grad)).toEqual([2, 3]);
    });
  });

  test("a tensor used in two branches gets the summed gradient (x*x + x)", () => {
    T.tidy(() => {
      const x = T.tensor([1, -2, 0.5], { ...cpu, requiresGrad: true });
      x.mul(x).add(x).sum().backward();
      expect(vals(x.grad)).toEqual([3, -3, 2]);
    });
  });

  test("backward on a non-scalar needs an explicit gradient", () => {
    T.tidy(() => {
      const x = T.tensor([[1, 2], [3, 4]], { ...cpu, requiresGrad: true });
      const y = x.mul(2);
      expect(() => y.backward()).toThrow(/backward: the output has shape \[2, 2\].*\.sum\(\)/);
      y.backward(T.tensor([[1, 0], [0, 1]], cpu));
      expect(vals(x.grad)).toEqual([2, 0, 0, 2]);
    });
  });

  test("tidy disposes intermediates but keeps returned and kept tensors", () => {
    const x = T.tensor([1, 2, 3], cpu);
    let inner!: T.Tensor, kept!: T.Tensor, inArray!: T.Tensor;
    const out = T.tidy(() => {
      inner = x.mul(2);
      kept = x.add(1).keep();
      inArray = x.neg();
      return { y: inner.exp(), list: [inArray] };
    });
    expect(inner.isDisposed).toBe(true);
    expect(kept.isDisposed).toBe(false);
    expect(out.y.isDisposed).toBe(false);
    expect(inArray.isDisposed).toBe(false);
    expect(x.isDisposed).toBe(false);
    for (const t of [x, kept, out.y, inArray]) t.dispose();
  });

  test("forward + backward inside tidy leaves only the gradient alive", () => {
    const before = cpu64.stats.live;
    let g!: T.Tensor;
    T.tidy(() => {
      const x = T.randn([3, 5], { ...cpu, requiresGrad: true, seed: 1 });
      const idx = T.tensor([2, 0, 2], { ...cpu, dtype: "i32" });
      const y = T.where(x.gt(0), x, x.mul(0.1)).softmax().logSoftmax(0).indexSelect(0, idx);
      T.concat([y, T.slice(x, [1], [2])], 0).transpose().var(-1).sum().backward();
      g = x.grad!;
    });
    expect(g.isDisposed).toBe(false);
    g.dispose();
    expect(cpu64.stats.live).toBe(before);
  });

  test("a disposed tensor used in an op errors naming the op", () => {
    const x = T.tensor([1, 2], cpu);
    x.dispose();
    expect(() => T.exp(x)).toThrow(/^exp: input 0 \(shape \[2\]\) was disposed/);
    const y = T.tensor([[1]], cpu);
    expect(() => T.matmul(y, x.reshape([2, 1]))).toThrow(/reshape: input 0 .*was disposed/);
    y.dispose();
  });

  test("using storage after dispose errors", async () => {
    const x = T.tensor([1, 2], cpu);
    x.dispose();
    expect(x.isDisposed).toBe(true);
    expect(() => x.storage).toThrow(/tensor: tensor \[2\] was used after dispose/);
    await expect(x.data()).rejects.toThrow(/used after dispose|disposed tensor was read/);
    x.dispose(); // a second dispose is a no-op
  });
});

describe("autograd on webgpu", () => {
  test("accumulation and a shared subexpression (x*x + x)", async () => {
    await gpu();
    await T.tidy(async () => {
      const x = T.tensor([1, -2, 0.5], { backend: "webgpu", requiresGrad: true });
      x.mul(x).add(x).sum().backward();
      expect(Array.from(await x.grad!.data())).toEqual([3, -3, 2]);
      x.mul(2).sum().backward();
      expect(Array.from(await x.grad!.data())).toEqual([5, -1, 4]);
    });
  });

  test("backward twice without retainGraph errors on webgpu too", async () => {
    await gpu();
    T.tidy(() => {
      const x = T.tensor([1, 2], { backend: "webgpu", requiresGrad: true });
      const y = x.softmax().mul(x).sum();
      y.backward();
      expect(() => y.backward()).toThrow(/retainGraph/);
    });
  });

  test("the indexSelect gradient is bit-identical across runs (no atomics)", async () => {
    await gpu();
    const run = () => T.tidy(async () => {
      const w = T.randn([16, 12], { backend: "webgpu", requiresGrad: true, seed: 3 });
      const ids = T.randint(4, [300], { backend: "webgpu", seed: 4 }); // many repeats
      const g = T.randn([300, 12], { backend: "webgpu", seed: 5 });
      w.indexSelect(0, ids).backward(g);
      return Array.from(await w.grad!.data());
    });
    const a = await run(), b = await run();
    expect(b).toEqual(a);
  });
});
