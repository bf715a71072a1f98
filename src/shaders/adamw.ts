// WGSL for the fused in-place AdamW step (PyTorch semantics, decoupled weight decay). The
// hyperparameters and the length arrive in a uniform buffer so one pipeline serves every step of a
// schedule and every parameter; only whether the gradient scale is a 1-element GPU tensor and
// whether the length is a multiple of 4 (vec4) are baked in.
import { grid1d, kernel, main1d, uniformWords, type Kernel } from "./wgsl";

// The uniform block `Hyper` holds 8 f32: lr, beta1, beta2, eps, weight decay, 1 − beta1^step,
// 1 − beta2^step, gradient scale (numeric part), then the length in words (u32).

/** The Hyper uniform of one AdamW update over n elements ({@link adamwKernel}'s last binding). */
export function adamwHyper(n: number, h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  bc1: number; bc2: number; gradScale: number }): Uint32Array<ArrayBuffer> {
  const f = [h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.bc1, h.bc2, h.gradScale].map((x) => ({ f32: x }));
  return uniformWords([...f, n % 4 === 0 ? n / 4 : n]);
}

/** p, m, v updated in place from g · scale over n elements (vec4 when n % 4 == 0). */
export function adamwKernel(n: number, scaleTensor: boolean): { k: Kernel; grid: number[] } {
  const vec = n % 4 === 0;
  const T = vec ? "vec4f" : "f32";
  const len = vec ? n / 4 : n;
  const k = kernel(`adamw${scaleTensor ? "_tscale" : ""}${vec ? "_v4" : ""}`, [
    { name: "p", kind: "rw", type: T },
    { name: "g", kind: "read", type: T },
    { name: "m", kind: "rw", type: T },
    { name: "v", kind: "rw", type: T },
    ...(scaleTensor ? [{ name: "gscale", kind: "read" as const, type: "f32" }] : []),
    { name: "hp", kind: "uniform", type: "Hyper" },
  ], `${main1d()}
  if (i >= hp.n) { return; }
  let gs = hp.gscale${scaleTensor ? " * gscale[0]" : ""};
  let gi = g[i] * gs;
  let mi = hp.beta1 * m[i] + (1.0 - hp.beta1) * gi;
  let vi = hp.beta2 * v[i] + (1.0 - hp.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  let mhat = mi / hp.bc1;
  let vhat = vi / hp.bc2;
  let pi = p[i];
  p[i] = pi - hp.lr * (mhat / (sqrt(vhat) + ${T}(hp.eps)) + hp.wd * pi);
}`, `struct Hyper { lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32, gscale: f32, n: u32 }`);
  return { k, grid: grid1d(len) };
}
