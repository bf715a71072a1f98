// The core algebra: elementwise ops, reductions, and the views and broadcast they need. They live
// in one module because their backward rules call each other (add's reduces a broadcast
// gradient with sum, sum's is broadcastTo, broadcastTo's is sum, mean's and max's use mul, div
// and eq): as three files they imported each other in a circle.
//
// Elementwise ops are table entries: each unary/binary op is one row with its WGSL expression,
// f64 reference and backward rule. Binary ops broadcast like NumPy; comparisons give 0/1 floats.
// Reductions along axes with keepdim: sum, mean, max, and sumSquares (Σx², the square fused into
// the reduction, as gradient-norm clipping needs). One op definition serves sum/mean; max and
// sumSquares derive from it with their own backward; the kernel plan lives in shaders/reduce.ts.
// The movement ops the core needs: reshape and detach (views sharing storage, no kernel) and
// broadcastTo (a strided copy). Permute, slice, concat and gather live in movement.ts.
import { broadcastShapes, checkShape, fmt, normAxis, numel, OpError, sameShape, stridesOf, type Shape } from "../shape";
import { apply1, defineOp, type Arg, type OpDef } from "../op";
import { binaryKernel, broadcastKernel, unaryKernel, type BinaryExpr } from "../../shaders/elementwise";
import { reducePlan, splitAxes, type ReduceKind } from "../../shaders/reduce";
import { f32, MATH } from "../../shaders/wgsl";
import { Tensor, type TensorLike } from "../tensor";
import { asTensor, broadcastAxes, dispatchPlan, requireFloat } from "./util";

// ---- elementwise ----

/** Attributes of unary ops: `p` is a scalar parameter (exponent, scale), `q` a second one. */
export interface UnaryAttrs {
  p: number;
  q: number;
}

interface UnaryRow {
  /** WGSL expression of operand `x` of type `T` (f32 or vec4f) with parameter literals p, q. */
  wgsl: (x: string, T: string, p: string, q: string) => string;
  f64: (x: number, p: number, q: number) => number;
  /** Gradient of the input from x, y and dy; absent = not differentiable (no tape entry). */
  grad?: (x: Tensor | null, y: Tensor | null, dy: Tensor, a: UnaryAttrs) => Tensor;
  save: "input" | "output" | "none";
}

// GELU (tanh form) 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), written as x·σ(2u) and its
// derivative σ(2u) + 2x·σ(2u)·σ(−2u)·u′ (1 + tanh and 1 − tanh² cancel where |u| is large); the
// kernels use the same forms (shaders/wgsl.ts MATH).
const GELU_C = Math.sqrt(2 / Math.PI);
const geluF64 = (x: number) => x / (1 + Math.exp(-2 * GELU_C * (x + 0.044715 * x ** 3)));
const geluGradF64 = (x: number) => {
  const u2 = 2 * GELU_C * (x + 0.044715 * x ** 3);
  const s = 1 / (1 + Math.exp(-u2)), sm = 1 / (1 + Math.exp(u2));
  return s + x * s * sm * 2 * GELU_C * (1 + 3 * 0.044715 * x * x);
};
const tanhT = (T: string) => (T === "f32" ? "tanh_s" : "tanh4");
const geluT = (T: string) => (T === "f32" ? "gelu_s" : "gelu4");
const powF64 = (x: number, p: number) => (Number.isInteger(p) ? x ** p : Math.pow(x, p));

/** The unary table (the op registry's rows; not an API). @internal */
export const UNARY = {
  neg: { wgsl: (x) => `-${x}`, f64: (x) => -x, grad: (_x, _y, dy) => neg(dy), save: "none" },
  exp: { wgsl: (x) => `exp(${x})`, f64: Math.exp, grad: (_x, y, dy) => mul(dy, y!), save: "output" },
  log: { wgsl: (x) => `log(${x})`, f64: Math.log, grad: (x, _y, dy) => div(dy, x!), save: "input" },
  sqrt: { wgsl: (x) => `sqrt(${x})`, f64: Math.sqrt, grad: (_x, y, dy) => div(mul(dy, 0.5), y!), save: "output" },
  rsqrt: {
    wgsl: (x) => `inverseSqrt(${x})`, f64: (x) => 1 / Math.sqrt(x),
    grad: (_x, y, dy) => mul(dy, mul(pow(y!, 3), -0.5)), save: "output",
  },
  tanh: {
    wgsl: (x, T) => `${tanhT(T)}(${x})`, f64: Math.tanh,
    grad: (_x, y, dy) => mul(dy, affine(square(y!), -1, 1)), save: "output",
  },
  sigmoid: {
    wgsl: (x, T) => `${T}(1.0) / (${T}(1.0) + exp(-${x}))`, f64: (x) => 1 / (1 + Math.exp(-x)),
    grad: (_x, y, dy) => mul(dy, mul(y!, affine(y!, -1, 1))), save: "output",
  },
  relu: {
    wgsl: (x, T) => `max(${x}, ${T}(0.0))`, f64: (x) => Math.max(x, 0),
    grad: (x, _y, dy) => mul(dy, gt(x!, 0)), save: "input",
  },
  gelu: {
    wgsl: (x, T) => `${geluT(T)}(${x})`,
    f64: geluF64, grad: (x, _y, dy) => geluBackward(x!, dy), save: "input",
  },
  geluGrad: {
    wgsl: (x, T) => `${T === "f32" ? "gelu_grad_s" : "gelu_grad4"}(${x})`,
    f64: geluGradF64, save: "none",
  },
  abs: { wgsl: (x) => `abs(${x})`, f64: Math.abs, grad: (x, _y, dy) => mul(dy, sign(x!)), save: "input" },
  sign: { wgsl: (x) => `sign(${x})`, f64: Math.sign, save: "none" },
  square: { wgsl: (x) => `${x} * ${x}`, f64: (x) => x * x, grad: (x, _y, dy) => mul(dy, mul(x!, 2)), save: "input" },
  pow: {
    wgsl: (x: string, T: string, p: string) => powWgsl(x, T, p),
    f64: powF64, grad: (x, _y, dy, a) => mul(dy, mul(pow(x!, a.p - 1), a.p)), save: "input",
  },
  affine: {
    wgsl: (x: string, T: string, p: string, q: string) => `${x} * ${T}(${p}) + ${T}(${q})`,
    f64: (x, p, q) => x * p + q, grad: (_x, _y, dy, a) => mul(dy, a.p), save: "none",
  },
} satisfies Record<string, UnaryRow>;

function powWgsl(x: string, T: string, p: string): string {
  const pv = Number(p);
  if (pv === 1) return x;
  if (pv === 2) return `${x} * ${x}`;
  if (pv === 3) return `${x} * ${x} * ${x}`;
  if (pv === 0.5) return `sqrt(${x})`;
  if (pv === -1) return `${T}(1.0) / ${x}`;
  if (Number.isInteger(pv)) {
    const mag = `pow(abs(${x}), ${T}(${p}))`;
    return pv % 2 === 0 ? mag : `sign(${x}) * ${mag}`;
  }
  return `pow(${x}, ${T}(${p}))`;
}

function defineUnary(name: string, row: UnaryRow): OpDef<UnaryAttrs> {
  return defineOp<UnaryAttrs>({
    name,
    infer: (ins) => {
      requireFloat(name, ins);
      return [{ shape: ins[0].shape, dtype: "f32" }];
    },
    cpu: ([x], [y], a) => {
      const xs = x.s.f64, ys = y.s.f64;
      for (let i = 0; i < xs.length; i++) ys[i] = row.f64(xs[i], a.p, a.q);
    },
    gpu: (rt, [x], [y], a) => {
      const f = (v: string, T: string) => row.wgsl(v, T, f32(a.p), f32(a.q));
      const { k, grid } = unaryKernel(name, f, numel(x.shape));
      rt.dispatch(k, [x.s.buffer, y.s.buffer], grid);
    },
    save: row.save === "input" ? { inputs: [0] } : row.save === "output" ? { outputs: [0] } : { inputs: [] },
    backward: row.grad
      ? ({ inputs: [x], outputs: [y], attrs }, [dy]) => [row.grad!(x, y, dy!, attrs)]
      : undefined,
  });
}

const UNARY_OPS = Object.fromEntries(
  Object.entries(UNARY).map(([n, row]) => [n, defineUnary(n, row as UnaryRow)]),
) as Record<keyof typeof UNARY, OpDef<UnaryAttrs>>;

const un = (name: keyof typeof UNARY) => (x: Tensor, p = 0, q = 0): Tensor =>
  apply1(UNARY_OPS[name], [x], { p, q });

/** -x */ export const neg = un("neg");
/** e^x */ export const exp = un("exp");
/** Natural log. */ export const log = un("log");
/** Square root. */ export const sqrt = un("sqrt");
/** 1/sqrt(x). */ export const rsqrt = un("rsqrt");
/** Hyperbolic tangent. */ export const tanh = un("tanh");
/** Logistic sigmoid. */ export const sigmoid = un("sigmoid");
/** max(x, 0). */ export const relu = un("relu");
/** GELU, tanh approximation (GPT-2's). */ export const gelu = un("gelu");
/** Derivative of gelu (not differentiable itself). */ export const geluGrad = un("geluGrad");
/** |x| */ export const abs = un("abs");
/** sign(x) in {-1, 0, 1} (not differentiable). */ export const sign = un("sign");
/** x² */ export const square = un("square");
/** x^p for a scalar p (integer p works for negative x). */
export const pow = (x: Tensor, p: number): Tensor => apply1(UNARY_OPS.pow, [x], { p, q: 0 });
/** x·a + b for scalars a, b. */
export const affine = (x: Tensor, a: number, b: number): Tensor => apply1(UNARY_OPS.affine, [x], { p: a, q: b });

// ---- binary ----

interface BinaryRow {
  wgsl: BinaryExpr;
  /** WGSL functions the expression calls (shaders/wgsl.ts MATH), declared before the kernel. */
  prelude?: string;
  f64: (a: number, b: number) => number;
  grad?: (a: Tensor | null, b: Tensor | null, dy: Tensor, needs: readonly boolean[]) => [Tensor | null, Tensor | null];
  /** Saved inputs for backward. */
  save: number[];
}

/** The binary table (comparisons have no grad and return 0/1; the op registry's rows, not an API). @internal */
export const BINARY = {
  add: { wgsl: (a, b) => `${a} + ${b}`, f64: (a, b) => a + b, grad: (_a, _b, dy) => [dy, dy], save: [] },
  sub: { wgsl: (a, b) => `${a} - ${b}`, f64: (a, b) => a - b, grad: (_a, _b, dy, n) => [dy, n[1] ? neg(dy) : null], save: [] },
  mul: {
    wgsl: (a, b) => `${a} * ${b}`, f64: (a, b) => a * b,
    grad: (a, b, dy, n) => [n[0] ? mul(dy, b!) : null, n[1] ? mul(dy, a!) : null], save: [0, 1],
  },
  div: {
    wgsl: (a, b) => `${a} / ${b}`, f64: (a, b) => a / b,
    grad: (a, b, dy, n) => [n[0] ? div(dy, b!) : null, n[1] ? neg(div(mul(dy, a!), square(b!))) : null],
    save: [0, 1],
  },
  maximum: {
    wgsl: (a, b) => `max(${a}, ${b})`, f64: Math.max,
    grad: (a, b, dy, n) => [n[0] ? mul(dy, ge(a!, b!)) : null, n[1] ? mul(dy, lt(a!, b!)) : null],
    save: [0, 1],
  },
  // dy·gelu'(x) in one pass (GELU's backward: one dispatch and one tensor fewer than
  // mul(dy, geluGrad(x)), the same bits); like geluGrad, constant in x for a second derivative.
  geluBackward: {
    wgsl: (x, dy, T) => `${dy} * ${T === "f32" ? "gelu_grad_s" : "gelu_grad4"}(${x})`, prelude: MATH,
    f64: (x, dy) => dy * geluGradF64(x),
    grad: (x, _dy, g, n) => [null, n[1] ? geluBackward(x!, g) : null], save: [0],
  },
  lt: { wgsl: (a, b, T) => `select(${T}(0.0), ${T}(1.0), ${a} < ${b})`, f64: (a, b) => +(a < b), save: [] },
  gt: { wgsl: (a, b, T) => `select(${T}(0.0), ${T}(1.0), ${a} > ${b})`, f64: (a, b) => +(a > b), save: [] },
  le: { wgsl: (a, b, T) => `select(${T}(0.0), ${T}(1.0), ${a} <= ${b})`, f64: (a, b) => +(a <= b), save: [] },
  ge: { wgsl: (a, b, T) => `select(${T}(0.0), ${T}(1.0), ${a} >= ${b})`, f64: (a, b) => +(a >= b), save: [] },
  eq: { wgsl: (a, b, T) => `select(${T}(0.0), ${T}(1.0), ${a} == ${b})`, f64: (a, b) => +(a === b), save: [] },
  ne: { wgsl: (a, b, T) => `select(${T}(0.0), ${T}(1.0), ${a} != ${b})`, f64: (a, b) => +(a !== b), save: [] },
} satisfies Record<string, BinaryRow>;

/** Sums a broadcast gradient back to `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const axes = broadcastAxes(shape, g.shape);
  return reshape(sum(g, axes, true), shape);
}

function cpuBinary(f: (a: number, b: number) => number, a: Arg, b: Arg, y: Arg): void {
  const out = y.shape, r = out.length, n = numel(out);
  const sa = bstrides(a.shape, out), sb = bstrides(b.shape, out), so = stridesOf(out);
  const A = a.s.f64, B = b.s.f64, Y = y.s.f64;
  for (let i = 0; i < n; i++) {
    let ia = 0, ib = 0;
    for (let d = 0; d < r; d++) {
      const c = Math.floor(i / so[d]) % out[d];
      ia += c * sa[d];
      ib += c * sb[d];
    }
    Y[i] = f(A[ia], B[ib]);
  }
}

function bstrides(src: Shape, out: Shape): number[] {
  const st = stridesOf(src);
  return out.map((_, d) => {
    const sd = d - (out.length - src.length);
    return sd < 0 || src[sd] === 1 ? 0 : st[sd];
  });
}

function defineBinary(name: string, row: BinaryRow): OpDef<Record<string, never>> {
  return defineOp({
    name,
    infer: (ins) => {
      requireFloat(name, ins);
      return [{ shape: broadcastShapes(name, ins[0].shape, ins[1].shape), dtype: "f32" }];
    },
    cpu: ([a, b], [y]) => cpuBinary(row.f64, a, b, y),
    gpu: (rt, [a, b], [y]) => {
      dispatchPlan(rt, binaryKernel(name, row.wgsl, a.shape, b.shape, y.shape, "f32", row.prelude), [a.s.buffer, b.s.buffer, y.s.buffer]);
    },
    save: { inputs: row.save },
    backward: row.grad
      ? ({ inputs: [a, b], needs, shapes }, [dy]) => {
          const [ga, gb] = row.grad!(a, b, dy!, needs);
          return [ga && sumTo(ga, shapes[0]), gb && sumTo(gb, shapes[1])];
        }
      : undefined,
  });
}

const BINARY_OPS = Object.fromEntries(
  Object.entries(BINARY).map(([n, row]) => [n, defineBinary(n, row as BinaryRow)]),
) as Record<keyof typeof BINARY, OpDef<Record<string, never>>>;

function bin(name: keyof typeof BINARY, a: TensorLike, b: TensorLike): Tensor {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new OpError(name, "needs at least one tensor operand");
  }
  const like = (a instanceof Tensor ? a : b) as Tensor;
  const A = asTensor(a, like), B = asTensor(b, like);
  try {
    return apply1(BINARY_OPS[name], [A.t, B.t], {});
  } finally {
    if (A.temp) A.t.dispose();
    if (B.temp) B.t.dispose();
  }
}

/** a + b (broadcasting). A number operand becomes a fused affine op. */
export const add = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === "number" && a instanceof Tensor ? affine(a, 1, b)
  : typeof a === "number" && b instanceof Tensor ? affine(b, 1, a) : bin("add", a, b);
/** a - b (broadcasting). */
export const sub = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === "number" && a instanceof Tensor ? affine(a, 1, -b)
  : typeof a === "number" && b instanceof Tensor ? affine(b, -1, a) : bin("sub", a, b);
/** a · b (broadcasting). */
export const mul = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === "number" && a instanceof Tensor ? affine(a, b, 0)
  : typeof a === "number" && b instanceof Tensor ? affine(b, a, 0) : bin("mul", a, b);
/** a / b (broadcasting). */
export const div = (a: TensorLike, b: TensorLike): Tensor =>
  typeof b === "number" && a instanceof Tensor ? affine(a, 1 / b, 0) : bin("div", a, b);
/** Elementwise max (ties send the gradient to `a`). */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => bin("maximum", a, b);
/** dy · gelu'(x) (broadcasting): GELU's backward in one pass; a gradient flows to dy only, as with {@link geluGrad}. */
export const geluBackward = (x: TensorLike, dy: TensorLike): Tensor => bin("geluBackward", x, dy);
/** a < b as 0/1. */ export const lt = (a: TensorLike, b: TensorLike): Tensor => bin("lt", a, b);
/** a > b as 0/1. */ export const gt = (a: TensorLike, b: TensorLike): Tensor => bin("gt", a, b);
/** a <= b as 0/1. */ export const le = (a: TensorLike, b: TensorLike): Tensor => bin("le", a, b);
/** a >= b as 0/1. */ export const ge = (a: TensorLike, b: TensorLike): Tensor => bin("ge", a, b);
/** a == b as 0/1. */ export const eq = (a: TensorLike, b: TensorLike): Tensor => bin("eq", a, b);
/** a != b as 0/1. */ export const ne = (a: TensorLike, b: TensorLike): Tensor => bin("ne", a, b);

// ---- reductions ----

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
      dispatchPlan(rt, passes[0], [x.s.buffer, y.s.buffer]);
    } else {
      const tmp = rt.scratch(passes[0].outputs * 4);
      dispatchPlan(rt, passes[0], [x.s.buffer, tmp]);
      dispatchPlan(rt, passes[1], [tmp, y.s.buffer]);
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

// ---- views and broadcast ----

/** Attributes of reshape / broadcastTo. */
export interface ShapeAttrs {
  shape: number[];
}

const reshapeOp = defineOp<ShapeAttrs>({
  name: "reshape",
  alias: true,
  infer: ([x], { shape }) => {
    checkShape("reshape", shape);
    if (numel(shape) !== numel(x.shape)) {
      throw new OpError("reshape", `cannot view ${fmt(x.shape)} (${numel(x.shape)} elements) as ` +
        `${fmt(shape)} (${numel(shape)} elements)`);
    }
    return [{ shape, dtype: x.dtype }];
  },
  cpu: () => undefined,
  gpu: () => undefined,
  save: { inputs: [] },
  backward: ({ shapes }, [dy]) => [reshape(dy!, shapes[0])],
});

/** A view of `x` with a new shape of the same size; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const hole = s.indexOf(-1);
  if (hole >= 0) {
    const rest = numel(s.filter((_, i) => i !== hole));
    if (rest === 0 || numel(x.shape) % rest !== 0) {
      throw new OpError("reshape", `cannot infer -1 in ${fmt(shape)} for ${fmt(x.shape)}`);
    }
    s[hole] = numel(x.shape) / rest;
  }
  return apply1(reshapeOp, [x], { shape: s });
}

const detachOp = defineOp<Record<string, never>>({
  name: "detach",
  alias: true,
  infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
  cpu: () => undefined,
  gpu: () => undefined,
});

/** A view of `x` that shares its storage but has no gradient history. */
export function detach(x: Tensor): Tensor {
  return apply1(detachOp, [x], {});
}

const broadcastOp = defineOp<ShapeAttrs>({
  name: "broadcastTo",
  infer: ([x], { shape }) => {
    const b = broadcastShapes("broadcastTo", x.shape, shape);
    if (!sameShape(b, shape)) {
      throw new OpError("broadcastTo", `cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}`);
    }
    if (x.dtype !== "f32") throw new OpError("broadcastTo", "needs an f32 input");
    return [{ shape, dtype: "f32" }];
  },
  cpu: ([x], [y]) => {
    const out = y.shape, n = numel(out), so = stridesOf(out), sx = stridesOf(x.shape);
    const off = out.length - x.shape.length;
    for (let i = 0; i < n; i++) {
      let ix = 0;
      for (let d = off; d < out.length; d++) {
        if (x.shape[d - off] !== 1) ix += (Math.floor(i / so[d]) % out[d]) * sx[d - off];
      }
      y.s.f64[i] = x.s.f64[ix];
    }
  },
  gpu: (rt, [x], [y]) => {
    const { k, grid } = broadcastKernel(x.shape, y.shape);
    rt.dispatch(k, [x.s.buffer, y.s.buffer], grid);
  },
  save: { inputs: [] },
  backward: ({ shapes }, [dy]) => [sumTo(dy!, shapes[0])],
});

/** Materializes `x` broadcast to `shape` (NumPy rules). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  return apply1(broadcastOp, [x], { shape: [...shape] });
}
