// D2 (PROTOCOL.md): inner-gradient alignment. g^l_t = ∂ℓ^l_t/∂h^l_t through LN_f and W_U only
// (h^l detached as a fresh leaf, the functional grad() leaves every .grad alone); cos(Δ^l_t, −g^l_t)
// for Δ = h^{l+1} − h^l, its attention and MLP parts and a fixed random direction (control), and the
// fitted step size η_l = Σ_t⟨Δ^l_t, −g^l_t⟩ / Σ_t‖g^l_t‖² (least squares over positions).
import {
  add, crossEntropy, div, grad, mul, neg, noGrad, randn, reshape, sqrt, square, sub, sum, type Tensor,
} from "../tensor/index";
import { joinField, maskUnscored, meanFinite } from "./host";
import { lensLogits, type Lens, type PassOutput, type Probe, type ProbeContext } from "./probe";

/** Options of {@link alignment}. */
export interface AlignmentOptions {
  /** Probe name and key prefix (default "D2"). */
  name?: string;
  /** Block-output taps h^{l+1}; the stream index is the layer l (default `blocks.*.out`). */
  taps?: readonly string[];
  /** Sibling tap names (same prefix) of h^l and of the attention / MLP parts of Δ^l. */
  input?: string;
  attn?: string;
  mlp?: string;
  /** Seed of the random control direction (default 0). */
  seed?: number;
}

/** What D2 reports after an evaluation pass, per layer l = 0..L−1. */
export interface AlignmentResult {
  definition: "D2";
  reading: string;
  /** Mean over scored positions of cos(Δ^l_t, −g^l_t), of its attention / MLP parts and of the random control. */
  cos: number[];
  cosAttn: number[];
  cosMlp: number[];
  cosRandom: number[];
  /** η_l = Σ_t⟨Δ^l_t, −g^l_t⟩ / Σ_t‖g^l_t‖² over the scored positions of the pass. */
  eta: number[];
  /** Mean ‖g^l_t‖ over scored positions. */
  gradNorm: number[];
  /** cos(Δ^l_t, −g^l_t) per layer, [nSeq, T] in pass order; NaN at unscored positions. */
  perPosition: Float64Array[];
  shape: [number, number];
}

/** Reading of D2 used here. */
export const D2_READING = "inner-gradient alignment: g^l_t = ∂ℓ^l_t/∂h^l_t through LN_f and W_U only (detached leaf); " +
  "cos(Δ^l_t, −g^l_t) with Δ^l = h^{l+1} − h^l, its attention and MLP parts, and a fixed N(0, I) direction as control; " +
  "means over scored positions; η_l = Σ_t⟨Δ,−g⟩ / Σ_t‖g‖² (D2)";

/**
 * The inner gradient g = ∂(Σ_t ℓ_t)/∂h of the lens loss (D1) at each position, from a detached
 * leaf through `lens` only: h [..., C] with targets i32 [N] → g [N, C]. Needs grad mode.
 */
export function innerGradient(lens: Lens, h: Tensor, targets: Tensor, ignoreIndex = -1): Tensor {
  const C = h.shape[h.rank - 1];
  const leaf = reshape(h.detach(), [h.size / C, C]).requireGrad();
  const ce = crossEntropy(lensLogits(lens, leaf), targets, { ignoreIndex, reduction: "none" }); // [N]
  return grad(sum(ce), [leaf])[0]!;
}

/** D2 probe. Per-step keys `${name}.cos|cos_attn|cos_mlp|cos_random|eta|grad_norm` [l]. */
export function alignment(opts: AlignmentOptions = {}): Probe<AlignmentResult> {
  const name = opts.name ?? "D2";
  const parts = { input: opts.input ?? "in", attn: opts.attn ?? "attn_out", mlp: opts.mlp ?? "mlp_out" };
  const seed = opts.seed ?? 0;
  const q = ["cos", "cos_attn", "cos_mlp", "cos_random"] as const;
  return {
    name,
    definition: "D2",
    reading: D2_READING,
    taps: opts.taps ?? ["blocks.*.out"],
    needs: { targets: true, lens: true, grad: true },
    onTap(tap: string, out: Tensor, l: number, ctx: ProbeContext) {
      const prefix = tap.slice(0, tap.lastIndexOf(".") + 1);
      const sib = (p: string): Tensor => {
        const t = ctx.tapped(prefix + p);
        if (!t) throw new Error(`D2: tap '${prefix + p}' did not fire before '${tap}'`);
        return t;
      };
      const h = sib(parts.input), a = sib(parts.attn), f = sib(parts.mlp);
      const C = h.shape[h.rank - 1], N = h.size / C;
      const g = innerGradient(ctx.lens, h, ctx.targets(), ctx.ignoreIndex); // [N, C]
      noGrad(() => {
        const gg = sum(square(g), -1); // [N]
        const dotNeg = (u: Tensor) => neg(sum(mul(reshape(u, [N, C]), g), -1)); // ⟨u, −g⟩ [N]
        const cos = (u: Tensor, dot: Tensor) => div(dot, sqrt(add(mul(sum(square(reshape(u, [N, C])), -1), gg), 1e-30)));
        const valid = ctx.valid(), inv = 1 / Math.max(1, ctx.nValid);
        const mean = (v: Tensor) => mul(sum(mul(v, valid)), inv);
        const delta = sub(out, h);
        const dDelta = dotNeg(delta);
        const rnd = ctx.persistent(`${name}.random:${N}x${C}:${seed}`, () => randn([N, C], { seed, backend: ctx.backend }));
        const cs = [cos(delta, dDelta), cos(a, dotNeg(a)), cos(f, dotNeg(f)), cos(rnd, dotNeg(rnd))];
        cs.forEach((c, i) => ctx.scalar(`${name}.${q[i]}`, l, mean(c)));
        ctx.scalar(`${name}.eta`, l, div(sum(dDelta), add(sum(gg), 1e-30)));
        ctx.scalar(`${name}.grad_norm`, l, mean(sqrt(gg)));
        if (!ctx.arrays) return;
        const { B, T } = ctx.batch;
        cs.forEach((c, i) => ctx.array(`${name}.${q[i]}`, l, reshape(c, [B, T]), "concat"));
        ctx.array(`${name}.dot`, l, reshape(dDelta, [B, T]), "concat");
        ctx.array(`${name}.gg`, l, reshape(gg, [B, T]), "concat");
      });
    },
    finish(out: PassOutput): AlignmentResult {
      const y = joinField(out.batches, (b) => b.y);
      const masked = (k: string) => out.arrays(`${name}.${k}`).map((a) => maskUnscored(a.data, y, out.ignoreIndex));
      const [cos, cosAttn, cosMlp, cosRandom] = q.map(masked);
      const dot = masked("dot"), gg = masked("gg");
      const total = (v: Float64Array) => v.reduce((s, x) => (Number.isFinite(x) ? s + x : s), 0);
      return {
        definition: "D2", reading: D2_READING,
        cos: cos.map(meanFinite), cosAttn: cosAttn.map(meanFinite), cosMlp: cosMlp.map(meanFinite),
        cosRandom: cosRandom.map(meanFinite),
        eta: dot.map((d, l) => total(d) / total(gg[l])),
        gradNorm: gg.map((v) => meanFinite(v.map(Math.sqrt))),
        perPosition: cos,
        shape: [out.batches.reduce((s, b) => s + b.B, 0), out.batches[0].T],
      };
    },
  };
}
