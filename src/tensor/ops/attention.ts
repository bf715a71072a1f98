// Fused causal self-attention on GPT-2's packed qkv [B, T, 3C] (q = [..., 0:C], k = [..., C:2C],
// v = [..., 2C:3C], heads = contiguous D-wide chunks): y [B, T, C] with heads merged, the per-row
// log-sum-exp saved for a FlashAttention-style backward op (dQ, then dK/dV, recomputing the
// probabilities; deterministic, no atomics), optional probabilities for probes from a separate
// kernel. Kernels and the variant choice per adapter: shaders/attention.ts.
import { fmt, OpError, sameShape } from "../shape";
import { apply, apply1, defineOp, type Meta } from "../op";
import {
  ATTENTION_ROW_STATS, attentionPlan, selectAttentionVariant, type AttentionDims, type AttentionPart, type AttentionVariant,
} from "../../shaders/attention";
import type { Tensor } from "../tensor";
import type { KernelEncoder } from "../webgpu/encoder";
import { dispatchPlan, requireFloat } from "./util";

export type { AttentionVariant } from "../../shaders/attention";

/** Attributes of causalAttention (the backward op takes nHead and variant). */
export interface AttentionAttrs {
  nHead: number;
  returnProbs: boolean;
  /** Kernel family; "auto" = the adapter's (the choice lives in shaders/attention.ts). */
  variant: "auto" | AttentionVariant;
}
type BackwardAttrs = Pick<AttentionAttrs, "nHead" | "variant">;

/** The variant for this runtime's adapter, or the forced one. */
function variantFor(rt: KernelEncoder, op: string, a: BackwardAttrs): AttentionVariant {
  const sub = rt.info.subgroupMinSize;
  if (a.variant === "subgroup" && (sub ?? 0) < 8) {
    throw new OpError(op, `variant "subgroup" needs the 'subgroups' feature with subgroups of at least 8 invocations; ` +
      `this adapter has ${sub === null ? "no subgroups" : `subgroups of ${sub}`}: use variant "tiled" or "auto"`);
  }
  if (a.variant !== "auto") return a.variant;
  return selectAttentionVariant({ isSoftware: rt.info.isSoftware, subgroupMinSize: sub });
}

/** Encodes one part of the attention with its uniform (bound last). */
function run(rt: KernelEncoder, part: AttentionPart, v: AttentionVariant, d: AttentionDims, buffers: GPUBuffer[]): void {
  dispatchPlan(rt, attentionPlan(part, v, d, { unroll: !rt.info.isSoftware }), buffers);
}

function dimsOf(op: string, qkv: Meta, nHead: number): AttentionDims {
  const [B, T, C3] = qkv.shape;
  if (qkv.shape.length !== 3 || C3 % 3 !== 0 || T < 1) {
    throw new OpError(op, `qkv must be [B, T, 3C] with T >= 1, got ${fmt(qkv.shape)}`);
  }
  const C = C3 / 3;
  if (!Number.isInteger(nHead) || nHead < 1 || C % nHead !== 0) {
    throw new OpError(op, `nHead ${nHead} must be a positive divisor of C = ${C} (qkv ${fmt(qkv.shape)})`);
  }
  return { B, T, H: nHead, D: C / nHead };
}

/** f64 reference of the scaled causal scores row of (b, h, t): s[0..t]. */
function scores(Q: Float64Array, d: AttentionDims, b: number, h: number, t: number): number[] {
  const { T, H, D } = d, C = H * D, sc = 1 / Math.sqrt(D), out: number[] = [];
  const q = (b * T + t) * 3 * C + h * D;
  for (let s = 0; s <= t; s++) {
    const k = (b * T + s) * 3 * C + C + h * D;
    let acc = 0;
    for (let j = 0; j < D; j++) acc += Q[q + j] * Q[k + j];
    out.push(acc * sc);
  }
  return out;
}

const attentionOp = defineOp<AttentionAttrs>({
  name: "causalAttention",
  infer: ([qkv], a) => {
    requireFloat("causalAttention", [qkv]);
    const { B, T, H, D } = dimsOf("causalAttention", qkv, a.nHead);
    const outs: Meta[] = [{ shape: [B, T, H * D], dtype: "f32" }, { shape: [B, H, T], dtype: "f32" }];
    if (a.returnProbs) outs.push({ shape: [B, H, T, T], dtype: "f32" });
    return outs;
  },
  cpu: ([qkv], [y, lse, probs], a) => {
    const d = dimsOf("causalAttention", qkv, a.nHead), { B, T, H, D } = d, C = H * D;
    const Q = qkv.s.f64;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
      const sc = scores(Q, d, b, h, t);
      const m = Math.max(...sc);
      const ls = m + Math.log(sc.reduce((acc, x) => acc + Math.exp(x - m), 0));
      const row = (b * H + h) * T + t;
      lse.s.f64[row] = ls;
      const yo = (b * T + t) * C + h * D;
      for (let j = 0; j < D; j++) y.s.f64[yo + j] = 0;
      sc.forEach((x, s) => {
        const p = Math.exp(x - ls), vo = (b * T + s) * 3 * C + 2 * C + h * D;
        for (let j = 0; j < D; j++) y.s.f64[yo + j] += p * Q[vo + j];
      });
      if (probs) for (let s = 0; s < T; s++) probs.s.f64[row * T + s] = s <= t ? Math.exp(sc[s] - ls) : 0;
    }
  },
  gpu: (rt, [qkv], [y, lse, probs], a) => {
    const d = dimsOf("causalAttention", qkv, a.nHead), v = variantFor(rt, "causalAttention", a);
    run(rt, "forward", v, d, [qkv.s.buffer, y.s.buffer, lse.s.buffer]);
    // Probes only: a second kernel recomputes the scores from the saved lse, so the plain path runs none of it.
    if (probs) run(rt, "probs", v, d, [qkv.s.buffer, lse.s.buffer, probs.s.buffer]);
  },
  nondiff: [1, 2],
  save: { inputs: [0], outputs: [0, 1] },
  backward: ({ inputs: [qkv], outputs: [y, lse], attrs }, [dy]) => {
    if (!dy) return [null];
    return [apply1(attentionBackwardOp, [dy, qkv!, y!, lse!], { nHead: attrs.nHead, variant: attrs.variant })];
  },
});

const attentionBackwardOp = defineOp<BackwardAttrs>({
  name: "causalAttentionBackward",
  infer: ([dy, qkv, y, lse], { nHead }) => {
    requireFloat("causalAttentionBackward", [dy, qkv, y, lse]);
    const { B, T, H, D } = dimsOf("causalAttentionBackward", qkv, nHead);
    if (!sameShape(dy.shape, [B, T, H * D]) || !sameShape(y.shape, dy.shape) || !sameShape(lse.shape, [B, H, T])) {
      throw new OpError("causalAttentionBackward", `for qkv ${fmt(qkv.shape)} with ${H} heads expected dy and ` +
        `y [${B}, ${T}, ${H * D}] and lse [${B}, ${H}, ${T}]; got ${fmt(dy.shape)}, ${fmt(y.shape)}, ${fmt(lse.shape)}`);
    }
    return [{ shape: qkv.shape, dtype: "f32" }];
  },
  cpu: ([dy, qkv, y, lse], [dqkv], { nHead }) => {
    const d = dimsOf("causalAttentionBackward", qkv, nHead), { B, T, H, D } = d, C = H * D;
    const Q = qkv.s.f64, G = dy.s.f64, Y = y.s.f64, DQ = dqkv.s.f64, sc = 1 / Math.sqrt(D);
    DQ.fill(0);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
      const yo = (b * T + t) * C + h * D, qo = (b * T + t) * 3 * C + h * D;
      let dt = 0;
      for (let j = 0; j < D; j++) dt += G[yo + j] * Y[yo + j];
      const ls = lse.s.f64[(b * H + h) * T + t];
      const ps = scores(Q, d, b, h, t).map((x) => Math.exp(x - ls));
      const dps = ps.map((_, s) => {
        const vo = (b * T + s) * 3 * C + 2 * C + h * D;
        let dp = 0;
        for (let j = 0; j < D; j++) dp += G[yo + j] * Q[vo + j];
        return dp;
      });
      // The dominant key (P > 1/2) takes dp − dt from the other keys (see shaders/attention.ts).
      const k = ps.findIndex((p) => p > 0.5);
      let pa = 0, pb = 0;
      ps.forEach((p, s) => {
        if (s !== k) {
          pa += p;
          pb += p * dps[s];
        }
      });
      ps.forEach((p, s) => {
        const ko = (b * T + s) * 3 * C + C + h * D, vo = ko + C;
        const ds = p * (s === k ? dps[s] * pa - pb : dps[s] - dt);
        for (let j = 0; j < D; j++) {
          DQ[qo + j] += ds * Q[ko + j] * sc;
          DQ[ko + j] += ds * Q[qo + j] * sc;
          DQ[vo + j] += p * G[yo + j];
        }
      });
    }
  },
  gpu: (rt, [dy, qkv, y, lse], [dqkv], a) => {
    const d = dimsOf("causalAttentionBackward", qkv, a.nHead), v = variantFor(rt, "causalAttentionBackward", a);
    const dvec = rt.scratch(d.B * d.H * d.T * ATTENTION_ROW_STATS * 4); // [B, H, T, 4]: lse, D, dominant key's dP − D, its index
    run(rt, "dq", v, d, [qkv, dy, y, lse, dqkv].map((x) => x.s.buffer).concat(dvec));
    run(rt, "dkv", v, d, [qkv.s.buffer, dy.s.buffer, dvec, dqkv.s.buffer]);
  },
});

/** Options of {@link causalAttention} and {@link causalAttentionWithStats}. */
export interface AttentionOptions {
  /** Also return the attention probabilities [B, H, T, T] (for probes; costs a T×T write). */
  returnProbs?: boolean;
  /** Force a kernel family (default "auto": by adapter); the backward uses the same. */
  variant?: "auto" | AttentionVariant;
}

/**
 * Causal multi-head self-attention on packed qkv [B, T, 3C] with `nHead` heads (scale 1/sqrt(D)):
 * returns y [B, T, C] with heads merged, ready for the output projection.
 */
export function causalAttention(qkv: Tensor, nHead: number, opts: Omit<AttentionOptions, "returnProbs"> = {}): Tensor {
  const [y, lse] = apply(attentionOp, [qkv], { nHead, returnProbs: false, variant: opts.variant ?? "auto" });
  lse.dispose();
  return y;
}

/**
 * Causal attention returning its statistics too: lse [B, H, T] (logsumexp of each query's
 * scaled scores) and, with `returnProbs`, probs [B, H, T, T] (zeros above the diagonal; else null).
 */
export function causalAttentionWithStats(
  qkv: Tensor, nHead: number, opts: AttentionOptions = {},
): { y: Tensor; lse: Tensor; probs: Tensor | null } {
  const [y, lse, probs] = apply(attentionOp, [qkv], {
    nHead, returnProbs: opts.returnProbs ?? false, variant: opts.variant ?? "auto",
  });
  return { y, lse, probs: probs ?? null };
}

/**
 * The fused attention backward: dqkv [B, T, 3C] from dy [B, T, C], qkv, the forward's y and
 * lse, recomputing probabilities (flash-attention style; deterministic, no atomics).
 */
export function causalAttentionBackward(
  dy: Tensor, qkv: Tensor, y: Tensor, lse: Tensor, nHead: number, opts: Pick<AttentionOptions, "variant"> = {},
): Tensor {
  return apply1(attentionBackwardOp, [dy, qkv, y, lse], { nHead, variant: opts.variant ?? "auto" });
}
