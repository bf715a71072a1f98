// WGSL for fused softmax cross-entropy: a row-per-invocation online pass (row max m, S = Σ exp(z − m)
// and S_t = Σ_{j≠t} exp(z_j − m), the mass off the target) + NLL kernel, a one-workgroup
// fixed-order reduction (loss and valid-row count), and a one-kernel backward. Stable on saturated
// rows: p_j = exp((z_j − m) − log S) and p_t − 1 = −S_t / S keep full relative precision where
// p_t ≈ 1 (computing p_t − 1 directly would round it to 0), and the loss is −log1p(−S_t/S) there.
// Targets outside [0, V) are treated as ignored rows here (loss 0, gradient 0, not counted) and
// never used as an index; the op's device check (shaders/checks.ts) reports them as an error.
import { grid1d, kernel, LOG1P, main1d, type Kernel } from "./wgsl";

/** How the per-row losses are reduced. */
export type CrossEntropyReduction = "mean" | "sum" | "none";

/** Rows (N), classes (V), the ignored target value and the reduction. */
export interface CrossEntropyDims {
  N: number;
  V: number;
  ignoreIndex: number;
  reduction: CrossEntropyReduction;
}

// Rows per workgroup: a multiple of every adapter's SIMD width (32 or 64 lanes); not timed against
// other sizes. `npm run bench -- --suite softmax` (case "crossEntropy [1024,8192]") is where a change would show.
const ROW_WG = 64;
// Lanes of the in-workgroup tree that sums the per-row losses (a power of two).
const RED_WG = 64;

function words(V: number): { T: string; Vw: number; vec: boolean } {
  const vec = V % 4 === 0;
  return { T: vec ? "vec4f" : "f32", Vw: vec ? V / 4 : V, vec };
}

/** WGSL: `valid` is true when target `t` is a class index (not ignored, inside [0, V)). */
const validExpr = (t: string, V: number, ignore: number) =>
  `(${t} != ${ignore}i && ${t} >= 0i && ${t} < ${V}i)`;

/** Per-row statistics saved by the forward for the backward: [N, 3] (m, log S, S_t / S = 1 − p_t). */
export const CE_STATS = 3;

/**
 * Row kernel: stats[r] = (m, log S, S_t / S) and loss[r] = −log p_t (0 when the target is not
 * valid): −log1p(−S_t/S) when p_t ≥ 1/2 (exact where the row is confident and right), else
 * (m − z_t) + log S (no cancellation there).
 */
export function crossEntropyRowKernel({ N, V, ignoreIndex }: CrossEntropyDims): { k: Kernel; grid: number[] } {
  const { T, Vw, vec } = words(V);
  const wmax = (z: string) => (vec ? `max(max(${z}.x, ${z}.y), max(${z}.z, ${z}.w))` : z);
  const hsum = (z: string) => (vec ? `dot(${z}, vec4f(1.0))` : z);
  // 1 on the columns of word c other than the target, 0 on the target's column.
  const off = (c: string) => (vec
    ? `select(vec4f(1.0), vec4f(0.0), vec4i(i32(${c} * 4u)) + vec4i(0, 1, 2, 3) == vec4i(t))`
    : `select(1.0, 0.0, i32(${c}) == t)`);
  const pick = vec ? "logits[o + tc / 4u][tc % 4u]" : "logits[o + tc]";
  const k = kernel(`cross_entropy_rows${vec ? "_v4" : ""}`, [
    { name: "logits", kind: "read", type: T },
    { name: "targets", kind: "read", type: "i32" },
    { name: "stats", kind: "rw", type: "f32" },
    { name: "loss", kind: "rw", type: "f32" },
  ], `${main1d(ROW_WG)}
  if (i >= ${N}u) { return; }
  let o = i * ${Vw}u;
  let t = targets[i];
  let z0 = logits[o];
  var m = ${wmax("z0")};
  let e0 = exp(z0 - ${T}(m));
  var l = ${hsum("e0")};
  var lt = ${hsum(`e0 * ${off("0u")}`)};
  for (var c = 1u; c < ${Vw}u; c++) {
    let z = logits[o + c];
    let mn = max(m, ${wmax("z")});
    let cf = exp(m - mn);
    let e = exp(z - ${T}(mn));
    l = l * cf + ${hsum("e")};
    lt = lt * cf + ${hsum(`e * ${off("c")}`)};
    m = mn;
  }
  let ls = log(l);
  let rest = lt / l;
  let valid = ${validExpr("t", V, ignoreIndex)};
  let tc = u32(clamp(t, 0i, ${V - 1}i));
  stats[i * 3u] = m;
  stats[i * 3u + 1u] = ls;
  stats[i * 3u + 2u] = select(0.0, rest, valid);
  let nll = select((m - ${pick}) + ls, -log1p_s(-rest), rest <= 0.5);
  loss[i] = select(0.0, nll, valid);
}`, LOG1P);
  return { k, grid: grid1d(N, ROW_WG) };
}

/**
 * Reduction kernel (one workgroup; lane i sums a contiguous block of rows in order, then lane 0
 * combines the lanes' sums in a fixed tree): count = number of valid rows and, unless the reduction is "none", out = Σ loss (sum) or
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
  if (li == 0u) { // the tree in order on one lane: one barrier instead of one per level (see checks.ts)
    for (var w = ${RED_WG / 2}u; w > 0u; w = w / 2u) {
      for (var j = 0u; j < w; j++) {
        ss[j] += ss[j + w];
        nn[j] += nn[j + w];
      }
    }
    count[0] = nn[0];
    ${none ? "" : `out[0] = ${final};`}
  }
}`);
}

/**
 * Backward: dlogits[r, j] = (p_j − [j == t_r]) · g_r with p_j = exp((z_j − m) − log S) and, at the
 * target, p_t − 1 = −S_t / S from the saved stats; g_r is 0 for rows that are not valid, dloss[r]
 * ("none"), dloss (sum) or dloss / max(count, 1) (mean).
 */
export function crossEntropyBackwardKernel({ N, V, ignoreIndex, reduction }: CrossEntropyDims): { k: Kernel; grid: number[] } {
  const { T, Vw, vec } = words(V);
  const g = reduction === "none" ? "dloss[r]" : reduction === "sum" ? "dloss[0]" : "dloss[0] / max(count[0], 1.0)";
  const col = vec ? "vec4i(i32(c * 4u)) + vec4i(0, 1, 2, 3)" : "i32(c)";
  const hot = vec ? "col == vec4i(t)" : "col == t";
  const k = kernel(`cross_entropy_backward_${reduction}${vec ? "_v4" : ""}`, [
    { name: "dloss", kind: "read", type: "f32" },
    { name: "logits", kind: "read", type: T },
    { name: "targets", kind: "read", type: "i32" },
    { name: "stats", kind: "read", type: "f32" },
    { name: "count", kind: "read", type: "f32" },
    { name: "dlogits", kind: "rw", type: T },
  ], `${main1d()}
  if (i >= ${N * Vw}u) { return; }
  let r = i / ${Vw}u;
  let c = i % ${Vw}u;
  let t = targets[r];
  let g = select(0.0, ${g}, ${validExpr("t", V, ignoreIndex)});
  let col = ${col};
  let p = exp((logits[i] - ${T}(stats[r * 3u])) - ${T}(stats[r * 3u + 1u]));
  dlogits[i] = select(p, ${T}(-stats[r * 3u + 2u]), ${hot}) * g;
}`);
  return { k, grid: grid1d(N * Vw) };
}
