// WGSL for fused softmax cross-entropy: a row-per-invocation online logsumexp + NLL kernel, a
// one-workgroup fixed-order reduction (loss and valid-row count), and a one-kernel backward
// dlogits = (softmax − onehot) · g. Targets outside [0, V) are treated as ignored rows here
// (loss 0, gradient 0, not counted) and never used as an index; cpu64 rejects them instead.
import type { Kernel } from "../tensor/webgpu/runtime";
import { grid1d, kernel, main1d } from "./wgsl";

/** How the per-row losses are reduced. */
export type CrossEntropyReduction = "mean" | "sum" | "none";

/** Rows (N), classes (V), the ignored target value and the reduction. */
export interface CrossEntropyDims {
  N: number;
  V: number;
  ignoreIndex: number;
  reduction: CrossEntropyReduction;
}

const ROW_WG = 64;
const RED_WG = 64;

function words(V: number): { T: string; Vw: number; vec: boolean } {
  const vec = V % 4 === 0;
  return { T: vec ? "vec4f" : "f32", Vw: vec ? V / 4 : V, vec };
}

/** WGSL: `valid` is true when target `t` is a class index (not ignored, inside [0, V)). */
const validExpr = (t: string, V: number, ignore: number) =>
  `(${t} != ${ignore}i && ${t} >= 0i && ${t} < ${V}i)`;

/** Row kernel: lse[r] = logsumexp(logits[r]) and loss[r] = lse − logits[r, target] (0 when not valid). */
export function crossEntropyRowKernel({ N, V, ignoreIndex }: CrossEntropyDims): { k: Kernel; grid: number[] } {
  const { T, Vw, vec } = words(V);
  const wmax = (z: string) => (vec ? `max(max(${z}.x, ${z}.y), max(${z}.z, ${z}.w))` : z);
  const hsum = (z: string) => (vec ? `dot(${z}, vec4f(1.0))` : z);
  const pick = vec ? "logits[o + tc / 4u][tc % 4u]" : "logits[o + tc]";
  const k = kernel(`cross_entropy_rows${vec ? "_v4" : ""}`, [
    { name: "logits", kind: "read", type: T },
    { name: "targets", kind: "read", type: "i32" },
    { name: "lse", kind: "rw", type: "f32" },
    { name: "loss", kind: "rw", type: "f32" },
  ], `${main1d(ROW_WG)}
  if (i >= ${N}u) { return; }
  let o = i * ${Vw}u;
  let z0 = logits[o];
  var m = ${wmax("z0")};
  var l = ${hsum(`exp(z0 - ${T}(m))`)};
  for (var c = 1u; c < ${Vw}u; c++) {
    let z = logits[o + c];
    let mn = max(m, ${wmax("z")});
    l = l * exp(m - mn) + ${hsum(`exp(z - ${T}(mn))`)};
    m = mn;
  }
  let s = m + log(l);
  lse[i] = s;
  let t = targets[i];
  let valid = ${validExpr("t", V, ignoreIndex)};
  let tc = u32(clamp(t, 0i, ${V - 1}i));
  loss[i] = select(0.0, s - ${pick}, valid);
}`);
  return { k, grid: grid1d(N, ROW_WG) };
}

/**
 * Reduction kernel (one workgroup; lane i sums a contiguous block of rows in order, then a fixed
 * tree): count = number of valid rows and, unless the reduction is "none", out = Σ loss (sum) or
 * Σ loss / count (mean; 0 when count = 0). Deterministic: the summation order never changes.
 */
export function crossEntropyReduceKernel({ N, V, ignoreIndex, reduction }: CrossEntropyDims): Kernel {
  const none = reduction === "none";
  const L = Math.ceil(N / RED_WG);
  const final = reduction === "mean" ? "select(0.0, ss[0] / nn[0], nn[0] > 0.0)" : "ss[0]";
  return kernel(`cross_entropy_reduce_${reduction}`, [
    { name: "targets", kind: "read", type: "i32" },
    { name: "count", kind: "rw", type: "f32" },
    ...(none ? [] : [
      { name: "rows", kind: "read" as const, type: "f32" },
      { name: "out", kind: "rw" as const, type: "f32" },
    ]),
  ], `var<workgroup> ss: array<f32, ${RED_WG}>;
var<workgroup> nn: array<f32, ${RED_WG}>;
@compute @workgroup_size(${RED_WG})
fn main(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  var n = 0.0;
  let r1 = min(${N}u, (li + 1u) * ${L}u);
  for (var r = li * ${L}u; r < r1; r++) {
    let t = targets[r];
    if (${validExpr("t", V, ignoreIndex)}) {
      n += 1.0;
      ${none ? "" : "s += rows[r];"}
    }
  }
  ss[li] = s;
  nn[li] = n;
  workgroupBarrier();
  for (var w = ${RED_WG / 2}u; w > 0u; w = w / 2u) {
    if (li < w) {
      ss[li] += ss[li + w];
      nn[li] += nn[li + w];
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    count[0] = nn[0];
    ${none ? "" : `out[0] = ${final};`}
  }
}`);
}

/**
 * Backward: dlogits[r, j] = (exp(logits[r, j] − lse[r]) − [j == t_r]) · g_r, where g_r is 0 for
 * rows that are not valid, dloss[r] ("none"), dloss (sum) or dloss / max(count, 1) (mean).
 */
export function crossEntropyBackwardKernel({ N, V, ignoreIndex, reduction }: CrossEntropyDims): { k: Kernel; grid: number[] } {
  const { T, Vw, vec } = words(V);
  const g = reduction === "none" ? "dloss[r]" : reduction === "sum" ? "dloss[0]" : "dloss[0] / max(count[0], 1.0)";
  const col = vec ? "vec4i(i32(c * 4u)) + vec4i(0, 1, 2, 3)" : "i32(c)";
  const hot = vec ? "select(vec4f(0.0), vec4f(1.0), col == vec4i(t))" : "select(0.0, 1.0, col == t)";
  const k = kernel(`cross_entropy_backward_${reduction}${vec ? "_v4" : ""}`, [
    { name: "dloss", kind: "read", type: "f32" },
    { name: "logits", kind: "read", type: T },
    { name: "targets", kind: "read", type: "i32" },
    { name: "lse", kind: "read", type: "f32" },
    { name: "count", kind: "read", type: "f32" },
    { name: "dlogits", kind: "rw", type: T },
  ], `${main1d()}
  if (i >= ${N * Vw}u) { return; }
  let r = i / ${Vw}u;
  let c = i % ${Vw}u;
  let t = targets[r];
  let g = select(0.0, ${g}, ${validExpr("t", V, ignoreIndex)});
  let col = ${col};
  let p = exp(logits[i] - ${T}(lse[r]));
  dlogits[i] = (p - ${hot}) * g;
}`);
  return { k, grid: grid1d(N * Vw) };
}
