// The movement ops the core needs: reshape and detach (views sharing storage, no kernel) and
// broadcastTo (a strided copy). Permute, slice, concat and gather live in movement.ts.
import { broadcastShapes, checkShape, fmt, numel, OpError, sameShape, stridesOf, type Shape } from "../shape";
import { apply1, defineOp } from "../op";
import { broadcastKernel } from "../../shaders/elementwise";
import type { Tensor } from "../tensor";
import { sumTo } from "./elementwise";

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
