// The fused in-place AdamW update (an op with no outputs: it writes param, m and v in place) with
// decoupled weight decay, bias correction from `step`, and an optional gradient scale that can
// be a 1-element GPU tensor (global-norm clipping without a readback). Not differentiable.
import { fmt, numel, OpError, sameShape } from "../shape";
import { apply, defineOp } from "../op";
import { adamwHyper, adamwKernel } from "../../shaders/adamw";
import { Tensor } from "../tensor";
import { requireFloat } from "./util";

/** Hyperparameters of one AdamW step. */
export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count (bias corrections 1 − beta^step). */
  step: number;
  /** Multiplies the gradient first (default 1); a 1-element tensor keeps clipping on the GPU. */
  gradScale?: number | Tensor;
}

/** Attributes of the op: every hyperparameter as a number (the tensor scale is input 4). */
export type AdamWAttrs = Required<Omit<AdamWOptions, "gradScale">> & { gradScale: number };

const adamwOp = defineOp<AdamWAttrs>({
  name: "adamwUpdate",
  inPlace: [0, 2, 3],
  infer: (ins, a) => {
    if (ins.length < 4 || ins.length > 5) {
      throw new OpError("adamwUpdate", `takes param, grad, m, v and an optional scale tensor, got ${ins.length} tensors`);
    }
    const [p, g, m, v, s] = ins;
    requireFloat("adamwUpdate", ins);
    for (const [name, t] of [["grad", g], ["m", m], ["v", v]] as const) {
      if (!sameShape(t.shape, p.shape)) {
        throw new OpError("adamwUpdate", `${name} ${fmt(t.shape)} must have the param's shape ${fmt(p.shape)}`);
      }
    }
    if (s && numel(s.shape) !== 1) {
      throw new OpError("adamwUpdate", `gradScale tensor must have one element, got ${fmt(s.shape)}`);
    }
    if (!Number.isInteger(a.step) || a.step < 1) {
      throw new OpError("adamwUpdate", `step must be an integer >= 1 (bias correction), got ${a.step}`);
    }
    return [];
  },
  cpu: ([p, g, m, v, s], _outs, a) => {
    const P = p.s.f64, G = g.s.f64, M = m.s.f64, V = v.s.f64;
    const gs = a.gradScale * (s ? s.s.f64[0] : 1);
    const bc1 = 1 - a.beta1 ** a.step, bc2 = 1 - a.beta2 ** a.step;
    for (let i = 0; i < P.length; i++) {
      const gi = G[i] * gs;
      M[i] = a.beta1 * M[i] + (1 - a.beta1) * gi;
      V[i] = a.beta2 * V[i] + (1 - a.beta2) * gi * gi;
      const mhat = M[i] / bc1, vhat = V[i] / bc2;
      P[i] -= a.lr * (mhat / (Math.sqrt(vhat) + a.eps) + a.weightDecay * P[i]);
    }
  },
  gpu: (rt, ins, _outs, a) => {
    const n = numel(ins[0].shape);
    const { k, grid } = adamwKernel(n, ins.length === 5);
    const hp = rt.uniform(adamwHyper(n, {
      lr: a.lr, beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weightDecay,
      bc1: 1 - a.beta1 ** a.step, bc2: 1 - a.beta2 ** a.step, gradScale: a.gradScale,
    }));
    rt.dispatch(k, [...ins.map((x) => x.s.buffer), hp], grid);
  },
});

/**
 * One in-place AdamW step (PyTorch semantics): m, v ← moments of g·gradScale, then
 * param -= lr · (m̂ / (sqrt(v̂) + eps) + weightDecay · param) with m̂, v̂ bias-corrected by `step`.
 * Writes `param`, `m` and `v`; returns nothing and records no gradient.
 */
export function adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamWOptions): void {
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale = 1 } = opts;
  const scale = gradScale instanceof Tensor ? gradScale : null;
  const attrs: AdamWAttrs = { lr, beta1, beta2, eps, weightDecay, step, gradScale: scale ? 1 : (gradScale as number) };
  apply(adamwOp, scale ? [param, grad, m, v, scale] : [param, grad, m, v], attrs);
}
