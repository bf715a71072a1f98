// WGSL causal attention for hardware GPUs: the `tiled` variant (FlashAttention-2's loop structure).
// A workgroup of 64 invocations owns 64 rows (queries in the forward and dQ, keys in dK/dV), one
// row per invocation with that row's words in private arrays; the rows it streams (keys, or
// queries with their statistics) go through workgroup memory in tiles of BK rows loaded by all
// invocations together, so each streamed word is read from global memory once per workgroup
// instead of once per row. Forward: online softmax, tiles up to the workgroup's last query (fully
// masked tiles are skipped), y and the per-row log-sum-exp saved. Backward: the dQ kernel writes
// dQ and the per-row statistics (lse, D = rowsum(dY∘Y), the dominant key's dP_k − D and k); the
// dK/dV kernel streams query tiles from the key block's first row on. No atomics. Loops over a
// row's words have a constant bound when `unroll` (GPU compilers unroll them and keep the rows in
// registers) or the uniform's bound otherwise: also the fallback for software adapters without
// subgroups (selection in attention.ts), where llvmpipe would take minutes to compile the
// unrolled D = 128 code.
import type { Kernel } from "./wgsl";
import { f32, kernel, type Binding } from "./wgsl";

/** Rows (invocations) per workgroup. */
export const TILED_BLOCK = 64;
/** Workgroup memory the tiles may use: WebGPU's guaranteed minimum of maxComputeWorkgroupStorageSize. */
const SHARED_BYTES = 16384;

interface Words {
  T: string;
  W: number;
  /** The word loops' bound: the constant W, or the uniform's words per head. */
  N: string;
  dot: (a: string, b: string) => string;
  scale: string;
  D: number;
}

function words(D: number, unroll: boolean): Words {
  const vec = D % 4 === 0, W = vec ? D / 4 : D;
  return { T: vec ? "vec4f" : "f32", W, N: unroll ? `${W}u` : "prm.w", D, dot: (a, b) => (vec ? `dot(${a}, ${b})` : `(${a} * ${b})`), scale: f32(1 / Math.sqrt(D)) };
}

/** Streamed rows per tile: the largest power of two ≤ 32 whose `arrays` tiles (plus `extra` bytes per row) fit. */
function tileRows(X: Words, arrays: number, extra: number): number {
  let bk = 32;
  while (bk > 1 && bk * (arrays * X.W * (X.T === "vec4f" ? 16 : 4) + extra) > SHARED_BYTES) bk /= 2;
  return bk;
}

/** Common prologue; with `lastFirst` the first workgroups take the last row blocks (the most keys under the causal mask). */
const prologue = (lastFirst: boolean) => `@compute @workgroup_size(${TILED_BLOCK})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let T = prm.x; let CW = prm.y;
  let h = wid.y; let b = wid.z; let seq = b * T; let bh = b * prm.z + h;
  let r0 = ${lastFirst ? "(nwg.x - 1u - wid.x)" : "wid.x"} * ${TILED_BLOCK}u; // the workgroup's first own row
  let r = r0 + li; // this invocation's row (may be ≥ T: it still loads tiles and meets the barriers)
  let rc = min(r, T - 1u);`;

/** qkv word offset of slice `part` of head h at sequence row `t`. */
const at = (X: Words, t: string, part: number) => `(seq + ${t}) * 3u * CW + ${part ? `${part}u * CW + ` : ""}h * ${X.W}u`;
const yat = (X: Words, t: string) => `(seq + ${t}) * CW + h * ${X.W}u`;

/**
 * Loads tile rows t0 .. t0 + BK − 1 (clamped to T − 1) of each `[shared, source(row)]` pair (and runs
 * `extra`) between two barriers.
 */
function loadTile(X: Words, BK: number, t0: string, pairs: [string, (row: string) => string][], extra = ""): string {
  return `workgroupBarrier();
    ${extra}
    for (var i = li; i < ${BK * X.W}u; i += ${TILED_BLOCK}u) {
      let row = min(${t0} + i / ${X.W}u, T - 1u);
      let w = i % ${X.W}u;
      ${pairs.map(([sh, src]) => `${sh}[i] = ${src("row")};`).join(" ")}
    }
    workgroupBarrier();`;
}

function build(name: string, bindings: Binding[], shared: string, body: string): Kernel {
  return kernel(name, [...bindings, { name: "prm", kind: "uniform", type: "vec4u" }], body, shared);
}

/**
 * Forward: y [B, T, C] and lse [B, H, T]; with `probs`, reads lse (in y's binding place) and writes
 * the probabilities [B, H, T, T] (zeros above the diagonal) instead.
 */
export function tiledForward(D: number, unroll: boolean, probs = false): Kernel {
  const X = words(D, unroll), W = X.W, BK = tileRows(X, probs ? 1 : 2, 0);
  const shared = `var<workgroup> ks: array<${X.T}, ${BK * W}>;${probs ? "" : `\nvar<workgroup> vs: array<${X.T}, ${BK * W}>;`}`;
  const score = `var sc = 0.0;
        for (var w = 0u; w < ${X.N}; w++) { sc += ${X.dot("q[w]", `ks[j * ${W}u + w]`)}; }`;
  const body = probs ? `${prologue(true)}
  var q: array<${X.T}, ${W}>;
  for (var w = 0u; w < ${X.N}; w++) { q[w] = qkv[${at(X, "rc", 0)} + w] * ${X.scale}; }
  let ls = lse[bh * T + rc];
  let kend = min(r0 + ${TILED_BLOCK}u, T);
  for (var k0 = 0u; k0 < T; k0 += ${BK}u) {
    if (k0 < kend) {
      ${loadTile(X, BK, "k0", [["ks", (row) => `qkv[${at(X, row, 1)} + w]`]])}
    }
    for (var j = 0u; j < ${BK}u; j++) {
      let s = k0 + j;
      if (r < T && s < T) {
        var p = 0.0;
        if (s <= r) {
          ${score}
          p = exp(sc - ls);
        }
        probs[(bh * T + r) * T + s] = p;
      }
    }
  }
}` : `${prologue(true)}
  var q: array<${X.T}, ${W}>;
  var o: array<${X.T}, ${W}>;
  for (var w = 0u; w < ${X.N}; w++) { q[w] = qkv[${at(X, "rc", 0)} + w] * ${X.scale}; o[w] = ${X.T}(0.0); }
  var m = -3.0e38;
  var l = 0.0;
  let kend = min(r0 + ${TILED_BLOCK}u, T);
  for (var k0 = 0u; k0 < kend; k0 += ${BK}u) {
    ${loadTile(X, BK, "k0", [["ks", (row) => `qkv[${at(X, row, 1)} + w]`], ["vs", (row) => `qkv[${at(X, row, 2)} + w]`]])}
    for (var j = 0u; j < ${BK}u; j++) {
      if (k0 + j <= r) {
        ${score}
        let mn = max(m, sc);
        let cf = exp(m - mn);
        let p = exp(sc - mn);
        l = l * cf + p;
        for (var w = 0u; w < ${X.N}; w++) { o[w] = o[w] * cf + p * vs[j * ${W}u + w]; }
        m = mn;
      }
    }
  }
  if (r < T) {
    let inv = 1.0 / l;
    for (var w = 0u; w < ${X.N}; w++) { y[${yat(X, "r")} + w] = o[w] * inv; }
    lse[bh * T + r] = m + log(l);
  }
}`;
  return build(`attention_tiled_${probs ? "probs" : "fwd"}_d${D}${unroll ? "" : "_dyn"}`, probs
    ? [{ name: "qkv", kind: "read", type: X.T }, { name: "lse", kind: "read", type: "f32" }, { name: "probs", kind: "rw", type: "f32" }]
    : [{ name: "qkv", kind: "read", type: X.T }, { name: "y", kind: "rw", type: X.T }, { name: "lse", kind: "rw", type: "f32" }], shared, body);
}

/** Backward kernel 1 (invocation = one query): dQ and the per-row statistics (see attention-subgroup.ts). */
export function tiledDq(D: number, unroll: boolean): Kernel {
  const X = words(D, unroll), W = X.W, BK = tileRows(X, 2, 0);
  const shared = `var<workgroup> ks: array<${X.T}, ${BK * W}>;\nvar<workgroup> vs: array<${X.T}, ${BK * W}>;`;
  const body = `${prologue(true)}
  var q: array<${X.T}, ${W}>;
  var g: array<${X.T}, ${W}>;
  var dq: array<${X.T}, ${W}>;
  var dt = 0.0;
  for (var w = 0u; w < ${X.N}; w++) {
    q[w] = qkv[${at(X, "rc", 0)} + w] * ${X.scale};
    g[w] = dy[${yat(X, "rc")} + w];
    dq[w] = ${X.T}(0.0);
    dt += ${X.dot("g[w]", `y[${yat(X, "rc")} + w]`)};
  }
  let ls = lse[bh * T + rc];
  var kd = T; // the dominant key (T: none yet)
  var pk = 0.0;
  var dpk = 0.0;
  var pa = 0.0; // Σ P and Σ P·dP over the other keys
  var pb = 0.0;
  let kend = min(r0 + ${TILED_BLOCK}u, T);
  for (var k0 = 0u; k0 < kend; k0 += ${BK}u) {
    ${loadTile(X, BK, "k0", [["ks", (row) => `qkv[${at(X, row, 1)} + w]`], ["vs", (row) => `qkv[${at(X, row, 2)} + w]`]])}
    for (var j = 0u; j < ${BK}u; j++) {
      let s = k0 + j;
      if (s <= r) {
        var sc = 0.0;
        var dp = 0.0;
        for (var w = 0u; w < ${X.N}; w++) { sc += ${X.dot("q[w]", `ks[j * ${W}u + w]`)}; dp += ${X.dot("g[w]", `vs[j * ${W}u + w]`)}; }
        let p = exp(sc - ls);
        if (p > 0.5 && kd == T) {
          kd = s;
          pk = p;
          dpk = dp;
        } else {
          pa += p;
          pb += p * dp;
          let ds = p * (dp - dt);
          for (var w = 0u; w < ${X.N}; w++) { dq[w] += ds * ks[j * ${W}u + w]; }
        }
      }
    }
  }
  let ek = dpk * pa - pb;
  if (r < T) {
    if (kd < T) {
      let ds = pk * ek;
      for (var w = 0u; w < ${X.N}; w++) { dq[w] += ds * qkv[${at(X, "kd", 1)} + w]; }
    }
    for (var w = 0u; w < ${X.N}; w++) { dqkv[${at(X, "r", 0)} + w] = dq[w] * ${X.scale}; }
    dvec[bh * T + r] = vec4f(ls, dt, ek, f32(kd));
  }
}`;
  return build(`attention_tiled_dq_d${D}${unroll ? "" : "_dyn"}`, [
    { name: "qkv", kind: "read", type: X.T }, { name: "dy", kind: "read", type: X.T }, { name: "y", kind: "read", type: X.T },
    { name: "lse", kind: "read", type: "f32" }, { name: "dqkv", kind: "rw", type: X.T }, { name: "dvec", kind: "rw", type: "vec4f" },
  ], shared, body);
}

/** Backward kernel 2 (invocation = one key): dK and dV (see attention-subgroup.ts). */
export function tiledDkv(D: number, unroll: boolean): Kernel {
  const X = words(D, unroll), W = X.W, BK = tileRows(X, 2, 16);
  const shared = `var<workgroup> qs: array<${X.T}, ${BK * W}>;\nvar<workgroup> gs: array<${X.T}, ${BK * W}>;\nvar<workgroup> sts: array<vec4f, ${BK}>;`;
  const body = `${prologue(false)}
  var kk: array<${X.T}, ${W}>;
  var vv: array<${X.T}, ${W}>;
  var dk: array<${X.T}, ${W}>;
  var dv: array<${X.T}, ${W}>;
  for (var w = 0u; w < ${X.N}; w++) {
    kk[w] = qkv[${at(X, "rc", 1)} + w] * ${X.scale};
    vv[w] = qkv[${at(X, "rc", 2)} + w];
    dk[w] = ${X.T}(0.0);
    dv[w] = ${X.T}(0.0);
  }
  for (var t0 = r0; t0 < T; t0 += ${BK}u) {
    ${loadTile(X, BK, "t0", [["qs", (row) => `qkv[${at(X, row, 0)} + w]`], ["gs", (row) => `dy[${yat(X, row)} + w]`]],
      `if (li < ${BK}u) { sts[li] = dvec[bh * T + min(t0 + li, T - 1u)]; }`)}
    for (var j = 0u; j < ${BK}u; j++) {
      let t = t0 + j;
      if (t >= r && t < T) {
        var sc = 0.0;
        var dp = 0.0;
        for (var w = 0u; w < ${X.N}; w++) { sc += ${X.dot(`qs[j * ${W}u + w]`, "kk[w]")}; dp += ${X.dot(`gs[j * ${W}u + w]`, "vv[w]")}; }
        let st = sts[j];
        let p = exp(sc - st.x);
        let ds = p * select(dp - st.y, st.z, u32(st.w) == r);
        for (var w = 0u; w < ${X.N}; w++) { dv[w] += p * gs[j * ${W}u + w]; dk[w] += ds * qs[j * ${W}u + w]; }
      }
    }
  }
  if (r < T) {
    for (var w = 0u; w < ${X.N}; w++) {
      dqkv[${at(X, "r", 1)} + w] = dk[w] * ${X.scale};
      dqkv[${at(X, "r", 2)} + w] = dv[w];
    }
  }
}`;
  return build(`attention_tiled_dkv_d${D}${unroll ? "" : "_dyn"}`, [
    { name: "qkv", kind: "read", type: X.T }, { name: "dy", kind: "read", type: X.T },
    { name: "dvec", kind: "read", type: "vec4f" }, { name: "dqkv", kind: "rw", type: X.T },
  ], shared, body);
}
