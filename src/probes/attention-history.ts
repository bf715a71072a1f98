// D5 (PROTOCOL.md): attention over history. The model runs with attention probabilities; every
// query position with enough history (all of them, or a seeded sample per sequence) has its
// attention row gathered on the device for every layer and head; after the pass the host ranks
// the earlier positions by weight and reports, per layer and head, the share of the top-k and
// bottom-k (least attended) that carry the query's label, beside three baselines computed from
// the same rows: the k most recent positions (recency), k positions drawn with the top-k's
// distance distribution (distance-matched), and every earlier position (chance).
import { indexSelect, reshape, type Tensor } from "../tensor/index";
import { mulberry32 } from "./metrics";
import type { HostArray, PassOutput, PrepareEnv, Probe, ProbeBatch, ProbeContext } from "./probe";

/** Options of {@link attentionHistory}. */
export interface AttentionHistoryOptions {
  /** Labels to compare (each batch must carry them), e.g. ["seed", "next", "seedNext"]. */
  labels: readonly string[];
  /** Probe name and key prefix (default "D5"). */
  name?: string;
  /** How many most / least attended positions (default 10). */
  k?: number;
  /** A query position q needs at least this many earlier positions, q ≥ minHistory (default 20). */
  minHistory?: number;
  /** At most this many query positions per sequence, a seeded uniform sample (default: all). */
  maxQueriesPerSeq?: number;
  /** Seed of the query sample (default 0). */
  seed?: number;
  /** Attention-probability taps [B, H, T, T]; stream index = layer (default `blocks.*.attn_probs`). */
  taps?: readonly string[];
}

/** One statistic per layer and head ([layer][head]), each a mean over the queries. */
export interface HeadShares {
  top: number[][];
  bottom: number[][];
  recency: number[][];
  distance: number[][];
  chance: number[][];
}

/** Shares of one label. Per layer: means over heads and queries; `byHead` keeps the heads apart. */
export interface HistoryShares {
  /** Share of the k most attended earlier positions with the query's label. */
  top: number[];
  /** Share of the k least attended earlier positions with the query's label. */
  bottom: number[];
  /** Share of the k most recent earlier labelled positions with the query's label (recency baseline). */
  recency: number[];
  /**
   * Expected share of k earlier positions drawn with the distance distribution of the top-k picks
   * of the same layer and head, pooled over queries (distance-matched baseline).
   */
  distance: number[];
  /** Share of all earlier labelled positions with the query's label (chance level). */
  chance: number[];
  byHead: HeadShares;
  /** Query positions that contributed (the query and at least one earlier position labelled). */
  queries: number;
}

/** What D5 reports after an evaluation pass. */
export interface AttentionHistoryResult {
  definition: "D5";
  reading: string;
  k: number;
  minHistory: number;
  labels: Record<string, HistoryShares>;
  /** The gathered queries in pass order: sequence index (over the pass) and position. */
  queries: { seq: Int32Array; pos: Int32Array };
  /** The gathered query rows per layer, [nQueries, H, T] (attention of each query to every position). */
  weights: HostArray[];
}

/** Reading of D5 used here. */
export const D5_READING = "attention over history: every query position q ≥ 20 whose labels are defined (or a seeded sample " +
  "per sequence); per layer and head the earlier positions that carry the label are ranked by attention weight on the host; " +
  "share of the top-k and bottom-k with the query's label, beside the k most recent positions (recency), k positions drawn " +
  "with the top-k's pooled distance distribution (distance-matched, expected value) and all earlier positions (chance); " +
  "means over queries, per head and averaged over heads (D5)";

/** Query positions of sequence b: q ≥ minHistory with every label defined, optionally a seeded sample. */
function queryPositions(batch: ProbeBatch, b: number, labels: readonly string[], minHistory: number,
  max: number, rng: () => number): number[] {
  const qs: number[] = [];
  for (let q = minHistory; q < batch.T; q++) if (labels.every((l) => batch.labels![l][b * batch.T + q] >= 0)) qs.push(q);
  if (qs.length <= max) return qs;
  for (let i = 0; i < max; i++) { // partial Fisher–Yates, then back in order
    const j = i + Math.floor(rng() * (qs.length - i));
    [qs[i], qs[j]] = [qs[j], qs[i]];
  }
  return qs.slice(0, max).sort((a, c) => a - c);
}

/** D5 probe (evaluation passes only; runs the model with attention probabilities). */
export function attentionHistory(opts: AttentionHistoryOptions): Probe<AttentionHistoryResult> {
  const name = opts.name ?? "D5";
  const { labels, k = 10, minHistory = 20, maxQueriesPerSeq = Infinity, seed = 0 } = opts;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`D5: k must be a positive integer, got ${k}`);
  if (!(Number.isInteger(minHistory) && minHistory >= 1)) throw new Error(`D5: minHistory must be a positive integer, got ${minHistory}`);
  let queries: number[][][] = []; // [forward][b] → positions
  return {
    name,
    definition: "D5",
    reading: D5_READING,
    taps: opts.taps ?? ["blocks.*.attn_probs"],
    needs: { labels },
    evalOnly: true,
    prepare(env: PrepareEnv) {
      const rng = mulberry32(seed);
      queries = env.batches.map((batch) => Array.from({ length: batch.B }, (_, b) =>
        queryPositions(batch, b, labels, minHistory, maxQueriesPerSeq, rng)));
    },
    onTap(_tap: string, probs: Tensor, l: number, ctx: ProbeContext) {
      const [B, H, T] = probs.shape;
      const rows: number[] = [];
      queries[ctx.forward].forEach((qs, b) => {
        for (const q of qs) for (let h = 0; h < H; h++) rows.push((b * H + h) * T + q);
      });
      if (rows.length === 0) return;
      const picked = indexSelect(reshape(probs, [B * H * T, T]), 0, ctx.ids(`${name}.rows`, Int32Array.from(rows), B * H * T)); // [nQ·H, T]
      ctx.array(`${name}.rows`, l, reshape(picked, [rows.length / H, H, T]), "concat");
    },
    finish(out: PassOutput): AttentionHistoryResult {
      const layers = out.arrays(`${name}.rows`);
      const seqOf: number[] = [], posOf: number[] = [], forwardOf: number[] = [], rowOf: number[] = [];
      let seq = 0;
      out.batches.forEach((batch, f) => {
        queries[f].forEach((qs, b) => {
          for (const q of qs) {
            seqOf.push(seq + b);
            posOf.push(q);
            forwardOf.push(f);
            rowOf.push(b);
          }
        });
        seq += batch.B;
      });
      const res: AttentionHistoryResult = {
        definition: "D5", reading: D5_READING, k, minHistory, labels: {},
        queries: { seq: Int32Array.from(seqOf), pos: Int32Array.from(posOf) }, weights: layers,
      };
      // Per label and layer: the sums over queries of each statistic per head, and the top-k distance histograms.
      const stats = labels.map(() => layers.map((arr) => {
        const [, H, T] = arr.shape;
        return { top: new Float64Array(H), bottom: new Float64Array(H), recency: new Float64Array(H), chance: new Float64Array(H),
          distance: new Float64Array(H), hist: Array.from({ length: H }, () => new Float64Array(T)), n: 0 };
      }));
      const order = new Int32Array(Math.max(1, ...layers.map((a) => a.shape[2])));
      for (let i = 0; i < posOf.length; i++) {
        const batch = out.batches[forwardOf[i]], base = rowOf[i] * batch.T, q = posOf[i];
        const ys = labels.map((l) => batch.labels![l]);
        layers.forEach((arr, l) => {
          const [, H, T] = arr.shape;
          for (let h = 0; h < H; h++) {
            // One sort per row, shared by every label: heavier first, ties the more recent first.
            const w = arr.data.subarray((i * H + h) * T, (i * H + h + 1) * T);
            for (let t = 0; t < q; t++) order[t] = t;
            const ord = order.subarray(0, q).sort((a, c) => w[c] - w[a] || c - a);
            ys.forEach((y, li) => {
              const yq = y[base + q];
              if (yq < 0) return;
              let nCand = 0, nSame = 0;
              for (let t = 0; t < q; t++) if (y[base + t] >= 0) { nCand++; nSame += +(y[base + t] === yq); }
              if (nCand === 0) return;
              const st = stats[li][l], kk = Math.min(k, nCand);
              let top = 0, bottom = 0, recent = 0;
              for (let j = 0, seen = 0; j < q && seen < kk; j++) {
                const t = ord[j];
                if (y[base + t] < 0) continue;
                top += +(y[base + t] === yq);
                st.hist[h][q - t]++;
                seen++;
              }
              for (let j = q - 1, seen = 0; j >= 0 && seen < kk; j--) {
                const t = ord[j];
                if (y[base + t] < 0) continue;
                bottom += +(y[base + t] === yq);
                seen++;
              }
              for (let t = q - 1, seen = 0; t >= 0 && seen < kk; t--) {
                if (y[base + t] < 0) continue;
                recent += +(y[base + t] === yq);
                seen++;
              }
              st.top[h] += top / kk;
              st.bottom[h] += bottom / kk;
              st.recency[h] += recent / kk;
              st.chance[h] += nSame / nCand;
              if (h === 0) st.n++;
            });
          }
        });
      }
      // Distance-matched: the expected same-label share of a draw with the pooled top-k distances of the layer and head.
      for (let i = 0; i < posOf.length; i++) {
        const batch = out.batches[forwardOf[i]], base = rowOf[i] * batch.T, q = posOf[i];
        labels.forEach((lab, li) => {
          const y = batch.labels![lab], yq = y[base + q];
          if (yq < 0) return;
          layers.forEach((arr, l) => {
            const st = stats[li][l];
            for (let h = 0; h < arr.shape[1]; h++) {
              let num = 0, den = 0, nSame = 0, nCand = 0;
              for (let t = 0; t < q; t++) {
                if (y[base + t] < 0) continue;
                const same = +(y[base + t] === yq), wd = st.hist[h][q - t];
                num += wd * same;
                den += wd;
                nSame += same;
                nCand++;
              }
              if (nCand) st.distance[h] += den > 0 ? num / den : nSame / nCand;
            }
          });
        });
      }
      labels.forEach((lab, li) => {
        const per = stats[li];
        const n = per[0]?.n ?? 0;
        const mean = (v: Float64Array) => Array.from(v, (x) => (n ? x / n : NaN));
        const byHead: HeadShares = {
          top: per.map((s) => mean(s.top)), bottom: per.map((s) => mean(s.bottom)), recency: per.map((s) => mean(s.recency)),
          distance: per.map((s) => mean(s.distance)), chance: per.map((s) => mean(s.chance)),
        };
        const avg = (m: number[][]) => m.map((row) => row.reduce((a, v) => a + v, 0) / row.length);
        res.labels[lab] = {
          top: avg(byHead.top), bottom: avg(byHead.bottom), recency: avg(byHead.recency), distance: avg(byHead.distance),
          chance: avg(byHead.chance), byHead, queries: n,
        };
      });
      return res;
    },
  };
}
