// D3 (PROTOCOL.md): representation norms ‖h^l_t‖₂ per layer (a per-step scalar), and in
// evaluation passes per position, per token type and per next-token type (deterministic segment
// sums on the device), plus ‖E[v]‖, ‖W_U[v]‖ and Spearman correlations with log token frequency.
import {
  indexSelectBackward, mean, readAll, reshape, tidy, type Tensor,
} from "../tensor/index";
import { countIds, joinField, meanFinite, spearmanFinite } from "./host";
import { Stash, deferred, rowNorms, stacked } from "./stream";
import { RESIDUAL_TAPS, type PassOutput, type PrepareEnv, type Probe, type ProbeContext } from "./probe";

/** Options of {@link norms}. */
export interface NormsOptions {
  /** Probe name and key prefix (default "D3"). */
  name?: string;
  /** Taps whose distinct tensors are h^0, h^1, … (default {@link RESIDUAL_TAPS}). */
  taps?: readonly string[];
  /** Vocabulary size for the per-token tables (default: W_U's rows, else the largest id + 1). */
  vocabSize?: number;
  /** Token frequencies [V] for the correlations (default: counts of x over the pass). */
  tokenFrequency?: ArrayLike<number>;
}

/** What D3 reports after an evaluation pass. */
export interface NormsResult {
  definition: "D3";
  reading: string;
  /** Mean ‖h^l_t‖ over every position of the pass, per layer. */
  perLayer: number[];
  /** ‖h^l_t‖ per layer, [nSeq, T] row-major in pass order. */
  perPosition: Float64Array[];
  /** Mean over sequences per position t, per layer ([T]). */
  byPosition: Float64Array[];
  /** Mean norm per current token id v (NaN where v never occurs), per layer ([V]). */
  byToken: Float64Array[];
  /** Mean norm per next-token id (scored positions only), per layer ([V]). */
  byNextToken: Float64Array[];
  /** Occurrences of each id as current / next token in the pass. */
  tokenCount: Float64Array;
  nextCount: Float64Array;
  /** The frequencies used for the correlations. */
  frequency: Float64Array;
  /** ‖E[v]‖ and ‖W_U[v]‖ per token (null without a lens / embedding). */
  embeddingNorm: Float64Array | null;
  unembeddingNorm: Float64Array | null;
  /** Spearman correlations with log frequency over tokens with frequency > 0 (and, per layer, occurrences). */
  spearman: { byToken: number[]; byNextToken: number[]; embedding: number; unembedding: number };
  shape: [number, number];
}

/** Reading of D3 used here. */
export const D3_READING = "norms: ‖h^l_t‖₂ of the residual stream (before any LayerNorm) per layer, position, " +
  "token and next token; ‖E[v]‖, ‖W_U[v]‖; Spearman with log token frequency (D3)";

/** D3 probe. Per-step key `${name}.norm` [l]; the rest in evaluation passes. */
export function norms(opts: NormsOptions = {}): Probe<NormsResult> {
  const name = opts.name ?? "D3";
  const taps = opts.taps ?? RESIDUAL_TAPS;
  const stash = new Stash();
  let V = opts.vocabSize ?? 0;
  return {
    name,
    definition: "D3",
    reading: D3_READING,
    taps,
    prepare(env: PrepareEnv) {
      if (opts.vocabSize) return;
      let maxId = -1;
      for (const b of env.batches) for (const v of b.x) maxId = Math.max(maxId, v);
      V = Math.max(env.lens?.wU.shape[0] ?? 0, maxId + 1);
    },
    onTap(_tap: string, h: Tensor, l: number, ctx: ProbeContext) {
      if (deferred(ctx)) return stash.put(ctx, l, h);
      const { B, T } = ctx.batch;
      const C = h.shape[h.rank - 1], N = h.size / C;
      const hn = rowNorms(reshape(h, [N, C])); // [N]
      ctx.scalar(`${name}.norm`, l, mean(hn));
      if (!ctx.arrays) return;
      if (N !== B * T) throw new Error(`D3: tap of shape [${h.shape}] does not hold B·T = ${B * T} positions`);
      ctx.array(`${name}.per_position`, l, reshape(hn, [B, T]), "concat");
      const col = reshape(hn, [N, 1]);
      // Segment sums by id; ids outside [0, V) land in the extra row V.
      ctx.array(`${name}.token_sum`, l, indexSelectBackward(col, ctx.ids("x", ctx.batch.x, V), 0, V + 1), "sum");
      if (ctx.batch.y) {
        const y = Int32Array.from(ctx.batch.y, (v) => (v === ctx.ignoreIndex ? -1 : v));
        ctx.array(`${name}.next_sum`, l, indexSelectBackward(col, ctx.ids("y", y, V), 0, V + 1), "sum");
      }
    },
    onForwardEnd(ctx: ProbeContext) {
      const hs = stash.take(ctx);
      if (hs.length === 0) return;
      if (hs.some((h) => h.size !== hs[0].size)) {
        hs.forEach((h, l) => ctx.scalar(`${name}.norm`, l, mean(rowNorms(reshape(h, [h.size / h.shape[h.rank - 1], h.shape[h.rank - 1]])))));
        return;
      }
      const X = stacked(ctx, taps, hs); // [(L+1)·N, C]
      ctx.scalars(`${name}.norm`, mean(reshape(rowNorms(X), [hs.length, X.shape[0] / hs.length]), 1));
    },
    async finish(out: PassOutput): Promise<NormsResult> {
      const x = joinField(out.batches, (b) => b.x);
      const y = joinField(out.batches, (b) => b.y && Int32Array.from(b.y, (v) => (v === out.ignoreIndex ? -1 : v)));
      const tokenCount = countIds(V, x), nextCount = countIds(V, y);
      const frequency = opts.tokenFrequency ? Float64Array.from(opts.tokenFrequency) : tokenCount;
      const logF = frequency.map((f) => (f > 0 ? Math.log(f) : NaN));
      const perPosition = out.arrays(`${name}.per_position`).map((a) => a.data);
      const [nSeq, T] = [out.batches.reduce((s, b) => s + b.B, 0), out.batches[0].T];
      const byPosition = perPosition.map((v) => {
        const m = new Float64Array(T);
        for (let i = 0; i < v.length; i++) m[i % T] += v[i] / nSeq;
        return m;
      });
      const perToken = (key: string, counts: Float64Array) => out.arrays(key).map((a) =>
        Float64Array.from({ length: V }, (_, v) => (counts[v] > 0 ? a.data[v] / counts[v] : NaN)));
      const byToken = perToken(`${name}.token_sum`, tokenCount);
      const byNextToken = perToken(`${name}.next_sum`, nextCount);
      let embeddingNorm: Float64Array | null = null, unembeddingNorm: Float64Array | null = null;
      const lens = out.lens;
      if (lens) {
        const ts = tidy(() => [rowNorms(lens.wU.detach()), ...(lens.embedding ? [rowNorms(lens.embedding.detach())] : [])]);
        const vals = await readAll(ts);
        for (const t of ts) t.dispose();
        unembeddingNorm = vals[0].slice(0, V);
        embeddingNorm = vals[1]?.slice(0, V) ?? null;
      }
      const withLog = (v: Float64Array | null) => (v ? spearmanFinite(v, logF) : NaN);
      return {
        definition: "D3", reading: D3_READING,
        perLayer: perPosition.map(meanFinite), perPosition, byPosition, byToken, byNextToken,
        tokenCount, nextCount, frequency, embeddingNorm, unembeddingNorm,
        spearman: {
          byToken: byToken.map((v) => spearmanFinite(v, logF)),
          byNextToken: byNextToken.map((v) => spearmanFinite(v, logF)),
          embedding: withLog(embeddingNorm), unembedding: withLog(unembeddingNorm),
        },
        shape: [nSeq, T],
      };
    },
  };
}
