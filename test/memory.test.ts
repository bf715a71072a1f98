// Steady-state memory: after warm-up, repeating the same forward+backward creates no new GPU
// buffers (released buffers come back from the pool once their encoder is submitted).
import { expect, test } from "vitest";
import { gelu, matmul, mean, randn, tidy, zeros } from "../src/node";
import { gpu } from "./helpers/gpu";

test("repeated forward+backward creates zero new GPU buffers after warm-up", async () => {
  const rt = await gpu();
  const w1 = randn([16, 32], { seed: 1, std: 0.2, backend: "webgpu", requiresGrad: true }).keep();
  const w2 = randn([32, 8], { seed: 2, std: 0.2, backend: "webgpu", requiresGrad: true }).keep();
  const created: number[] = [];
  for (let step = 0; step < 6; step++) {
    const loss = await tidy(async () => {
      const x = randn([4, 5, 16], { seed: 10 + step, backend: "webgpu" });
      const y = matmul(gelu(matmul(x, w1)), w2); // [4, 5, 8]
      const l = mean(y.square());
      l.backward();
      return l.item();
    });
    expect(Number.isFinite(loss)).toBe(true);
    for (const w of [w1, w2]) {
      w.grad!.dispose();
      w.grad = null;
    }
    created.push(rt.pool.stats.buffersCreated);
  }
  // Warm-up: step 0 allocates; step 1 may allocate gradient buffers that first outlive a step.
  expect(created.slice(2)).toEqual(new Array(4).fill(created[1]));
  zeros([1], { backend: "webgpu" }).dispose();
});
