// D5 (PROTOCOL.md): attention over history. The model runs with attention probabilities; for
// each sequence the query row (its last labelled position) of every layer and head is gathered on
// the device [B·H, T]; after the pass the host ranks the earlier positions by weight and reports
// the share of the top-k and bottom-k (least attended) that carry the query's label.
import { indexSelect, reshape, type Tensor } from "../tensor/index";
import type { HostArray, PassOutput, PrepareEnv, Probe, ProbeBatch, ProbeContext } from "./probe";

/** Options of {@link attentionHistory}. */
export interface AttentionHistoryOptions {
  /** Labels to compare (each batch must carry them), e.g. ["seed", "next", "seedNext"]. */
  labels: readonly string[];
  /** Probe name and key prefix (default "D5"). */
  name?: string;
  /** How many most / least attended positions (default 10). */
  k?: number;
  /** Attention-probability taps [B, H, T, T]; stream index = layer (default `blocks.*.attn_probs`). */
  taps?: readonly string[];
  /** Query position of sequence b (default: the last position where every label is ≥ 0; −1 = skip). */
  query?: (batch: ProbeBatch, b: number) => number;
}

/** Shares of one label, per layer (means over heads and sequences). */
export interface HistoryShares {
  /** Share of the k most attended earlier positions with the query's label. */
  top: number[];
  /** Share of the k least attended earlier positions with the query's label. */
  bottom: number[];
  /** Share of all earlier labelled positions with the query's label (chance level). */
  chance: number[];
  /** Sequences that contributed. */
  queries: number;
}

/** What D5 reports after an evaluation pass. */
export interface AttentionHistoryResult {
  definition: "D5";
  reading: string;
  k: number;
  labels: Record<string, HistoryShares>;
  /** Query positions per sequence (pass order; −1 = skipped). */
  queries: Int32Array;
  /** The gathered query rows per layer, [nSeq, H, T] (attention of the query to every position). */
  weights: HostArray[];
}

/** Reading of D5 used here. */
export const D5_READING = "attention over history: query = each sequence's last position where every label is defined; " +
  "per layer and head the earlier positions that carry a label are ranked by attention weight (on the host, from the " +
  "query rows gathered on the device); share of the top-k and bottom-k with the query's label, mean over heads and sequences (D5)";

/** The default query: the last position of sequence b where every label is ≥ 0 (−1 when none). */
function lastLabelled(labels: readonly string[]) {
  return (batch: ProbeBatch, b: number): number => {
    for (let t = batch.T - 1; t >= 0; t--) if (labels.every((l) => batch.labels![l][b * batch.T + t] >= 0)) return t;
    return -1;
  };
}

/** D5 probe (evaluation passes only; runs the model with attention probabilities). */
export function attentionHistory(opts: AttentionHistoryOptions): Probe<AttentionHistoryResult> {
  const name = opts.name ?? "D5";
  const { labels, k = 10 } = opts;
  const pick = opts.query ?? lastLabelled(labels);
  let queries: Int32Array[] = [];
  return {
    name,
    definition: "D5",
    reading: D5_READING,
    taps: opts.taps ?? ["blocks.*.attn_probs"],
    needs: { probs: true, labels },
    evalOnly: true,
    prepare(env: PrepareEnv) {
      queries = env.batches.map((b) => Int32Array.from({ length: b.B }, (_, i) => pick(b, i)));
    },
    onTap(_tap: string, probs: Tensor, l: number, ctx: ProbeContext) {
      const [B, H, T] = probs.shape;
      const q = queries[ctx.forward];
      const rows = Int32Array.from({ length: B * H }, (_, r) => r * T + Math.max(0, q[Math.floor(r / H)]));
      const picked = indexSelect(reshape(probs, [B * H * T, T]), 0, ctx.ids(`${name}.rows`, rows, B * H * T)); // [B·H, T]
      ctx.array(`${name}.rows`, l, reshape(picked, [B, H, T]), "concat");
    },
    finish(out: PassOutput): AttentionHistoryResult {
      const layers = out.arrays(`${name}.rows`);
      const qs = new Int32Array(queries.reduce((a, q) => a + q.length, 0));
      queries.reduce((off, q) => (qs.set(q, off), off + q.length), 0);
      const res: AttentionHistoryResult = { definition: "D5", reading: D5_READING, k, labels: {}, queries: qs, weights: layers };
      for (const lab of labels) {
        const s: HistoryShares = { top: [], bottom: [], chance: [], queries: 0 };
        for (const arr of layers) {
          const [, H, T] = arr.shape;
          let top = 0, bottom = 0, chance = 0, n = 0, seq = 0, queriesHere = 0;
          out.batches.forEach((batch, f) => {
            for (let b = 0; b < batch.B; b++, seq++) {
              const q = queries[f][b];
              const y = batch.labels![lab], base = b * batch.T;
              if (q < 1 || y[base + q] < 0) continue;
              const cand: number[] = [];
              for (let t = 0; t < q; t++) if (y[base + t] >= 0) cand.push(t);
              if (cand.length === 0) continue;
              queriesHere++;
              const same = (t: number) => +(y[base + t] === y[base + q]);
              const sameAll = cand.reduce((a, t) => a + same(t), 0) / cand.length;
              const kk = Math.min(k, cand.length);
              for (let h = 0; h < H; h++) {
                const w = arr.data.subarray((seq * H + h) * T, (seq * H + h + 1) * T);
                const order = [...cand].sort((a, c) => w[c] - w[a] || c - a); // heavier first; ties: more recent first
                top += order.slice(0, kk).reduce((a, t) => a + same(t), 0) / kk;
                bottom += order.slice(-kk).reduce((a, t) => a + same(t), 0) / kk;
                chance += sameAll;
                n++;
              }
            }
          });
          s.top.push(top / n);
          s.bottom.push(bottom / n);
          s.chance.push(chance / n);
          s.queries = queriesHere;
        }
        res.labels[lab] = s;
      }
      return res;
    },
  };
}
