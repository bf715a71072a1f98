// WGSL matmul variant `rowubo` for software adapters (lavapipe): rowbcast's layout (R rows of C
// per workgroup, one vec4 column per invocation, no workgroup memory) with A's rows read from
// uniform buffers. llvmpipe (Mesa 25.0) loads a uniform-buffer element with a plain per-lane
// gather, while a storage load adds a bounds check and a branch per lane and component, so the
// K loop runs 3.2× fewer x86 instructions per FMA than rowbcast's (16 rows: 3,550 for 256
// multiplies against 5,761 for 128; bench/RESULTS.md, "rowubo").
// A is first copied block-interleaved, Ap[block][k][r] = A[block·R + r][k] (vec4 along k), so a
// K step's R loads are one contiguous 16R-float run: read in place, R rows K·4 bytes apart fall
// into the same few L1 sets once K·4 is a multiple of 4 KiB, and at K = 1024 the copy made the
// product 1.35–1.6× faster, its own cost (~2 ms per 4 MiB of A) included ("rowubo" again).
// The copy lives in scratch storage the caller provides (the runtime's pool: M·K·4 bytes).
// Where K is one chunk and A's buffer holds at least one window, A itself can be the windows
// instead (`inPlaceA`): the K step's R loads are then K·4 bytes apart, a stride that the strides
// in the uniform (ks, rs) make the same pipeline read; a window that would end past A's buffer
// is bound earlier and its rows start a shift (s<u> in the uniform) into it.
// With subgroups that skipped copy paid for itself at config a's shapes (K = 128 … 512).
// A uniform binding holds at most 64 KiB, so Ap is bound as up to U windows of P rows each and
// the product runs as ceil(M / (U·P)) dispatches; a switch on the workgroup's row block picks
// its window, since WGSL cannot index bindings. Each dispatch writes its rows of C through a
// window of C at the same row offset. When R rows of K do not fit a window, K runs in chunks of
// Kc (at most 16): the copy lays A out chunk by chunk, each chunk reads B from its K offset (a
// transposed B too), and chunks after the first add into C. A transposed B (backward's dX = dY·Wᵀ,
// the tied head's X·Wteᵀ: always a weight, N·K ≪ M·N·K) is first copied to [K, N] by a second
// small kernel, so that one product pipeline serves every transpose combination: the transposed
// product was a second ~2 s compile on a cold cache, and its copy costs less than its strided reads.
// The copy also transposes a transposed A, so backward's dW = Aᵀ·dY (K = B·T) runs here too. A
// batched B must be shared (the batches then stack into one tall A; a transposed A cannot have
// batches). P must divide M, so an M with no divisor near 64 KiB / (4·Kc) runs in more, smaller
// dispatches.
// With subgroups (`broadcast`), a K step's R row loads, the same for every lane, become R/8: lane
// l loads rows l, l + 8, ... and subgroupBroadcast hands them on (an extract and a splat in
// llvmpipe, against a gather of 8 lanes per uniform load): 1.4–1.6× faster products (matmul.ts,
// ROWUBO_SUBGROUP). Every lane then stays to the end: lanes past N read the last column and do not store.
// A bias [N] (a Linear layer's) can be added in the store after the last K chunk's sum (`bias`
// in the uniform; without one, B is bound in its place and not read): the same single rounding
// as adding it after the product, one dispatch and one pass over C fewer.
// An N that is not a multiple of 4 (a 65-token vocabulary's head and logit lens) runs here too:
// B is first copied to [K, ceil(N/4)] vec4s with zero columns past N, C is written as scalars
// (the last vec4 column stores only its columns below N), and each K step adds its four products
// one by one, the order of the bounds-checked rb4x4 kernel those shapes ran before, so their
// results did not change by a bit (tested); that kernel read every element with a bounds check.
import type { MatmulKernelPlan, MatmulLaunch, MatmulShape } from "./matmul-plan";
import { rowbcastLoadB, type RowbcastOptions } from "./matmul-rowbcast";
import { kernel, type Dispatch } from "./wgsl";

/** Tuning knobs of the rowubo kernel (rows: 8 or 16). */
export interface RowuboOptions extends RowbcastOptions {
  /** Uniform windows of A per dispatch (at most maxUniformBuffersPerShaderStage, 12 by default). */
  windows: number;
  /** Largest window in bytes (maxUniformBufferBindingSize: 64 KiB by default in WebGPU). */
  windowBytes: number;
  /**
   * Share A's loads across the subgroup: lane l (mod 8) loads row l of every 8 of a K step and
   * `subgroupBroadcast` hands each row to every lane (needs the `subgroups` feature, subgroups of
   * at least 8 lanes, and rows a multiple of 8).
   */
  broadcast: boolean;
  /**
   * Bind A itself as the windows, with no block-interleaving copy, where that is possible: A not
   * transposed, K in one chunk, and A's buffer at least one window long.
   */
  inPlaceA?: boolean;
}

/**
 * How A is cut: M rows (batches folded in), K in chunks of Kc columns (one product pass each,
 * accumulated into C), P rows of a chunk per window, U windows per dispatch.
 */
interface Layout {
  M: number;
  Kc: number;
  P: number;
  U: number;
}

/**
 * The window layout for a shape, or null when rowubo cannot run it: rows or workgroup not a
 * multiple of 8 with broadcast, batched B, K not a multiple of 4, rows not a multiple of R, a
 * transposed A with batches, K needing more than 16 chunks, or no window size that keeps every
 * binding offset a multiple of 256 bytes (minUniform/StorageBufferOffsetAlignment).
 */
function layout(p: MatmulShape, o: RowuboOptions): Layout | null {
  if ((p.batch > 1 && !p.bShared) || (p.transA && p.batch > 1) || (o.broadcast && (o.rows % 8 || o.wg % 8))) return null;
  const M = p.M * p.batch; // a shared B lets the batches stack into one tall A
  const { N, K } = p;
  if (K % 4 || M % o.rows) return null;
  // The copies' grids: M / R row blocks, and K rows of a copied B, at most 65,535 workgroups.
  if (M / o.rows > 65535 || ((p.transB || N % 4) && K > 65535)) return null;
  // The deepest chunk that divides K and still fits R rows in a window.
  let Kc = 0;
  for (let c = 4; c <= K && o.rows * c * 4 <= o.windowBytes; c += 4) if (K % c === 0) Kc = c;
  // At most 16 chunks: a K with no divisor near the window's depth (1028 = 4·257) goes elsewhere.
  // (B is bound whole; a chunk reads it from its K offset, transposed or not.)
  if (!Kc || K / Kc > 16) return null;
  let P = 0;
  for (let q = o.rows; q <= M && q * Kc * 4 <= o.windowBytes; q += o.rows) {
    if (M % q === 0 && (q * Kc) % 64 === 0) P = q;
  }
  if (!P) return null;
  const U = Math.min(o.windows, M / P);
  // Later dispatches bind C at row U·P: a 256-byte offset (a single dispatch binds it at 0).
  return U * P === M || (U * P * N) % 64 === 0 ? { M, Kc, P, U } : null;
}

/** Whether rowubo handles this shape with these options. */
export function rowuboFits(p: MatmulShape, o: RowuboOptions): boolean {
  return layout(p, o) !== null;
}

/**
 * Kernels (the block-interleaving copy of A, then the product: writing C, or adding to it for
 * later K chunks) and dispatches of the rowubo variant, or null when it cannot run the shape
 * ({@link rowuboFits}). The kernels depend on the options and the transposes only: sizes come
 * from uniforms (bound last), every window is declared and bound as a full `windowBytes`, and
 * the scratch copy of A is padded so that every window lies inside it; so one pipeline per
 * transpose combination serves every shape (a cold Mesa shader cache compiles rowubo in 1.0–1.4 s).
 */
export function rowuboKernel(p: MatmulShape, o: RowuboOptions): MatmulKernelPlan | null {
  const fit = layout(p, o);
  if (!fit) return null;
  const { M, Kc, P, U } = fit;
  const { N, K } = p;
  const ragged = N % 4 !== 0; // B is copied with zero columns up to N4·4; C is stored as scalars
  const copyB = p.transB || ragged;
  const R = o.rows, N4 = Math.ceil(N / 4), K4 = K / 4, Kc4 = Kc / 4, chunks = K / Kc, perWindow = P / R;
  const W4 = o.windowBytes / 16; // vec4 per window
  const rows = [...Array(R).keys()];
  const windows = [...Array(o.windows).keys()];
  // Ap[((chunk·M/R + block)·Kc4 + k)·R + r] holds op(A)[block·R + r, 4(chunk·Kc4 + k) .. +3].
  // Invocation (x, y, z) = (k·R + r, block, chunk): the indices come without a division by a
  // runtime value (llvmpipe has no vector integer divide: one per lane), and a workgroup's lanes
  // write one contiguous run of Ap.
  const pack = kernel(`matmul_rowubo_pack${R}${p.transA ? "_tA" : ""}`, [
    { name: "A", kind: "read", type: p.transA ? "f32" : "vec4f" },
    { name: "Ap", kind: "rw", type: "vec4f" },
    { name: "dims", kind: "uniform", type: "PackDims" },
  ], `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  if (gid.x >= dims.kc4 * ${R}u) { return; }
  let r = gid.x % ${R}u;
  let k = gid.z * dims.kc4 + gid.x / ${R}u; // vec4 column of op(A)
  let m = gid.y * ${R}u + r;
  let i = (gid.z * nwg.y + gid.y) * dims.kc4 * ${R}u + gid.x;
  ${p.transA
    ? "Ap[i] = vec4f(A[(4u * k) * dims.m + m], A[(4u * k + 1u) * dims.m + m], A[(4u * k + 2u) * dims.m + m], A[(4u * k + 3u) * dims.m + m]);"
    : "Ap[i] = A[m * dims.k4 + k];"}
}`, "struct PackDims { m: u32, k4: u32, kc4: u32, pad: u32 }");
  // Bt[k·N4 + n4] = vec4 of op(B)[k, 4·n4 .. 4·n4 + 3] for a transposed B stored [N, K], or a B
  // whose N is not a multiple of 4 (columns past N are zero); invocation (n4, k).
  const bAt = (n: string) => p.transB ? `${n} * dims.k + k` : `k * dims.n + ${n}`;
  const packB = kernel(`matmul_rowubo_packB${ragged ? `_rN${p.transB ? "_tB" : ""}` : ""}`, [
    { name: "B", kind: "read", type: "f32" },
    { name: "Bt", kind: "rw", type: "vec4f" },
    { name: "dims", kind: "uniform", type: "PackBDims" },
  ], `${ragged ? `
fn ld(n: u32, k: u32) -> f32 {
  if (n < dims.n) { return B[${bAt("n")}]; }
  return 0.0;
}` : ""}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= dims.n4) { return; }
  let n = 4u * gid.x;
  let k = gid.y;
  Bt[k * dims.n4 + gid.x] = ${ragged
    ? "vec4f(ld(n, k), ld(n + 1u, k), ld(n + 2u, k), ld(n + 3u, k));"
    : `vec4f(B[${bAt("n")}], B[${bAt("(n + 1u)")}], B[${bAt("(n + 2u)")}], B[${bAt("(n + 3u)")}]);`}
}`, "struct PackBDims { n4: u32, k: u32, n: u32, pad: u32 }");
  const loadA = (u: number) => o.broadcast
    ? `${[...Array(R / 8).keys()].map((g) => `let w${g} = A${u}[lo + dims.s${u} + k * dims.ks + ${g * 8}u * dims.rs];`).join(" ")}
        ${rows.map((r) => `let a${r} = subgroupBroadcast(w${r >> 3}, ${r & 7}u);`).join(" ")}`
    : rows.map((r) => `let a${r} = A${u}[base + dims.s${u} + k * dims.ks + ${r}u * dims.rs];`).join(" ");
  const loop = (u: number) => `
      for (var k = 0u; k < dims.kc4; k++) {
        ${rowbcastLoadB(false, "0u", "dims.n4", "dims.k4", "(dims.kOff + k)")}
        ${loadA(u)}
        ${rows.map((r) => ragged
          ? `acc${r} += a${r}.x * b0; acc${r} += a${r}.y * b1; acc${r} += a${r}.z * b2; acc${r} += a${r}.w * b3;`
          : `acc${r} += a${r}.x * b0 + a${r}.y * b1 + a${r}.z * b2 + a${r}.w * b3;`).join("\n        ")}
      }`;
  // The stores run as a loop over the block's rows whose bound comes from the uniform (dims.rows =
  // R): llvmpipe writes every storage access out per lane with a bounds check, and the 16 rows'
  // loads and stores written out took 3/4 of the kernel's cold compile (bench/RESULTS.md,
  // "rowubo: cold compile"). A constant bound would be unrolled by the compiler.
  // C[row, 4·n4 ..] of a ragged N: column 4·n4 is always below N (n4 < ceil(N / 4)), the next three may not be.
  const store = `var out = array<vec4f, ${R}>(${rows.map((r) => `acc${r}`).join(", ")});
  ${ragged ? "" : "let bv = Bias[n4]; // bound to B (unread) without a bias"}
  for (var r = 0u; r < dims.rows; r++) {
    ${ragged
      ? `let i = (wid.x * ${R}u + r) * dims.n + 4u * n4;
    if (dims.accumulate != 0u) { putAdd(i, 4u * n4, out[r]); } else { put(i, 4u * n4, out[r]); }`
      : `let i = (wid.x * ${R}u + r) * dims.n4 + n4;
    var v = out[r];
    if (dims.accumulate != 0u) { v += C[i]; }
    if (dims.bias != 0u) { v += bv; }
    C[i] = v;`}
  }`;
  const put = (name: string, op: string) => `
fn ${name}(i: u32, n: u32, v: vec4f) {
  C[i] ${op} v.x;
  if (n + 1u < dims.n) { C[i + 1u] ${op} v.y; }
  if (n + 2u < dims.n) { C[i + 2u] ${op} v.z; }
  if (n + 3u < dims.n) { C[i + 3u] ${op} v.w; }
}`;
  let product = kernel(`matmul_rowubo${R}_wg${o.wg}_u${o.windows}${o.broadcast ? "_sg" : ""}${ragged ? "_rN" : ""}`, [
    ...windows.map((u) => ({ name: `A${u}`, kind: "uniform" as const, type: `array<vec4f, ${W4}>` })),
    { name: "B", kind: "read", type: "vec4f" },
    { name: "C", kind: "rw", type: ragged ? "f32" : "vec4f" },
    ...(ragged ? [] : [{ name: "Bias", kind: "read" as const, type: "vec4f" }]),
    { name: "dims", kind: "uniform", type: "UboDims" },
  ], `${ragged ? `${put("put", "=")}${put("putAdd", "+=")}
` : ""}
// Workgroup (x, y): R-row block x of this dispatch's rows, vec4 columns y·wg .. y·wg + wg - 1.
// Row blocks vary fastest, so neighbouring workgroups share their columns of B in cache.
@compute @workgroup_size(${o.wg})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u${o.broadcast ? ", @builtin(subgroup_invocation_id) sgi: u32" : ""}) {
  ${o.broadcast
    ? `let nOut = wid.y * ${o.wg}u + lid.x; // every lane stays for the broadcasts; lanes past N load a valid column and do not store
  let n4 = min(nOut, dims.n4 - 1u);
  let sl = sgi & 7u; // which row of each 8 this lane loads (lanes 8.. of wider subgroups repeat 0..7)`
    : `let n4 = wid.y * ${o.wg}u + lid.x;
  if (n4 >= dims.n4) { return; }`}
  let base = (wid.x % dims.perWindow) * ${R}u * dims.kc4; // the block's first vec4 in its window
  ${o.broadcast ? "let lo = base + sl * dims.rs;" : ""}
  ${rows.map((r) => `var acc${r} = vec4f(0.0);`).join(" ")}
  switch (wid.x / dims.perWindow) {
    ${windows.map((u) => `case ${u}u: {${loop(u)}\n    }`).join("\n    ")}
    default: {}
  }
  ${o.broadcast ? "if (nOut >= dims.n4) { return; }" : ""}
  ${store}
}`, `struct UboDims { n4: u32, kc4: u32, perWindow: u32, accumulate: u32, k4: u32, kOff: u32, n: u32, rows: u32, ks: u32, rs: u32, bias: u32, ${windows.map((u) => `s${u}: u32`).join(", ")} }`);
  if (o.broadcast) product = { ...product, code: `enable subgroups;\n${product.code}` }; // before every declaration
  const launches: MatmulLaunch = (a, b, c, env, bias) => {
    if (bias && ragged) throw new Error(`rowubo: a bias needs N in vec4s (N = ${N}); add it after the product`);
    // In place, A's rows are the windows (row stride K4 vec4s); packed, its block-interleaved copy
    // (the R rows of a K step adjacent). A window that would run past A's buffer starts earlier, at
    // `lastStart`, and its rows begin `dims.s<u>` vec4s into it.
    const inPlace = !!o.inPlaceA && !p.transA && chunks === 1 && a.size >= o.windowBytes;
    const lastStart = Math.floor((a.size - o.windowBytes) / 256) * 256; // binding offsets are 256-aligned
    const out: Dispatch[] = [];
    let ap = a;
    if (!inPlace) {
      ap = env.scratch(M * K * 4 + o.windowBytes); // [K / Kc, M / R, Kc4, R] vec4, padded for the last window
      out.push({
        kernel: pack, buffers: [a, ap, env.uniform(Uint32Array.from([M, K4, Kc4, 0]))], grid: [Math.ceil(Kc4 * R / 64), M / R, chunks],
      });
    }
    const [ks, rs] = inPlace ? [1, K4] : [R, 1]; // vec4 strides of a K step and of a row in a window
    let bn = b; // B as [K, N4] vec4s
    if (copyB) {
      bn = env.scratch(K * N4 * 16);
      out.push({ kernel: packB, buffers: [b, bn, env.uniform(Uint32Array.from([N4, K, N, 0]))], grid: [Math.ceil(N4 / 64), K, 1] });
    }
    for (let ch = 0; ch < chunks; ch++) {
      const chunk = ch * M * Kc * 4; // byte offset of this chunk in Ap
      const last = ch === chunks - 1; // the bias goes in once, after the last chunk's sum
      const words = [N4, Kc4, perWindow, ch > 0 ? 1 : 0, K4, ch * Kc4, N, R, ks, rs, bias && last ? 1 : 0];
      const dims = env.uniform(Uint32Array.from([...words, ...windows.map(() => 0)]));
      for (let r0 = 0; r0 < M; r0 += U * P) {
        const n = Math.min(U * P, M - r0);
        // Windows past the last row (or past U) are never read; they are bound at the chunk's start.
        const shifts = windows.map(() => 0);
        const win = windows.map((u) => {
          let offset = chunk + (u < U && r0 + u * P < M ? (r0 + u * P) * Kc * 4 : 0);
          if (inPlace && offset > lastStart) [shifts[u], offset] = [(offset - lastStart) / 16, lastStart];
          return { buffer: ap, offset, size: o.windowBytes };
        });
        const d = shifts.some((v) => v > 0) ? env.uniform(Uint32Array.from([...words, ...shifts])) : dims;
        out.push({
          kernel: product,
          buffers: [...win, bn, { buffer: c, offset: r0 * N * 4, size: n * N * 4 }, ...(ragged ? [] : [bias ?? bn]), d],
          grid: [n / R, Math.ceil(N4 / o.wg), 1],
        });
      }
    }
    return out;
  };
  return { kernels: copyB ? [pack, packB, product] : [pack, product], launches, fusesBias: !ragged };
}
