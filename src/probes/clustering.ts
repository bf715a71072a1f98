// D6 (PROTOCOL.md): clustering of representations. For each layer, the residual stream h^l at N
// sampled positions is gathered on the device during the pass; after it, k-means runs on the device
// (kmeans.ts, k = number of classes of the label among the samples, several restarts) and the
// clusters are scored against each label on the host: Hungarian-matched macro F1, NMI, ARI, purity.
import { indexSelect, reshape, type Tensor } from "../tensor/index";
import { kmeansGpuMany, joinRows, type KmeansGpuOptions } from "./kmeans";
import { ari, matchedMacroF1, mulberry32, nmi, purity } from "./metrics";
import { RESIDUAL_TAPS, type PassOutput, type PrepareEnv, type Probe, type ProbeContext } from "./probe";

/** Options of {@link clustering}. */
export interface ClusteringOptions extends Omit<KmeansGpuOptions, "seed"> {
  /** Labels to score against (each batch must carry them), e.g. ["seed", "next", "seedNext"]. */
  labels: readonly string[];
  /** Probe name and key prefix (default "D6"). */
  name?: string;
  /** Taps whose distinct tensors are h^0, h^1, … (default {@link RESIDUAL_TAPS}). */
  taps?: readonly string[];
  /** Number of positions N sampled uniformly without replacement among those every label covers (default 1024). */
  samples?: number;
  /** Seed of the sampling and of the k-means restarts (default 0). */
  seed?: number;
  /** k per label (default: the number of distinct classes among the sampled positions). */
  k?: Readonly<Record<string, number>>;
}

/** Scores of one label, per layer. */
export interface LabelClusterScores {
  k: number;
  f1: number[];
  nmi: number[];
  ari: number[];
  purity: number[];
  /** Inertia and Lloyd iterations of the best restart. */
  inertia: number[];
  iterations: number[];
  /** Cluster of each sampled position (same order as `positions`), per layer: score other labelings with it. */
  assign: Int32Array[];
}

/** What D6 reports after an evaluation pass. */
export interface ClusteringResult {
  definition: "D6";
  reading: string;
  /** Number of sampled positions N. */
  n: number;
  /** The sampled positions as (forward, flat index b·T + t) pairs, in pass order. */
  positions: { forward: number; index: number }[];
  labels: Record<string, LabelClusterScores>;
}

/** Reading of D6 used here. */
export const D6_READING = "clustering: k-means (k-means++ seeding, restarts, on the device) of h^l at N uniformly sampled " +
  "positions that carry every label, k = number of classes of the label among them; Hungarian-matched macro F1, NMI, ARI, purity (D6)";

/** D6 probe (evaluation passes only). */
export function clustering(opts: ClusteringOptions): Probe<ClusteringResult> {
  const name = opts.name ?? "D6";
  const { labels, samples = 1024, seed = 0 } = opts;
  if (labels.length === 0) throw new Error("D6: give at least one label");
  let perForward: Int32Array[] = [];
  let positions: { forward: number; index: number }[] = [];
  return {
    name,
    definition: "D6",
    reading: D6_READING,
    taps: opts.taps ?? RESIDUAL_TAPS,
    needs: { labels },
    evalOnly: true,
    prepare(env: PrepareEnv) {
      const all: { forward: number; index: number }[] = [];
      env.batches.forEach((b, f) => {
        for (let i = 0; i < b.B * b.T; i++) if (labels.every((l) => b.labels![l][i] >= 0)) all.push({ forward: f, index: i });
      });
      const n = Math.min(samples, all.length);
      const rng = mulberry32(seed);
      for (let i = 0; i < n; i++) { // partial Fisher–Yates
        const j = i + Math.floor(rng() * (all.length - i));
        [all[i], all[j]] = [all[j], all[i]];
      }
      positions = all.slice(0, n).sort((a, b) => a.forward - b.forward || a.index - b.index);
      perForward = env.batches.map((_, f) => Int32Array.from(positions.filter((p) => p.forward === f), (p) => p.index));
    },
    onTap(_tap: string, h: Tensor, l: number, ctx: ProbeContext) {
      const idx = perForward[ctx.forward];
      if (!idx?.length) return;
      const { B, T } = ctx.batch;
      const C = h.shape[h.rank - 1];
      const rows = indexSelect(reshape(h, [B * T, C]), 0, ctx.ids(`${name}.positions`, idx, B * T)); // [n_f, C]
      ctx.array(`${name}.reps`, l, rows, "concat", { read: false });
    },
    async finish(out: PassOutput): Promise<ClusteringResult> {
      const labelOf = (l: string) => Int32Array.from(positions, (p) => out.batches[p.forward].labels![l][p.index]);
      const result: ClusteringResult = { definition: "D6", reading: D6_READING, n: positions.length, positions, labels: {} };
      if (positions.length === 0) throw new Error("D6: no position carries every label");
      const ys = labels.map(labelOf);
      const ks = ys.map((y, i) => opts.k?.[labels[i]] ?? new Set(y).size);
      const scores: LabelClusterScores[] = ks.map((k) => ({ k, f1: [], nmi: [], ari: [], purity: [], inertia: [], iterations: [], assign: [] }));
      // Layer by layer: each layer's rows are joined, read back and seeded from once for all labels.
      for (const pieces of out.pieces(`${name}.reps`)) {
        const X = joinRows(pieces);
        try {
          const rs = await kmeansGpuMany(X, ks.map((k) => Math.min(k, positions.length)), { ...opts, seed });
          rs.forEach((r, i) => {
            const s = scores[i]!, y = ys[i]!;
            s.f1.push(matchedMacroF1(r.assign, y));
            s.nmi.push(nmi(r.assign, y));
            s.ari.push(ari(r.assign, y));
            s.purity.push(purity(r.assign, y));
            s.inertia.push(r.inertia);
            s.iterations.push(r.iterations);
            s.assign.push(r.assign);
          });
        } finally {
          if (X !== pieces[0]) X.dispose();
        }
      }
      labels.forEach((l, i) => { result.labels[l] = scores[i]!; });
      return result;
    },
  };
}
