// D2 (PROTOCOL.md): inner-gradient alignment. g^l_t = ∂ℓ^l_t/∂h^l_t through LN_f and W_U only
// (h^l detached as a fresh leaf, the functional grad() leaves every .grad alone); cos(Δ^l_t, −g^l_t)
// for Δ = h^{l+1} − h^l, its attention and MLP parts and a fixed random direction (control), and the
// fitted step size η_l = Σ_t⟨Δ^l_t, −g^l_t⟩ / Σ_t‖g^l_t‖² (least squares over positions).
// Training steps with a known last tap run every layer in one stacked backward.
import {
  add, concat, crossEntropy, div, grad, mul, neg, noGrad, randn, reshape, slice, sqrt, sub, sum, sumSquares, type Tensor,
} from "../tensor/index";
import { STACK_LIMIT, Stash, deferred, tiledTargets } from "./stream";
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

const Q = ["cos", "cos_attn", "cos_mlp", "cos_random"] as const;

/**
 * D2 for L layers at once: h, out, a, f are [L·N, C] (h^l, h^{l+1}, attention and MLP parts,
 * layer-major). Records every quantity as scalars at indices start … start+L−1.
 */
function measure(ctx: ProbeContext, name: string, seed: number, h: Tensor, out: Tensor, a: Tensor, f: Tensor, L: number, start: number): void {
  const C = h.shape[1], N = h.shape[0] / L;
  const g = innerGradient(ctx.lens, h, tiledTargets(ctx, L), ctx.ignoreIndex); // [L·N, C]
  noGrad(() => {
    const g3 = reshape(g, [L, N, C]);
    const gg = sumSquares(g3, -1); // [L, N]
    const dotNeg = (u: Tensor) => neg(sum(mul(u, g3), -1)); // ⟨u, −g⟩ [L, N]
    const cos = (u: Tensor, dot: Tensor) => div(dot, sqrt(add(mul(sumSquares(u, -1), gg), 1e-30)));
    const valid = reshape(ctx.valid(), [1, N]), inv = 1 / Math.max(1, ctx.nValid);
    const mean = (v: Tensor) => mul(sum(mul(v, valid), 1), inv); // [L]
    const as3 = (t: Tensor) => reshape(t, [L, N, C]);
    const delta = sub(as3(out), as3(h)), dDelta = dotNeg(delta);
    const rnd = reshape(ctx.persistent(`${name}.random:${N}x${C}:${seed}`, () => randn([N, C], { seed, backend: ctx.backend })), [1, N, C]);
    const cs = [cos(delta, dDelta), cos(as3(a), dotNeg(as3(a))), cos(as3(f), dotNeg(as3(f))), cos(rnd, dotNeg(rnd))];
    cs.forEach((c, i) => ctx.scalars(`${name}.${Q[i]}`, mean(c), start));
    ctx.scalars(`${name}.eta`, div(sum(dDelta, 1), add(sum(gg, 1), 1e-30)), start);
    ctx.scalars(`${name}.grad_norm`, mean(sqrt(gg)), start);
    if (!ctx.arrays) return;
    const { B, T } = ctx.batch;
    for (let l = 0; l < L; l++) {
      const row = (t: Tensor) => reshape(slice(t, [l, 0], [l + 1, N]), [B, T]);
      cs.forEach((c, i) => ctx.array(`${name}.${Q[i]}`, start + l, row(c), "concat"));
      ctx.array(`${name}.dot`, start + l, row(dDelta), "concat");
      ctx.array(`${name}.gg`, start + l, row(gg), "concat");
    }
  });
}

/**
 * D2 probe. Per-step keys `${name}.cos|cos_attn|cos_mlp|cos_random|eta|grad_norm` [l]; in
 * training steps with a known last tap all layers share one stacked backward.
 */
export function alignment(opts: AlignmentOptions = {}): Probe<AlignmentResult> {
  const name = opts.name ?? "D2";
  const parts = { input: opts.input ?? "in", attn: opts.attn ?? "attn_out", mlp: opts.mlp ?? "mlp_out" };
  const seed = opts.seed ?? 0;
  const q = Q;
  const stash = new Stash<{ h: Tensor; out: Tensor; a: Tensor; f: Tensor }>();
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
      if (deferred(ctx)) {
        stash.put(ctx, l, { h, out, a, f });
        return;
      }
      const C = h.shape[h.rank - 1], flat = (t: Tensor) => reshape(t, [t.size / C, C]);
      measure(ctx, name, seed, flat(h).detach(), flat(out), flat(a), flat(f), 1, l);
    },
    onForwardEnd(ctx: ProbeContext) {
      const layers = stash.take(ctx);
      if (layers.length === 0) return;
      const L = layers.length, { h } = layers[0], C = h.shape[h.rank - 1], N = h.size / C;
      const flat = (t: Tensor) => reshape(t, [N, C]);
      if (L * N * ctx.lens.wU.shape[0] > STACK_LIMIT) {
        layers.forEach((x, l) => measure(ctx, name, seed, flat(x.h).detach(), flat(x.out), flat(x.a), flat(x.f), 1, l));
        return;
      }
      const cat = (k: "h" | "out" | "a" | "f") => noGrad(() => concat(layers.map((x) => flat(x[k])), 0)); // [L·N, C]
      measure(ctx, name, seed, cat("h"), cat("out"), cat("a"), cat("f"), L, 0);
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
