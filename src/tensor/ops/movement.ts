// Movement ops that copy: permute (and transpose), slice, pad and concat, for f32 and i32.
// Each backward is another movement op (permute⁻¹, pad ↔ slice, concat → slices). Views that
// share storage (reshape, detach) and broadcastTo live in movement-core.ts.
import { fmt, normAxis, numel, OpError, sameShape, stridesOf, type Shape } from "../shape";
import { apply1, defineOp, type Meta } from "../op";
import { blockCopyKernel, padKernel, permuteKernel, sliceKernel } from "../../shaders/movement";
import type { Tensor } from "../tensor";
import { reshape } from "./core";

/** Calls `f(c, i)` for every coordinate `c` of `shape` in row-major order (`i` = flat index). */
function eachIndex(shape: Shape, f: (c: readonly number[], i: number) => void): void {
  const n = numel(shape), c = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(c, i);
    for (let d = shape.length - 1; d >= 0 && ++c[d] === shape[d]; d--) c[d] = 0;
  }
}

const dot = (c: readonly number[], st: readonly number[], add?: readonly number[]) =>
  c.reduce((s, v, k) => s + (v + (add?.[k] ?? 0)) * st[k], 0);

// ---- permute ----

/** Attributes of permute: output dim k is input dim `dims[k]`. */
export interface PermuteAttrs {
  dims: number[];
}

function checkPerm(op: string, dims: readonly number[], shape: Shape): number[] {
  const norm = dims.map((d) => normAxis(op, d, shape.length));
  if (norm.length !== shape.length || new Set(norm).size !== norm.length) {
    throw new OpError(op, `dims [${dims}] are not a permutation of the ${shape.length} axes of ${fmt(shape)}`);
  }
  return norm;
}

const permuteOp = defineOp<PermuteAttrs>({
  name: "permute",
  infer: ([x], { dims }) => [{ shape: checkPerm("permute", dims, x.shape).map((d) => x.shape[d]), dtype: x.dtype }],
  cpu: ([x], [y], { dims }) => {
    const st = stridesOf(x.shape), pst = dims.map((d) => st[d]);
    eachIndex(y.shape, (c, i) => (y.s.f64[i] = x.s.f64[dot(c, pst)]));
  },
  gpu: (rt, [x], [y], { dims }) => {
    if (numel(y.shape) === 0) return;
    const { k, grid } = permuteKernel(x.shape, dims, x.dtype);
    rt.dispatch(k, [x.s.buffer, y.s.buffer], grid);
  },
  save: { inputs: [] },
  backward: ({ attrs: { dims } }, [dy]) => {
    const inv = new Array<number>(dims.length);
    dims.forEach((d, k) => (inv[d] = k));
    return [permute(dy!, inv)];
  },
});

/**
 * Reorders axes: output dim k is input dim `dims[k]` (negative dims count from the end). A
 * permutation that only moves size-1 dims is a free reshape.
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const norm = checkPerm("permute", dims, x.shape);
  const big = norm.filter((d) => x.shape[d] !== 1);
  if (big.every((d, k) => k === 0 || d > big[k - 1])) {
    return sameShape(norm, [...norm].sort((a, b) => a - b)) ? x : reshape(x, norm.map((d) => x.shape[d]));
  }
  return apply1(permuteOp, [x], { dims: norm });
}

/** Swaps two axes (default: the last two). */
export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  const a = normAxis("transpose", d0, x.rank), b = normAxis("transpose", d1, x.rank);
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, dims);
}

// ---- slice and pad ----

/** Attributes of slice: full-rank, normalized [start, end) per axis. */
export interface SliceAttrs {
  starts: number[];
  ends: number[];
}

function checkSlice(x: Meta, { starts, ends }: SliceAttrs): number[] {
  const ok = starts.length === x.shape.length && ends.length === x.shape.length &&
    x.shape.every((d, k) => Number.isInteger(starts[k]) && Number.isInteger(ends[k]) &&
      starts[k] >= 0 && starts[k] <= ends[k] && ends[k] <= d);
  if (!ok) {
    throw new OpError("slice", `starts [${starts}] / ends [${ends}] do not select a range of ${fmt(x.shape)}; ` +
      "need 0 <= start <= end <= size on every axis");
  }
  return x.shape.map((_, k) => ends[k] - starts[k]);
}

const sliceOp = defineOp<SliceAttrs>({
  name: "slice",
  infer: ([x], a) => [{ shape: checkSlice(x, a), dtype: x.dtype }],
  cpu: ([x], [y], { starts }) => {
    const st = stridesOf(x.shape);
    eachIndex(y.shape, (c, i) => (y.s.f64[i] = x.s.f64[dot(c, st, starts)]));
  },
  gpu: (rt, [x], [y], { starts }) => {
    if (numel(y.shape) === 0) return;
    const { k, grid } = sliceKernel(x.shape, starts, y.shape, x.dtype);
    rt.dispatch(k, [x.s.buffer, y.s.buffer], grid);
  },
  save: { inputs: [] },
  backward: ({ attrs: { starts, ends }, shapes }, [dy]) =>
    [pad(dy!, starts, shapes[0].map((d, k) => d - ends[k]))],
});

/**
 * `x[starts[0]:ends[0], starts[1]:ends[1], ...]`: the arrays cover the leading axes (the rest
 * are kept whole); negative indices count from the end of their axis, and `end` may equal the size.
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor {
  if (starts.length !== ends.length || starts.length > x.rank) {
    throw new OpError("slice", `starts [${starts}] and ends [${ends}] need the same length, at most ` +
      `the rank of ${fmt(x.shape)}`);
  }
  const norm = (v: number, d: number) => (v < 0 ? v + d : v);
  const s = x.shape.map((d, k) => (k < starts.length ? norm(starts[k], d) : 0));
  const e = x.shape.map((d, k) => (k < ends.length ? norm(ends[k], d) : d));
  if (s.every((v) => v === 0) && sameShape(e, x.shape)) return x;
  return apply1(sliceOp, [x], { starts: s, ends: e });
}

/** Attributes of pad: zeros added before and after each axis. */
export interface PadAttrs {
  before: number[];
  after: number[];
}

const padOp = defineOp<PadAttrs>({
  name: "pad",
  infer: ([x], { before, after }) => {
    const ok = before.length === x.shape.length && after.length === x.shape.length &&
      [...before, ...after].every((p) => Number.isInteger(p) && p >= 0);
    if (!ok) {
      throw new OpError("pad", `before [${before}] / after [${after}] must be ${x.shape.length} ` +
        `non-negative integers each for ${fmt(x.shape)}`);
    }
    return [{ shape: x.shape.map((d, k) => before[k] + d + after[k]), dtype: x.dtype }];
  },
  cpu: ([x], [y], { before }) => {
    const st = stridesOf(y.shape);
    y.s.f64.fill(0);
    eachIndex(x.shape, (c, i) => (y.s.f64[dot(c, st, before)] = x.s.f64[i]));
  },
  gpu: (rt, [x], [y], { before }) => {
    if (numel(y.shape) === 0) return;
    const { k, grid } = padKernel(x.shape, before, y.shape, x.dtype);
    rt.dispatch(k, [x.s.buffer, y.s.buffer], grid);
  },
  save: { inputs: [] },
  backward: ({ attrs: { before }, shapes }, [dy]) =>
    [slice(dy!, before, shapes[0].map((d, k) => before[k] + d))],
});

/** Pads every axis with `before[k]` zeros in front and `after[k]` zeros behind. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
  return apply1(padOp, [x], { before: [...before], after: [...after] });
}

// ---- concat ----

/** Attributes of concat: the normalized axis. */
export interface ConcatAttrs {
  axis: number;
}

const concatOp = defineOp<ConcatAttrs>({
  name: "concat",
  infer: (xs, { axis }) => {
    const first = xs[0];
    const bad = xs.find((m) => m.dtype !== first.dtype || m.shape.length !== first.shape.length ||
      m.shape.some((d, k) => k !== axis && d !== first.shape[k]));
    if (bad || axis < 0 || axis >= first.shape.length) {
      throw new OpError("concat", `cannot join ${xs.map((m) => `${fmt(m.shape)} ${m.dtype}`).join(", ")} along ` +
        `axis ${axis}: ranks, dtypes and every other dim must match`);
    }
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, m) => s + m.shape[axis], 0);
    return [{ shape, dtype: first.dtype }];
  },
  cpu: (xs, [y], { axis }) => {
    const st = stridesOf(y.shape), add = y.shape.map(() => 0);
    for (const x of xs) {
      eachIndex(x.shape, (c, i) => (y.s.f64[dot(c, st, add)] = x.s.f64[i]));
      add[axis] += x.shape[axis];
    }
  },
  gpu: (rt, xs, [y], { axis }) => {
    const outer = numel(y.shape.slice(0, axis)), inner = numel(y.shape.slice(axis + 1));
    const dstLen = y.shape[axis] * inner;
    let off = 0;
    for (const x of xs) {
      const len = x.shape[axis] * inner;
      if (outer === 1) rt.copy(x.s.buffer, 0, y.s.buffer, off * 4, len * 4);
      else if (len * outer > 0) {
        const { k, grid } = blockCopyKernel(outer, len, dstLen, off, x.dtype);
        rt.dispatch(k, [x.s.buffer, y.s.buffer], grid);
      }
      off += len;
    }
  },
  save: { inputs: [] },
  backward: ({ attrs: { axis }, shapes, needs }, [dy]) => {
    let off = 0;
    return shapes.map((s, i) => {
      const start = off;
      off += s[axis];
      if (!needs[i]) return null;
      const starts = s.map(() => 0), ends = [...s];
      starts[axis] = start;
      ends[axis] = off;
      return slice(dy!, starts, ends);
    });
  },
});

/** Joins tensors of equal shape (except along `axis`) and dtype along `axis`. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new OpError("concat", "needs at least one tensor");
  return apply1(concatOp, xs, { axis: normAxis("concat", axis, xs[0].rank) });
}
