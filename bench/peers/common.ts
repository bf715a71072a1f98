// What every peer child shares: deterministic inputs, the f64 reference of each case kind, the
// per-case result record, and the WebGPU globals from the `webgpu` package (set before a peer loads).
import { create, globals } from "webgpu";
import { SplitMix32 } from "../../src/tensor/random";
import type { PeerCase } from "../lib/shapes";

let gpuObject: GPU | null = null; // keep referenced for the process lifetime (Dawn crashes otherwise)

/** Installs navigator.gpu (Dawn) and navigator.userAgent, as tfjs and jax-js expect in a browser. */
export function installNavigatorGpu(): void {
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = "/tmp";
  Object.assign(globalThis, globals);
  gpuObject = create([]);
  Object.defineProperty(globalThis, "navigator", {
    value: { gpu: gpuObject, userAgent: "node" }, configurable: true, writable: true,
  });
}

/** Deterministic f32 values (normal, scaled). */
export function values(n: number, seed: number, scale = 1): Float32Array {
  const g = new SplitMix32(seed);
  return Float32Array.from({ length: n }, () => scale * g.normal());
}

/** The check shape of a case kind (small, so the f64 reference is instant). */
export function checkCase(c: PeerCase): PeerCase {
  if (c.kind === "matmul") return { ...c, dims: [64, 48, 40] };
  if (c.kind === "mlp") return { ...c, dims: [16, 24, 32, 8] };
  return { ...c, dims: [8, 64] };
}

/** Inputs of a case, in a fixed order per kind. */
export function inputs(c: PeerCase): { data: Float32Array; shape: number[] }[] {
  const d = c.dims;
  if (c.kind === "matmul") return [{ data: values(d[0] * d[1], 1), shape: [d[0], d[1]] }, { data: values(d[1] * d[2], 2), shape: [d[1], d[2]] }];
  if (c.kind === "softmax") return [{ data: values(d[0] * d[1], 3, 2), shape: d }];
  if (c.kind === "layernorm") {
    return [{ data: values(d[0] * d[1], 4), shape: d }, { data: values(d[1], 5, 0.2).map((x) => 1 + x), shape: [d[1]] },
      { data: values(d[1], 6, 0.2), shape: [d[1]] }];
  }
  const [B, I, H, O] = d; // x, t, W1, b1, W2, b2
  return [
    { data: values(B * I, 7), shape: [B, I] }, { data: values(B * O, 8), shape: [B, O] },
    { data: values(I * H, 9, 1 / Math.sqrt(I)), shape: [I, H] }, { data: values(H, 10, 0.1), shape: [H] },
    { data: values(H * O, 11, 1 / Math.sqrt(H)), shape: [H, O] }, { data: values(O, 12, 0.1), shape: [O] },
  ];
}

/** Learning rate of the MLP step (plain SGD, same for every implementation). */
export const MLP_LR = 0.05;

/**
 * f64 reference output of a case: matmul C, softmax rows, layernorm rows, or for the MLP the
 * loss of the first step followed by the loss after one SGD step (both are what peers report).
 */
export function reference(c: PeerCase): Float64Array {
  const xs = inputs(c).map((x) => Float64Array.from(x.data));
  const d = c.dims;
  if (c.kind === "matmul") return mm(xs[0], xs[1], d[0], d[1], d[2]);
  if (c.kind === "softmax" || c.kind === "layernorm") {
    const [R, C] = d, out = new Float64Array(R * C);
    for (let r = 0; r < R; r++) {
      const row = xs[0].subarray(r * C, (r + 1) * C);
      if (c.kind === "softmax") {
        const m = Math.max(...row);
        let s = 0;
        for (let i = 0; i < C; i++) s += Math.exp(row[i] - m);
        for (let i = 0; i < C; i++) out[r * C + i] = Math.exp(row[i] - m) / s;
      } else {
        const mean = row.reduce((a, b) => a + b, 0) / C;
        const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / C;
        for (let i = 0; i < C; i++) out[r * C + i] = ((row[i] - mean) / Math.sqrt(v + 1e-5)) * xs[1][i] + xs[2][i];
      }
    }
    return out;
  }
  const [B, I, H, O] = d;
  const [x, t, W1, b1, W2, b2] = xs;
  const loss = (): { l: number; grads: Float64Array[] } => {
    const z = mm(x, W1, B, I, H);
    for (let i = 0; i < B * H; i++) z[i] += b1[i % H];
    const h = z.map((v) => Math.max(v, 0));
    const y = mm(h, W2, B, H, O);
    let l = 0;
    const dy = new Float64Array(B * O);
    for (let i = 0; i < B * O; i++) {
      const e = y[i] + b2[i % O] - t[i];
      l += e * e;
      dy[i] = (2 * e) / (B * O);
    }
    const dW2 = mmT(h, dy, B, H, O), db2 = colSum(dy, B, O);
    const dh = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        let s = 0;
        for (let o = 0; o < O; o++) s += dy[b * O + o] * W2[j * O + o];
        dh[b * H + j] = z[b * H + j] > 0 ? s : 0;
      }
    }
    return { l: l / (B * O), grads: [mmT(x, dh, B, I, H), colSum(dh, B, H), dW2, db2] };
  };
  const first = loss();
  [W1, b1, W2, b2].forEach((p, i) => p.forEach((_, j) => (p[j] -= MLP_LR * first.grads[i][j])));
  return Float64Array.of(first.l, loss().l);
}

function mm(a: Float64Array, b: Float64Array, M: number, K: number, N: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) {
    const av = a[m * K + k];
    for (let n = 0; n < N; n++) c[m * N + n] += av * b[k * N + n];
  }
  return c;
}

/** aᵀ·b for a [R, P], b [R, Q] → [P, Q]. */
function mmT(a: Float64Array, b: Float64Array, R: number, P: number, Q: number): Float64Array {
  const c = new Float64Array(P * Q);
  for (let r = 0; r < R; r++) for (let p = 0; p < P; p++) {
    const av = a[r * P + p];
    for (let q = 0; q < Q; q++) c[p * Q + q] += av * b[r * Q + q];
  }
  return c;
}

function colSum(a: Float64Array, R: number, C: number): Float64Array {
  const s = new Float64Array(C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) s[c] += a[r * C + c];
  return s;
}

/** One prepared case in a peer: `run` does one call and waits for the GPU to finish it. */
export interface Prepared {
  run: () => Promise<void>;
  /** Output values for the check (the MLP returns [loss of step 1, loss of step 2]). */
  output: () => Promise<ArrayLike<number>>;
  dispose: () => void;
}

/** A peer implementation as the child harness drives it. */
export interface PeerImpl {
  name: string;
  version: string;
  setup: () => Promise<Record<string, unknown>>;
  prepare: (c: PeerCase) => Promise<Prepared>;
}
