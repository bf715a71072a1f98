// WGSL causal attention for software adapters (lavapipe): the `subgroup` variant. An invocation
// owns 4 queries (forward, dQ) or 4 keys (dK/dV) and keeps their rows in private arrays as vec4s
// *across* the 4 rows (q[d] = (Q[t0][d], Q[t1][d], Q[t2][d], Q[t3][d])), so every broadcast key or
// query element feeds 4 multiply-adds. A workgroup is one subgroup of 8 invocations (32 rows);
// the rows it streams (keys in the forward and dQ, queries in dK/dV) come in tiles of KT: lane l
// loads element d of streamed rows l, l + 8, ... and `subgroupBroadcast` hands each element to
// every lane. On llvmpipe every storage load is scalarized per lane with a bounds-check branch, so
// one load that 8 lanes spend on 8 different rows is 8× cheaper per useful element than 8 lanes
// loading the same one; a broadcast is a register extract. The loops over a row's D elements keep
// a runtime bound (the uniform's D), so the rows stay in private arrays: written out, they would
// become registers and llvmpipe's compile time would grow to tens of seconds at D = 64, for
// 1.13–1.35× at D 12–16. The loops step one float at a time, not a vec4, and each streams one
// kind of row (the backward's S and dP, dV and dK are separate loops): a step's body is then a
// quarter as long, which compiled the three kernels ~3× faster and ran them 1.1–1.6× faster at
// every measured shape, and one stream per loop ran the backward 1.1–1.3× faster again
// (bench/RESULTS.md, "One element per step").
// Forward: online softmax over key tiles (the workgroup's last tile ends at its last query:
// fully masked tiles are never visited), y and the per-row log-sum-exp saved. Backward: the dQ
// kernel recomputes P = exp(S − lse) and dP per key tile, writes dQ and per-row statistics
// (lse, D = rowsum(dY∘Y), the dominant key's dP_k − D and k); the dK/dV kernel streams query
// tiles from the key block's first row on. No atomics: every sum runs in a fixed order.
// Needs the `subgroups` feature with subgroups of at least 8 invocations (selection in attention.ts).
import type { Kernel } from "./wgsl";
import { f32, kernel, type Binding } from "./wgsl";

/** Rows per invocation (the vec4 across rows) and invocations per workgroup (one subgroup). */
const ROWS = 4;
const LANES = 8;
/** Rows per workgroup. */
export const SUBGROUP_BLOCK = ROWS * LANES;

/** Streamed rows per tile: a multiple of 8 (each lane loads KT / 8 of them). */
export type SubgroupTile = 8 | 16 | 32;

/** The score scale 1/sqrt(D) as a WGSL literal. */
const scaleOf = (D: number) => f32(1 / Math.sqrt(D));

const R = (n: number) => [...Array(n).keys()];
const RC = ["x", "y", "z", "w"];

/** With `enable subgroups;` in front (it must precede every declaration). */
function sgKernel(name: string, bindings: readonly Binding[], body: string): Kernel {
  const k = kernel(name, [...bindings, { name: "prm", kind: "uniform", type: "vec4u" }], body);
  return { ...k, code: `enable subgroups;\n${k.code}` };
}

/**
 * Common prologue: sizes from the uniform (T, C, heads, D), the head, the
 * lane, this invocation's rows. With `lastFirst` the first workgroups take the last row blocks:
 * under the causal mask those have the most keys, and starting them first balances the
 * workgroups over the worker threads when there are few (one head at T = 1024: 32 blocks).
 */
const prologue = (lastFirst: boolean) => `@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) sgi: u32) {
  let T = prm.x; let C = prm.y; let DN = prm.w; // DN = D, from the uniform: the loops over a row keep a runtime bound
  let h = wid.y; let b = wid.z; let seq = b * T; let bh = b * prm.z + h;
  let sl = sgi & 7u; // which of 8 streamed rows this lane loads (lanes 8.. of wider subgroups repeat 0..7)
  let r0 = ${lastFirst ? "(nwg.x - 1u - wid.x)" : "wid.x"} * ${SUBGROUP_BLOCK}u; // the workgroup's first own row
  let ra = r0 + li * ${ROWS}u;
  let ri = vec4u(ra, ra + 1u, ra + 2u, ra + 3u); // this invocation's 4 own rows (some may be ≥ T)
  let rc = min(ri, vec4u(T - 1u)); // clamped for loads`;

/**
 * Loads element `w` of the tile's streamed rows (`base_g`, g < KT/8: this lane's row of group g)
 * into `${v}w${g}`, then broadcasts row j's element as `${v}_j`.
 */
function streamElement(KT: number, v: string, buf: string, base: string, w: string): string {
  return R(KT / 8).map((g) => `let ${v}w${g} = ${buf}[${base}${g} + ${w}];`).join(" ") + "\n      " +
    R(KT).map((j) => `let ${v}_${j} = subgroupBroadcast(${v}w${j >> 3}, ${j & 7}u);`).join(" ");
}
/**
 * One loop over the D elements: `acc_j += Σ_d row_j[d] · own[d]` for each streamed row j, the rows
 * read from `buf` at `base_g` + `off` + d, `own` a row array of this invocation (vec4s across its rows).
 */
function dotLoop(KT: number, acc: string, v: string, buf: string, base: string, off: string, own: string): string {
  return `for (var w = 0u; w < DN; w++) {
      let ow = ${own}[w];
      ${streamElement(KT, v, buf, base, `${off}w`)}
      ${R(KT).map((j) => `${acc}${j} += ${v}_${j} * ow;`).join(" ")}
    }`;
}

/**
 * Loads this invocation's 4 rows of slice `part` (0 q, 1 k, 2 v) of packed qkv into row array
 * `arr` (across rows, times `mul`): a loop over the D elements with the runtime bound, 4 loads each.
 */
function loadOwn(arr: string, part: number, mul: string): string {
  return `{
    let base = (seq + rc) * 3u * C + ${part}u * C + h * DN;
    for (var w = 0u; w < DN; w++) {
      ${arr}[w] = vec4f(${R(4).map((r) => `qkv[base.${RC[r]} + w]`).join(", ")})${mul};
    }
  }`;
}

/**
 * Stores row array `arr` to the rows `ri` < T of `out`, row r at offset `base`[r] (a vec4u
 * expression), times `mul` (a vec4f or f32 expression, or "" for none).
 */
function storeOwn(out: string, arr: string, base: string, mul: string): string {
  return `{
    let ob = ${base};
    for (var w = 0u; w < DN; w++) {
      let e = ${arr}[w]${mul ? ` * ${mul}` : ""};
      ${RC.map((r) => `if (ri.${r} < T) { ${out}[ob.${r} + w] = e.${r}; }`).join(" ")}
    }
  }`;
}

/**
 * Forward: y [B, T, C] and lse [B, H, T] from packed qkv [B, T, 3C]. With `probs`, instead reads
 * lse (bound read-only in y's place) and writes the probabilities [B, H, T, T] (zeros above the
 * diagonal): the probe path, a separate kernel so the plain forward carries none of it.
 */
export function subgroupForward(D: number, KT: SubgroupTile, probs = false): Kernel {
  const scale = scaleOf(D);
  const scores = `
    ${R(KT / 8).map((g) => `let kr${g} = (seq + min(kt + ${8 * g}u + sl, T - 1u)) * 3u * C + C + h * DN;`).join(" ")}
    ${R(KT).map((j) => `var s${j} = vec4f(0.0);`).join(" ")}
    ${dotLoop(KT, "s", "k", "qkv", "kr", "", "qa")}`;
  const body = probs ? `${prologue(true)}
  var qa: array<vec4f, ${D}>;
  ${loadOwn("qa", 0, ` * ${scale}`)}
  let ls = vec4f(${RC.map((r) => `lse[bh * T + rc.${r}]`).join(", ")});
  let kend = min(r0 + ${SUBGROUP_BLOCK}u, T); // keys past it are masked for every row of the block
  for (var kt = 0u; kt < T; kt += ${KT}u) {
    ${R(KT).map((j) => `var p${j} = vec4f(0.0);`).join(" ")}
    if (kt < kend) {
      ${scores}
      ${R(KT).map((j) => `p${j} = select(exp(s${j} - ls), vec4f(0.0), vec4u(kt + ${j}u) > ri);`).join("\n      ")}
    }
    ${RC.map((r) => `if (ri.${r} < T) {
      let pr = (bh * T + ri.${r}) * T + kt;
      ${R(KT).map((j) => `if (kt + ${j}u < T) { probs[pr + ${j}u] = p${j}.${r}; }`).join(" ")}
    }`).join("\n    ")}
  }
}` : `${prologue(true)}
  var qa: array<vec4f, ${D}>;
  var o: array<vec4f, ${D}>;
  ${loadOwn("qa", 0, ` * ${scale}`)}
  var m = vec4f(-3.0e38);
  var l = vec4f(0.0);
  let kend = min(r0 + ${SUBGROUP_BLOCK}u, T); // the last tile holds the block's last query: later ones are fully masked
  for (var kt = 0u; kt < kend; kt += ${KT}u) {
    ${scores}
    ${R(KT).map((j) => `s${j} = select(s${j}, vec4f(-3.0e38), vec4u(kt + ${j}u) > ri);`).join(" ")}
    let mt = max(m, ${R(KT - 1).reduce((a, j) => `max(${a}, s${j + 1})`, "s0")});
    let cf = exp(m - mt);
    ${R(KT).map((j) => `let p${j} = exp(s${j} - mt);`).join(" ")}
    l = l * cf + ${R(KT).map((j) => `p${j}`).join(" + ")};
    m = mt;
    for (var w = 0u; w < DN; w++) {
      ${streamElement(KT, "v", "qkv", "kr", "C + w")}
      o[w] = o[w] * cf + ${R(KT).map((j) => `v_${j} * p${j}`).join(" + ")};
    }
  }
  let inv = 1.0 / l;
  ${storeOwn("y", "o", "(seq + ri) * C + h * DN", "inv")}
  let ls = m + log(l);
  ${RC.map((r) => `if (ri.${r} < T) { lse[bh * T + ri.${r}] = ls.${r}; }`).join(" ")}
}`;
  return sgKernel(`attention_sg_${probs ? "probs" : "fwd"}_kt${KT}_d${D}`, probs
    ? [{ name: "qkv", kind: "read", type: "f32" }, { name: "lse", kind: "read", type: "f32" }, { name: "probs", kind: "rw", type: "f32" }]
    : [{ name: "qkv", kind: "read", type: "f32" }, { name: "y", kind: "rw", type: "f32" }, { name: "lse", kind: "rw", type: "f32" }], body);
}

/**
 * Backward kernel 1 (invocation = 4 queries): D_t = Σ dY∘Y and dQ_t = Σ_{s≤t} P_ts (dY_t·V_s − D_t)
 * K_s / sqrt(D) into dqkv's q slice. The first key k with P_tk > 1/2 takes dY_t·V_k − D_t =
 * dP_k·Σ_{j≠k} P_tj − Σ_{j≠k} P_tj·dP_j (direct, it cancels to rounding noise when P_k ≈ 1).
 * Writes (lse, D_t, that value, k or T) per row to `dvec` for kernel 2.
 */
export function subgroupDq(D: number, KT: SubgroupTile): Kernel {
  const scale = scaleOf(D);
  const body = `${prologue(true)}
  var qa: array<vec4f, ${D}>;
  var ga: array<vec4f, ${D}>;
  var dq: array<vec4f, ${D}>;
  ${loadOwn("qa", 0, ` * ${scale}`)}
  var dt = vec4f(0.0);
  {
    let base = (seq + rc) * C + h * DN;
    for (var w = 0u; w < DN; w++) {
      let g = vec4f(${R(4).map((r) => `dy[base.${RC[r]} + w]`).join(", ")});
      dt += g * vec4f(${R(4).map((r) => `y[base.${RC[r]} + w]`).join(", ")});
      ga[w] = g;
    }
  }
  let ls = vec4f(${RC.map((r) => `lse[bh * T + rc.${r}]`).join(", ")});
  var kd = vec4u(T); // the dominant key of each row (T: none yet)
  var pk = vec4f(0.0);
  var dpk = vec4f(0.0);
  var pa = vec4f(0.0); // Σ P and Σ P·dP over the other keys
  var pb = vec4f(0.0);
  let kend = min(r0 + ${SUBGROUP_BLOCK}u, T);
  for (var kt = 0u; kt < kend; kt += ${KT}u) {
    ${R(KT / 8).map((g) => `let kr${g} = (seq + min(kt + ${8 * g}u + sl, T - 1u)) * 3u * C + C + h * DN;`).join(" ")}
    ${R(KT).map((j) => `var s${j} = vec4f(0.0); var dp${j} = vec4f(0.0);`).join(" ")}
    ${dotLoop(KT, "s", "k", "qkv", "kr", "", "qa")}
    ${dotLoop(KT, "dp", "v", "qkv", "kr", "C + ", "ga")}
    ${R(KT).map((j) => `var ds${j} = vec4f(0.0);
    {
      let p = select(exp(s${j} - ls), vec4f(0.0), vec4u(kt + ${j}u) > ri);
      let dom = (p > vec4f(0.5)) & (kd == vec4u(T));
      kd = select(kd, vec4u(kt + ${j}u), dom);
      pk = select(pk, p, dom);
      dpk = select(dpk, dp${j}, dom);
      let po = select(p, vec4f(0.0), dom);
      pa += po;
      pb += po * dp${j};
      ds${j} = po * (dp${j} - dt);
    }`).join("\n    ")}
    for (var w = 0u; w < DN; w++) {
      ${streamElement(KT, "k", "qkv", "kr", "w")}
      dq[w] += ${R(KT).map((j) => `k_${j} * ds${j}`).join(" + ")};
    }
  }
  let ek = dpk * pa - pb;
  { // the dominant key's term, added last (rows without one add 0 · K[T − 1])
    let dsk = select(vec4f(0.0), pk * ek, kd < vec4u(T));
    let kb = (seq + min(kd, vec4u(T - 1u))) * 3u * C + C + h * DN;
    for (var w = 0u; w < DN; w++) {
      dq[w] += dsk * vec4f(${R(4).map((r) => `qkv[kb.${RC[r]} + w]`).join(", ")});
    }
  }
  ${storeOwn("dqkv", "dq", "(seq + ri) * 3u * C + h * DN", `${scale}`)}
  ${RC.map((r) => `if (ri.${r} < T) { dvec[bh * T + ri.${r}] = vec4f(ls.${r}, dt.${r}, ek.${r}, f32(kd.${r})); }`).join("\n  ")}
}`;
  return sgKernel(`attention_sg_dq_kt${KT}_d${D}`, [
    { name: "qkv", kind: "read", type: "f32" }, { name: "dy", kind: "read", type: "f32" }, { name: "y", kind: "read", type: "f32" },
    { name: "lse", kind: "read", type: "f32" }, { name: "dqkv", kind: "rw", type: "f32" }, { name: "dvec", kind: "rw", type: "vec4f" },
  ], body);
}

/**
 * Backward kernel 2 (invocation = 4 keys): dV_s = Σ_{t≥s} P_ts dY_t and dK_s = Σ_{t≥s} dS_ts Q_t / sqrt(D),
 * with dS_ts = P_ts (dY_t·V_s − D_t), or P_ts times kernel 1's rewrite where s is t's dominant key;
 * into dqkv's k and v slices. Query tiles start at the key block's first row (earlier queries see none of its keys).
 */
export function subgroupDkv(D: number, KT: SubgroupTile): Kernel {
  const scale = scaleOf(D);
  const body = `${prologue(false)}
  var ka: array<vec4f, ${D}>;
  var va: array<vec4f, ${D}>;
  var dk: array<vec4f, ${D}>;
  var dv: array<vec4f, ${D}>;
  ${loadOwn("ka", 1, ` * ${scale}`)}
  ${loadOwn("va", 2, "")}
  for (var qt = r0; qt < T; qt += ${KT}u) {
    ${R(KT / 8).map((g) => `let qrow${g} = min(qt + ${8 * g}u + sl, T - 1u); let qr${g} = (seq + qrow${g}) * 3u * C + h * DN;
    let gr${g} = (seq + qrow${g}) * C + h * DN; let st${g} = dvec[bh * T + qrow${g}];`).join("\n    ")}
    ${R(KT).map((j) => `var s${j} = vec4f(0.0); var dp${j} = vec4f(0.0);`).join(" ")}
    ${dotLoop(KT, "s", "q", "qkv", "qr", "", "ka")}
    ${dotLoop(KT, "dp", "g", "dy", "gr", "", "va")}
    ${R(KT).map((j) => `let st_${j} = subgroupBroadcast(st${j >> 3}, ${j & 7}u);
    let p${j} = select(exp(s${j} - st_${j}.x), vec4f(0.0), (ri > vec4u(qt + ${j}u)) | (vec4u(qt + ${j}u) >= vec4u(T)));
    let ds${j} = p${j} * select(dp${j} - st_${j}.y, vec4f(st_${j}.z), vec4u(u32(st_${j}.w)) == ri);`).join("\n    ")}
    for (var w = 0u; w < DN; w++) {
      ${streamElement(KT, "g", "dy", "gr", "w")}
      dv[w] += ${R(KT).map((j) => `g_${j} * p${j}`).join(" + ")};
    }
    for (var w = 0u; w < DN; w++) {
      ${streamElement(KT, "q", "qkv", "qr", "w")}
      dk[w] += ${R(KT).map((j) => `q_${j} * ds${j}`).join(" + ")};
    }
  }
  ${storeOwn("dqkv", "dk", "(seq + ri) * 3u * C + C + h * DN", `${scale}`)}
  ${storeOwn("dqkv", "dv", "(seq + ri) * 3u * C + 2u * C + h * DN", "")}
}`;
  return sgKernel(`attention_sg_dkv_kt${KT}_d${D}`, [
    { name: "qkv", kind: "read", type: "f32" }, { name: "dy", kind: "read", type: "f32" },
    { name: "dvec", kind: "read", type: "vec4f" }, { name: "dqkv", kind: "rw", type: "f32" },
  ], body);
}
