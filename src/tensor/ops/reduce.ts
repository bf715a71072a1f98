// Reductions along axes with keepdim: sum, mean, max, and sumSquares (Σx², the square fused into
// the reduction, as gradient-norm clipping needs). One op definition serves sum/mean; max and
// sumSquares derive from it with their own backward; the kernel plan lives in shaders/reduce.ts.
import { fmt, normAxis, numel, OpError, stridesOf, type Shape } from "../shape";
import { apply1, defineOp } from "../op";
import { reducePlan, splitAxes, type ReduceKind } from "../../shaders/reduce";
import { Tensor } from "../tensor";
import { requireFloat } from "./util";
import { broadcastTo, reshape } from "./movement-core";
import { div, eq, mul } from "./elementwise";

/** Attributes of a reduction. */
export interface ReduceAttrs {
  /** Sorted, normalized axes to reduce. */
  axes: number[];
  keepdim: boolean;
  kind: ReduceKind;
  /** Divide by the reduced count (mean). */
  mean: boolean;
}

function outShape(shape: Shape, a: ReduceAttrs): number[] {
  return shape.flatMap((d, i) => (a.axes.includes(i) ? (a.keepdim ? [1] : []) : [d]));
}

function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** The output gradient spread back over the input shape (the reduced axes repeated). */
function spread(dy: Tensor, shape: Shape, axes: readonly number[]): Tensor {
  return broadcastTo(reshape(dy, keptShape(shape, axes)), shape);
}

const opName = (a: ReduceAttrs) => (a.mean ? "mean" : a.kind === "sumsq" ? "sumSquares" : a.kind);

/** The reduction op (named by its attributes in errors: sum, mean or max). */
export const reduceOp = defineOp<ReduceAttrs>({
  name: "reduce",
  infer: ([x], a) => {
    requireFloat(opName(a), [x]);
    const R = a.axes.reduce((p, d) => p * x.shape[d], 1);
    if (R === 0) {
      throw new OpError(opName(a), `reducing axes [${a.axes}] of shape ${fmt(x.shape)} is empty; ` +
        "an empty reduction has no value (slice to a non-empty range first)");
    }
    return [{ shape: outShape(x.shape, a), dtype: "f32" }];
  },
  cpu: ([x], [y], a) => {
    const { kept, red } = splitAxes(x.shape, a.axes);
    const st = stridesOf(x.shape);
    const keptSizes = kept.map((d) => x.shape[d]), redSizes = red.map((d) => x.shape[d]);
    const O = numel(keptSizes), R = numel(redSizes);
    const ks = stridesOf(keptSizes), rs = stridesOf(redSizes);
    const X = x.s.f64, Y = y.s.f64;
    for (let o = 0; o < O; o++) {
      let base = 0;
      kept.forEach((d, j) => (base += (Math.floor(o / ks[j]) % keptSizes[j]) * st[d]));
      let acc = a.kind === "max" ? -Infinity : 0;
      for (let r = 0; r < R; r++) {
        let off = base;
        red.forEach((d, j) => (off += (Math.floor(r / rs[j]) % redSizes[j]) * st[d]));
        const v = X[off];
        acc = a.kind === "max" ? Math.max(acc, v) : acc + (a.kind === "sumsq" ? v * v : v);
      }
      Y[o] = a.mean ? acc / R : acc;
    }
  },
  gpu: (rt, [x], [y], a) => {
    const R = a.axes.reduce((p, d) => p * x.shape[d], 1);
    const passes = reducePlan(x.shape, a.axes, a.kind, a.mean ? 1 / R : 1);
    if (passes.length === 1) {
      rt.dispatch(passes[0].k, [x.s.buffer, y.s.buffer], passes[0].grid);
    } else {
      const tmp = rt.scratch(passes[0].outputs * 4);
      rt.dispatch(passes[0].k, [x.s.buffer, tmp], passes[0].grid);
      rt.dispatch(passes[1].k, [tmp, y.s.buffer], passes[1].grid);
    }
  },
  save: { inputs: [], outputs: [] },
  backward: ({ attrs: a, shapes }, [dy]) => {
    const xShape = shapes[0];
    const R = a.axes.reduce((p, d) => p * xShape[d], 1);
    const g = spread(dy!, xShape, a.axes);
    if (a.kind === "sum") return [a.mean ? mul(g, 1 / R) : g];
    throw new OpError("max", "internal: max backward is handled by maxOp");
  },
});

/** sumSquares keeps its input for backward: d/dx Σx² = 2x. */
const sumSquaresOp = defineOp<ReduceAttrs>({
  ...reduceOp,
  name: "sumSquares",
  save: { inputs: [0], outputs: [] },
  backward: ({ attrs: a, inputs: [x], shapes }, [dy]) => {
    return [mul(mul(spread(dy!, shapes[0], a.axes), x!), 2)];
  },
});

/** max keeps its input and output for backward: the gradient splits evenly among ties. */
const maxOp = defineOp<ReduceAttrs>({
  ...reduceOp,
  name: "max",
  save: { inputs: [0], outputs: [0] },
  backward: ({ attrs: a, inputs: [x], outputs: [y], shapes }, [dy]) => {
    const kshape = keptShape(shapes[0], a.axes);
    const mask = eq(x!, reshape(y!, kshape));
    const count = sum(mask, a.axes, true);
    return [mul(mask, broadcastTo(div(reshape(dy!, kshape), count), shapes[0]))];
  },
});

function normAxes(op: string, x: Tensor, axis?: number | readonly number[]): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = typeof axis === "number" ? [axis] : [...axis];
  const out = [...new Set(list.map((a) => normAxis(op, a, x.rank)))].sort((p, q) => p - q);
  return out;
}

/** Sum over `axis` (all axes when omitted). */
export function sum(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return apply1(reduceOp, [x], { axes: normAxes("sum", x, axis), keepdim, kind: "sum", mean: false });
}
/** Mean over `axis` (all axes when omitted). */
export function mean(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return apply1(reduceOp, [x], { axes: normAxes("mean", x, axis), keepdim, kind: "sum", mean: true });
}
/** Σx² over `axis` (all axes when omitted) in one fused reduction: no x² temporary. */
export function sumSquares(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return apply1(sumSquaresOp, [x], { axes: normAxes("sumSquares", x, axis), keepdim, kind: "sumsq", mean: false });
}
/** Max over `axis` (all axes when omitted); the gradient is shared equally by ties. */
export function max(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  return apply1(maxOp, [x], { axes: normAxes("max", x, axis), keepdim, kind: "max", mean: false });
}
