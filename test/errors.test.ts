// Errors are early and readable: bad inputs throw an OpError naming the op and the shapes before
// any kernel runs or buffer is allocated, and GPU validation errors name the kernel in a few lines.
import { describe, expect, test } from "vitest";
import * as T from "../src/node";
import type { Kernel } from "../src/shaders/wgsl";
import { gpu } from "./helpers/gpu";

const cpu = { backend: "cpu64" as const };

/** Runs `f` in a tidy scope and returns what it threw (failing when it did not throw). */
function thrown(f: () => unknown): Error {
  try {
    T.tidy(f);
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("bad input names the op and the shapes (cpu64)", () => {
  test("mismatched shapes for add", () => {
    const e = thrown(() => T.add(T.zeros([2, 3], cpu), T.zeros([4], cpu)));
    expect(e).toBeInstanceOf(T.OpError);
    expect((e as T.OpError).op).toBe("add");
    expect(e.message).toMatch(/^add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  });

  test("matmul: inner dimensions and rank", () => {
    expect(thrown(() => T.matmul(T.zeros([2, 3], cpu), T.zeros([4, 5], cpu))).message)
      .toMatch(/^matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/);
    expect(thrown(() => T.matmul(T.zeros([3], cpu), T.zeros([3, 2], cpu))).message)
      .toMatch(/^matmul: operands need rank >= 2, got \[3\] and \[3, 2\]/);
  });

  test("reshape size mismatch", () => {
    expect(thrown(() => T.zeros([2, 3], cpu).reshape([4])).message)
      .toMatch(/^reshape: cannot view \[2, 3\] \(6 elements\) as \[4\]/);
  });

  test("empty reductions are rejected", () => {
    const x = () => T.zeros([0, 3], cpu);
    expect(thrown(() => T.sum(x(), 0)).message).toMatch(/^sum: reducing axes \[0\] of shape \[0, 3\] is empty/);
    expect(thrown(() => T.mean(x())).message).toMatch(/^mean: .*\[0, 3\] is empty/);
    expect(thrown(() => T.max(x(), 0)).message).toMatch(/^max: .*is empty/);
    expect(thrown(() => T.variance(x(), 0)).message).toMatch(/^variance: reducing 0 element\(s\) of \[0, 3\]/);
    expect(thrown(() => T.variance(T.zeros([1, 3], cpu), 0, false, { correction: 1 })).message)
      .toMatch(/^variance: .*no degrees of freedom/);
  });

  test("bad axis", () => {
    const x = () => T.zeros([2, 3], cpu);
    expect(thrown(() => T.sum(x(), 2)).message).toMatch(/^sum: axis 2 is out of range for a tensor of rank 2/);
    expect(thrown(() => T.softmax(x(), -3)).message).toMatch(/^softmax: axis -3 is out of range/);
    expect(thrown(() => T.logSoftmax(x(), 2)).message).toMatch(/^logSoftmax: axis 2/);
    expect(thrown(() => T.transpose(T.zeros([3], cpu))).message).toMatch(/^transpose: axis -2 is out of range .*rank 1/);
    expect(thrown(() => T.concat([x(), x()], 2)).message).toMatch(/^concat: axis 2/);
    expect(thrown(() => T.indexSelect(x(), 2, T.zeros([1], { ...cpu, dtype: "i32" }))).message)
      .toMatch(/^indexSelect: axis 2/);
  });

  test("movement ops name their shapes", () => {
    const x = () => T.zeros([2, 3], cpu);
    expect(thrown(() => T.permute(x(), [0, 0])).message).toMatch(/^permute: dims \[0,0\] are not a permutation .*\[2, 3\]/);
    expect(thrown(() => T.permute(x(), [0])).message).toMatch(/^permute: .*\[2, 3\]/);
    expect(thrown(() => T.slice(x(), [0, 2], [2, 5])).message).toMatch(/^slice: .*\[2, 3\]/);
    expect(thrown(() => T.slice(x(), [1], [0])).message).toMatch(/^slice: .*start <= end/);
    expect(thrown(() => T.pad(x(), [1], [1])).message).toMatch(/^pad: .*\[2, 3\]/);
    expect(thrown(() => T.concat([x(), T.zeros([3, 3], cpu)], 1)).message)
      .toMatch(/^concat: cannot join \[2, 3\] f32, \[3, 3\] f32 along axis 1/);
    expect(thrown(() => T.concat([x(), T.zeros([2, 1], { ...cpu, dtype: "i32" })], 1)).message).toMatch(/dtypes/);
    expect(thrown(() => T.broadcastTo(x(), [3, 3])).message).toMatch(/^broadcastTo: .*\[2, 3\]/);
  });

  test("selection ops: index dtype and range, where/maskedFill broadcasting", () => {
    const x = () => T.zeros([4, 3], cpu);
    expect(thrown(() => T.indexSelect(x(), 0, T.zeros([2], cpu))).message)
      .toMatch(/^indexSelect: indices \[2\] must be an i32 tensor, got f32/);
    expect(thrown(() => T.indexSelect(x(), 0, T.tensor([1, 4], { ...cpu, dtype: "i32" }))).message)
      .toMatch(/^indexSelect: index 4 at position 1 is out of range for axis 0 of x \[4, 3\]/);
    expect(thrown(() => T.where(T.zeros([2], cpu), x(), x())).message)
      .toMatch(/^where: shapes \[2\] and \[4, 3\] cannot be broadcast/);
    expect(thrown(() => T.maskedFill(x(), T.zeros([2, 4, 3], cpu), 0)).message)
      .toMatch(/^maskedFill: mask \[2, 4, 3\] does not broadcast to x \[4, 3\]/);
    expect(thrown(() => T.softmaxBackward(T.zeros([2, 3], cpu), x())).message)
      .toMatch(/^softmaxBackward: output \[2, 3\] and its gradient \[4, 3\] differ/);
  });

  test("use after dispose names the op", () => {
    const a = T.zeros([2, 2], cpu);
    a.dispose();
    expect(thrown(() => T.matmul(a, T.zeros([2, 2], cpu))).message).toMatch(/^matmul: input 0 \(shape \[2, 2\]\) was disposed/);
    expect(thrown(() => T.softmax(a)).message).toMatch(/^softmax: input 0 .*was disposed/);
  });
});

describe("webgpu errors", () => {
  test("mixing backends names both", async () => {
    await gpu();
    const e = thrown(() => T.add(T.zeros([2], cpu), T.zeros([2], { backend: "webgpu" })));
    expect(e.message).toMatch(/^add: inputs are on different backends \(cpu64 and webgpu\); move one with \.to\('cpu64'\)/);
    expect(thrown(() => T.concat([T.zeros([2], { backend: "webgpu" }), T.zeros([2], cpu)])).message)
      .toMatch(/^concat: inputs are on different backends \(webgpu and cpu64\)/);
  });

  test("an output over maxStorageBufferBindingSize is rejected before any allocation", async () => {
    const rt = await gpu();
    const limit = rt.info.limits.maxStorageBufferBindingSize;
    const n = Math.floor(limit / 4) + 1;
    T.tidy(() => {
      const x = T.zeros([1, 1], { backend: "webgpu" });
      const created = rt.pool.stats.buffersCreated, inUse = rt.pool.stats.bytesInUse;
      let err: unknown;
      try {
        T.broadcastTo(x, [n, 1]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(T.OpError);
      expect((err as T.OpError).message).toMatch(
        new RegExp(`^broadcastTo: a tensor of shape \\[${n}, 1\\] needs ${n * 4} bytes, over the adapter's maxStorageBufferBindingSize of ${limit}`));
      expect(rt.pool.stats.buffersCreated).toBe(created);
      expect(rt.pool.stats.bytesInUse).toBe(inUse);
    });
  });

  test("a kernel that fails to compile is reported with its name, briefly", async () => {
    const rt = await gpu();
    const bad: Kernel = { name: "errors_test_syntax", code: "@compute @workgroup_size(1) fn main( {", bindings: [] };
    const e = await rt.compile(bad).then(() => null, (x: Error) => x);
    expect(e).not.toBeNull();
    expect(e!.message).toMatch(/kernel 'errors_test_syntax' failed to compile: /);
    expect(e!.message.length).toBeLessThan(800);
    expect(e!.message.split("\n").length).toBeLessThanOrEqual(3);
  });

  test("dispatching an invalid kernel surfaces the kernel name at the next sync", async () => {
    const rt = await gpu();
    const bad: Kernel = {
      name: "errors_test_dispatch",
      code: "@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n" +
        "@compute @workgroup_size(1) fn main() { y[0] = undefined_symbol; }",
      bindings: ["rw"],
    };
    const buf = rt.scratch(16);
    rt.dispatch(bad, [buf], [1]);
    const settle = async () => {
      await rt.sync();
      await new Promise((r) => setTimeout(r, 20));
      rt.throwIfErrors();
    };
    const e = await settle().then(() => null, (x: Error) => x);
    expect(e).not.toBeNull();
    expect(e!.message).toMatch(/errors_test_dispatch/);
    expect(e!.message.length).toBeLessThan(1500);
    // The runtime recovers: later work runs and reads back normally.
    await settle();
    const y = T.tensor([1, 2, 3], { backend: "webgpu" });
    expect(Array.from(await T.softmax(y).mul(0).add(1).data())).toEqual([1, 1, 1]);
    y.dispose();
  });
});
