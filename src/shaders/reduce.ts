// WGSL for reductions (sum / max / sum of squares) over a set of axes. Consecutive reduced axes become one
// strided loop; few outputs over a long reduction split into partials plus a second pass.
import { grid1d, kernel, main1d, stridesOf, type Kernel, type Shape } from "./wgsl";

/** Reduction kind: `sumsq` sums squares (the square is fused into the first pass). */
export type ReduceKind = "sum" | "max" | "sumsq";

/** One pass of a reduction plan. */
export interface ReducePass {
  k: Kernel;
  grid: number[];
  /** Elements written by this pass (partials or final outputs). */
  outputs: number;
  /** Words of the sizes uniform, bound after x and y, for the shape-generic kernels. */
  uniform?: Uint32Array<ArrayBuffer>;
}

/** The kept/reduced split of a shape for `axes`. */
export function splitAxes(shape: Shape, axes: readonly number[]): { kept: number[]; red: number[] } {
  const kept: number[] = [], red: number[] = [];
  shape.forEach((_, d) => (axes.includes(d) ? red : kept).push(d));
  return { kept, red };
}

function coordCode(shape: Shape, dims: number[], idx: string, prefix: string): string {
  // Unravels `idx` over the sub-shape `dims` and accumulates the strided offset into `${prefix}`.
  const st = stridesOf(shape);
  const sub = dims.map((d) => shape[d]);
  const subSt = stridesOf(sub);
  return dims.map((d, j) => `${prefix} += ((${idx} / ${subSt[j]}u) % ${sub[j]}u) * ${st[d]}u;`).join(" ");
}

/**
 * Plans the kernels reducing `shape` over `axes` with `kind`; `scale` multiplies the final
 * result (1/R for mean). Returns one or two passes; pass 0 reads x, pass 1 reads pass 0's partials.
 * The two layouts a training step reduces (a bias gradient sums the leading axes, keeping the
 * trailing ones; a parameter's Σg² or a loss sums everything) run shape-generic kernels that take
 * their sizes from a uniform ({@link ReducePass.uniform}), so one pipeline per kind serves every
 * parameter; other layouts bake the shape.
 */
export function reducePlan(shape: Shape, axes: readonly number[], kind: ReduceKind, scale: number): ReducePass[] {
  const { kept, red } = splitAxes(shape, axes);
  const O = kept.reduce((p, d) => p * shape[d], 1);
  const R = red.reduce((p, d) => p * shape[d], 1);
  const st = stridesOf(shape);
  const consecutive = red.every((d, j) => j === 0 || d === red[j - 1] + 1);
  const inner = consecutive ? st[red[red.length - 1]] : 0;
  // Two passes when few long reductions would leave most invocations idle (fewer than 256 outputs
  // of more than 8192 terms): up to 256 partials of ~2048 terms each, then an in-order final sum.
  // Reasoned, not timed; `npm run bench -- --suite train` (the clip norm's Σg² per parameter) and
  // the op case "mean axis 0 (two-pass) [9000,2]" exercise it.
  const P = O < 256 && R > 8192 ? Math.min(256, Math.ceil(R / 2048)) : 1;
  const L = Math.ceil(R / P);
  const init = kind === "max" ? "-3.402823e38" : "0.0";
  // Combining partials: max for max, a plain sum otherwise (squares are taken in pass 0 only).
  const comb = (a: string, b: string) => (kind === "max" ? `max(${a}, ${b})` : `${a} + ${b}`);
  const load = (v: string) => (kind === "sumsq" ? `${v} * ${v}` : v);
  const leading = consecutive && red[0] === 0; // x is [R, O]
  const all = red.length === shape.length || O === 1; // x is [R]
  if ((leading && P === 1) || all) return genericPlan(kind, all ? "all" : "leading", O, R, P, L, scale, init, comb, load);
  const off = consecutive ? `base + r * ${inner}u` : "base + roff(r)";
  const helper = consecutive ? "" : `fn roff(r: u32) -> u32 { var o = 0u; ${coordCode(shape, red, "r", "o")} return o; }`;
  const finalScale = (v: string) => (scale === 1 ? v : `${v} * ${scale}`);
  const pass0 = kernel(`reduce_${kind}${P > 1 ? "_partial" : ""}`, [
    { name: "x", kind: "read", type: "f32" },
    { name: "y", kind: "rw", type: "f32" },
  ], `${helper}
${main1d()}
  if (i >= ${O * P}u) { return; }
  let o = i / ${P}u;
  let p = i % ${P}u;
  var base = 0u; ${coordCode(shape, kept, "o", "base")}
  var acc = f32(${init});
  let r1 = min(${R}u, (p + 1u) * ${L}u);
  for (var r = p * ${L}u; r < r1; r++) { let v = x[${off}]; acc = ${comb("acc", load("v"))}; }
  y[i] = ${P > 1 ? "acc" : finalScale("acc")};
}`);
  const passes: ReducePass[] = [{ k: pass0, grid: grid1d(O * P), outputs: O * P }];
  if (P > 1) {
    const pass1 = kernel(`reduce_${kind === "max" ? "max" : "sum"}_final`, [
      { name: "x", kind: "read", type: "f32" },
      { name: "y", kind: "rw", type: "f32" },
    ], `${main1d()}
  if (i >= ${O}u) { return; }
  var acc = f32(${init});
  for (var p = 0u; p < ${P}u; p++) { acc = ${comb("acc", `x[i * ${P}u + p]`)}; }
  y[i] = ${finalScale("acc")};
}`);
    passes.push({ k: pass1, grid: grid1d(O), outputs: O });
  }
  return passes;
}

/** Sizes uniform of the generic kernels: outputs, terms, terms per partial, partials, scale. */
const RDIMS = "struct RDims { o: u32, r: u32, l: u32, p: u32, scale: f32, pad0: u32, pad1: u32, pad2: u32 }";

function rdims(o: number, r: number, l: number, p: number, scale: number): Uint32Array<ArrayBuffer> {
  const u = new Uint32Array(8);
  u.set([o, r, l, p]);
  new Float32Array(u.buffer, 16, 1)[0] = scale;
  return u;
}

/**
 * Shape-generic passes (sizes from the RDims uniform, no division by a runtime size) in the same
 * summation order as the baked kernels: `leading` sums x[r·O + o] over r for each o; `all` sums
 * x[r] in up to P contiguous partials of L terms, then the partials in order. The final scale
 * multiplies every result (1 when there is none: x·1 = x exactly).
 */
function genericPlan(kind: ReduceKind, layout: "leading" | "all", O: number, R: number, P: number, L: number, scale: number,
  init: string, comb: (a: string, b: string) => string, load: (v: string) => string): ReducePass[] {
  // Leading axes with the kept size in fours: four outputs per invocation, as vec4 loads of four
  // adjacent columns. Each column still sums its rows one by one in order, so the bits are those
  // of the scalar kernel, for a quarter of the load instructions.
  const W = layout === "leading" && O % 4 === 0 ? 4 : 1;
  const T = W === 4 ? "vec4f" : "f32";
  const pass0 = kernel(`reduce_${kind}${P > 1 ? "_partial" : ""}${W === 4 ? "_v4" : ""}`, [
    { name: "x", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
    { name: "dims", kind: "uniform", type: "RDims" },
  ], `${main1d()}
  ${layout === "leading"
    ? `if (i >= dims.o) { return; }
  var acc = ${T}(${init});
  for (var r = 0u; r < dims.r; r++) { let v = x[i + r * dims.o]; acc = ${comb("acc", load("v"))}; }`
    : `if (i >= dims.p) { return; } // partial i of the one output
  var acc = f32(${init});
  let r1 = min(dims.r, (i + 1u) * dims.l);
  for (var r = i * dims.l; r < r1; r++) { let v = x[r]; acc = ${comb("acc", load("v"))}; }`}
  y[i] = acc * dims.scale;
}`, RDIMS);
  const outputs = layout === "leading" ? O : P;
  const passes: ReducePass[] = [{ k: pass0, grid: grid1d(outputs / W), outputs, uniform: rdims(O / W, R, L, P, P > 1 ? 1 : scale) }];
  if (P > 1) {
    const pass1 = kernel(`reduce_${kind === "max" ? "max" : "sum"}_final`, [
      { name: "x", kind: "read", type: "f32" },
      { name: "y", kind: "rw", type: "f32" },
      { name: "dims", kind: "uniform", type: "RDims" },
    ], `${main1d()}
  if (i >= dims.o) { return; }
  var acc = f32(${init});
  for (var p = 0u; p < dims.p; p++) { acc = ${comb("acc", "x[i * dims.p + p]")}; }
  y[i] = acc * dims.scale;
}`, RDIMS);
    passes.push({ k: pass1, grid: grid1d(O), outputs: O, uniform: rdims(O, R, L, P, scale) });
  }
  return passes;
}
