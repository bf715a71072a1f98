// WGSL for device-side checks that report through the runtime's fault record instead of a
// readback of their own: the first id outside its range (token ids, class targets) and the first
// non-finite value of a tensor. One workgroup; lane i scans a contiguous block in order and a
// fixed tree keeps the smallest position, so the report names the same element cpu64 would.
// Lane 0 walks that tree alone after a single barrier: llvmpipe compiles every barrier as a
// coroutine split, and a barrier per tree level took 350–360 ms to compile cold against ~125 ms
// (measured on this kernel's twin in cross-entropy.ts, 2026-12-07); the 63 steps on one lane
// cost microseconds, once per check.
// The first check that fails (in encode order) writes [site, value bits, position, 0]; later
// checks see the record taken and leave it alone. Sizes come from a uniform, so each kind is
// one pipeline (anomaly detection checks hundreds of tensors of different shapes).
import { kernel, type Kernel } from "./wgsl";

const WG = 64;

/** Which elements a check flags: i32 ids outside [0, V) (other than `ignore`), or non-finite f32 values. */
export type CheckKind = "ids" | "nonfinite";

/** What one check run looks at. */
export interface CheckParams {
  /** Elements to scan. */
  n: number;
  /** Fault site (≥ 1) written into the record on failure. */
  site: number;
  /** ids: the exclusive upper bound. */
  V?: number;
  /** ids: a value allowed outside [0, V) (ignoreIndex), or null. */
  ignore?: number | null;
}

/** The uniform words of a check run: n, site, V, ignore, has-ignore (padded to 8 words). */
export function checkUniform(p: CheckParams): Uint32Array<ArrayBuffer> {
  const u = new Uint32Array(8);
  u.set([p.n, p.site, p.V ?? 0]);
  u[3] = (p.ignore ?? 0) >>> 0;
  u[4] = p.ignore === null || p.ignore === undefined ? 0 : 1;
  return u;
}

/** The check kernel of `kind`. Bind (data, fault record, uniform from {@link checkUniform}); grid [1]. */
export function checkKernel(kind: CheckKind): Kernel {
  const ids = kind === "ids";
  // f32 data is read as its bits (WGSL may assume floats are finite): NaN/Inf = all exponent bits set.
  const T = ids ? "i32" : "u32";
  const bad = ids
    ? "(v < 0i || v >= i32(prm.a.z)) && !(prm.b.x == 1u && v == bitcast<i32>(prm.a.w))"
    : "(v & 0x7f800000u) == 0x7f800000u";
  return kernel(`check_${kind}`, [
    { name: "data", kind: "read", type: T },
    { name: "fault", kind: "rw", type: "u32" },
    { name: "prm", kind: "uniform", type: "Params" },
  ], `struct Params { a: vec4u, b: vec4u }
var<workgroup> wp: array<u32, ${WG}>;
var<workgroup> wv: array<${T}, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) li: u32) {
  let n = prm.a.x;
  let L = (n + ${WG - 1}u) / ${WG}u;
  var p = n;
  var first = ${T}(0);
  let r1 = min(n, (li + 1u) * L);
  for (var r = li * L; r < r1; r++) {
    let v = data[r];
    if (${bad} && p == n) { p = r; first = v; }
  }
  wp[li] = p;
  wv[li] = first;
  workgroupBarrier();
  if (li != 0u) { return; }
  for (var w = ${WG / 2}u; w > 0u; w = w / 2u) {
    for (var j = 0u; j < w; j++) {
      if (wp[j + w] < wp[j]) {
        wp[j] = wp[j + w];
        wv[j] = wv[j + w];
      }
    }
  }
  if (wp[0] < n && fault[0] == 0u) {
    fault[0] = prm.a.y;
    fault[1] = ${ids ? "bitcast<u32>(wv[0])" : "wv[0]"};
    fault[2] = wp[0];
  }
}`);
}
