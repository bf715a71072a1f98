// The fused in-place AdamW step: several steps on webgpu (f32) match the cpu64 reference and a
// hand-written PyTorch-style AdamW in plain JS, with and without weight decay, with the gradient
// scale as a number and as a 1-element tensor; one pipeline serves a changing lr schedule.
import { beforeAll, describe, expect, test } from "vitest";
import { adamwUpdate, fromValues, OpError, readAll, tidy, type AdamWOptions, type Tensor } from "../src/node";
import { SplitMix32 } from "../src/tensor/random";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

const STEPS = 5;
const base = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const lrAt = (t: number) => 0.02 * (1 - t / (2 * STEPS)); // a schedule: lr changes every step

/** torch.optim.AdamW, written the way PyTorch's single-tensor loop does it (f64). */
function torchAdamW(p: Float64Array, grads: Float64Array[], wd: number, scale: number): { p: Float64Array; m: Float64Array; v: Float64Array } {
  const P = p.slice(), m = new Float64Array(p.length), v = new Float64Array(p.length);
  grads.forEach((g, k) => {
    const step = k + 1, lr = lrAt(step);
    const bc1 = 1 - base.beta1 ** step, bc2 = 1 - base.beta2 ** step;
    for (let i = 0; i < P.length; i++) {
      const gi = g[i] * scale;
      P[i] *= 1 - lr * wd; // decoupled weight decay
      m[i] = m[i] * base.beta1 + gi * (1 - base.beta1); // exp_avg.lerp_(grad, 1 - beta1)
      v[i] = v[i] * base.beta2 + gi * gi * (1 - base.beta2); // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
      const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + base.eps;
      P[i] -= (lr / bc1) * (m[i] / denom);
    }
  });
  return { p: P, m, v };
}

/** Runs STEPS adamwUpdate calls on `backend` and reads back p, m, v. */
async function runSteps(
  backend: "webgpu" | "cpu64", p0: Float64Array, grads: Float64Array[], wd: number, scale: number | "tensor",
): Promise<Float64Array[]> {
  return tidy(async () => {
    const n = p0.length;
    const p = fromValues(p0, [n], { backend, requiresGrad: true });
    const m = fromValues(new Float64Array(n), [n], { backend });
    const v = fromValues(new Float64Array(n), [n], { backend });
    const s: number | Tensor = scale === "tensor" ? fromValues([0.5], [1], { backend }) : scale;
    const storage = p.storage;
    grads.forEach((gv, k) => {
      const g = fromValues(gv, [n], { backend });
      const opts: AdamWOptions = { ...base, lr: lrAt(k + 1), weightDecay: wd, step: k + 1, gradScale: s };
      expect(adamwUpdate(p, g, m, v, opts)).toBeUndefined();
      g.dispose();
    });
    expect(p.storage).toBe(storage); // updated in place
    return readAll([p, m, v]);
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe("adamwUpdate", () => {
  for (const n of [37, 64]) {
    for (const wd of [0, 0.1]) {
      for (const scale of [1, 0.25, "tensor"] as const) {
        test(`n=${n} weightDecay=${wd} gradScale=${scale}: webgpu = cpu64 = PyTorch-style JS`, async () => {
          const g = new SplitMix32(n * 10 + Math.round(wd * 100));
          const p0 = Float64Array.from({ length: n }, () => g.normal());
          const grads = Array.from({ length: STEPS }, () => Float64Array.from({ length: n }, () => g.normal()));
          const ref = torchAdamW(p0, grads, wd, scale === "tensor" ? 0.5 : scale);
          const cpu = await runSteps("cpu64", p0, grads, wd, scale);
          const gpuR = await runSteps("webgpu", p0, grads, wd, scale);
          [ref.p, ref.m, ref.v].forEach((r, k) => {
            expect(maxDiff(cpu[k], r), `cpu64 vs JS, tensor ${k}`).toBeLessThan(1e-12);
            expect(maxDiff(gpuR[k], r), `webgpu vs JS, tensor ${k}`).toBeLessThan(1e-5);
          });
          expect(maxDiff(ref.p, p0)).toBeGreaterThan(1e-3); // the steps did move the parameters
        });
      }
    }
  }

  test("one pipeline serves every step of an lr schedule (hyperparameters are uniforms)", async () => {
    const rt = await gpu();
    const p0 = Float64Array.from({ length: 12 }, (_, i) => i / 7);
    const grads = Array.from({ length: STEPS }, (_, k) => p0.map((x) => x - k));
    await runSteps("webgpu", p0, grads.slice(0, 1), 0.1, 1);
    const before = rt.stats.pipelines;
    await runSteps("webgpu", p0, grads, 0.1, 1);
    expect(rt.stats.pipelines).toBe(before);
  });

  test("bad calls throw OpErrors naming the op", () => {
    tidy(() => {
      const p = fromValues([1, 2, 3], [3], { backend: "cpu64" });
      const g2 = fromValues([1, 2], [2], { backend: "cpu64" });
      const o = { ...base, lr: 0.1, weightDecay: 0, step: 1 };
      expect(() => adamwUpdate(p, g2, p, p, o)).toThrow(OpError);
      expect(() => adamwUpdate(p, g2, p, p, o)).toThrow(/adamwUpdate: grad \[2\]/);
      expect(() => adamwUpdate(p, p, p, p, { ...o, step: 0 })).toThrow(/step must be an integer >= 1/);
      expect(() => adamwUpdate(p, p, p, p, { ...o, gradScale: p })).toThrow(/gradScale tensor must have one element/);
    });
  });
});
