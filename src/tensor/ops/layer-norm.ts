// Fused layer normalization over the last dim: forward op (y plus per-row mean/rstd saved for
// backward) and the fused backward op producing dx, dw, db. Kernels live in shaders/layer-norm.ts.
import { fmt, numel, OpError, sameShape } from "../shape";
import { apply, defineOp, type Meta } from "../op";
import { layerNormDwPlan, layerNormDxKernel, layerNormKernel } from "../../shaders/layer-norm";
import type { Tensor } from "../tensor";
import { requireFloat } from "./util";

/** Attributes of layerNorm. */
export interface LayerNormAttrs {
  eps: number;
}

/** Checks x [..., C], w [C], b [C] (or w only) and returns [N, C]. */
function rowsOf(op: string, x: Meta, w: Meta, b?: Meta): [number, number] {
  const C = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || !C) {
    throw new OpError(op, `x must have a non-empty last dim [..., C], got ${fmt(x.shape)}`);
  }
  for (const [name, m] of [["w", w], ["b", b]] as const) {
    if (m && !sameShape(m.shape, [C])) {
      throw new OpError(op, `${name} must have shape [${C}] to match x ${fmt(x.shape)}, got ${fmt(m.shape)}`);
    }
  }
  return [numel(x.shape) / C, C];
}

const layerNormOp = defineOp<LayerNormAttrs>({
  name: "layerNorm",
  infer: ([x, w, b]) => {
    requireFloat("layerNorm", [x, w, b]);
    const [N] = rowsOf("layerNorm", x, w, b);
    return [{ shape: x.shape, dtype: "f32" }, { shape: [N], dtype: "f32" }, { shape: [N], dtype: "f32" }];
  },
  cpu: ([x, w, b], [y, mean, rstd], { eps }) => {
    const [N, C] = rowsOf("layerNorm", x, w, b);
    const X = x.s.f64, W = w.s.f64, Bv = b.s.f64, Y = y.s.f64;
    for (let r = 0; r < N; r++) {
      const o = r * C;
      let s = 0;
      for (let c = 0; c < C; c++) s += X[o + c];
      const mu = s / C;
      let q = 0;
      for (let c = 0; c < C; c++) q += (X[o + c] - mu) ** 2;
      const rs = 1 / Math.sqrt(q / C + eps);
      for (let c = 0; c < C; c++) Y[o + c] = (X[o + c] - mu) * rs * W[c] + Bv[c];
      mean.s.f64[r] = mu;
      rstd.s.f64[r] = rs;
    }
  },
  gpu: (rt, [x, w, b], [y, mean, rstd], { eps }) => {
    const [N, C] = rowsOf("layerNorm", x, w, b);
    const { k, grid, dims } = layerNormKernel({ N, C }, eps);
    rt.dispatch(k, [x.s.buffer, w.s.buffer, b.s.buffer, y.s.buffer, mean.s.buffer, rstd.s.buffer, rt.uniform(dims)], grid);
  },
  nondiff: [1, 2],
  save: { inputs: [0, 1], outputs: [1, 2] },
  backward: ({ inputs: [x, w], outputs: [, mean, rstd] }, [dy]) => {
    if (!dy) return [null, null, null];
    return layerNormBackward(dy, x!, w!, mean!, rstd!);
  },
});

const layerNormBackwardOp = defineOp<Record<string, never>>({
  name: "layerNormBackward",
  infer: ([dy, x, w, mean, rstd]) => {
    requireFloat("layerNormBackward", [dy, x, w, mean, rstd]);
    const [N, C] = rowsOf("layerNormBackward", x, w);
    if (!sameShape(dy.shape, x.shape)) {
      throw new OpError("layerNormBackward", `dy ${fmt(dy.shape)} must match x ${fmt(x.shape)}`);
    }
    if (!sameShape(mean.shape, [N]) || !sameShape(rstd.shape, [N])) {
      throw new OpError("layerNormBackward", `mean ${fmt(mean.shape)} and rstd ${fmt(rstd.shape)} must ` +
        `be [${N}] (one per row of x ${fmt(x.shape)})`);
    }
    return [{ shape: x.shape, dtype: "f32" }, { shape: [C], dtype: "f32" }, { shape: [C], dtype: "f32" }];
  },
  cpu: ([dy, x, w, mean, rstd], [dx, dw, db]) => {
    const [N, C] = rowsOf("layerNormBackward", x, w);
    const G = dy.s.f64, X = x.s.f64, W = w.s.f64, DX = dx.s.f64, DW = dw.s.f64, DB = db.s.f64;
    DW.fill(0);
    DB.fill(0);
    for (let r = 0; r < N; r++) {
      const o = r * C, rs = rstd.s.f64[r];
      let sd = 0; // the saved mean refined from x, as the kernel does: mean + Σ(x − mean)/C
      for (let c = 0; c < C; c++) sd += X[o + c] - mean.s.f64[r];
      const mu = mean.s.f64[r] + sd / C;
      let sg = 0, sgx = 0;
      for (let c = 0; c < C; c++) {
        const xh = (X[o + c] - mu) * rs;
        sg += G[o + c] * W[c];
        sgx += G[o + c] * W[c] * xh;
        DW[c] += G[o + c] * xh;
        DB[c] += G[o + c];
      }
      for (let c = 0; c < C; c++) {
        const xh = (X[o + c] - mu) * rs;
        DX[o + c] = rs * (G[o + c] * W[c] - sg / C - xh * (sgx / C));
      }
    }
  },
  gpu: (rt, [dy, x, w, mean, rstd], [dx, dw, db]) => {
    const [N, C] = rowsOf("layerNormBackward", x, w);
    const dxk = layerNormDxKernel({ N, C });
    const delta = rt.scratch(N * 4);
    rt.dispatch(dxk.k, [dy.s.buffer, x.s.buffer, w.s.buffer, mean.s.buffer, rstd.s.buffer, dx.s.buffer, delta, rt.uniform(dxk.dims)], dxk.grid);
    const plan = layerNormDwPlan({ N, C });
    const ins = [dy.s.buffer, x.s.buffer, mean.s.buffer, rstd.s.buffer, delta];
    if (!plan.final) {
      rt.dispatch(plan.partial.k, [...ins, dw.s.buffer, db.s.buffer, rt.uniform(plan.partial.dims)], plan.partial.grid);
    } else {
      const part = rt.scratch(plan.scratchBytes);
      rt.dispatch(plan.partial.k, [...ins, part, rt.uniform(plan.partial.dims)], plan.partial.grid);
      rt.dispatch(plan.final.k, [part, dw.s.buffer, db.s.buffer, rt.uniform(plan.final.dims)], plan.final.grid);
    }
  },
});

/** Layer norm of `x` [..., C] over its last dim with affine `w` [C], `b` [C], giving y [..., C]. */
export function layerNorm(x: Tensor, w: Tensor, b: Tensor, eps = 1e-5): Tensor {
  const [y, mean, rstd] = apply(layerNormOp, [x, w, b], { eps });
  mean.dispose();
  rstd.dispose();
  return y;
}

/**
 * Layer norm returning the per-row statistics too (for probes): y [..., C], mean [N] and
 * rstd [N] = 1/sqrt(var + eps), with N the number of rows (all leading dims flattened).
 */
export function layerNormWithStats(x: Tensor, w: Tensor, b: Tensor, eps = 1e-5): { y: Tensor; mean: Tensor; rstd: Tensor } {
  const [y, mean, rstd] = apply(layerNormOp, [x, w, b], { eps });
  return { y, mean, rstd };
}

/**
 * The fused layer-norm backward: from dy [..., C], x, w [C] and the saved mean/rstd [N],
 * returns [dx [..., C], dw [C], db [C]]. dw/db are summed over rows in a fixed order. x̂ centres
 * on the row mean of x: the saved `mean` is refined by Σ(x − mean)/C first, which keeps x̂ exact
 * in f32 when |mean| ≫ std (the saved mean is rounded to f32).
 */
export function layerNormBackward(dy: Tensor, x: Tensor, w: Tensor, mean: Tensor, rstd: Tensor): [Tensor, Tensor, Tensor] {
  const [dx, dw, db] = apply(layerNormBackwardOp, [dy, x, w, mean, rstd], {});
  return [dx, dw, db];
}
