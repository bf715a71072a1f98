// WGSL matmul variant `rb4x4`: register-blocked, 4×4 outputs per invocation in 8×8 workgroups
// (a 32×32 tile of C per workgroup), no workgroup memory and no barriers; a vec4 form when M, N
// and K are multiples of 4 and a bounds-checked scalar form otherwise. The fallback of every
// adapter class (see selectMatmulVariant in matmul.ts).
import type { MatmulShape } from "./matmul-plan";
import { kernel, type Kernel } from "./wgsl";

const WGX = 8, WGY = 8; // rb4x4: 8×8 invocations × 4×4 outputs = a 32×32 tile per workgroup

/** The rb4x4 kernel for `p` and its grid (one dispatch binding A, B and C whole). */
export function rb4x4Kernel(p: MatmulShape): { k: Kernel; grid: number[] } {
  const aligned = p.M % 4 === 0 && p.N % 4 === 0 && p.K % 4 === 0;
  const grid = [Math.ceil(p.N / (4 * WGX)), Math.ceil(p.M / (4 * WGY)), p.batch];
  return { k: aligned ? alignedKernel(p) : genericKernel(p), grid };
}

function header(p: MatmulShape, vec: boolean): { bindings: Parameters<typeof kernel>[1]; pre: string } {
  const T = vec ? "vec4f" : "f32";
  const div = vec ? 4 : 1;
  return {
    bindings: [
      { name: "A", kind: "read", type: T },
      { name: "B", kind: "read", type: T },
      { name: "C", kind: "rw", type: T },
    ],
    pre: `
@compute @workgroup_size(${WGX}, ${WGY})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  let bz = gid.z;
  if (m0 >= ${p.M}u || n0 >= ${p.N}u) { return; }
  let aOff = bz * ${(p.M * p.K) / div}u;
  let bOff = ${p.bShared ? "0u" : `bz * ${(p.K * p.N) / div}u`};
  let cOff = bz * ${(p.M * p.N) / div}u;`,
  };
}

/** `let v = array<vec4f, 4>(...)` of the four loads `load(0..3)`, or of their transpose. */
function vec4x4(v: string, transpose: boolean, load: (i: number) => string): string {
  const i4 = [0, 1, 2, 3];
  if (!transpose) return `let ${v} = array<vec4f, 4>(${i4.map(load).join(", ")});`;
  const rows = i4.map((i) => `let ${v}${i} = ${load(i)};`).join(" ");
  const cols = ["x", "y", "z", "w"].map((c) => `vec4f(${i4.map((i) => `${v}${i}.${c}`).join(", ")})`);
  return `${rows}\n    let ${v} = array<vec4f, 4>(${cols.join(", ")});`;
}

function alignedKernel(p: MatmulShape): Kernel {
  const { M, N, K } = p;
  // a[r] holds op(A)[m0+r, k..k+3]; b[kk] holds op(B)[k+kk, n0..n0+3]. A stored transposed is
  // read as 4 vec4 along M (one per k) and transposed in registers; B stored transposed likewise.
  const loadA = vec4x4("a", p.transA, (i) => p.transA
    ? `A[aOff + ((k + ${i}u) * ${M}u + m0) / 4u]`
    : `A[aOff + ((m0 + ${i}u) * ${K}u + k) / 4u]`);
  const loadB = vec4x4("b", p.transB, (i) => p.transB
    ? `B[bOff + ((n0 + ${i}u) * ${K}u + k) / 4u]`
    : `B[bOff + ((k + ${i}u) * ${N}u + n0) / 4u]`);
  const { bindings, pre } = header(p, true);
  return kernel(`matmul_rb4x4_v4${p.transA ? "_tA" : ""}${p.transB ? "_tB" : ""}`, bindings, `${pre}
  var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var k = 0u; k < ${K}u; k += 4u) {
    ${loadA}
    ${loadB}
    for (var r = 0u; r < 4u; r++) {
      acc[r] += a[r].x * b[0] + a[r].y * b[1] + a[r].z * b[2] + a[r].w * b[3];
    }
  }
  for (var r = 0u; r < 4u; r++) { C[cOff + ((m0 + r) * ${N}u + n0) / 4u] = acc[r]; }
}`);
}

function genericKernel(p: MatmulShape): Kernel {
  const { M, N, K } = p;
  const aIdx = (m: string, k: string) => (p.transA ? `${k} * ${M}u + ${m}` : `${m} * ${K}u + ${k}`);
  const bIdx = (k: string, n: string) => (p.transB ? `${n} * ${K}u + ${k}` : `${k} * ${N}u + ${n}`);
  const { bindings, pre } = header(p, false);
  return kernel(`matmul_rb4x4${p.transA ? "_tA" : ""}${p.transB ? "_tB" : ""}`, bindings, `
fn ldA(off: u32, m: u32, k: u32) -> f32 { if (m < ${M}u) { return A[off + ${aIdx("m", "k")}]; } return 0.0; }
fn ldB(off: u32, k: u32, n: u32) -> f32 { if (n < ${N}u) { return B[off + ${bIdx("k", "n")}]; } return 0.0; }
${pre}
  var acc = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var k = 0u; k < ${K}u; k++) {
    let b = vec4f(ldB(bOff, k, n0), ldB(bOff, k, n0 + 1u), ldB(bOff, k, n0 + 2u), ldB(bOff, k, n0 + 3u));
    for (var r = 0u; r < 4u; r++) { acc[r] += ldA(aOff, m0 + r, k) * b; }
  }
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m < ${M}u) {
      for (var c = 0u; c < 4u; c++) { if (n0 + c < ${N}u) { C[cOff + m * ${N}u + n0 + c] = acc[r][c]; } }
    }
  }
}`);
}
