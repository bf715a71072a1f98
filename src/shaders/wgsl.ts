// Shared pieces of WGSL generation: the Kernel type every generator returns (and the dispatch
// plans built from kernels), binding declarations, 1-D grids that exceed the 65535
// workgroups-per-dimension limit, row-major strides, and numerically safe helper functions.
// Strings and plain data only: this layer imports nothing of the engine.

/** A tensor shape: a list of non-negative integer dimension sizes. `[]` is a scalar. */
export type Shape = readonly number[];

/** Row-major (C-contiguous) strides of a shape, in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** How a kernel binds each buffer. */
export type BindingKind = "read" | "rw" | "uniform";

/** A compiled-on-demand compute kernel: WGSL code plus the kind of each binding, in order. */
export interface Kernel {
  /** Human-readable name used in error messages and profiles, e.g. `matmul_rb4x4`. */
  readonly name: string;
  /** Complete WGSL source with one `@compute` entry point named `main`. */
  readonly code: string;
  /** Binding kinds for `@group(0) @binding(i)`. */
  readonly bindings: readonly BindingKind[];
}

/** A buffer bound whole, or a byte window of one (`offset` a multiple of 256, `size` of 4). */
export type BufferBinding = GPUBuffer | GPUBufferBinding;

/** One dispatch: kernel, bound buffers (in binding order) and workgroup grid. */
export interface Dispatch {
  kernel: Kernel;
  buffers: readonly BufferBinding[];
  grid: readonly number[];
}

/** One buffer binding of a kernel. */
export interface Binding {
  /** WGSL variable name. */
  name: string;
  /** Access: read-only storage, read-write storage, or uniform. */
  kind: BindingKind;
  /** Element type of the storage array, or the uniform struct type. */
  type: string;
}

/**
 * Default workgroup size for 1-D elementwise kernels: WebGPU's guaranteed maximum, the fewest
 * workgroups. Not timed against smaller sizes; `npm run bench -- --suite elementwise` (cases
 * "add", "gelu") is where a change would show.
 */
export const WG = 256;

/**
 * The words of a uniform buffer: numbers as u32, `{ f32: x }` as the bits of an f32, padded to a
 * multiple of 16 bytes (the size a uniform struct rounds up to). Shape-generic kernels read their
 * sizes this way, so one pipeline serves every shape.
 */
export function uniformWords(fields: readonly (number | { f32: number })[]): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(Math.ceil(fields.length / 4) * 4);
  const f = new Float32Array(out.buffer);
  fields.forEach((x, i) => {
    if (typeof x === "number") out[i] = x;
    else f[i] = x.f32;
  });
  return out;
}

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
