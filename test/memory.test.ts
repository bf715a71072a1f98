// Steady-state memory: after warm-up, repeating the same forward+backward creates no new GPU
// buffers (released buffers come back from the pool once their encoder is submitted) and no new
// bind groups (the pool hands out the oldest free buffer, so a repeated step binds the same
// buffers); uniform buffers with equal contents are shared within one encoder.
import { expect, test } from "vitest";
import { gelu, matmul, mean, randn, tidy, zeros } from "../src/node";
import { BufferPool } from "../src/tensor/webgpu/pool";
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

test("the pool hands out the oldest free buffer of a size, whatever order they were released in", async () => {
  const rt = await gpu();
  const pool = new BufferPool(rt.device);
  const usage = 0x0080 | 0x0008; // STORAGE | COPY_DST
  const [a, b, c] = [pool.acquire(1024, usage), pool.acquire(1000, usage), pool.acquire(1024, usage)]; // one 1 KiB bucket
  for (const x of [c, a, b]) pool.release(x);
  const d = pool.acquire(1024, usage);
  expect([a, b, c]).not.toContain(d); // released buffers wait for the submit of the encoder that used them
  pool.onSubmit();
  pool.recycle(pool.acquire(4096, usage)); // another bucket: its own list
  const again = [pool.acquire(1024, usage), pool.acquire(1024, usage), pool.acquire(1024, usage)];
  again.forEach((x, i) => expect(x).toBe([a, b, c][i]));
  let trimmed = 0;
  const p2 = new BufferPool(rt.device, () => trimmed++);
  p2.recycle(p2.acquire(256, usage));
  p2.trim();
  expect(trimmed).toBe(1); // the runtime drops its cached bind groups here
  expect(p2.stats.bytesCached).toBe(0);
});

test("a repeated forward+backward creates no new bind groups after warm-up; trimming the pool drops them", async () => {
  const rt = await gpu();
  const w = randn([32, 64], { seed: 4, std: 0.2, backend: "webgpu", requiresGrad: true }).keep();
  const step = async (seed: number) => {
    const loss = await tidy(async () => {
      const x = randn([8, 32], { seed, backend: "webgpu" });
      const l = mean(gelu(matmul(x, w)).square());
      l.backward();
      return l.item();
    });
    w.grad!.dispose();
    w.grad = null;
    return loss;
  };
  const made: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < 5; i++) {
    losses.push(await step(30 + i));
    made.push(rt.stats.bindGroups);
  }
  expect(made[0]).toBeGreaterThan(0);
  expect(made.slice(2)).toEqual(new Array(3).fill(made[1]));
  rt.pool.trim(); // destroys the free buffers: bind groups that held them must not be reused
  expect(await step(30)).toBe(losses[0]);
  expect(rt.stats.bindGroups).toBeGreaterThan(made[4]);
  w.dispose();
});

test("matmuls that copy A into pool scratch (rowubo) create no new buffers after warm-up either", async () => {
  const rt = await gpu();
  const w = randn([512, 512], { seed: 3, std: 0.05, backend: "webgpu", requiresGrad: true }).keep();
  const created: number[] = [];
  for (let step = 0; step < 5; step++) {
    await tidy(async () => {
      const x = randn([512, 512], { seed: 20 + step, backend: "webgpu" });
      const l = mean(matmul(matmul(x, w), w).square()); // 2^27 multiply-adds per product
      l.backward();
      return l.item();
    });
    w.grad!.dispose();
    w.grad = null;
    created.push(rt.pool.stats.buffersCreated);
  }
  expect(created.slice(2)).toEqual(new Array(3).fill(created[1]));
});

test("equal uniform contents share one buffer within an encoder, and only within it", async () => {
  const rt = await gpu();
  await rt.sync();
  const a = rt.uniform(new Float32Array([1, 2, 3, 4]));
  expect(rt.uniform(new Float32Array([1, 2, 3, 4]))).toBe(a);
  expect(rt.uniform(new Float32Array([1, 2, 3, 5]))).not.toBe(a);
  expect(rt.uniform(new Uint32Array([7, 0, 0, 0]))).toBe(rt.uniform(new Uint32Array([7, 0, 0, 0])));
  // -0 and 0 differ in their bits, so they get their own buffers.
  expect(rt.uniform(new Float32Array([-0, 2, 3, 4]))).not.toBe(rt.uniform(new Float32Array([0, 2, 3, 4])));
  const pending = rt.pool.stats.bytesPending;
  expect(rt.uniform(new Float32Array([1, 2, 3, 4]))).toBe(a); // no new pool buffer
  expect(rt.pool.stats.bytesPending).toBe(pending);
  rt.flush();
  // After submit the buffers are back in the pool (and may be rewritten): the next encoder
  // takes and writes a buffer of its own for the same contents.
  rt.uniform(new Float32Array([1, 2, 3, 4]));
  expect(rt.pool.stats.bytesPending).toBe(256);
  await rt.sync();
});
