// WGSL for softmax / log-softmax along one axis and their fused backward kernels. One row per
// invocation (the fast design on software adapters, no barriers); rows are strided when the axis
// is not the last one, and move as vec4s when it is and its length is a multiple of 4.
import type { Kernel } from "../tensor/webgpu/runtime";
import { grid1d, kernel, main1d } from "./wgsl";

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

/** y = softmax(x) (or log-softmax with `log`) along the L axis, max-subtracted. */
export function softmaxKernel(s: RowShape, log: boolean): RowPlan {
  const { vec, head, at, T, n } = rows(s);
  const write = log ? `${at("y")} = ${at("x")} - ls;` : `${at("y")} = exp(${at("x")} - m) * r;`;
  const k = kernel(`${log ? "log_softmax" : "softmax"}_rows${vec ? "_v4" : ""}`, [
    { name: "x", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
  ], `${head}
  var mv = ${T}(-3.402823e38);
  ${loop(s.L, vec, `mv = max(mv, ${at("x")});`)}
  let m = ${hmax(vec, "mv")};
  var sv = ${T}(0.0);
  ${loop(s.L, vec, `sv += exp(${at("x")} - m);`)}
  let sum = ${hsum(vec, "sv")};
  ${log ? "let ls = m + log(sum);" : "let r = 1.0 / sum;"}
  ${loop(s.L, vec, write)}
}`);
  return { k, grid: grid1d(n, WG) };
}

/**
 * Fused backward from the forward output y and its gradient dy:
 * softmax dx = y·(dy − Σ dy·y); log-softmax dx = dy − exp(y)·Σ dy.
 */
export function softmaxBackwardKernel(s: RowShape, log: boolean): RowPlan {
  const { vec, head, at, T, n } = rows(s);
  const acc = log ? `sv += ${at("dy")};` : `sv += ${at("dy")} * ${at("y")};`;
  const write = log
    ? `${at("dx")} = ${at("dy")} - exp(${at("y")}) * t;`
    : `${at("dx")} = ${at("y")} * (${at("dy")} - t);`;
  const k = kernel(`${log ? "log_softmax" : "softmax"}_backward_rows${vec ? "_v4" : ""}`, [
    { name: "y", kind: "read", type: T },
    { name: "dy", kind: "read", type: T },
    { name: "dx", kind: "rw", type: T },
  ], `${head}
  var sv = ${T}(0.0);
  ${loop(s.L, vec, acc)}
  let t = ${hsum(vec, "sv")};
  ${loop(s.L, vec, write)}
}`);
  return { k, grid: grid1d(n, WG) };
}
