// WGSL matmul variant `tiled` for hardware GPUs: a 64×64 block of C per 16×16 workgroup, K in
// steps of 16 staged through workgroup memory, 4×4 outputs per invocation. Handles any M, N, K
// (zero-filled partial tiles). Slow on software adapters (barriers), never chosen there.
import type { MatmulShape } from "./matmul-plan";
import { kernel, type Kernel } from "./wgsl";

const TILE = 64, TK = 16, WG = 16; // WG×WG invocations × 4×4 outputs = TILE×TILE

/** Kernel and grid of the shared-memory tiled variant. */
export function tiledKernel(p: MatmulShape): { k: Kernel; grid: number[] } {
  const { M, N, K } = p;
  const aIdx = p.transA ? `k * ${M}u + m` : `m * ${K}u + k`;
  const bIdx = p.transB ? `n * ${K}u + k` : `k * ${N}u + n`;
  const name = `matmul_tiled64${p.transA ? "_tA" : ""}${p.transB ? "_tB" : ""}`;
  const k = kernel(name, [
    { name: "A", kind: "read", type: "f32" },
    { name: "B", kind: "read", type: "f32" },
    { name: "C", kind: "rw", type: "f32" },
  ], `
var<workgroup> As: array<vec4f, ${(TK * TILE) / 4}>; // [TK][TILE/4]: As[k][m4] = op(A)[m0+4·m4.., k0+k]
var<workgroup> Bs: array<vec4f, ${(TK * TILE) / 4}>; // [TK][TILE/4]: Bs[k][n4] = op(B)[k0+k, n0+4·n4..]

fn ldA(off: u32, m: u32, k: u32) -> f32 {
  if (m < ${M}u && k < ${K}u) { return A[off + ${aIdx}]; }
  return 0.0;
}
fn ldB(off: u32, k: u32, n: u32) -> f32 {
  if (n < ${N}u && k < ${K}u) { return B[off + ${bIdx}]; }
  return 0.0;
}

@compute @workgroup_size(${WG}, ${WG})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let t = lid.y * ${WG}u + lid.x; // 0..255
  let mBase = wid.y * ${TILE}u;
  let nBase = wid.x * ${TILE}u;
  let aOff = wid.z * ${M * K}u;
  let bOff = ${p.bShared ? "0u" : `wid.z * ${K * N}u`};
  let cOff = wid.z * ${M * N}u;
  // Tile loads: invocation t fills one vec4 of each tile: row lk = t / 16, vec4 column lc = t % 16.
  let lk = t / ${TILE / 4}u;
  let lc = t % ${TILE / 4}u;
  var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var k0 = 0u; k0 < ${K}u; k0 += ${TK}u) {
    let m = mBase + lc * 4u;
    let n = nBase + lc * 4u;
    let kk = k0 + lk;
    As[t] = vec4f(ldA(aOff, m, kk), ldA(aOff, m + 1u, kk), ldA(aOff, m + 2u, kk), ldA(aOff, m + 3u, kk));
    Bs[t] = vec4f(ldB(bOff, kk, n), ldB(bOff, kk, n + 1u), ldB(bOff, kk, n + 2u), ldB(bOff, kk, n + 3u));
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      let a = As[k * ${TILE / 4}u + lid.y];
      let b = Bs[k * ${TILE / 4}u + lid.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  let n0 = nBase + lid.x * 4u;
  for (var r = 0u; r < 4u; r++) {
    let m = mBase + lid.y * 4u + r;
    if (m < ${M}u) {
      for (var c = 0u; c < 4u; c++) {
        if (n0 + c < ${N}u) { C[cOff + m * ${N}u + n0 + c] = acc[r][c]; }
      }
    }
  }
}`);
  return { k, grid: [Math.ceil(N / TILE), Math.ceil(M / TILE), p.batch] };
}
