// WGSL for elementwise ops: unary maps (vec4 when the length allows), binary ops with NumPy
// broadcasting (index math baked per shape; vec4 fast paths for equal shapes, with the length
// from a uniform, and for an operand repeating along the leading dims, like a bias), and broadcastTo.
import { grid1d, kernel, main1d, MATH, stridesOf, type Kernel, type Shape } from "./wgsl";

/** A WGSL expression builder: `x`/`a`,`b` are operand expressions, `T` is `f32` or `vec4f`. */
export type UnaryExpr = (x: string, T: string) => string;
/** Binary expression builder; `T` is the operand type. */
export type BinaryExpr = (a: string, b: string, T: string) => string;

/** y[i] = f(x[i]) over n elements; vec4 when n % 4 == 0. Returns the kernel and its grid. */
export function unaryKernel(name: string, f: UnaryExpr, n: number): { k: Kernel; grid: number[] } {
  const vec = n % 4 === 0;
  const T = vec ? "vec4f" : "f32";
  const len = vec ? n / 4 : n;
  const k = kernel(`${name}${vec ? "_v4" : ""}`, [
    { name: "x", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
  ], `${main1d()}
  if (i >= ${len}u) { return; }
  let v = x[i];
  y[i] = ${f("v", T)};
}`, MATH);
  return { k, grid: grid1d(len) };
}

/** Strides to read `src` broadcast into `out`, as baked WGSL index code. */
function indexCode(out: Shape, src: Shape, v: string): string {
  const st = stridesOf(src);
  const lines: string[] = [];
  for (let d = 0; d < out.length; d++) {
    const sd = d - (out.length - src.length);
    if (sd >= 0 && src[sd] !== 1) lines.push(`${v} += c${d} * ${st[sd]}u;`);
  }
  return lines.join(" ");
}

/** Unravels flat index `i` into coordinates c0..c{r-1} of `shape` (WGSL statements). */
function unravel(shape: Shape): string {
  const st = stridesOf(shape);
  return shape.map((_, d) => `let c${d} = (i / ${st[d]}u) % ${shape[d]}u;`).join(" ");
}

/** Whether `s` (leading 1s ignored) equals the trailing dims of `out`: it repeats along the rest. */
function isTrailing(s: Shape, out: Shape): boolean {
  const first = s.findIndex((d) => d !== 1);
  const t = first < 0 ? [] : s.slice(first);
  return t.length <= out.length && t.every((d, j) => d === out[out.length - t.length + j]);
}

/**
 * out = f(a, b) with broadcasting; `outType` is the element type of the result, `prelude` WGSL the
 * expression calls (shaders/wgsl.ts MATH for GELU's backward). The vec4 form for
 * equal shapes takes its length from a uniform (`uniform`, bound after y), so one pipeline per op
 * serves every shape of a model; the other forms bake the shape.
 */
export function binaryKernel(
  name: string, f: BinaryExpr, a: Shape, b: Shape, out: Shape, outType = "f32", prelude = "",
): { k: Kernel; grid: number[]; uniform?: Uint32Array<ArrayBuffer> } {
  const n = out.reduce((p, d) => p * d, 1);
  const na = a.reduce((p, d) => p * d, 1), nb = b.reduce((p, d) => p * d, 1);
  // vec4 when each operand is either full or repeats along the leading dims (a bias [C] or a
  // positional table [T, C] added to [B, T, C]).
  const vecOk = (s: Shape, ns: number) => ns === n || (ns > 1 && ns % 4 === 0 && isTrailing(s, out));
  if (outType === "f32" && n % 4 === 0 && (na === n || nb === n) && vecOk(a, na) && vecOk(b, nb)) {
    const bindings = [
      { name: "a", kind: "read", type: "vec4f" },
      { name: "b", kind: "read", type: "vec4f" },
      { name: "y", kind: "rw", type: "vec4f" },
      { name: "dims", kind: "uniform", type: "vec4u" },
    ] as const;
    if (na === nb) {
      const k = kernel(`${name}_v4`, [...bindings], `${main1d()}
  if (i >= dims.x) { return; }
  y[i] = ${f("a[i]", "b[i]", "vec4f")};
}`, prelude);
      return { k, grid: grid1d(n / 4), uniform: Uint32Array.from([n / 4, 0, 0, 0]) };
    }
    // The repeating operand (a bias) is indexed modulo its length, baked: a shape-generic form
    // (a 2-D grid of rows × 32 vec4 columns with the sizes in a uniform, no runtime division) ran
    // config a's 17 bias adds 1.12× slower on lavapipe (16.9 → 18.9 ms of GPU time, 2026-12-07),
    // a cost every step pays for 3 fewer pipelines compiled once.
    const k = kernel(`${name}_row_v4`, [...bindings.slice(0, 3)], `${main1d()}
  if (i >= ${n / 4}u) { return; }
  y[i] = ${f(na === n ? "a[i]" : `a[i % ${na / 4}u]`, nb === n ? "b[i]" : `b[i % ${nb / 4}u]`, "vec4f")};
}`, prelude);
    return { k, grid: grid1d(n / 4) };
  }
  const ia = na === n ? "let ia = i;" : na === 1 ? "let ia = 0u;" : `var ia = 0u; ${indexCode(out, a, "ia")}`;
  const ib = nb === n ? "let ib = i;" : nb === 1 ? "let ib = 0u;" : `var ib = 0u; ${indexCode(out, b, "ib")}`;
  const needCoords = !((na === n || na === 1) && (nb === n || nb === 1));
  const k = kernel(`${name}_bcast`, [
    { name: "a", kind: "read", type: "f32" },
    { name: "b", kind: "read", type: "f32" },
    { name: "y", kind: "rw", type: outType },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  ${needCoords ? unravel(out) : ""}
  ${ia} ${ib}
  y[i] = ${outType === "f32" ? f("a[ia]", "b[ib]", "f32") : `${outType}(${f("a[ia]", "b[ib]", "f32")})`};
}`, prelude);
  return { k, grid: grid1d(n) };
}

/** y = x broadcast to `out` (a strided copy). */
export function broadcastKernel(src: Shape, out: Shape): { k: Kernel; grid: number[] } {
  const n = out.reduce((p, d) => p * d, 1);
  const k = kernel("broadcast_to", [
    { name: "x", kind: "read", type: "f32" },
    { name: "y", kind: "rw", type: "f32" },
  ], `${main1d()}
  if (i >= ${n}u) { return; }
  ${unravel(out)}
  var ix = 0u; ${indexCode(out, src, "ix")}
  y[i] = x[ix];
}`);
  return { k, grid: grid1d(n) };
}
