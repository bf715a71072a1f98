// How close a GPU (f32) result must be to the f64 reference, per op: a bound on the whole tensor,
// max |gpu − f64| ≤ c_op · u · (1 + log2 L) · max |f64|, with u = 2⁻²⁴ (f32's unit roundoff), L
// the longest sum behind the op's outputs and gradients (from the case's input shapes, by the
// op's rule below) and c_op derived from the observed error: about 4× the largest
// c = error / (u · (1 + log2 L) · max|f64|) any case of the op shows on lavapipe (inputs and
// output weights are f32 values, so both backends see the same numbers). A kernel that gets 10×
// worse, or is off by 1e-5 relative (~170 u), fails; `npx tsx scripts/tolerances.ts` prints
// each op's observed c and headroom, to re-derive c_op when kernels change. The rules are per op
// (its reduction structure), not per kernel, so they hold for a new kernel of the same op.
import { numel, type Shape } from "../src/tensor/shape";

/** f32 unit roundoff. */
export const U = 2 ** -24;

/** The longest sum behind any output or gradient of a case of the op, from its input shapes. */
export type ReductionLength = (inputs: readonly Shape[]) => number;

const maxNumel = (s: readonly Shape[]) => Math.max(1, ...s.map(numel));
const minNumel = (s: readonly Shape[]) => Math.max(1, Math.min(...s.map(numel)));
/** Elementwise and movement ops: gradients sum over broadcast axes (1 when nothing broadcasts). */
const broadcast: ReductionLength = (s) => maxNumel(s) / minNumel(s);
/** Reductions: at most every element of the input. */
const all: ReductionLength = (s) => maxNumel(s);
/** Row ops (softmax and friends): a row, at most the longest axis. */
const row: ReductionLength = ([x]) => Math.max(1, ...x);
/** [N, C] row ops whose parameter gradients sum over rows too (layer norm): the longer of N and C. */
const rowsAndCols = (i: number): ReductionLength => (s) => {
  const x = s[i], C = x[x.length - 1] || 1;
  return Math.max(C, numel(x) / C);
};
/** Gathers whose gradient sums over the ids (`idx` is input i). */
const ids = (i: number): ReductionLength => (s) => Math.max(1, numel(s[i]));

/** Per op: its reduction length and its constant c (in units of u per log2 of the length). */
export interface TolRule {
  length: ReductionLength;
  c: number;
}

const r = (c: number, length: ReductionLength = broadcast): TolRule => ({ c, length });

/**
 * The rule of every op with test cases. c values: 4× the largest observed c of the op's cases
 * (given in the comments, from `npx tsx scripts/tolerances.ts` on lavapipe), rounded up to a
 * half; 1 for ops that are exact today (they must stay within one rounding).
 */
export const TOLERANCES: Readonly<Record<string, TolRule>> = {
  // elementwise: observed c (lavapipe) in the comment; exact ops keep c = 1
  neg: r(1), relu: r(1), abs: r(1), sign: r(1), // exact
  exp: r(6.5), log: r(6.5), sqrt: r(4.5), rsqrt: r(6.5), tanh: r(6), sigmoid: r(5), // 1.63 1.63 1.05 1.56 1.44 1.18
  gelu: r(6.5), geluGrad: r(7), geluBackward: r(6.5), square: r(4), pow: r(9), affine: r(2.5), // 1.59 1.72 1.59 0.92 2.22 0.62
  add: r(2.5), sub: r(2.5), mul: r(7), div: r(11), maximum: r(1.5), // 0.58 0.58 1.69 2.75 0.34
  lt: r(1), gt: r(1), le: r(1), ge: r(1), eq: r(1), ne: r(1), // exact
  // reductions
  reduce: r(4.5, all), sumSquares: r(1.5, all), max: r(1, all), variance: r(2, all), // 1.02 0.33 exact 0.39
  // movement and selection
  reshape: r(1), detach: r(1), permute: r(1), slice: r(1), pad: r(1), concat: r(1), // exact
  broadcastTo: r(2.5), where: r(1.5), // 0.55 0.27
  indexSelect: r(1, ids(1)), indexSelectBackward: r(1, ids(1)), // 0.24 0.22
  // matmul (every variant the cases select, rowubo included): 0.79
  matmul: r(3.5, ([a, b]) => Math.max(...a.slice(-2), ...b.slice(-2)) * (b.length === 2 ? numel(a.slice(0, -2)) : 1)),
  // row ops: 1.23 1.05 0.83 0.77
  softmax: r(5, row), logSoftmax: r(4.5, row), softmaxBackward: r(3.5, row), logSoftmaxBackward: r(3.5, row),
  // fused ops: 1.35 0.77 0.55 0.49 0.28 0.28 0.81 (0.53 at cond 10) 0.89 0.91
  layerNorm: r(5.5, rowsAndCols(0)), layerNormBackward: r(3.5, rowsAndCols(1)),
  crossEntropy: r(2.5, ([z]) => Math.max(1, ...z)), crossEntropyBackward: r(2, ([, z]) => Math.max(1, ...z)),
  embedding: r(1.5, ids(0)), embeddingBackward: r(1.5, ([dy]) => Math.max(1, dy[0])),
  causalAttention: r(3.5, ([qkv]) => Math.max(qkv[1], qkv[2] / 3)),
  causalAttentionBackward: r(4, ([qkv]) => Math.max(qkv[1], qkv[2] / 3)),
  adamwUpdate: r(4),
};

/**
 * The relative bound (times max |f64|) for a case of `op` with these input shapes; `cond` scales
 * it for a case whose inputs are ill-conditioned on purpose (e.g. attention scores of ±100, where
 * f32's rounding of a score alone is 100 u).
 */
export function relativeBound(op: string, inputs: readonly Shape[], cond = 1): number {
  const rule = TOLERANCES[op];
  if (!rule) throw new Error(`tolerance: op '${op}' has no rule in testkit/tolerance.ts`);
  return cond * rule.c * U * (1 + Math.log2(Math.max(1, rule.length(inputs))));
}

/** max |got − ref| / max |ref| (a reference of zeros scores max |got|, so it must be zero too). */
export function relativeError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0, m = 0;
  if (got.length !== ref.length) return Infinity;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(ref[i]));
  }
  return m > 0 ? d / m : d;
}
