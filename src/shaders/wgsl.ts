// Shared pieces of WGSL generation: binding declarations, 1-D grids that exceed the 65535
// workgroups-per-dimension limit, and numerically safe helper functions. Strings only.
import type { BindingKind, Kernel } from "../tensor/webgpu/runtime";

/** One buffer binding of a kernel. */
export interface Binding {
  /** WGSL variable name. */
  name: string;
  /** Access: read-only storage, read-write storage, or uniform. */
  kind: BindingKind;
  /** Element type of the storage array, or the uniform struct type. */
  type: string;
}

/** Default workgroup size for 1-D elementwise kernels. */
export const WG = 256;

/** Formats a JS number as a WGSL f32 literal (finite values only). */
export function f32(x: number): string {
  if (!Number.isFinite(x)) {
    if (Number.isNaN(x)) throw new Error("f32: NaN literal");
    return x > 0 ? "3.402823e38" : "-3.402823e38";
  }
  const s = x.toPrecision(9);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** Builds a Kernel from bindings and a body that defines `fn main`. */
export function kernel(name: string, bindings: readonly Binding[], body: string, prelude = ""): Kernel {
  const decls = bindings.map((b, i) => {
    const space = b.kind === "uniform" ? "uniform" : b.kind === "read" ? "storage, read" : "storage, read_write";
    const ty = b.kind === "uniform" ? b.type : `array<${b.type}>`;
    return `@group(0) @binding(${i}) var<${space}> ${b.name}: ${ty};`;
  });
  return { name, code: `${decls.join("\n")}\n${prelude}\n${body}`, bindings: bindings.map((b) => b.kind) };
}

/** Workgroup counts for `n` invocations of a 1-D kernel with workgroup size `wg` (2-D grid if needed). */
export function grid1d(n: number, wg = WG): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** WGSL entry header for a 1-D kernel: defines `i`, the flat invocation index. */
export function main1d(wg = WG): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${wg}u;`;
}

/**
 * log(1 + x) and exp(x) − 1 with full relative precision near 0 (WGSL has neither): a short series
 * for |x| < 0.01 (truncation error below 1e-10 relative), the direct form elsewhere.
 */
export const LOG1P = `
fn log1p_s(x: f32) -> f32 {
  if (abs(x) < 0.01) { return x * (1.0 - x * (0.5 - x * (0.33333334 - x * (0.25 - x * 0.2)))); }
  return log(1.0 + x);
}
fn expm1_s(x: f32) -> f32 {
  if (abs(x) < 0.01) { return x * (1.0 + x * (0.5 + x * (0.16666667 + x * (0.041666668 + x * 0.008333334)))); }
  return exp(x) - 1.0;
}
fn expm1_4(x: vec4f) -> vec4f {
  let series = x * (1.0 + x * (0.5 + x * (0.16666667 + x * (0.041666668 + x * 0.008333334))));
  return select(exp(x) - 1.0, series, abs(x) < vec4f(0.01));
}
`;

/**
 * Safe math shared by kernels: tanh that never overflows and keeps relative precision near 0 (a
 * series below |x| = 0.05, where (e − 1)/(e + 1) would cancel), and the GELU (tanh form) and its
 * derivative written with logistic functions, x·σ(2u) and σ(2u) + 2x·σ(2u)·σ(−2u)·u′, which keep
 * relative precision at negative x (1 + tanh(u) cancels there).
 */
export const MATH = `
fn tanh_s(x: f32) -> f32 {
  let y = clamp(x, -15.0, 15.0);
  let y2 = y * y;
  let e = exp(2.0 * y);
  return select((e - 1.0) / (e + 1.0), y * (1.0 - y2 * (0.33333334 - y2 * (0.13333334 - y2 * 0.053968254))), abs(y) < 0.05);
}
fn tanh4(x: vec4f) -> vec4f {
  let y = clamp(x, vec4f(-15.0), vec4f(15.0));
  let y2 = y * y;
  let e = exp(2.0 * y);
  return select((e - 1.0) / (e + 1.0), y * (1.0 - y2 * (0.33333334 - y2 * (0.13333334 - y2 * 0.053968254))), abs(y) < vec4f(0.05));
}
fn gelu_s(x: f32) -> f32 { let u = 1.5957691 * (x + 0.044715 * x * x * x); return x / (1.0 + exp(-u)); }
fn gelu4(x: vec4f) -> vec4f { let u = 1.5957691 * (x + 0.044715 * x * x * x); return x / (1.0 + exp(-u)); }
fn gelu_grad_s(x: f32) -> f32 {
  let u = 1.5957691 * (x + 0.044715 * x * x * x);
  let s = 1.0 / (1.0 + exp(-u));
  let sm = 1.0 / (1.0 + exp(u));
  return s + x * s * sm * 1.5957691 * (1.0 + 0.134145 * x * x);
}
fn gelu_grad4(x: vec4f) -> vec4f {
  let u = 1.5957691 * (x + 0.044715 * x * x * x);
  let s = 1.0 / (1.0 + exp(-u));
  let sm = 1.0 / (1.0 + exp(u));
  return s + x * s * sm * 1.5957691 * (1.0 + 0.134145 * x * x);
}
`;
