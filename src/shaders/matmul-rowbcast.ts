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
 * WGSL statements that load `bj = op(B)[4k+j, 4n4..4n4+3]` for j = 0..3 as vec4f, given `B`,
 * `k` (vec4 step along K), `n4` (vec4 column of C) and `bOff`, the WGSL expression of this
 * batch's vec4 offset into B. Shared by rowbcast and rowubo.
 */
export function rowbcastLoadB(p: MatmulShape, bOff: string): string {
  const N4 = p.N / 4, K4 = p.K / 4;
  return p.transB
    ? `let u0 = B[${bOff} + (n4 * 4u + 0u) * ${K4}u + k]; let u1 = B[${bOff} + (n4 * 4u + 1u) * ${K4}u + k];
    let u2 = B[${bOff} + (n4 * 4u + 2u) * ${K4}u + k]; let u3 = B[${bOff} + (n4 * 4u + 3u) * ${K4}u + k];
    let b0 = vec4f(u0.x, u1.x, u2.x, u3.x); let b1 = vec4f(u0.y, u1.y, u2.y, u3.y);
    let b2 = vec4f(u0.z, u1.z, u2.z, u3.z); let b3 = vec4f(u0.w, u1.w, u2.w, u3.w);`
    : `let b0 = B[${bOff} + (k * 4u + 0u) * ${N4}u + n4]; let b1 = B[${bOff} + (k * 4u + 1u) * ${N4}u + n4];
    let b2 = B[${bOff} + (k * 4u + 2u) * ${N4}u + n4]; let b3 = B[${bOff} + (k * 4u + 3u) * ${N4}u + n4];`;
}

/** Kernel and grid of the rowbcast variant; call only when {@link rowbcastFits}. */
export function rowbcastKernel(p: MatmulShape, o: RowbcastOptions): { k: Kernel; grid: number[] } {
  const { M, N, K } = p;
  const R = o.rows, N4 = N / 4, K4 = K / 4, M4 = M / 4;
  const rows = [...Array(R).keys()];
  // Row index of C row m0+r, clamped so the (uniform) loads of a partial last block stay in range.
  const row = (r: number) => (M % R === 0 ? `m0 + ${r}u` : `min(m0 + ${r}u, ${M - 1}u)`);
  const loadB = rowbcastLoadB(p, "bOff");
  let body: string;
  if (p.transA) {
    // A stored [K, M]: row k+j of A holds op(A)[m0..m0+R, k+j]; tj_g = op(A)[m0+4g..+3, 4k+j].
    const groups = [...Array(R / 4).keys()];
    const mg = (g: number) => (M % R === 0 ? `m0 / 4u + ${g}u` : `min(m0 / 4u + ${g}u, ${M4 - 1}u)`);
    const loads = groups.map((g) => [0, 1, 2, 3].map((j) =>
      `let t${j}_${g} = A[aOff + (k * 4u + ${j}u) * ${M4}u + ${mg(g)}];`).join(" ")).join("\n    ");
    const fmas = rows.map((r) => {
      const g = Math.floor(r / 4), c = "xyzw"[r % 4];
      return `acc${r} += t0_${g}.${c} * b0 + t1_${g}.${c} * b1 + t2_${g}.${c} * b2 + t3_${g}.${c} * b3;`;
    }).join("\n    ");
    body = `${loads}\n    ${fmas}`;
  } else {
    const loads = rows.map((r) => `let a${r} = A[aOff + (${row(r)}) * ${K4}u + k];`).join("\n    ");
    const fmas = rows.map((r) =>
      `acc${r} += a${r}.x * b0 + a${r}.y * b1 + a${r}.z * b2 + a${r}.w * b3;`).join("\n    ");
    body = `${loads}\n    ${fmas}`;
  }
  const stores = rows.map((r) => {
    const st = `C[cOff + (m0 + ${r}u) * ${N4}u + n4] = acc${r};`;
    return M % R === 0 ? st : `if (m0 + ${r}u < ${M}u) { ${st} }`;
  }).join("\n  ");
  const name = `matmul_rowbcast${R}_wg${o.wg}${p.transA ? "_tA" : ""}${p.transB ? "_tB" : ""}`;
  const k = kernel(name, [
    { name: "A", kind: "read", type: "vec4f" },
    { name: "B", kind: "read", type: "vec4f" },
    { name: "C", kind: "rw", type: "vec4f" },
  ], `
@compute @workgroup_size(${o.wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n4 = gid.x;
  if (n4 >= ${N4}u) { return; }
  let m0 = wid.y * ${R}u;
  let aOff = wid.z * ${(M * K) / 4}u;
  let bOff = ${p.bShared ? "0u" : `wid.z * ${(K * N) / 4}u`};
  let cOff = wid.z * ${(M * N) / 4}u;
  ${rows.map((r) => `var acc${r} = vec4f(0.0);`).join(" ")}
  for (var k = 0u; k < ${K4}u; k++) {
    ${loadB}
    ${body}
  }
  ${stores}
}`);
  return { k, grid: [Math.ceil(N4 / o.wg), Math.ceil(M / R), p.batch] };
}
