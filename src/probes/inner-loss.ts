// D1 (PROTOCOL.md): the logit-lens inner loss ℓ^l_t = CE(W_U LN_f(h^l_t), x_{t+1}) through the
// model's own LN_f and W_U, per stream index l (h^0..h^L by default), as a per-step scalar (mean
// over scored positions) and, in evaluation passes, per position for Fig. 4's per-sample dots.
// In training steps with a known last tap, all layers go through LN_f and W_U in one stacked pass.
import { crossEntropy, mul, reshape, sum, type Tensor } from "../tensor/index";
import { STACK_LIMIT, Stash, deferred, stacked, tiledTargets } from "./stream";
import { joinField, maskUnscored, meanFinite } from "./host";
import { RESIDUAL_TAPS, lensLogits, type PassOutput, type Probe, type ProbeContext } from "./probe";

/** Options of {@link innerLoss}. */
export interface InnerLossOptions {
  /** Probe name and key prefix (default "D1"). */
  name?: string;
  /** Taps whose distinct tensors are h^0, h^1, … (default {@link RESIDUAL_TAPS}). */
  taps?: readonly string[];
}

/** What D1 reports after an evaluation pass. */
export interface InnerLossResult {
  definition: "D1";
  reading: string;
  /** ℓ^l per stream index l = 0..L: mean over every scored position of the pass. */
  perLayer: number[];
  /** ℓ^l_t per layer, [nSeq, T] row-major in pass order; NaN at unscored positions. */
  perPosition: Float64Array[];
  /** [nSeq, T] of perPosition. */
  shape: [number, number];
}

/** Reading of D1 used here. */
export const D1_READING = "inner loss: logit-lens CE of W_U·LN_f(h^l_t) against x_{t+1} with the model's own LN_f and W_U; " +
  "per layer the mean over scored positions (D1)";

/**
 * D1 probe. Per-step key `${name}.inner_loss` [l] (ℓ^L equals the model's own loss); evaluation
 * arrays `${name}.per_position` [l].
 */
export function innerLoss(opts: InnerLossOptions = {}): Probe<InnerLossResult> {
  const name = opts.name ?? "D1";
  const taps = opts.taps ?? RESIDUAL_TAPS;
  const stash = new Stash();
  const perLayer = (h: Tensor, l: number, ctx: ProbeContext) => {
    const { B, T } = ctx.batch;
    const C = h.shape[h.rank - 1];
    if (h.size !== B * T * C) throw new Error(`D1: tap of shape [${h.shape}] does not hold B·T = ${B * T} positions`);
    const z = lensLogits(ctx.lens, reshape(h, [B * T, C])); // [N, V]
    const ignoreIndex = ctx.ignoreIndex;
    if (!ctx.arrays) { // training: the fused mean over scored positions
      ctx.scalar(`${name}.inner_loss`, l, crossEntropy(z, ctx.targets(), { ignoreIndex, reduction: "mean" }));
      return;
    }
    const ce = crossEntropy(z, ctx.targets(), { ignoreIndex, reduction: "none" }); // [N]
    ctx.scalar(`${name}.inner_loss`, l, mul(sum(ce), 1 / Math.max(1, ctx.nValid)));
    ctx.array(`${name}.per_position`, l, reshape(ce, [B, T]), "concat");
  };
  return {
    name,
    definition: "D1",
    reading: D1_READING,
    taps,
    needs: { targets: true, lens: true },
    onTap(_tap: string, h: Tensor, l: number, ctx: ProbeContext) {
      if (deferred(ctx)) stash.put(ctx, l, h);
      else perLayer(h, l, ctx);
    },
    onForwardEnd(ctx: ProbeContext) {
      const hs = stash.take(ctx);
      if (hs.length === 0) return;
      const { B, T } = ctx.batch;
      const N = B * T, L1 = hs.length, V = ctx.lens.wU.shape[0];
      if (L1 * N * V > STACK_LIMIT || hs.some((h) => h.size !== hs[0].size)) {
        hs.forEach((h, l) => perLayer(h, l, ctx));
        return;
      }
      const z = lensLogits(ctx.lens, stacked(ctx, taps, hs)); // [(L+1)·N, V]
      const ce = crossEntropy(z, tiledTargets(ctx, L1), { ignoreIndex: ctx.ignoreIndex, reduction: "none" }); // [(L+1)·N]
      ctx.scalars(`${name}.inner_loss`, mul(sum(reshape(ce, [L1, N]), 1), 1 / Math.max(1, ctx.nValid)));
    },
    finish(out: PassOutput): InnerLossResult {
      const y = joinField(out.batches, (b) => b.y);
      const perPosition = out.arrays(`${name}.per_position`).map((a) => maskUnscored(a.data, y, out.ignoreIndex));
      return {
        definition: "D1", reading: D1_READING,
        perLayer: perPosition.map(meanFinite),
        perPosition,
        shape: [out.batches.reduce((s, b) => s + b.B, 0), out.batches[0].T],
      };
    },
  };
}
