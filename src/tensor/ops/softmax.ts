// Softmax and log-softmax along any axis (fused, max-subtracted, one kernel each) with fused
// backward ops, plus variance as a composition of mean/sub/square/sum (no kernel of its own).
// Both backends use the stable formulas of shaders/softmax.ts (exact on saturated rows).
import { fmt, normAxis, numel, OpError, type Shape } from "../shape";
import { apply1, defineOp, type Arg, type OpDef } from "../op";
import { softmaxBackwardKernel, softmaxKernel, type RowShape } from "../../shaders/softmax";
import type { Tensor } from "../tensor";
import { tidy } from "../scope";
import { requireFloat } from "./util";
import { add, exp, mean, mul, square, sub, sum } from "./core";

/** Attributes of the softmax family: the normalized axis. */
export interface SoftmaxAttrs {
  axis: number;
}

function rowShape(shape: Shape, axis: number): RowShape {
  return { outer: numel(shape.slice(0, axis)), L: shape[axis], inner: numel(shape.slice(axis + 1)) };
}

/** Runs `f(idx)` for every row along `axis`, `idx(l)` giving the flat index of element l. */
function eachRow(shape: Shape, axis: number, f: (at: (l: number) => number, L: number) => void): void {
  const { outer, L, inner } = rowShape(shape, axis);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) f((l) => (o * L + l) * inner + j, L);
  }
}

function checkAxis(op: string, shape: Shape, axis: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new OpError(op, `axis ${axis} is out of range for ${fmt(shape)}`);
  }
}

function defineForward(name: string, log: boolean, backwardOp: () => OpDef<SoftmaxAttrs>): OpDef<SoftmaxAttrs> {
  return defineOp<SoftmaxAttrs>({
    name,
    infer: ([x], { axis }) => {
      requireFloat(name, [x]);
      checkAxis(name, x.shape, axis);
      return [{ shape: x.shape, dtype: "f32" }];
    },
    cpu: ([x], [y], { axis }) => {
      const X = x.s.f64, Y = y.s.f64;
      eachRow(x.shape, axis, (at, L) => {
        let m = -Infinity, below = 0, ties = 0; // S − 1 = below + ties − 1
        for (let l = 0; l < L; l++) m = Math.max(m, X[at(l)]);
        for (let l = 0; l < L; l++) {
          if (X[at(l)] === m) ties++;
          else below += Math.exp(X[at(l)] - m);
        }
        const rest = below + (ties - 1), ls = Math.log1p(rest);
        for (let l = 0; l < L; l++) Y[at(l)] = log ? X[at(l)] - m - ls : Math.exp(X[at(l)] - m) / (1 + rest);
      });
    },
    gpu: (rt, [x], [y], { axis }) => {
      if (numel(x.shape) === 0) return;
      const { k, grid } = softmaxKernel(rowShape(x.shape, axis), log);
      rt.dispatch(k, [x.s.buffer, y.s.buffer], grid);
    },
    save: { inputs: [], outputs: [0] },
    backward: ({ attrs, outputs: [y] }, [dy]) => [apply1(backwardOp(), [y!, dy!], attrs)],
  });
}

function defineBackward(name: string, log: boolean): OpDef<SoftmaxAttrs> {
  return defineOp<SoftmaxAttrs>({
    name,
    infer: ([y, dy], { axis }) => {
      requireFloat(name, [y, dy]);
      if (y.shape.length !== dy.shape.length || y.shape.some((d, k) => d !== dy.shape[k])) {
        throw new OpError(name, `output ${fmt(y.shape)} and its gradient ${fmt(dy.shape)} differ`);
      }
      checkAxis(name, y.shape, axis);
      return [{ shape: y.shape, dtype: "f32" }];
    },
    cpu: ([y, dy]: readonly Arg[], [dx]: readonly Arg[], { axis }) => {
      const Y = y.s.f64, G = dy.s.f64, D = dx.s.f64;
      // The first largest element k takes its rewrite from the sums without k (shaders/softmax.ts).
      eachRow(y.shape, axis, (at, L) => {
        let k = 0, t = 0, sy = 0, u = 0, a = 0;
        for (let l = 0; l < L; l++) {
          const yy = Y[at(l)], g = G[at(l)];
          t += log ? g : yy * g;
          sy += yy;
          if (yy > Y[at(k)]) k = l;
        }
        for (let l = 0; l < L; l++) {
          if (l === k) continue;
          u += log ? G[at(l)] : Y[at(l)] * G[at(l)];
          a += Y[at(l)];
        }
        for (let l = 0; l < L; l++) {
          const i = at(l), yy = Y[i], g = G[i];
          if (log) D[i] = l === k ? -g * Math.expm1(yy) - Math.exp(yy) * u : g - Math.exp(yy) * t;
          else D[i] = yy * (l === k ? g * a - u : g * sy - t);
        }
      });
    },
    gpu: (rt, [y, dy], [dx], { axis }) => {
      if (numel(y.shape) === 0) return;
      const { k, grid } = softmaxBackwardKernel(rowShape(y.shape, axis), log);
      rt.dispatch(k, [y.s.buffer, dy.s.buffer, dx.s.buffer], grid);
    },
    save: { inputs: [0, 1] },
    // Second derivatives (double backward), composed from ops; g is the gradient of dx.
    backward: ({ attrs: { axis }, inputs: [y, dy], needs }, [g]) => tidy(() => {
      const row = (t: Tensor) => sum(t, axis, true);
      if (log) {
        // dx = dy − e^y·Σdy:  ∂/∂dy = g − Σ(g·e^y);  ∂/∂y = −g·e^y·Σdy.
        const ey = exp(y!);
        return [
          needs[0] ? mul(mul(g!, ey), mul(row(dy!), -1)) : null,
          needs[1] ? sub(g!, row(mul(g!, ey))) : null,
        ];
      }
      // dx = y·(dy·Σy − Σdy·y):  ∂/∂dy = softmaxBackward(y, g);
      // ∂/∂y = g·(dy·Σy − Σdy·y) + Σ(g·y·dy) − dy·Σ(g·y).
      return [
        needs[0] ? add(sub(mul(g!, sub(mul(dy!, row(y!)), row(mul(dy!, y!)))), mul(dy!, row(mul(g!, y!)))),
          row(mul(mul(g!, y!), dy!))) : null,
        needs[1] ? apply1(softmaxBackwardOp, [y!, g!], { axis }) : null,
      ];
    }),
  });
}

const softmaxBackwardOp = defineBackward("softmaxBackward", false);
const logSoftmaxBackwardOp = defineBackward("logSoftmaxBackward", true);
const softmaxOp = defineForward("softmax", false, () => softmaxBackwardOp);
const logSoftmaxOp = defineForward("logSoftmax", true, () => logSoftmaxBackwardOp);

/** exp(x) / Σ exp(x) along `axis` (default last), computed max-subtracted in one kernel. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return apply1(softmaxOp, [x], { axis: normAxis("softmax", axis, x.rank) });
}

/** x − log Σ exp(x) along `axis` (default last), computed max-subtracted in one kernel. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return apply1(logSoftmaxOp, [x], { axis: normAxis("logSoftmax", axis, x.rank) });
}

/**
 * Softmax's gradient from its output `y` and output gradient `dy`: y·(dy·Σy − Σ dy·y), i.e.
 * y·(dy − Σ dy·y) for rows of y that sum to 1 (the form that stays exact where one p ≈ 1).
 */
export function softmaxBackward(y: Tensor, dy: Tensor, axis = -1): Tensor {
  return apply1(softmaxBackwardOp, [y, dy], { axis: normAxis("softmaxBackward", axis, y.rank) });
}

/** Log-softmax's gradient from its output `y` and output gradient `dy`: dy − exp(y)·Σ dy. */
export function logSoftmaxBackward(y: Tensor, dy: Tensor, axis = -1): Tensor {
  return apply1(logSoftmaxBackwardOp, [y, dy], { axis: normAxis("logSoftmaxBackward", axis, y.rank) });
}

/** Options of {@link variance}. */
export interface VarianceOptions {
  /** Subtracted from the count in the denominator: 0 = population (default), 1 = sample. */
  correction?: number;
}

/** Variance over `axis` (all axes when omitted): Σ (x − mean)² / (N − correction). */
export function variance(
  x: Tensor, axis?: number | readonly number[], keepdim = false, opts: VarianceOptions = {},
): Tensor {
  const axes = axis === undefined ? x.shape.map((_, i) => i)
    : (typeof axis === "number" ? [axis] : [...axis]).map((a) => normAxis("variance", a, x.rank));
  const n = [...new Set(axes)].reduce((p, d) => p * x.shape[d], 1);
  const correction = opts.correction ?? 0;
  if (n - correction <= 0) {
    throw new OpError("variance", `reducing ${n} element(s) of ${fmt(x.shape)} with correction ` +
      `${correction} leaves no degrees of freedom`);
  }
  return tidy(() => mul(sum(square(sub(x, mean(x, axes, true))), axes, keepdim), 1 / (n - correction)));
}
