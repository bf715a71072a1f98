// WGSL for device-side checks that report through the runtime's fault record instead of a
// readback of their own: the first id outside its range (token ids, class targets) and the first
// non-finite value of a tensor. One workgroup; lane i scans a contiguous block in order and a
// fixed tree keeps the smallest position, so the report names the same element cpu64 would.
// The first check that fails (in encode order) writes [site, value bits, position, 0]; later
// checks see the record taken and leave it alone.
import type { Kernel } from "../tensor/webgpu/runtime";
import { kernel } from "./wgsl";

const WG = 64;

/** Which elements a check flags. */
export type CheckKind =
  /** i32 ids outside [0, V) (other than `ignore` when given). */
  | { kind: "ids"; V: number; ignore: number | null }
  /** f32 values that are NaN or ±Inf. */
  | { kind: "nonfinite" };

/** A check over `N` elements reporting as fault `site` (≥ 1). Bind (data, fault record). */
export function checkKernel(N: number, site: number, c: CheckKind): Kernel {
  const L = Math.max(1, Math.ceil(N / WG));
  const ids = c.kind === "ids";
  // f32 data is read as its bits (WGSL may assume floats are finite): NaN/Inf = all exponent bits set.
  const T = ids ? "i32" : "u32";
  const bad = ids
    ? `(v < 0i || v >= ${c.V}i)${c.ignore === null ? "" : ` && v != ${c.ignore}i`}`
    : "(v & 0x7f800000u) == 0x7f800000u";
  return kernel(`check_${c.kind}`, [
    { name: "data", kind: "read", type: T },
    { name: "fault", kind: "rw", type: "u32" },
  ], `var<workgroup> wp: array<u32, ${WG}>;
var<workgroup> wv: array<${T}, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) li: u32) {
  var p = ${N}u;
  var first = ${T}(0);
  let r1 = min(${N}u, (li + 1u) * ${L}u);
  for (var r = li * ${L}u; r < r1; r++) {
    let v = data[r];
    if (${bad} && p == ${N}u) { p = r; first = v; }
  }
  wp[li] = p;
  wv[li] = first;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w = w / 2u) {
    if (li < w && wp[li + w] < wp[li]) {
      wp[li] = wp[li + w];
      wv[li] = wv[li + w];
    }
    workgroupBarrier();
  }
  if (li == 0u && wp[0] < ${N}u && fault[0] == 0u) {
    fault[0] = ${site}u;
    fault[1] = ${ids ? "bitcast<u32>(wv[0])" : "wv[0]"};
    fault[2] = wp[0];
  }
}`);
}
