// WGSL matmul variant `rowbcast` for software adapters (lavapipe): each workgroup owns R rows of
// C and each invocation one vec4 column of them, so per step of 4 along K an invocation does
// 4·R vec4 FMAs for R + 4 vec4 loads, with no workgroup memory and no barriers. On llvmpipe
// (Mesa 25.0) every storage load whose offset is not a compile-time constant runs per lane with
// a bounds check, A's rows included even though all lanes read the same address, so FMAs per
// load is what counts (bench/RESULTS.md, "What llvmpipe does with these kernels").
// Needs N and K multiples of 4 (and M when A is transposed).
import type { MatmulShape } from "./matmul-plan";
import { kernel, type Kernel } from "./wgsl";

/** Tuning knobs of the rowbcast kernel. */
export interface RowbcastOptions {
  /** Rows of C per workgroup (accumulators per invocation): 4 or 8. */
  rows: number;
  /** Invocations per workgroup (each one vec4 column of C). */
  wg: number;
}

/** Whether rowbcast handles this shape (vec4 access along N and K, and along M when transA). */
export function rowbcastFits(p: MatmulShape, o: RowbcastOptions): boolean {
  return p.N % 4 === 0 && p.K % 4 === 0 && (!p.transA || (p.M % 4 === 0 && o.rows % 4 === 0));
}

/**
 * The sizes rowbcast and rowubo read from a uniform instead of baking them into the code, so one
 * pipeline serves every shape of a transpose combination (a training step has a dozen shapes;
 * every pipeline costs a compile on a cold Mesa shader cache): rows M of C, vec4 counts N4, K4 and
 * M4 (= M/4, for a transposed A), and the vec4 strides between batches of A, B (0 when shared) and C.
 */
export const MATMUL_DIMS_WGSL = `struct Dims { m: u32, n4: u32, k4: u32, m4: u32, aStride: u32, bStride: u32, cStride: u32, extra: u32 }`;

/** The Dims uniform of a problem ({@link MATMUL_DIMS_WGSL}); `extra` is variant-specific. */
export function matmulDims(p: MatmulShape, extra = 0): Uint32Array<ArrayBuffer> {
  const { M, N, K } = p;
  return Uint32Array.from([M, N / 4, K / 4, Math.floor(M / 4), (M * K) / 4, p.bShared ? 0 : (K * N) / 4, (M * N) / 4, extra]);
}

/**
 * WGSL statements that load `bj = op(B)[4k+j, 4n4..4n4+3]` for j = 0..3 as vec4f, given `B`,
 * `n4` (vec4 column of C), `bOff` (the WGSL expression of this batch's vec4 offset into B),
 * `n4s` / `k4s` (the WGSL expressions of B's row length in vec4: N/4, or K/4 when B is
 * transposed) and `kIdx` (the vec4 step along K, default `k`). Shared by rowbcast and rowubo.
 */
export function rowbcastLoadB(transB: boolean, bOff: string, n4s: string, k4s: string, kIdx = "k"): string {
  return transB
    ? `let u0 = B[${bOff} + (n4 * 4u + 0u) * ${k4s} + ${kIdx}]; let u1 = B[${bOff} + (n4 * 4u + 1u) * ${k4s} + ${kIdx}];
    let u2 = B[${bOff} + (n4 * 4u + 2u) * ${k4s} + ${kIdx}]; let u3 = B[${bOff} + (n4 * 4u + 3u) * ${k4s} + ${kIdx}];
    let b0 = vec4f(u0.x, u1.x, u2.x, u3.x); let b1 = vec4f(u0.y, u1.y, u2.y, u3.y);
    let b2 = vec4f(u0.z, u1.z, u2.z, u3.z); let b3 = vec4f(u0.w, u1.w, u2.w, u3.w);`
    : `let b0 = B[${bOff} + (${kIdx} * 4u + 0u) * ${n4s} + n4]; let b1 = B[${bOff} + (${kIdx} * 4u + 1u) * ${n4s} + n4];
    let b2 = B[${bOff} + (${kIdx} * 4u + 2u) * ${n4s} + n4]; let b3 = B[${bOff} + (${kIdx} * 4u + 3u) * ${n4s} + n4];`;
}

/**
 * Kernel and grid of the rowbcast variant; call only when {@link rowbcastFits}. The kernel depends
 * on the options and the transposes only; the sizes come from the Dims uniform (bound last, see
 * {@link matmulDims}), so every shape of a step shares one pipeline per transpose combination.
 */
export function rowbcastKernel(p: MatmulShape, o: RowbcastOptions): { k: Kernel; grid: number[] } {
  const R = o.rows;
  const rows = [...Array(R).keys()];
  // Rows past the last are clamped for the loads (uniform addresses, in range) and not stored.
  const loadB = rowbcastLoadB(p.transB, "bOff", "dims.n4", "dims.k4");
  let body: string;
  if (p.transA) {
    // A stored [K, M]: row k+j of A holds op(A)[m0..m0+R, k+j]; tj_g = op(A)[m0+4g..+3, 4k+j].
    const groups = [...Array(R / 4).keys()];
    const loads = groups.map((g) => [0, 1, 2, 3].map((j) =>
      `let t${j}_${g} = A[aOff + (k * 4u + ${j}u) * dims.m4 + min(m0 / 4u + ${g}u, lastM4)];`).join(" ")).join("\n    ");
    const fmas = rows.map((r) => {
      const g = Math.floor(r / 4), c = "xyzw"[r % 4];
      return `acc${r} += t0_${g}.${c} * b0 + t1_${g}.${c} * b1 + t2_${g}.${c} * b2 + t3_${g}.${c} * b3;`;
    }).join("\n    ");
    body = `${loads}\n    ${fmas}`;
  } else {
    const loads = rows.map((r) => `let a${r} = A[aOff + min(m0 + ${r}u, lastM) * dims.k4 + k];`).join("\n    ");
    const fmas = rows.map((r) =>
      `acc${r} += a${r}.x * b0 + a${r}.y * b1 + a${r}.z * b2 + a${r}.w * b3;`).join("\n    ");
    body = `${loads}\n    ${fmas}`;
  }
  const stores = rows.map((r) => `if (m0 + ${r}u < dims.m) { C[cOff + (m0 + ${r}u) * dims.n4 + n4] = acc${r}; }`).join("\n  ");
  const name = `matmul_rowbcast${R}_wg${o.wg}${p.transA ? "_tA" : ""}${p.transB ? "_tB" : ""}`;
  const k = kernel(name, [
    { name: "A", kind: "read", type: "vec4f" },
    { name: "B", kind: "read", type: "vec4f" },
    { name: "C", kind: "rw", type: "vec4f" },
    { name: "dims", kind: "uniform", type: "Dims" },
  ], `
@compute @workgroup_size(${o.wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n4 = gid.x;
  if (n4 >= dims.n4) { return; }
  let m0 = wid.y * ${R}u;
  let lastM = dims.m - 1u;
  let lastM4 = dims.m4 - 1u;
  let aOff = wid.z * dims.aStride;
  let bOff = wid.z * dims.bStride;
  let cOff = wid.z * dims.cStride;
  ${rows.map((r) => `var acc${r} = vec4f(0.0);`).join(" ")}
  for (var k = 0u; k < dims.k4; k++) {
    ${loadB}
    ${body}
  }
  ${stores}
}`, MATMUL_DIMS_WGSL);
  return { k, grid: [Math.ceil(p.N / 4 / o.wg), Math.ceil(p.M / R), p.batch] };
}
