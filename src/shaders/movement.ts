// WGSL for movement and selection ops: strided copies (permute, slice, pad), block copies
// (concat), gather along an axis (indexSelect), its deterministic scatter-sum, and where.
// Shapes are baked into the code; callers skip dispatch when the output is empty.
import { grid1d, kernel, main1d, stridesOf, type Kernel, type Shape } from "./wgsl";

/** Element type of a storage array. */
export type Elem = "f32" | "i32";

/** A kernel with its workgroup grid. */
export interface Plan {
  k: Kernel;
  grid: number[];
}

const vec4Of = (T: Elem) => (T === "f32" ? "vec4f" : "vec4i");
const count = (shape: Shape) => shape.reduce((p, d) => p * d, 1);

/** WGSL statements unravelling flat index `idx` into `c0..c{r-1}` over `shape`. */
function coords(shape: Shape, idx = "i"): string {
  const st = stridesOf(shape);
  return shape.map((d, k) => `let c${k} = ${d === 1 ? "0u" : `(${idx} / ${st[k]}u) % ${d}u`};`).join(" ");
}

/** A WGSL sum `Σ (c_k + add_k) * stride_k` over the dims where `shape[k] > 1` (or `"0u"`). */
function offset(shape: Shape, strides: readonly number[], add: readonly number[] = []): string {
  const terms = shape.flatMap((d, k) => {
    if (d === 1 && !add[k]) return [];
    const c = d === 1 ? `${add[k]}u` : add[k] ? `(c${k} + ${add[k]}u)` : `c${k}`;
    return [`${c} * ${strides[k]}u`];
  });
  return terms.length ? terms.join(" + ") : "0u";
}

/** y = x with axes permuted: output dim k is input dim `dims[k]`. */
export function permuteKernel(shape: Shape, dims: readonly number[], T: Elem): Plan {
  const out = dims.map((d) => shape[d]);
  const st = stridesOf(shape);
  const n = count(out);
  const k = kernel(`permute_${T}`, [
    { name: "x", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  ${coords(out)}
  y[i] = x[${offset(out, dims.map((d) => st[d]))}];
}`);
  return { k, grid: grid1d(n) };
}

/** y = x[starts[k] : starts[k] + out[k]] along every axis. */
export function sliceKernel(shape: Shape, starts: readonly number[], out: Shape, T: Elem): Plan {
  const n = count(out);
  const k = kernel(`slice_${T}`, [
    { name: "x", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  ${coords(out)}
  y[i] = x[${offset(out, stridesOf(shape), starts)}];
}`);
  return { k, grid: grid1d(n) };
}

/** y = x placed at offset `before[k]` inside zeros of shape `out`. */
export function padKernel(shape: Shape, before: readonly number[], out: Shape, T: Elem): Plan {
  const n = count(out);
  const st = stridesOf(shape);
  const conds: string[] = [], terms: string[] = [];
  out.forEach((d, k) => {
    const lo = before[k], hi = before[k] + shape[k];
    if (lo > 0) conds.push(`c${k} >= ${lo}u`);
    if (hi < d) conds.push(`c${k} < ${hi}u`);
    if (shape[k] > 1) terms.push(`${lo ? `(c${k} - ${lo}u)` : `c${k}`} * ${st[k]}u`);
  });
  const src = `x[${terms.length ? terms.join(" + ") : "0u"}]`;
  const k = kernel(`pad_${T}`, [
    { name: "x", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  ${coords(out)}
  ${conds.length ? `if (!(${conds.join(" && ")})) { y[i] = ${T}(0); return; }` : ""}
  y[i] = ${src};
}`);
  return { k, grid: grid1d(n) };
}

/**
 * Copies x, viewed as [rows, len], into y viewed as [rows, dstLen] at column `dstOff`
 * (one concat input). Moves vec4s when all three widths are multiples of 4.
 */
export function blockCopyKernel(rows: number, len: number, dstLen: number, dstOff: number, T: Elem): Plan {
  const v = len % 4 === 0 && dstLen % 4 === 0 && dstOff % 4 === 0 ? 4 : 1;
  const E = v === 4 ? vec4Of(T) : T;
  const n = (rows * len) / v;
  const k = kernel(`concat_copy_${T}${v === 4 ? "_v4" : ""}`, [
    { name: "x", kind: "read", type: E },
    { name: "y", kind: "rw", type: E },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  let r = i / ${len / v}u;
  let j = i % ${len / v}u;
  y[r * ${dstLen / v}u + ${dstOff / v}u + j] = x[i];
}`);
  return { k, grid: grid1d(n) };
}

/**
 * Gather: y[o, k, j] = x[o, idx[k], j] with x [outer, A, inner], idx [K] (i32), y [outer, K, inner].
 * Out-of-range indices give 0 (the cpu64 reference throws instead).
 */
export function gatherKernel(outer: number, A: number, K: number, inner: number): Plan {
  const v = inner % 4 === 0 ? 4 : 1;
  const E = v === 4 ? "vec4f" : "f32";
  const w = inner / v, n = outer * K * w;
  const k = kernel(`index_select${v === 4 ? "_v4" : ""}`, [
    { name: "x", kind: "read", type: E },
    { name: "idx", kind: "read", type: "i32" },
    { name: "y", kind: "rw", type: E },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  let j = i % ${w}u;
  let k = (i / ${w}u) % ${K}u;
  let o = i / ${w * K}u;
  let a = idx[k];
  if (a < 0 || a >= ${A}) { y[i] = ${E}(0.0); return; }
  y[i] = x[(o * ${A}u + u32(a)) * ${w}u + j];
}`);
  return { k, grid: grid1d(n) };
}

/**
 * Deterministic scatter-sum, the gradient of gather: dx[o, a, j] = Σ_k [idx[k] == a] dy[o, k, j],
 * summed in index order. A workgroup owns a chunk of one (o, a) row, so `idx[k]` and the branch
 * on it are uniform; no atomics.
 */
export function scatterSumKernel(outer: number, A: number, K: number, inner: number): Plan {
  const v = inner % 4 === 0 ? 4 : 1;
  const E = v === 4 ? "vec4f" : "f32";
  const w = inner / v;
  let wg = 8;
  while (wg < 64 && wg < w) wg *= 2;
  const chunks = Math.ceil(w / wg), groups = outer * A * chunks;
  const k = kernel(`index_select_grad${v === 4 ? "_v4" : ""}`, [
    { name: "dy", kind: "read", type: E },
    { name: "idx", kind: "read", type: "i32" },
    { name: "dx", kind: "rw", type: E },
  ], `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= ${groups}u) { return; }
  let row = g / ${chunks}u;
  let j = (g % ${chunks}u) * ${wg}u + li;
  if (j >= ${w}u) { return; }
  let o = row / ${A}u;
  let a = i32(row % ${A}u);
  var acc = ${E}(0.0);
  for (var k = 0u; k < ${K}u; k++) {
    if (idx[k] == a) { acc += dy[(o * ${K}u + k) * ${w}u + j]; }
  }
  dx[row * ${w}u + j] = acc;
}`);
  return { k, grid: grid1d(groups, 1) };
}

/** y = cond != 0 ? a : b with NumPy broadcasting of all three to `out`. */
export function whereKernel(c: Shape, a: Shape, b: Shape, out: Shape, condT: Elem): Plan {
  const n = count(out);
  const same = count(c) === n && count(a) === n && count(b) === n;
  if (same && n % 4 === 0) {
    const C = vec4Of(condT);
    const k = kernel("where_v4", [
      { name: "c", kind: "read", type: C },
      { name: "a", kind: "read", type: "vec4f" },
      { name: "b", kind: "read", type: "vec4f" },
      { name: "y", kind: "rw", type: "vec4f" },
    ], `${main1d()}
  if (i >= ${n / 4}u) { return; }
  y[i] = select(b[i], a[i], c[i] != ${C}(0));
}`);
    return { k, grid: grid1d(n / 4) };
  }
  const idx = (src: Shape): string => {
    if (count(src) === n) return "i";
    const st = stridesOf(src);
    const strides = out.map((_, d) => {
      const sd = d - (out.length - src.length);
      return sd < 0 || src[sd] === 1 ? 0 : st[sd];
    });
    const terms = out.flatMap((d, k) => (strides[k] && d > 1 ? [`c${k} * ${strides[k]}u`] : []));
    return terms.length ? terms.join(" + ") : "0u";
  };
  const k = kernel("where_bcast", [
    { name: "c", kind: "read", type: condT },
    { name: "a", kind: "read", type: "f32" },
    { name: "b", kind: "read", type: "f32" },
    { name: "y", kind: "rw", type: "f32" },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  ${same ? "" : coords(out)}
  y[i] = select(b[${idx(b)}], a[${idx(a)}], c[${idx(c)}] != ${condT}(0));
}`);
  return { k, grid: grid1d(n) };
}
