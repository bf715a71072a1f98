// WGSL for fused causal self-attention on GPT-2's packed qkv [B, T, 3C] (q | k | v, heads as
// contiguous D-wide chunks): an online-softmax forward (one invocation per (b, h, query row)) and
// a flash-style backward that recomputes probabilities from the saved logsumexp: one kernel for
// dQ (plus D_t = rowsum(dY∘Y)), one for dK/dV (one invocation per key row). A query row with a
// dominant key k (P_k > 1/2) takes dP_k − D_t = dP_k·Σ_{j≠k} P_j − Σ_{j≠k} P_j·dP_j from the other
// keys: dP_k − D_t directly cancels to rounding noise when P_k ≈ 1. No atomics or barriers;
// workgroups span consecutive rows so the key (or query) loads inside the loops are uniform.
// Loops over a head's words are unrolled for GPUs, or kept as loops whose bound comes from a
// uniform for software adapters (llvmpipe takes tens of seconds to compile the unrolled D = 64 code).
import { f32, kernel, type Kernel } from "./wgsl";

/** Batch, sequence length, heads and head dim (C = H · D). */
export interface AttentionDims {
  B: number;
  T: number;
  H: number;
  D: number;
}

/**
 * How the loops over a head's words are emitted: `unrolled` (constant indices keep the per-row
 * arrays in registers; GPUs) or `dynamic` (a runtime loop bound read from a uniform, so the
 * compiler cannot unroll: compiles fast on llvmpipe, whose unrolled code takes very long).
 */
export type AttentionLoops = "unrolled" | "dynamic";

/** A kernel, its grid and the uniform words it needs (bind them last; null for none). */
export interface AttentionPlan {
  k: Kernel;
  grid: number[];
  uniform: Uint32Array<ArrayBuffer> | null;
}

interface Layout {
  /** Word type (vec4f when D % 4 == 0) and words per head (W) / per C-wide slice (Cw). */
  T: string;
  W: number;
  /** Loops over words use the runtime bound `WN` (from the uniform) instead of constants. */
  dyn: boolean;
  Cw: number;
  dot: (a: string, b: string) => string;
  wg: number;
  scale: string;
  grid: number[];
  suffix: string;
}

function layout({ B, T, H, D }: AttentionDims, loops: AttentionLoops): Layout {
  const vec = D % 4 === 0;
  const W = vec ? D / 4 : D;
  let wg = 4;
  while (wg < T && wg < 32) wg *= 2;
  return {
    T: vec ? "vec4f" : "f32", W, Cw: H * W, wg, dyn: loops === "dynamic",
    dot: (a, b) => (vec ? `dot(${a}, ${b})` : `(${a} * ${b})`),
    scale: f32(1 / Math.sqrt(D)),
    grid: [Math.ceil(T / wg), H, B],
    suffix: `${vec ? "_v4" : ""}${loops === "dynamic" ? "_dyn" : ""}`,
  };
}

/** Shared prologue: `b`, `h`, the row `r` of this invocation, `r0` the workgroup's first row. */
function head(L: Layout, T: number): string {
  return `@compute @workgroup_size(${L.wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let h = wid.y;
  let b = wid.z;
  let r0 = wid.x * ${L.wg}u;
  let r = r0 + lid.x;
  if (r >= ${T}u) { return; }
  let bh = b * ${L.grid[1]}u + h;
  let seq = b * ${T}u;${L.dyn ? "\n  let WN = prm.x;" : ""}`;
}

/** The uniform binding of the dynamic-loop variant (declared last). */
const prmBinding = (L: Layout) => (L.dyn ? [{ name: "prm", kind: "uniform" as const, type: "vec4u" }] : []);
const plan = (L: Layout, k: Kernel): AttentionPlan =>
  ({ k, grid: L.grid, uniform: L.dyn ? new Uint32Array([L.W, 0, 0, 0]) : null });

/** qkv word offset of slice `part` (0 q, 1 k, 2 v) of head h at sequence row `t`. */
const at = (L: Layout, t: string, part: number) => `(seq + ${t}) * ${3 * L.Cw}u + ${part * L.Cw}u + h * ${L.W}u`;
/** y / dy word offset of head h at sequence row `t`. */
const yat = (L: Layout, t: string) => `(seq + ${t}) * ${L.Cw}u + h * ${L.W}u`;
/** The loop over a head's W words: unrolled (up to 32 words), a constant loop, or dynamic. */
const loop = (L: Layout, body: (j: string) => string) =>
  L.dyn ? `for (var j = 0u; j < WN; j++) { ${body("j")} }`
    : L.W <= 32 ? Array.from({ length: L.W }, (_, j) => body(`${j}u`)).join(" ")
      : `for (var j = 0u; j < ${L.W}u; j++) { ${body("j")} }`;

/**
 * Forward: y [B, T, C] (heads merged), lse [B, H, T] and, with `probs`, the probabilities
 * [B, H, T, T] (zeros above the diagonal). Online softmax over keys s ≤ t.
 */
export function attentionKernel(d: AttentionDims, probs: boolean, loops: AttentionLoops): AttentionPlan {
  const L = layout(d, loops);
  const dots = loop(L, (j) => `sc += ${L.dot(`q[${j}]`, `qkv[kb + ${j}]`)};`);
  const score = (s: string) => `var sc = 0.0; { let kb = ${at(L, s, 1)}; ${dots} }`;
  const k = kernel(`causal_attention${probs ? "_probs" : ""}${L.suffix}`, [
    { name: "qkv", kind: "read", type: L.T },
    { name: "y", kind: "rw", type: L.T },
    { name: "lse", kind: "rw", type: "f32" },
    ...(probs ? [{ name: "probs", kind: "rw" as const, type: "f32" }] : []),
    ...prmBinding(L),
  ], `${head(L, d.T)}
  var q: array<${L.T}, ${L.W}>;
  var acc: array<${L.T}, ${L.W}>;
  let qb = ${at(L, "r", 0)};
  ${loop(L, (j) => `q[${j}] = qkv[qb + ${j}] * ${L.scale};`)}
  var m = 0.0;
  { ${score("0u")} m = sc; }
  var l = 1.0;
  { let vb = ${at(L, "0u", 2)}; ${loop(L, (j) => `acc[${j}] = qkv[vb + ${j}];`)} }
  let s1 = min(r0 + ${L.wg}u, ${d.T}u);
  for (var s = 1u; s < s1; s++) {
    if (s <= r) {
      ${score("s")}
      let mn = max(m, sc);
      let cf = exp(m - mn);
      let p = exp(sc - mn);
      l = l * cf + p;
      let vb = ${at(L, "s", 2)};
      ${loop(L, (j) => `acc[${j}] = acc[${j}] * cf + p * qkv[vb + ${j}];`)}
      m = mn;
    }
  }
  let inv = 1.0 / l;
  let yb = ${yat(L, "r")};
  ${loop(L, (j) => `y[yb + ${j}] = acc[${j}] * inv;`)}
  let ls = m + log(l);
  lse[bh * ${d.T}u + r] = ls;
  ${probs ? `let pb = (bh * ${d.T}u + r) * ${d.T}u;
  for (var s = 0u; s < ${d.T}u; s++) {
    if (s <= r) { ${score("s")} probs[pb + s] = exp(sc - ls); } else { probs[pb + s] = 0.0; }
  }` : ""}
}`);
  return plan(L, k);
}

/** Floats per query row in the backward's scratch `dvec`: D_t, dP_k − D_t and the dominant key k (T: none). */
export const ATTENTION_ROW_STATS = 3;

/**
 * Backward kernel 1 (one invocation per query row t): Dt = Σ dY∘Y and dQ_t = Σ_{s≤t} P_ts (dY_t·V_s − Dt)
 * K_s / sqrt(D), written into dqkv's q slice; the first key k with P_tk > 1/2 (if any) uses
 * dY_t·V_k − Dt = dP_k·Σ_{j≠k} P_tj − Σ_{j≠k} P_tj·dP_j. Writes (Dt, that value, k or T) to `dvec`
 * [B, H, T, 3] for kernel 2.
 */
export function attentionDqKernel(d: AttentionDims, loops: AttentionLoops): AttentionPlan {
  const L = layout(d, loops);
  const k = kernel(`causal_attention_dq${L.suffix}`, [
    { name: "qkv", kind: "read", type: L.T },
    { name: "dy", kind: "read", type: L.T },
    { name: "y", kind: "read", type: L.T },
    { name: "lse", kind: "read", type: "f32" },
    { name: "dqkv", kind: "rw", type: L.T },
    { name: "dvec", kind: "rw", type: "f32" },
    ...prmBinding(L),
  ], `${head(L, d.T)}
  var q: array<${L.T}, ${L.W}>;
  var g: array<${L.T}, ${L.W}>;
  var dq: array<${L.T}, ${L.W}>;
  let qb = ${at(L, "r", 0)};
  let yb = ${yat(L, "r")};
  var dt = 0.0;
  ${loop(L, (j) => `q[${j}] = qkv[qb + ${j}] * ${L.scale}; g[${j}] = dy[yb + ${j}]; dq[${j}] = ${L.T}(0.0);`)}
  ${loop(L, (j) => `dt += ${L.dot(`g[${j}]`, `y[yb + ${j}]`)};`)}
  let ls = lse[bh * ${d.T}u + r];
  var kd = ${d.T}u;
  var pk = 0.0;
  var dpk = 0.0;
  var pa = 0.0;
  var pb = 0.0;
  let s1 = min(r0 + ${L.wg}u, ${d.T}u);
  for (var s = 0u; s < s1; s++) {
    if (s <= r) {
      let kb = ${at(L, "s", 1)};
      var sc = 0.0;
      var dp = 0.0;
      ${loop(L, (j) => `sc += ${L.dot(`q[${j}]`, `qkv[kb + ${j}]`)};`)}
      ${loop(L, (j) => `dp += ${L.dot(`g[${j}]`, `qkv[kb + ${L.Cw}u + ${j}]`)};`)}
      let p = exp(sc - ls);
      if (p > 0.5 && kd == ${d.T}u) {
        kd = s;
        pk = p;
        dpk = dp;
      } else {
        pa += p;
        pb += p * dp;
        let ds = p * (dp - dt);
        ${loop(L, (j) => `dq[${j}] += ds * qkv[kb + ${j}];`)}
      }
    }
  }
  let ek = dpk * pa - pb;
  if (kd < ${d.T}u) {
    let kb = ${at(L, "kd", 1)};
    let ds = pk * ek;
    ${loop(L, (j) => `dq[${j}] += ds * qkv[kb + ${j}];`)}
  }
  ${loop(L, (j) => `dqkv[qb + ${j}] = dq[${j}] * ${L.scale};`)}
  let o = (bh * ${d.T}u + r) * ${ATTENTION_ROW_STATS}u;
  dvec[o] = dt;
  dvec[o + 1u] = ek;
  dvec[o + 2u] = f32(kd);
}`);
  return plan(L, k);
}

/**
 * Backward kernel 2 (one invocation per key row s): dV_s = Σ_{t≥s} P_ts dY_t and
 * dK_s = Σ_{t≥s} P_ts (dY_t·V_s − D_t) Q_t / sqrt(D) (kernel 1's rewrite where s is t's dominant
 * key), written into dqkv's k and v slices.
 */
export function attentionDkvKernel(d: AttentionDims, loops: AttentionLoops): AttentionPlan {
  const L = layout(d, loops);
  const k = kernel(`causal_attention_dkv${L.suffix}`, [
    { name: "qkv", kind: "read", type: L.T },
    { name: "dy", kind: "read", type: L.T },
    { name: "lse", kind: "read", type: "f32" },
    { name: "dvec", kind: "read", type: "f32" },
    { name: "dqkv", kind: "rw", type: L.T },
    ...prmBinding(L),
  ], `${head(L, d.T)}
  var kk: array<${L.T}, ${L.W}>;
  var vv: array<${L.T}, ${L.W}>;
  var dk: array<${L.T}, ${L.W}>;
  var dv: array<${L.T}, ${L.W}>;
  let kb = ${at(L, "r", 1)};
  ${loop(L, (j) => `kk[${j}] = qkv[kb + ${j}] * ${L.scale}; vv[${j}] = qkv[kb + ${L.Cw}u + ${j}];`)}
  ${loop(L, (j) => `dk[${j}] = ${L.T}(0.0); dv[${j}] = ${L.T}(0.0);`)}
  for (var t = r0; t < ${d.T}u; t++) {
    if (t >= r) {
      let qb = ${at(L, "t", 0)};
      let yb = ${yat(L, "t")};
      var sc = 0.0;
      var dp = 0.0;
      ${loop(L, (j) => `sc += ${L.dot(`qkv[qb + ${j}]`, `kk[${j}]`)};`)}
      ${loop(L, (j) => `dp += ${L.dot(`dy[yb + ${j}]`, `vv[${j}]`)};`)}
      let p = exp(sc - lse[bh * ${d.T}u + t]);
      let o = (bh * ${d.T}u + t) * ${ATTENTION_ROW_STATS}u;
      let ds = p * select(dp - dvec[o], dvec[o + 1u], u32(dvec[o + 2u]) == r);
      ${loop(L, (j) => `dv[${j}] += p * dy[yb + ${j}]; dk[${j}] += ds * qkv[qb + ${j}];`)}
    }
  }
  ${loop(L, (j) => `dqkv[kb + ${j}] = dk[${j}] * ${L.scale}; dqkv[kb + ${L.Cw}u + ${j}] = dv[${j}];`)}
}`);
  return plan(L, k);
}
