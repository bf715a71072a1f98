// WGSL for softmax / log-softmax along one axis and their fused backward kernels. One row per
// invocation (the fast design on software adapters, no barriers); rows are strided when the axis
// is not the last one, and move as vec4s when it is and its length is a multiple of 4.
// Stable on saturated rows: log S = log1p(Σ_{x_j < m} exp(x_j − m) + ties − 1), and the backward
// kernels form 1 − p_k of the one element with p_k > 1/2 from the other elements (Σ_{j≠k} y_j, or
// −expm1(y_k) for log-softmax) instead of subtracting p_k ≈ 1 from 1, which rounds to 0.
import { grid1d, kernel, LOG1P, main1d, type Kernel } from "./wgsl";

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

// Rows per workgroup: a multiple of every adapter's SIMD width (32 or 64 lanes); not timed against
// other sizes. `npm run bench -- --suite softmax` (case "softmax [4096,1024]") is where a change would show.
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
 * dx_k = −dy_k·expm1(y_k) − p_k·Σ_{j≠k} dy_j. The sums without k are kept in one branch-free pass:
 * each lane holds its running maximum, and an element it displaces joins the sums; at the end the
 * lanes' maxima other than the row's first largest join them too.
 */
export function softmaxBackwardKernel(s: RowShape, log: boolean): RowPlan {
  const { vec, head, at, T, n } = rows(s);
  const W = vec ? s.L / 4 : s.L;
  // Element indices of word l (vec4 rows hold 4 lanes, each keeping its own running maximum).
  const idx = (l: string) => (vec ? `vec4u(${l} * 4u) + vec4u(0u, 1u, 2u, 3u)` : l);
  const I = vec ? "vec4u" : "u32";
  const acc = log ? "g" : "yy * g"; // what Σ (t) and the sums without k (u) add up
  const joined = log ? "jg" : "jy * jg";
  const lanes = vec ? `
  var best = 0u;
  for (var q = 1u; q < 4u; q++) {
    if (ym[q] > ym[best] || (ym[q] == ym[best] && km[q] < km[best])) { best = q; }
  }
  let k = km[best];
  var a = dot(av, vec4f(1.0));
  var u = dot(uv, vec4f(1.0));
  for (var q = 0u; q < 4u; q++) {
    if (q != best) { a += ym[q]; u += ${log ? "gm[q]" : "ym[q] * gm[q]"}; }
  }
  let t = dot(tv, vec4f(1.0));
  let sum = dot(sv, vec4f(1.0));` : `
  let k = km;
  let a = av;
  let u = uv;
  let t = tv;
  let sum = sv;`;
  const write = log
    ? `let p = exp(yy); ${at("dx")} = select(g - p * t, -g * ${vec ? "expm1_4" : "expm1_s"}(yy) - p * u, isk);`
    : `${at("dx")} = yy * select(g * sum - t, g * a - u, isk);`;
  const k = kernel(`${log ? "log_softmax" : "softmax"}_backward_rows${vec ? "_v4" : ""}`, [
    { name: "y", kind: "read", type: T },
    { name: "dy", kind: "read", type: T },
    { name: "dx", kind: "rw", type: T },
  ], `${head}
  var l = 0u;
  var ym = ${at("y")};
  var gm = ${at("dy")};
  var km = ${idx("0u")};
  var tv = ${log ? "gm" : "ym * gm"};
  var sv = ym;
  var av = ${T}(0.0);
  var uv = ${T}(0.0);
  for (l = 1u; l < ${W}u; l++) {
    let yy = ${at("y")};
    let g = ${at("dy")};
    let up = yy > ym;
    let jy = select(yy, ym, up);
    let jg = select(g, gm, up);
    av += jy;
    uv += ${joined};
    ym = select(ym, yy, up);
    gm = select(gm, g, up);
    km = select(km, ${idx("l")}, up);
    tv += ${acc};
    sv += yy;
  }${lanes}
  for (l = 0u; l < ${W}u; l++) {
    let yy = ${at("y")};
    let g = ${at("dy")};
    let isk = ${idx("l")} == ${I}(k);
    ${write}
  }
}`, log ? LOG1P : "");
  return { k, grid: grid1d(n, WG) };
}
