// WGSL for softmax / log-softmax along one axis and their fused backward kernels. One row per
// invocation (the fast design on software adapters, no barriers); rows are strided when the axis
// is not the last one, and move as vec4s when it is and its length is a multiple of 4.
// Stable on saturated rows: log S = log1p(Σ_{x_j < m} exp(x_j − m) + ties − 1), and the backward
// kernels form 1 − p_k of the one element with p_k > 1/2 from the other elements (Σ_{j≠k} y_j, or
// −expm1(y_k) for log-softmax) instead of subtracting p_k ≈ 1 from 1, which rounds to 0.
import type { Kernel } from "../tensor/webgpu/runtime";
import { LOG1P, grid1d, kernel, main1d } from "./wgsl";

/** A tensor viewed as [outer, L, inner] around the softmax axis of length L. */
export interface RowShape {
  outer: number;
  L: number;
  inner: number;
}

/** A kernel with its workgroup grid. */
export interface RowPlan {
  k: Kernel;
  grid: number[];
}

const WG = 64;

/** Row addressing shared by the kernels: the entry header defining `base`, and element access. */
function rows({ outer, L, inner }: RowShape): { vec: boolean; head: string; at: (v: string) => string; T: string; n: number } {
  const vec = inner === 1 && L % 4 === 0;
  const n = outer * inner;
  const head = vec
    ? `let base = i * ${L / 4}u;`
    : `let base = (i / ${inner}u) * ${L * inner}u + i % ${inner}u;`;
  const at = (v: string) => (vec ? `${v}[base + l]` : `${v}[base + l * ${inner}u]`);
  return { vec, head: `${main1d(WG)}\n  if (i >= ${n}u) { return; }\n  ${head}`, at, T: vec ? "vec4f" : "f32", n };
}

const loop = (L: number, vec: boolean, body: string) =>
  `for (var l = 0u; l < ${vec ? L / 4 : L}u; l++) { ${body} }`;
const hsum = (vec: boolean, v: string) => (vec ? `dot(${v}, vec4f(1.0))` : v);
const hmax = (vec: boolean, v: string) => (vec ? `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))` : v);

/**
 * y = softmax(x) (or log-softmax with `log`) along the L axis, max-subtracted. Log-softmax uses
 * log S = log1p(S − 1) with S − 1 summed from the elements below the max (exact near S = 1).
 */
export function softmaxKernel(s: RowShape, log: boolean): RowPlan {
  const { vec, head, at, T, n } = rows(s);
  const write = log ? `${at("y")} = (${at("x")} - m) - ls;` : `${at("y")} = exp(${at("x")} - m) * r;`;
  const acc = log
    ? `let d = ${at("x")} - m; let top = d == ${T}(0.0); sv += select(exp(d), ${T}(0.0), top); kv += select(${T}(0.0), ${T}(1.0), top);`
    : `sv += exp(${at("x")} - m);`;
  const k = kernel(`${log ? "log_softmax" : "softmax"}_rows${vec ? "_v4" : ""}`, [
    { name: "x", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
  ], `${head}
  var mv = ${T}(-3.402823e38);
  ${loop(s.L, vec, `mv = max(mv, ${at("x")});`)}
  let m = ${hmax(vec, "mv")};
  var sv = ${T}(0.0);
  ${log ? `var kv = ${T}(0.0);` : ""}
  ${loop(s.L, vec, acc)}
  let sum = ${hsum(vec, "sv")};
  ${log ? `let ls = log1p_s(sum + (${hsum(vec, "kv")} - 1.0));` : "let r = 1.0 / sum;"}
  ${loop(s.L, vec, write)}
}`, log ? LOG1P : "");
  return { k, grid: grid1d(n, WG) };
}

/**
 * Fused backward from the forward output y and its gradient dy:
 * softmax dx = y·(dy·Σy − Σ dy·y) (Σy = 1 for a softmax output); log-softmax dx = dy − exp(y)·Σ dy.
 * The first largest element k takes the forms that keep relative precision where p_k ≈ 1, both
 * exact rewrites for any y: softmax dx_k = y_k·(dy_k·Σ_{j≠k} y_j − Σ_{j≠k} y_j·dy_j), log-softmax
 * dx_k = −dy_k·expm1(y_k) − p_k·Σ_{j≠k} dy_j. The sums without k are kept in one pass: when a new
 * maximum appears, the old one joins them.
 */
export function softmaxBackwardKernel(s: RowShape, log: boolean): RowPlan {
  const { vec, head, at, T, n } = rows(s);
  // One element (value yy, gradient g, flat index e) of the accumulation pass.
  const step = log
    ? "tv += g; if (yy > ym) { uv += gm; ym = yy; gm = g; km = e; } else { uv += g; }"
    : "tv += yy * g; sy += yy; if (yy > ym) { av += ym; uv += ym * gm; ym = yy; gm = g; km = e; } else { av += yy; uv += yy * g; }";
  const write = (dx: string) => (log
    ? `${dx} = select(g - exp(yy) * t, -g * expm1_s(yy) - exp(yy) * u, e == km);`
    : `${dx} = yy * select(g * sy - t, g * a - u, e == km);`);
  const elems = (body: (v: string) => string) => (vec
    ? `for (var l = 0u; l < ${s.L / 4}u; l++) { ${body("q")} }`
    : `for (var l = 0u; l < ${s.L}u; l++) { ${body("")} }`);
  // Per element: vec4 rows visit the 4 lanes of each word in order.
  const visit = (inner: string, out?: string) => elems((q) => (q
    ? `let yw = ${at("y")}; let gw = ${at("dy")}; ${out ? "var dw = vec4f(0.0); " : ""}` +
      `for (var q = 0u; q < 4u; q++) { let e = l * 4u + q; let yy = yw[q]; let g = gw[q]; ${inner} }` +
      `${out ? ` ${at("dx")} = dw;` : ""}`
    : `let e = l; let yy = ${at("y")}; let g = ${at("dy")}; ${inner}`));
  const k = kernel(`${log ? "log_softmax" : "softmax"}_backward_rows${vec ? "_v4" : ""}`, [
    { name: "y", kind: "read", type: T },
    { name: "dy", kind: "read", type: T },
    { name: "dx", kind: "rw", type: T },
  ], `${head}
  var ym = -3.402823e38;
  var gm = 0.0;
  var km = 0u;
  var tv = 0.0;
  var uv = 0.0;
  var av = 0.0;
  var sy = 0.0;
  var first = true;
  ${visit(`if (first) { ym = yy; gm = g; km = e; ${log ? "tv = g;" : "tv = yy * g; sy = yy;"} first = false; } else { ${step} }`)}
  let t = tv;
  let u = uv;
  let a = av;
  ${visit(vec ? write("dw[q]") : write(at("dx")), vec ? "dx" : undefined)}
}`, log ? LOG1P : "");
  return { k, grid: grid1d(n, WG) };
}
