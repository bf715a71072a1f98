// WGSL for layer normalization over the last dim: a row-per-invocation forward (two-pass: the
// mean, shifted by the row's first element, then the centred variance), a row-per-invocation dx
// kernel, and a deterministic dw/db column sum (per row-chunk partials plus an in-order final
// pass when there are many rows). No atomics, no barriers. Exact for a large mean (|mean| ≫ std):
// the forward centres as (x − x0) − Σ(x − x0)/C, never through the rounded mean, and the backward
// refines the saved f32 mean by δ = Σ(x − mean)/C before centring. Sizes (and eps) come from a
// uniform, so every shape of a model shares one pipeline per kernel (a constant channel loop
// was fully unrolled by llvmpipe: the forward alone compiled for ~2 s on a cold shader cache).
import { grid1d, kernel, main1d, uniformWords, type Kernel } from "./wgsl";

/** Rows (N) and channels (C) of a layer norm; vec4 words when C % 4 == 0. */
export interface LayerNormDims {
  N: number;
  C: number;
}

// Rows per workgroup: a multiple of every adapter's SIMD width (32 or 64 lanes); not timed against
// other sizes. `npm run bench -- --suite layernorm` (case "layerNorm [4096,256]") is where a change would show.
const ROW_WG = 64;

/** The uniform every layer-norm kernel reads: rows, channel words, chunks and rows per chunk (dw/db), C, eps. */
const LN_DIMS = "struct LnDims { n: u32, cw: u32, p: u32, l: u32, c: f32, eps: f32 }";

/** A kernel with its grid and the words of its LnDims uniform (bound last). */
export interface LayerNormLaunch {
  k: Kernel;
  grid: number[];
  dims: Uint32Array<ArrayBuffer>;
}

function lnDims(N: number, Cw: number, C: number, eps = 0, P = 1, L = N): Uint32Array<ArrayBuffer> {
  return uniformWords([N, Cw, P, L, { f32: C }, { f32: eps }]);
}

function words(C: number): { T: string; Cw: number; hsum: (x: string) => string } {
  const vec = C % 4 === 0;
  return {
    T: vec ? "vec4f" : "f32",
    Cw: vec ? C / 4 : C,
    hsum: (x) => (vec ? `dot(${x}, vec4f(1.0))` : x),
  };
}

/** Forward: y = (x - mean) · rstd · w + b per row, plus mean [N] and rstd [N]. */
export function layerNormKernel({ N, C }: LayerNormDims, eps: number): LayerNormLaunch {
  const { T, Cw, hsum } = words(C);
  const k = kernel(`layer_norm${T === "f32" ? "" : "_v4"}`, [
    { name: "x", kind: "read", type: T },
    { name: "w", kind: "read", type: T },
    { name: "b", kind: "read", type: T },
    { name: "y", kind: "rw", type: T },
    { name: "mean_out", kind: "rw", type: "f32" },
    { name: "rstd_out", kind: "rw", type: "f32" },
    { name: "dims", kind: "uniform", type: "LnDims" },
  ], `${main1d(ROW_WG)}
  if (i >= dims.n) { return; }
  let o = i * dims.cw;
  let x0 = ${T}(x[o]${T === "f32" ? "" : ".x"});
  var s = 0.0;
  for (var c = 0u; c < dims.cw; c++) { s += ${hsum("x[o + c] - x0")}; }
  let mu = s / dims.c;
  let mean = x0${T === "f32" ? "" : ".x"} + mu;
  var q = 0.0;
  for (var c = 0u; c < dims.cw; c++) { let d = (x[o + c] - x0) - mu; q += ${hsum("d * d")}; }
  let rstd = inverseSqrt(q / dims.c + dims.eps);
  for (var c = 0u; c < dims.cw; c++) { y[o + c] = ((x[o + c] - x0) - mu) * rstd * w[c] + b[c]; }
  mean_out[i] = mean;
  rstd_out[i] = rstd;
}`, LN_DIMS);
  return { k, grid: grid1d(N, ROW_WG), dims: lnDims(N, Cw, C, eps) };
}

/**
 * Backward dx per row: dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)) with g = dy · w and
 * x̂ = ((x − mean) − δ) · rstd, δ = Σ(x − mean)/C (written to `delta` [N] for the dw kernel).
 */
export function layerNormDxKernel({ N, C }: LayerNormDims): LayerNormLaunch {
  const { T, Cw, hsum } = words(C);
  const k = kernel(`layer_norm_dx${T === "f32" ? "" : "_v4"}`, [
    { name: "dy", kind: "read", type: T },
    { name: "x", kind: "read", type: T },
    { name: "w", kind: "read", type: T },
    { name: "mean", kind: "read", type: "f32" },
    { name: "rstd", kind: "read", type: "f32" },
    { name: "dx", kind: "rw", type: T },
    { name: "delta", kind: "rw", type: "f32" },
    { name: "dims", kind: "uniform", type: "LnDims" },
  ], `${main1d(ROW_WG)}
  if (i >= dims.n) { return; }
  let o = i * dims.cw;
  let mu = mean[i];
  let rs = rstd[i];
  var sg = 0.0;
  var sgd = 0.0;
  var sd = 0.0;
  for (var c = 0u; c < dims.cw; c++) {
    let g = dy[o + c] * w[c];
    let d = x[o + c] - mu;
    sg += ${hsum("g")};
    sgd += ${hsum("g * d")};
    sd += ${hsum("d")};
  }
  let dl = sd / dims.c;
  let a = sg / dims.c;
  let bq = (sgd - dl * sg) * rs / dims.c;
  for (var c = 0u; c < dims.cw; c++) {
    let xh = ((x[o + c] - mu) - dl) * rs;
    dx[o + c] = rs * (dy[o + c] * w[c] - a - xh * bq);
  }
  delta[i] = dl;
}`, LN_DIMS);
  return { k, grid: grid1d(N, ROW_WG), dims: lnDims(N, Cw, C) };
}

/** The dw/db plan: P row chunks of L rows (P = 1 writes dw, db directly). */
export interface LayerNormDwPlan {
  /** Pass 1: per (chunk, channel word) sums of dy · x̂ and dy over the chunk's rows, in order. */
  partial: LayerNormLaunch;
  /** Pass 2 when P > 1: sums the P partials in order. */
  final: LayerNormLaunch | null;
  /** Bytes of the partials scratch buffer (0 when P = 1). */
  scratchBytes: number;
}

/** Plans dw = Σ_rows dy · x̂ and db = Σ_rows dy, deterministic (fixed summation order); reads the dx kernel's `delta`. */
export function layerNormDwPlan({ N, C }: LayerNormDims): LayerNormDwPlan {
  const { T, Cw } = words(C);
  // One pass (an invocation per channel word over all rows) up to 256 rows; beyond, partials of
  // ~128 rows so that N·C/128 invocations share the sum. Reasoned, not timed separately:
  // `npm run bench -- --suite layernorm`, case "layerNorm [4096,256] bwd", times the chunked path.
  const P = N <= 256 ? 1 : Math.ceil(N / 128);
  const L = Math.ceil(N / P);
  const v4 = T === "f32" ? "" : "_v4";
  const outs = P === 1
    ? [{ name: "dw", kind: "rw" as const, type: T }, { name: "db", kind: "rw" as const, type: T }]
    : [{ name: "part", kind: "rw" as const, type: T }];
  const store = P === 1
    ? "dw[c] = aw; db[c] = ab;"
    : "part[(p * 2u) * dims.cw + c] = aw; part[(p * 2u + 1u) * dims.cw + c] = ab;";
  const partial = kernel(`layer_norm_dwdb${P === 1 ? "" : "_partial"}${v4}`, [
    { name: "dy", kind: "read", type: T },
    { name: "x", kind: "read", type: T },
    { name: "mean", kind: "read", type: "f32" },
    { name: "rstd", kind: "read", type: "f32" },
    { name: "delta", kind: "read", type: "f32" },
    ...outs,
    { name: "dims", kind: "uniform", type: "LnDims" },
  ], `${main1d(ROW_WG)}
  if (i >= dims.p * dims.cw) { return; }
  let p = i / dims.cw;
  let c = i % dims.cw;
  var aw = ${T}(0.0);
  var ab = ${T}(0.0);
  let r1 = min(dims.n, (p + 1u) * dims.l);
  for (var r = p * dims.l; r < r1; r++) {
    let g = dy[r * dims.cw + c];
    aw += g * ((x[r * dims.cw + c] - mean[r]) - delta[r]) * rstd[r];
    ab += g;
  }
  ${store}
}`, LN_DIMS);
  const dims = lnDims(N, Cw, C, 0, P, L);
  if (P === 1) return { partial: { k: partial, grid: grid1d(Cw, ROW_WG), dims }, final: null, scratchBytes: 0 };
  const final = kernel(`layer_norm_dwdb_final${v4}`, [
    { name: "part", kind: "read", type: T },
    { name: "dw", kind: "rw", type: T },
    { name: "db", kind: "rw", type: T },
    { name: "dims", kind: "uniform", type: "LnDims" },
  ], `${main1d(ROW_WG)}
  if (i >= dims.cw) { return; }
  var aw = ${T}(0.0);
  var ab = ${T}(0.0);
  for (var p = 0u; p < dims.p; p++) {
    aw += part[(p * 2u) * dims.cw + i];
    ab += part[(p * 2u + 1u) * dims.cw + i];
  }
  dw[i] = aw;
  db[i] = ab;
}`, LN_DIMS);
  return {
    partial: { k: partial, grid: grid1d(P * Cw, ROW_WG), dims },
    final: { k: final, grid: grid1d(Cw, ROW_WG), dims },
    scratchBytes: P * 2 * C * 4,
  };
}
