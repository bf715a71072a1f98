// Selection ops: where(cond, a, b) with three-way broadcasting (and maskedFill on top of it),
// and indexSelect, a gather along one axis by i32 indices whose gradient is a deterministic
// scatter-sum (no float atomics: the sum runs in index order).
import { broadcastShapes, fmt, normAxis, numel, OpError, stridesOf, type Shape } from "../shape";
import { apply1, defineOp } from "../op";
import { gatherKernel, scatterSumKernel, whereKernel } from "../../shaders/movement";
import { full, type Tensor, type TensorLike } from "../tensor";
import { tidy } from "../scope";
import { asTensor, checkIdsOnDevice, requireFloat } from "./util";
import { sumTo } from "./core";

// ---- where ----

/** Reads element `i` of `out` from `src` broadcast to it (f64 reference helper). */
function bindex(src: Shape, out: Shape): (i: number) => number {
  const st = stridesOf(src), so = stridesOf(out), off = out.length - src.length;
  return (i) => {
    let j = 0;
    for (let d = off; d < out.length; d++) {
      if (src[d - off] !== 1) j += (Math.floor(i / so[d]) % out[d]) * st[d - off];
    }
    return j;
  };
}

const whereOp = defineOp<Record<string, never>>({
  name: "where",
  infer: ([c, a, b]) => {
    requireFloat("where", [a, b]);
    const shape = broadcastShapes("where", broadcastShapes("where", c.shape, a.shape), b.shape);
    return [{ shape, dtype: "f32" }];
  },
  cpu: ([c, a, b], [y]) => {
    const ic = bindex(c.shape, y.shape), ia = bindex(a.shape, y.shape), ib = bindex(b.shape, y.shape);
    for (let i = 0; i < y.s.f64.length; i++) {
      y.s.f64[i] = c.s.f64[ic(i)] !== 0 ? a.s.f64[ia(i)] : b.s.f64[ib(i)];
    }
  },
  gpu: (rt, [c, a, b], [y]) => {
    if (numel(y.shape) === 0) return;
    const { k, grid } = whereKernel(c.shape, a.shape, b.shape, y.shape, c.dtype);
    rt.dispatch(k, [c.s.buffer, a.s.buffer, b.s.buffer, y.s.buffer], grid);
  },
  save: { inputs: [0] },
  backward: ({ inputs: [c], shapes, needs }, [dy]) => tidy(() => {
    const zero = full([], 0, { backend: dy!.backend });
    return [
      null,
      needs[1] ? sumTo(where(c!, dy!, zero), shapes[1]) : null,
      needs[2] ? sumTo(where(c!, zero, dy!), shapes[2]) : null,
    ];
  }),
});

/**
 * `cond ? a : b` elementwise, broadcasting all three (NumPy rules). `cond` is f32 (any nonzero
 * is true) or i32; numbers for `a` / `b` become scalars. Gradients flow to the selected side only.
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const A = asTensor(a, cond), B = asTensor(b, cond);
  try {
    return apply1(whereOp, [cond, A.t, B.t], {});
  } finally {
    if (A.temp) A.t.dispose();
    if (B.temp) B.t.dispose();
  }
}

/** `x` with `value` wherever `mask` is nonzero; `mask` must broadcast to `x`'s shape. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const shape = broadcastShapes("maskedFill", x.shape, mask.shape);
  if (shape.length !== x.rank || shape.some((d, k) => d !== x.shape[k])) {
    throw new OpError("maskedFill", `mask ${fmt(mask.shape)} does not broadcast to x ${fmt(x.shape)}`);
  }
  return where(mask, value, x);
}

// ---- indexSelect ----

/** Attributes of indexSelect: the (normalized) axis of x that the indices pick along. */
export interface IndexSelectAttrs {
  axis: number;
}

/** Attributes of indexSelectBackward: the axis and its size in the original x. */
export interface IndexSelectGradAttrs {
  axis: number;
  size: number;
}

/** x viewed as [outer, A, inner] around `axis`; `K` = number of indices. */
function dims3(shape: Shape, axis: number, K: number) {
  return { outer: numel(shape.slice(0, axis)), A: shape[axis], inner: numel(shape.slice(axis + 1)), K };
}

function checkIndex(op: string, idx: { dtype: string; shape: Shape }): void {
  if (idx.dtype !== "i32") {
    throw new OpError(op, `indices ${fmt(idx.shape)} must be an i32 tensor, got ${idx.dtype}; ` +
      "create them with { dtype: 'i32' }");
  }
}

/** The error for an index outside the axis (cpu64 throws it at once, webgpu at the next readback). */
const indexError = (x: Shape, axis: number) => (a: number, k: number) =>
  new OpError("indexSelect", `index ${a} at position ${k} is out of range for axis ${axis} of x ${fmt(x)} (size ${x[axis]})`);
const indexGradError = (size: number) => (a: number, k: number) =>
  new OpError("indexSelectBackward", `index ${a} at position ${k} is out of range for size ${size}`);

const indexSelectOp = defineOp<IndexSelectAttrs>({
  name: "indexSelect",
  infer: ([x, idx], { axis }) => {
    requireFloat("indexSelect", [x]);
    checkIndex("indexSelect", idx);
    if (axis < 0 || axis >= x.shape.length) {
      throw new OpError("indexSelect", `axis ${axis} is out of range for x ${fmt(x.shape)}`);
    }
    return [{ shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], dtype: "f32" }];
  },
  cpu: ([x, idx], [y], { axis }) => {
    const { outer, A, inner, K } = dims3(x.shape, axis, numel(idx.shape));
    for (let k = 0; k < K; k++) {
      const a = idx.s.f64[k];
      if (!(a >= 0 && a < A)) throw indexError(x.shape, axis)(a, k);
      for (let o = 0; o < outer; o++) {
        const src = (o * A + a) * inner, dst = (o * K + k) * inner;
        for (let j = 0; j < inner; j++) y.s.f64[dst + j] = x.s.f64[src + j];
      }
    }
  },
  gpu: (rt, [x, idx], [y], { axis }) => {
    if (numel(y.shape) === 0) return;
    const { outer, A, inner, K } = dims3(x.shape, axis, numel(idx.shape));
    checkIdsOnDevice(rt, `indexSelect:${fmt(x.shape)}:${axis}`, idx, A, null, indexError(x.shape, axis));
    const { k, grid } = gatherKernel(outer, A, K, inner);
    rt.dispatch(k, [x.s.buffer, idx.s.buffer, y.s.buffer], grid);
  },
  save: { inputs: [1] },
  backward: ({ attrs: { axis }, inputs: [, idx], shapes }, [dy]) =>
    [indexSelectBackward(dy!, idx!, axis, shapes[0][axis]), null],
});

const indexSelectBackwardOp = defineOp<IndexSelectGradAttrs>({
  name: "indexSelectBackward",
  infer: ([dy, idx], { axis, size }) => {
    requireFloat("indexSelectBackward", [dy]);
    checkIndex("indexSelectBackward", idx);
    const r = idx.shape.length;
    if (axis < 0 || axis + r > dy.shape.length || idx.shape.some((d, k) => dy.shape[axis + k] !== d)) {
      throw new OpError("indexSelectBackward", `gradient ${fmt(dy.shape)} does not hold indices ` +
        `${fmt(idx.shape)} at axis ${axis}`);
    }
    return [{ shape: [...dy.shape.slice(0, axis), size, ...dy.shape.slice(axis + r)], dtype: "f32" }];
  },
  cpu: ([dy, idx], [dx], { axis, size }) => {
    const { outer, A, inner, K } = dims3(dx.shape, axis, numel(idx.shape));
    dx.s.f64.fill(0);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < K; k++) {
        const a = idx.s.f64[k];
        if (!(a >= 0 && a < A)) throw indexGradError(size)(a, k);
        const src = (o * K + k) * inner, dst = (o * A + a) * inner;
        for (let j = 0; j < inner; j++) dx.s.f64[dst + j] += dy.s.f64[src + j];
      }
    }
  },
  gpu: (rt, [dy, idx], [dx], { axis, size }) => {
    if (numel(dx.shape) === 0) return;
    const { outer, A, inner, K } = dims3(dx.shape, axis, numel(idx.shape));
    checkIdsOnDevice(rt, "indexSelectBackward", idx, A, null, indexGradError(size));
    const { k, grid } = scatterSumKernel(outer, A, K, inner);
    rt.dispatch(k, [dy.s.buffer, idx.s.buffer, dx.s.buffer], grid);
  },
  save: { inputs: [1] },
  backward: ({ attrs: { axis }, inputs: [, idx] }, [g]) => [indexSelect(g!, axis, idx!), null],
});

/**
 * Gathers along `axis` by the i32 tensor `idx` (any shape, NumPy `take`): the result has shape
 * `x.shape[:axis] + idx.shape + x.shape[axis+1:]`. With x [V, C] and ids [B, T] on axis 0 this
 * is an embedding lookup. An out-of-range index is an error with the same message on both backends:
 * cpu64 throws at once, webgpu at the next readback (its kernel reads 0 meanwhile).
 */
export function indexSelect(x: Tensor, axis: number, idx: Tensor): Tensor {
  return apply1(indexSelectOp, [x, idx], { axis: normAxis("indexSelect", axis, x.rank) });
}

/**
 * The gradient of {@link indexSelect}: sums the slices of `dy` that picked the same index into a
 * tensor whose `axis` has length `size`, in index order (deterministic).
 */
export function indexSelectBackward(dy: Tensor, idx: Tensor, axis: number, size: number): Tensor {
  return apply1(indexSelectBackwardOp, [dy, idx], { axis, size });
}
