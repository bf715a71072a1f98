// Test cases for the core ops: elementwise, reductions, reshape/broadcast/detach and matmul.
import * as T from "../../src/node";
import type { OpCase } from "../check";

const unary = (name: string, f: (x: T.Tensor) => T.Tensor, kind: "randn" | "pos" = "randn"): OpCase[] => [
  { label: `${name} [3,5]`, inputs: [{ shape: [3, 5], kind }], run: ([x]) => f(x) },
  { label: `${name} [2,4] (vec4)`, inputs: [{ shape: [2, 4], kind }], run: ([x]) => f(x) },
];
/** Values where f32 forms cancel: tanh near 0 (1e-7…0.1, both signs; vec4 and scalar), GELU at −9…7. */
const relCase = (f: (x: T.Tensor) => T.Tensor, values: number[]): OpCase => ({
  label: `relative precision [${values.length}]${values.length % 4 === 0 ? " (vec4)" : ""}`, rowTol: 1e-4,
  inputs: [{ shape: [values.length], values: values.map(Math.fround) }], run: ([x]) => f(x),
});
const nearZero = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * 10 ** (-1 - (6 * i) / n));
const negWide = (n: number) => Array.from({ length: n }, (_, i) => -9 + (16 * i) / n);
const binary = (name: string, f: (a: T.Tensor, b: T.Tensor) => T.Tensor, kind: "randn" | "pos" = "randn"): OpCase[] => [
  { label: `${name} same [2,3]`, inputs: [{ shape: [2, 3] }, { shape: [2, 3], kind }], run: ([a, b]) => f(a, b) },
  { label: `${name} same [2,4] (vec4)`, inputs: [{ shape: [2, 4] }, { shape: [2, 4], kind }], run: ([a, b]) => f(a, b) },
  { label: `${name} bcast [2,1,3]x[4,1]`, inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1], kind }], run: ([a, b]) => f(a, b) },
  { label: `${name} scalar [3]x[]`, inputs: [{ shape: [3] }, { shape: [], kind }], run: ([a, b]) => f(a, b) },
  { label: `${name} row [2,3,8]x[8] (vec4)`, inputs: [{ shape: [2, 3, 8] }, { shape: [8], kind }], run: ([a, b]) => f(a, b) },
  { label: `${name} row [1,3,4]x[2,3,4] (vec4)`, inputs: [{ shape: [1, 3, 4] }, { shape: [2, 3, 4], kind }], run: ([a, b]) => f(a, b) },
];
const compare = (name: string, f: (a: T.Tensor, b: T.Tensor) => T.Tensor): OpCase[] => [
  { label: `${name} [2,3]x[3]`, inputs: [{ shape: [2, 3], values: [0, 1, 2, 3, 1, -1] }, { shape: [3], values: [1, 1, 2] }],
    run: ([a, b]) => f(a, b), noGradcheck: true },
];

/** Cases keyed by registry op name. */
export const CORE_CASES: Record<string, OpCase[]> = {
  neg: unary("neg", T.neg),
  exp: unary("exp", T.exp),
  log: unary("log", T.log, "pos"),
  sqrt: unary("sqrt", T.sqrt, "pos"),
  rsqrt: unary("rsqrt", T.rsqrt, "pos"),
  tanh: [...unary("tanh", T.tanh), relCase(T.tanh, nearZero(32)), relCase(T.tanh, nearZero(13))],
  sigmoid: unary("sigmoid", T.sigmoid),
  relu: unary("relu", T.relu),
  gelu: [...unary("gelu", T.gelu), relCase(T.gelu, negWide(32)), relCase(T.gelu, negWide(13))],
  geluGrad: [{ ...unary("geluGrad", T.geluGrad)[0], noGradcheck: true },
    { ...relCase(T.geluGrad, negWide(32)), noGradcheck: true }],
  // Gradient flows to dy only (x is constant, as in geluGrad): x takes no gradient here.
  geluBackward: [
    ...binary("geluBackward", T.geluBackward).map((c) => ({ ...c, inputs: [{ ...c.inputs[0], noGrad: true }, c.inputs[1]] })),
    { ...relCase(T.geluGrad, negWide(32)), label: "relative precision [32] (vec4)", inputs: [{ shape: [32], values: negWide(32).map(Math.fround), noGrad: true }, { shape: [32] }],
      run: ([x, dy]) => T.geluBackward(x, dy) },
  ],
  abs: unary("abs", T.abs),
  sign: [{ ...unary("sign", T.sign)[0], noGradcheck: true }],
  square: unary("square", T.square),
  pow: [
    { label: "pow 3 (negative x)", inputs: [{ shape: [2, 3] }], run: ([x]) => T.pow(x, 3) },
    { label: "pow 2", inputs: [{ shape: [4] }], run: ([x]) => T.pow(x, 2) },
    { label: "pow 1.5", inputs: [{ shape: [5], kind: "pos" }], run: ([x]) => T.pow(x, 1.5) },
    { label: "pow -2", inputs: [{ shape: [3], kind: "pos" }], run: ([x]) => T.pow(x, -2) },
  ],
  affine: [
    { label: "x*2.5-1", inputs: [{ shape: [2, 3] }], run: ([x]) => T.affine(x, 2.5, -1) },
    { label: "x+3 via add", inputs: [{ shape: [4] }], run: ([x]) => x.add(3) },
    { label: "2-x via sub", inputs: [{ shape: [3] }], run: ([x]) => T.sub(2, x) },
  ],
  add: binary("add", T.add),
  sub: binary("sub", T.sub),
  mul: binary("mul", T.mul),
  div: binary("div", T.div, "pos"),
  maximum: binary("maximum", T.maximum),
  lt: compare("lt", T.lt),
  gt: compare("gt", T.gt),
  le: compare("le", T.le),
  ge: compare("ge", T.ge),
  eq: compare("eq", T.eq),
  ne: compare("ne", T.ne),
  reduce: [
    { label: "sum all [3,4]", inputs: [{ shape: [3, 4] }], run: ([x]) => T.sum(x) },
    { label: "sum axis 1 keepdim", inputs: [{ shape: [3, 4] }], run: ([x]) => T.sum(x, 1, true) },
    { label: "sum axes [0,2] [2,3,4]", inputs: [{ shape: [2, 3, 4] }], run: ([x]) => T.sum(x, [0, 2]) },
    { label: "mean axis -1 [2,3,5]", inputs: [{ shape: [2, 3, 5] }], run: ([x]) => T.mean(x, -1) },
    { label: "mean axis 0 (two-pass) [9000,2]", inputs: [{ shape: [9000, 2] }], run: ([x]) => T.mean(x, 0), noGradcheck: true },
    { label: "sum [1,1] size-1 dims", inputs: [{ shape: [1, 1] }], run: ([x]) => T.sum(x, 0) },
  ],
  sumSquares: [
    { label: "sumSquares all [3,4]", inputs: [{ shape: [3, 4] }], run: ([x]) => T.sumSquares(x) },
    { label: "sumSquares axis 1 keepdim", inputs: [{ shape: [3, 4] }], run: ([x]) => T.sumSquares(x, 1, true) },
    { label: "sumSquares axes [0,2] [2,3,4]", inputs: [{ shape: [2, 3, 4] }], run: ([x]) => T.sumSquares(x, [0, 2]) },
    { label: "sumSquares all (two-pass) [9000,2]", inputs: [{ shape: [9000, 2] }], run: ([x]) => T.sumSquares(x), noGradcheck: true },
  ],
  max: [
    { label: "max axis 1", inputs: [{ shape: [3, 5] }], run: ([x]) => T.max(x, 1) },
    { label: "max all keepdim", inputs: [{ shape: [2, 3] }], run: ([x]) => T.max(x, undefined, true) },
    { label: "max with ties", inputs: [{ shape: [2, 3], values: [1, 3, 3, -1, -1, -2] }], run: ([x]) => T.max(x, 1), noGradcheck: true },
  ],
  reshape: [
    { label: "reshape [2,6]->[3,-1]", inputs: [{ shape: [2, 6] }], run: ([x]) => T.reshape(x, [3, -1]).mul(1) },
  ],
  detach: [
    { label: "detach (no grad by design)", inputs: [{ shape: [3] }], run: ([x]) => T.detach(x).mul(1), noGradcheck: true },
  ],
  broadcastTo: [
    { label: "[3,1]->[2,3,4]", inputs: [{ shape: [3, 1] }], run: ([x]) => T.broadcastTo(x, [2, 3, 4]) },
    { label: "[4]->[3,4]", inputs: [{ shape: [4] }], run: ([x]) => T.broadcastTo(x, [3, 4]) },
  ],
  matmul: [
    { label: "[5,7]x[7,3] generic", inputs: [{ shape: [5, 7] }, { shape: [7, 3] }], run: ([a, b]) => T.matmul(a, b) },
    { label: "[8,12]x[12,8] vec4", inputs: [{ shape: [8, 12] }, { shape: [12, 8] }], run: ([a, b]) => T.matmul(a, b) },
    { label: "transA [7,5]ᵀx[7,3]", inputs: [{ shape: [7, 5] }, { shape: [7, 3] }], run: ([a, b]) => T.matmul(a, b, { transA: true }) },
    { label: "transB [4,8]x[12,8]ᵀ vec4", inputs: [{ shape: [4, 8] }, { shape: [12, 8] }], run: ([a, b]) => T.matmul(a, b, { transB: true }) },
    { label: "transA transB [8,4]ᵀx[4,8]ᵀ", inputs: [{ shape: [8, 4] }, { shape: [4, 8] }], run: ([a, b]) => T.matmul(a, b, { transA: true, transB: true }) },
    { label: "batched [2,3,5]x[2,5,4]", inputs: [{ shape: [2, 3, 5] }, { shape: [2, 5, 4] }], run: ([a, b]) => T.matmul(a, b) },
    { label: "shared b [2,3,4]x[4,8]", inputs: [{ shape: [2, 3, 4] }, { shape: [4, 8] }], run: ([a, b]) => T.matmul(a, b) },
    { label: "shared bᵀ [2,3,5]x[6,5]ᵀ", inputs: [{ shape: [2, 3, 5] }, { shape: [6, 5] }], run: ([a, b]) => T.matmul(a, b, { transB: true }) },
    { label: "size-1 dims [1,1]x[1,1]", inputs: [{ shape: [1, 1] }, { shape: [1, 1] }], run: ([a, b]) => T.matmul(a, b) },
    { label: "large K [3,300]x[300,2]", inputs: [{ shape: [3, 300] }, { shape: [300, 2] }], run: ([a, b]) => T.matmul(a, b), noGradcheck: true },
    // 2^27 multiply-adds: the software adapter's rowubo path, through the op (scratch from the
    // pool, batches folded into rows) and in backward (dA with a transposed B, dW with a
    // transposed A); the second runs K = 2048 as two chunks.
    { label: "rowubo shared b [2,256,512]x[512,512]", inputs: [{ shape: [2, 256, 512] }, { shape: [512, 512] }], run: ([a, b]) => T.matmul(a, b), noFiniteDiff: true },
    { label: "rowubo transA, K in chunks [2048,64]ᵀx[2048,1024]", inputs: [{ shape: [2048, 64] }, { shape: [2048, 1024] }], run: ([a, b]) => T.matmul(a, b, { transA: true }), noFiniteDiff: true },
    { label: "rowubo transB, K in chunks [512,2048]x[128,2048]ᵀ", inputs: [{ shape: [512, 2048] }, { shape: [128, 2048] }], run: ([a, b]) => T.matmul(a, b, { transB: true }), noFiniteDiff: true },
    // With a bias: added in rowubo's store after the last K chunk, or by the add kernel after
    // the product elsewhere (N = 3 is no vec4; the small products take rowbcast and rb4x4).
    { label: "bias [5,7]x[7,3]+[3]", inputs: [{ shape: [5, 7] }, { shape: [7, 3] }, { shape: [3] }], run: ([a, b, c]) => T.matmul(a, b, { bias: c }) },
    { label: "bias shared bᵀ [2,3,5]x[8,5]ᵀ+[8]", inputs: [{ shape: [2, 3, 5] }, { shape: [8, 5] }, { shape: [8] }], run: ([a, b, c]) => T.matmul(a, b, { transB: true, bias: c }) },
    { label: "bias transA [7,4]ᵀx[7,8]+[8]", inputs: [{ shape: [7, 4] }, { shape: [7, 8] }, { shape: [8] }], run: ([a, b, c]) => T.matmul(a, b, { transA: true, bias: c }) },
    { label: "bias rowubo [2,256,512]x[512,512]+[512]", inputs: [{ shape: [2, 256, 512] }, { shape: [512, 512] }, { shape: [512] }], run: ([a, b, c]) => T.matmul(a, b, { bias: c }), noFiniteDiff: true },
    { label: "bias rowubo transA, K in chunks [2048,64]ᵀx[2048,1024]+[1024]", inputs: [{ shape: [2048, 64] }, { shape: [2048, 1024] }, { shape: [1024] }], run: ([a, b, c]) => T.matmul(a, b, { transA: true, bias: c }), noFiniteDiff: true },
    { label: "bias rowubo N not in vec4s [4096,128]x[65,128]ᵀ+[65]", inputs: [{ shape: [4096, 128] }, { shape: [65, 128] }, { shape: [65] }], run: ([a, b, c]) => T.matmul(a, b, { transB: true, bias: c }), noFiniteDiff: true },
  ],
};
