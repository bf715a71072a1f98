// Test cases for the movement and selection ops: permute/transpose, slice, pad, concat,
// indexSelect (+ its backward op) and where/maskedFill, on odd shapes, ranks 1-4 and i32 data.
import * as T from "../../src/node";
import type { OpCase } from "../check";

/** Cases keyed by registry op name. */
export const MOVEMENT_CASES: Record<string, OpCase[]> = {
  permute: [
    { label: "[2,3,5] dims [2,0,1]", inputs: [{ shape: [2, 3, 5] }], run: ([x]) => T.permute(x, [2, 0, 1]) },
    { label: "transpose [3,5]", inputs: [{ shape: [3, 5] }], run: ([x]) => T.transpose(x) },
    { label: "rank 4 [2,1,3,5] dims [3,1,0,2]", inputs: [{ shape: [2, 1, 3, 5] }], run: ([x]) => x.permute([3, 1, 0, 2]) },
    { label: "negative dims [-1,-3,-2]", inputs: [{ shape: [2, 3, 5] }], run: ([x]) => T.permute(x, [-1, -3, -2]) },
    { label: "transpose axes 0,2 of [4,1,3]", inputs: [{ shape: [4, 1, 3] }], run: ([x]) => x.transpose(0, 2) },
    { label: "transpose [1,5] (free reshape)", inputs: [{ shape: [1, 5] }], run: ([x]) => T.transpose(x).mul(1) },
    {
      label: "i32 transpose [2,3]", inputs: [{ shape: [2, 3], dtype: "i32", high: 9 }],
      run: ([x]) => T.transpose(x), noGradcheck: true,
    },
  ],
  slice: [
    { label: "[5,7] rows 1:4 cols 2:7", inputs: [{ shape: [5, 7] }], run: ([x]) => T.slice(x, [1, 2], [4, 7]) },
    { label: "[2,3,5] leading axes, negative start", inputs: [{ shape: [2, 3, 5] }], run: ([x]) => x.slice([0, -2], [2, 3]) },
    { label: "rank 1 [9] 3:-1", inputs: [{ shape: [9] }], run: ([x]) => T.slice(x, [3], [-1]) },
    { label: "rank 4 [2,3,1,6]", inputs: [{ shape: [2, 3, 1, 6] }], run: ([x]) => T.slice(x, [1, 0, 0, 1], [2, 3, 1, 5]) },
    { label: "empty [4,3] 2:2", inputs: [{ shape: [4, 3] }], run: ([x]) => T.slice(x, [2], [2]) },
    {
      label: "i32 [3,4] 1:3", inputs: [{ shape: [3, 4], dtype: "i32", high: 50 }],
      run: ([x]) => T.slice(x, [0, 1], [3, 3]), noGradcheck: true,
    },
  ],
  pad: [
    { label: "[3,5] before [1,0] after [2,3]", inputs: [{ shape: [3, 5] }], run: ([x]) => T.pad(x, [1, 0], [2, 3]) },
    { label: "[2,1,3] with size-1 dim", inputs: [{ shape: [2, 1, 3] }], run: ([x]) => T.pad(x, [0, 2, 1], [1, 0, 0]) },
    { label: "rank 1 [7] before 3", inputs: [{ shape: [7] }], run: ([x]) => T.pad(x, [3], [0]) },
    { label: "rank 4 no-op pad", inputs: [{ shape: [2, 1, 2, 3] }], run: ([x]) => T.pad(x, [0, 0, 0, 0], [0, 0, 0, 0]) },
    {
      label: "i32 [2,2]", inputs: [{ shape: [2, 2], dtype: "i32", high: 9 }],
      run: ([x]) => T.pad(x, [1, 1], [0, 1]), noGradcheck: true,
    },
  ],
  concat: [
    { label: "axis 0 [2,3]+[3,3] (buffer copy)", inputs: [{ shape: [2, 3] }, { shape: [3, 3] }], run: (xs) => T.concat(xs, 0) },
    {
      label: "axis 1 [2,3]+[2,1]+[2,5]", inputs: [{ shape: [2, 3] }, { shape: [2, 1] }, { shape: [2, 5] }],
      run: (xs) => T.concat(xs, 1),
    },
    { label: "axis -1 [2,2,4]+[2,2,8] (vec4)", inputs: [{ shape: [2, 2, 4] }, { shape: [2, 2, 8] }], run: (xs) => T.concat(xs, -1) },
    {
      label: "rank 1, one input without grad", inputs: [{ shape: [3] }, { shape: [1], noGrad: true }, { shape: [5] }],
      run: (xs) => T.concat(xs),
    },
    {
      label: "rank 4 axis 2", inputs: [{ shape: [1, 2, 3, 2] }, { shape: [1, 2, 2, 2] }],
      run: (xs) => T.concat(xs, 2),
    },
    {
      label: "i32 axis 1", inputs: [{ shape: [2, 2], dtype: "i32" }, { shape: [2, 3], dtype: "i32" }],
      run: (xs) => T.concat(xs, 1), noGradcheck: true,
    },
    {
      label: "i32 axis 1 [2,4]+[2,8] (vec4)", inputs: [{ shape: [2, 4], dtype: "i32" }, { shape: [2, 8], dtype: "i32" }],
      run: (xs) => T.concat(xs, 1), noGradcheck: true,
    },
  ],
  indexSelect: [
    {
      label: "[5,3] axis 0, repeated indices", inputs: [{ shape: [5, 3] }, { shape: [4], dtype: "i32", values: [4, 0, 4, 2] }],
      run: ([x, i]) => T.indexSelect(x, 0, i),
    },
    {
      label: "[2,5,4] axis 1, idx [2,3] (vec4)", inputs: [{ shape: [2, 5, 4] }, { shape: [2, 3], dtype: "i32", high: 5 }],
      run: ([x, i]) => x.indexSelect(1, i),
    },
    {
      label: "rank 1 [6] axis -1", inputs: [{ shape: [6] }, { shape: [3], dtype: "i32", values: [5, 5, 1] }],
      run: ([x, i]) => T.indexSelect(x, -1, i),
    },
    {
      label: "[3,4,2] axis -1", inputs: [{ shape: [3, 4, 2] }, { shape: [5], dtype: "i32", values: [1, 0, 1, 1, 0] }],
      run: ([x, i]) => T.indexSelect(x, -1, i),
    },
    {
      label: "embedding [7,8] ids [2,3]", inputs: [{ shape: [7, 8] }, { shape: [2, 3], dtype: "i32", values: [6, 0, 3, 3, 1, 6] }],
      run: ([x, i]) => T.indexSelect(x, 0, i),
    },
  ],
  indexSelectBackward: [
    {
      label: "dy [4,3] -> [5,3]", inputs: [{ shape: [4, 3] }, { shape: [4], dtype: "i32", values: [4, 0, 4, 2] }],
      run: ([g, i]) => T.indexSelectBackward(g, i, 0, 5),
    },
    {
      label: "dy [2,2,3,4] idx [2,3] axis 1 -> [2,4,4] (vec4)",
      inputs: [{ shape: [2, 2, 3, 4] }, { shape: [2, 3], dtype: "i32", values: [0, 3, 3, 1, 0, 3] }],
      run: ([g, i]) => T.indexSelectBackward(g, i, 1, 4),
    },
    {
      label: "130 columns, 70 rows (several workgroups)", inputs: [{ shape: [6, 130] }, { shape: [6], dtype: "i32", high: 70 }],
      run: ([g, i]) => T.indexSelectBackward(g, i, 0, 70), noGradcheck: true,
    },
  ],
  where: [
    {
      label: "same [2,3], cond 0/1", inputs: [{ shape: [2, 3], values: [1, 0, 0, 1, 1, 0], noGrad: true }, { shape: [2, 3] }, { shape: [2, 3] }],
      run: ([c, a, b]) => T.where(c, a, b),
    },
    {
      label: "bcast cond [3,1] a [1,4] b []", inputs: [{ shape: [3, 1], values: [0, 2, -0.5], noGrad: true }, { shape: [1, 4] }, { shape: [] }],
      run: ([c, a, b]) => T.where(c, a, b),
    },
    {
      label: "i32 cond [2,4] (vec4)", inputs: [{ shape: [2, 4], dtype: "i32", high: 2 }, { shape: [2, 4] }, { shape: [2, 4] }],
      run: ([c, a, b]) => T.where(c, a, b),
    },
    {
      label: "rank 4 bcast", inputs: [{ shape: [2, 1, 3, 1], dtype: "i32", high: 2 }, { shape: [1, 4, 1, 5] }, { shape: [2, 4, 3, 5] }],
      run: ([c, a, b]) => T.where(c, a, b),
    },
    {
      label: "scalar b = 0", inputs: [{ shape: [5], values: [0, 1, 0, 3, 1], noGrad: true }, { shape: [5] }],
      run: ([c, a]) => T.where(c, a, 0),
    },
    {
      label: "maskedFill [2,5] mask [5]", inputs: [{ shape: [2, 5] }, { shape: [5], values: [1, 0, 0, 1, 0], noGrad: true }],
      run: ([x, m]) => x.maskedFill(m, -5),
    },
    {
      label: "maskedFill causal [1,3,3] mask [3,3]", inputs: [{ shape: [1, 3, 3] }, { shape: [3, 3], values: [0, 1, 1, 0, 0, 1, 0, 0, 0], noGrad: true }],
      run: ([x, m]) => T.maskedFill(x, m, -2.5),
    },
    {
      label: "maskedFill [2,4] f32 mask (vec4)", inputs: [{ shape: [2, 4] }, { shape: [2, 4], values: [1, 0, 0, 1, 0, 0, 1, 1], noGrad: true }],
      run: ([x, m]) => T.maskedFill(x, m, 7),
    },
  ],
};
