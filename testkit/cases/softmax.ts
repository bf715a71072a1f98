// Test cases for softmax, logSoftmax, their fused backward ops (whose own backward is the double
// derivative) and the composed variance: last and inner axes, vec4 rows, size-1 dims, ranks 1-4,
// and saturated rows (margins 15–30 nats) under a per-row relative error bound.
import * as T from "../../src/node";
import type { OpCase } from "../check";
import { saturatedBatch } from "../saturated";

type F = (x: T.Tensor, axis?: number) => T.Tensor;

const forward = (f: F): OpCase[] => [
  { label: "[3,5] last axis", inputs: [{ shape: [3, 5] }], run: ([x]) => f(x) },
  { label: "[2,8] last axis (vec4)", inputs: [{ shape: [2, 8] }], run: ([x]) => f(x) },
  { label: "[2,3,4] axis 1 (strided rows)", inputs: [{ shape: [2, 3, 4] }], run: ([x]) => f(x, 1) },
  { label: "[4,3] axis 0", inputs: [{ shape: [4, 3] }], run: ([x]) => f(x, 0) },
  { label: "rank 1 [7]", inputs: [{ shape: [7] }], run: ([x]) => f(x) },
  { label: "[1,1] size-1 axis", inputs: [{ shape: [1, 1] }], run: ([x]) => f(x) },
  { label: "rank 4 [2,3,2,5] axis -2", inputs: [{ shape: [2, 3, 2, 5] }], run: ([x]) => f(x, -2) },
  {
    label: "large logits (stability)", inputs: [{ shape: [2, 3], values: [1000, 1001, 999, -1000, -1002, -1001] }],
    run: ([x]) => f(x),
  },
  { label: "long row [3,1030]", inputs: [{ shape: [3, 1030] }], run: ([x]) => f(x), noGradcheck: true },
];

/**
 * The saturated-row stress batch: the whole output (row norms), and the target's value alone
 * (p_t or log p_t, one element per row), whose gradient is the backward op with dy = w·e_t.
 */
const saturated = (f: F, V: number): OpCase[] => {
  const b = saturatedBatch(V);
  const hot = b.targets.flatMap((t) => Array.from({ length: V }, (_, j) => (j === t ? 1 : 0)));
  const z = { shape: [b.N, V], values: b.logits };
  return [
    { label: `saturated rows [${b.N},${V}]`, rowTol: 1e-3, inputs: [z], run: ([x]) => f(x) },
    {
      label: `saturated rows [${b.N},${V}]: the target's value`, rowTol: 1e-3,
      inputs: [z, { shape: [b.N, V], values: hot, noGrad: true }],
      run: ([x, e]) => T.sum(T.mul(f(x), e), -1),
    },
  ];
};

const backward = (f: (y: T.Tensor, dy: T.Tensor, axis?: number) => T.Tensor): OpCase[] => [
  { label: "[3,5]", inputs: [{ shape: [3, 5], kind: "unit" }, { shape: [3, 5] }], run: ([y, g]) => f(y, g) },
  { label: "[2,8] (vec4)", inputs: [{ shape: [2, 8], kind: "unit" }, { shape: [2, 8] }], run: ([y, g]) => f(y, g) },
  { label: "[2,3,4] axis 1", inputs: [{ shape: [2, 3, 4], kind: "unit" }, { shape: [2, 3, 4] }], run: ([y, g]) => f(y, g, 1) },
  { label: "rank 1 [6]", inputs: [{ shape: [6], kind: "unit" }, { shape: [6] }], run: ([y, g]) => f(y, g, -1) },
];

/** Cases keyed by registry op name (plus `variance`, a composition checked the same way). */
export const SOFTMAX_CASES: Record<string, OpCase[]> = {
  softmax: [
    ...forward(T.softmax),
    ...saturated(T.softmax, 32),
    ...saturated(T.softmax, 37),
    { label: "method x.softmax(0)", inputs: [{ shape: [3, 2] }], run: ([x]) => x.softmax(0) },
  ],
  logSoftmax: [
    ...forward(T.logSoftmax),
    ...saturated(T.logSoftmax, 32),
    ...saturated(T.logSoftmax, 37),
    { label: "method x.logSoftmax()", inputs: [{ shape: [2, 5] }], run: ([x]) => x.logSoftmax() },
  ],
  softmaxBackward: backward(T.softmaxBackward),
  logSoftmaxBackward: backward(T.logSoftmaxBackward),
  variance: [
    { label: "all axes [3,5]", inputs: [{ shape: [3, 5] }], run: ([x]) => T.variance(x) },
    { label: "axis -1 keepdim [2,3,5]", inputs: [{ shape: [2, 3, 5] }], run: ([x]) => T.variance(x, -1, true) },
    { label: "axes [0,2] correction 1", inputs: [{ shape: [2, 3, 4] }], run: ([x]) => x.var([0, 2], false, { correction: 1 }) },
    { label: "rank 1 method", inputs: [{ shape: [9] }], run: ([x]) => x.var() },
  ],
};
