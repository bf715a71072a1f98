// Test cases for the fused hot-path ops: layer norm, cross-entropy, embedding, causal attention
// (each with its fused backward op, compared GPU vs cpu64 directly) and the in-place AdamW step.
import * as T from "../../src/node";
import type { OpCase } from "../check";
import { saturatedBatch } from "../saturated";
import { SplitMix32 } from "../../src/tensor/random";

const ln = (label: string, shape: number[], extra: Partial<OpCase> = {}): OpCase => ({
  label, inputs: [{ shape }, { shape: [shape[shape.length - 1]] }, { shape: [shape[shape.length - 1]] }],
  run: ([x, w, b]) => T.layerNorm(x, w, b), ...extra,
});
/** Rows with mean 1e4 and std 1: centring through the f32-rounded mean costs ~5e-4 relative. */
const lnLargeMean = (N: number, C: number): OpCase => {
  const g = new SplitMix32(4), r = (n: number, f: () => number) => Array.from({ length: n }, () => Math.fround(f()));
  return {
    label: `large mean 1e4, std 1 [${N},${C}]${C % 4 === 0 ? " (vec4)" : ""}`, rowTol: 1e-5, noFiniteDiff: true,
    inputs: [{ shape: [N, C], values: r(N * C, () => 1e4 + g.normal()) },
      { shape: [C], values: r(C, () => 1 + 0.1 * g.normal()) }, { shape: [C], values: r(C, () => 0.1 * g.normal()) }],
    run: ([x, w, b]) => T.layerNorm(x, w, b),
  };
};
const lnBack = (label: string, N: number, C: number): OpCase => ({
  label, noGradcheck: true,
  inputs: [{ shape: [N, C] }, { shape: [N, C] }, { shape: [C] }, { shape: [N] }, { shape: [N], kind: "pos" }],
  run: ([dy, x, w, mean, rstd]) => T.layerNormBackward(dy, x, w, mean, rstd),
});

const ids = (N: number, values?: number[], high?: number) =>
  ({ shape: [N], dtype: "i32" as const, values, high });
const ce = (label: string, N: number, V: number, opts: T.CrossEntropyOptions, targets?: number[], extra: Partial<OpCase> = {}): OpCase => ({
  label, inputs: [{ shape: [N, V] }, ids(N, targets, V)],
  run: ([z, t]) => T.crossEntropy(z, t, opts), ...extra,
});
const ceBack = (label: string, N: number, V: number, opts: T.CrossEntropyOptions, targets: number[]): OpCase => ({
  label, noGradcheck: true,
  inputs: [{ shape: opts.reduction === "none" ? [N] : [] }, { shape: [N, V] }, ids(N, targets)],
  run: ([g, z, t]) => {
    const { stats, count } = T.noGrad(() => T.crossEntropyWithStats(z, t, opts));
    return T.crossEntropyBackward(g, z, t, stats, count, opts);
  },
});

/** Saturated rows (margins 15–30 nats, |z| up to 1e4, wrong, tied, ignored): per-row relative error ≤ 1e-3. */
const ceSaturated = (V: number, opts: T.CrossEntropyOptions): OpCase => {
  const b = saturatedBatch(V, 1, opts.ignoreIndex ?? -1);
  return {
    label: `saturated rows [${b.N},${V}] ${opts.reduction ?? "mean"}${V % 4 === 0 ? " (vec4)" : ""}`, rowTol: 1e-3,
    inputs: [{ shape: [b.N, V], values: b.logits }, ids(b.N, b.targets)],
    run: ([z, t]) => T.crossEntropy(z, t, opts),
  };
};

const emb = (label: string, idShape: number[], V: number, C: number, extra: Partial<OpCase> = {}): OpCase => ({
  label, inputs: [{ shape: idShape, dtype: "i32", high: V }, { shape: [V, C] }],
  run: ([i, table]) => T.embedding(i, table), ...extra,
});
const embBack = (label: string, N: number, V: number, C: number, values?: number[]): OpCase => ({
  label, noGradcheck: true,
  inputs: [{ shape: [N, C] }, { shape: [N], dtype: "i32", high: V, values }],
  run: ([dy, i]) => T.embeddingBackward(dy, i, V),
});

type Variant = T.AttentionOptions["variant"];
const att = (
  label: string, B: number, Tn: number, H: number, D: number, extra: Partial<OpCase> = {}, variant?: Variant,
): OpCase => ({
  label: `${label}${variant ? ` ${variant}` : ""}`, inputs: [{ shape: [B, Tn, 3 * H * D] }],
  run: ([qkv]) => T.causalAttention(qkv, H, { variant }), ...extra,
});
/** Larger shapes: GPU forward and gradients against cpu64, no finite differences (they would take minutes). */
const attBig = (label: string, B: number, Tn: number, H: number, D: number, variant?: Variant): OpCase =>
  att(label, B, Tn, H, D, { noFiniteDiff: true }, variant);
/** Saturated attention rows: q and k ~ N(0, 25) so that scaled scores reach ~±100 (per-row error ≤ 1e-3). */
const attLarge = (variant: Variant, D = 8): OpCase => {
  const B = 2, Tn = 16, H = 2, C = H * D, g = new SplitMix32(3);
  const values = Array.from({ length: B * Tn * 3 * C }, (_, i) => Math.fround(g.normal() * (i % (3 * C) < 2 * C ? 5 : 1)));
  return {
    // cond 10: scores reach ±100 against ±10 at unit scale, and f32's rounding of a score is |s| u.
    label: `large scores B2 T16 H2 D${D} (|s| up to ~100) ${variant ?? "auto"}`, rowTol: 1e-3, cond: 10, inputs: [{ shape: [B, Tn, 3 * C], values }],
    run: ([qkv]) => T.causalAttention(qkv, H, { variant }),
  };
};
const attProbs = (label: string, B: number, Tn: number, H: number, D: number, extra: Partial<OpCase> = {}, variant?: Variant): OpCase => ({
  label: `${label}${variant ? ` ${variant}` : ""}`, inputs: [{ shape: [B, Tn, 3 * H * D] }], nondiff: [1, 2],
  run: ([qkv]) => {
    const { y, lse, probs } = T.causalAttentionWithStats(qkv, H, { returnProbs: true, variant });
    return [y, lse, probs!];
  }, ...extra,
});
const attBack = (label: string, B: number, Tn: number, H: number, D: number, variant?: Variant): OpCase => ({
  label: `${label}${variant ? ` ${variant}` : ""}`, noGradcheck: true,
  inputs: [{ shape: [B, Tn, 3 * H * D] }, { shape: [B, Tn, H * D] }],
  run: ([qkv, dy]) => {
    const { y, lse } = T.causalAttentionWithStats(qkv, H, { variant });
    return T.causalAttentionBackward(dy, qkv, y, lse, H, { variant });
  },
});
/** Both kernel families (the adapter's own runs through the cases without a variant). */
const VARIANTS = ["subgroup", "tiled"] as const;

const adamw = (label: string, shape: number[], o: Omit<T.AdamWOptions, "gradScale">, scale?: number | "tensor"): OpCase => ({
  label, noGradcheck: true,
  inputs: [{ shape }, { shape }, { shape }, { shape, kind: "pos" }, ...(scale === "tensor" ? [{ shape: [1], values: [0.5] }] : [])],
  run: ([p, g, m, v, s]) => {
    T.adamwUpdate(p, g, m, v, { ...o, gradScale: s ?? (scale as number | undefined) });
    return [p, m, v];
  },
});
const hp = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, step: 3 };

/** Cases keyed by registry op name. */
export const FUSED_CASES: Record<string, OpCase[]> = {
  layerNorm: [
    ln("x [2,3,5] (scalar)", [2, 3, 5]),
    ln("x [4,8] (vec4)", [4, 8]),
    ln("x [3,6] eps 0.1", [3, 6], { run: ([x, w, b]) => T.layerNorm(x, w, b, 0.1) }),
    ln("with stats [3,4]", [3, 4], {
      nondiff: [1, 2],
      run: ([x, w, b]) => { const r = T.layerNormWithStats(x, w, b); return [r.y, r.mean, r.rstd]; },
    }),
    ln("x [7] (one row)", [7]),
    ln("x [600,12] forward", [600, 12], { noGradcheck: true }),
    lnLargeMean(8, 32),
    lnLargeMean(300, 6),
  ],
  layerNormBackward: [
    lnBack("[5,6] (scalar)", 5, 6),
    lnBack("[6,8] (vec4)", 6, 8),
    lnBack("[600,8] dw/db partials (vec4)", 600, 8),
    lnBack("[300,5] dw/db partials (scalar)", 300, 5),
  ],
  crossEntropy: [
    ce("mean [6,10]", 6, 10, {}),
    ce("mean [5,8] (vec4) with ignored rows", 5, 8, {}, [1, -1, 7, 0, -1]),
    ce("sum [4,3]", 4, 3, { reduction: "sum" }),
    ce("sum [3,8] (vec4)", 3, 8, { reduction: "sum" }, [7, 0, -1]),
    ce("none [5,8] with ignored rows", 5, 8, { reduction: "none" }, [3, -1, 0, 7, 2]),
    ce("ignoreIndex 2 [4,6]", 4, 6, { ignoreIndex: 2 }, [2, 0, 2, 5]),
    ce("all rows ignored -> 0", 3, 4, {}, [-1, -1, -1]),
    ce("V = 1", 3, 1, {}, [0, 0, 0]),
    ce("with stats [4,5]", 4, 5, { reduction: "sum" }, [4, -1, 0, 1], {
      nondiff: [1, 2],
      run: ([z, t]) => { const r = T.crossEntropyWithStats(z, t, { reduction: "sum" }); return [r.loss, r.stats, r.count]; },
    }),
    ce("mean [37,300] forward", 37, 300, {}, undefined, { noGradcheck: true }),
    ce("mean [150,7] (reduction over 64 lanes)", 150, 7, {}),
    ce("none [70,4]", 70, 4, { reduction: "none" }),
    ceSaturated(32, { reduction: "none" }),
    ceSaturated(37, { reduction: "mean", ignoreIndex: 99 }),
  ],
  crossEntropyBackward: [
    ceBack("mean [4,8] (vec4)", 4, 8, {}, [1, -1, 7, 0]),
    ceBack("sum [3,5]", 3, 5, { reduction: "sum" }, [4, 0, 2]),
    ceBack("none [3,6] ignoreIndex 5", 3, 6, { reduction: "none", ignoreIndex: 5 }, [5, 1, 0]),
  ],
  embedding: [
    emb("ids [2,3] table [5,4] (vec4)", [2, 3], 5, 4),
    emb("ids [7] table [3,5] (repeats)", [7], 3, 5),
    emb("ids [2,2] table [9,6] (V > N)", [2, 2], 9, 6),
  ],
  embeddingBackward: [
    embBack("by vocab: 40 ids, V 7, C 12", 40, 7, 12),
    // Two blocks of 32 vocabulary rows, the second one partly past V.
    embBack("by vocab, vec4: 90 ids, V 45, C 8", 90, 45, 8),
    embBack("by position: 6 ids, V 50, C 3", 6, 50, 3, [4, 49, 4, 0, 17, 4]),
    embBack("by position, vec4: 5 ids, V 9, C 8", 5, 9, 8, [8, 8, 2, 8, 0]),
  ],
  causalAttention: [
    att("B1 T5 H1 D3 (scalar words)", 1, 5, 1, 3),
    att("B2 T7 H2 D4 (vec4)", 2, 7, 2, 4),
    att("B1 T6 H2 D1", 1, 6, 2, 1),
    att("B1 T1 H1 D2", 1, 1, 1, 2),
    att("B1 T37 H3 D3 forward", 1, 37, 3, 3, { noGradcheck: true }),
    attBig("B32 H4 T64 D16 (S1 shape)", 32, 64, 4, 16),
    attBig("B16 H4 T64 D12 (R1 shape)", 16, 64, 4, 12),
    attLarge(undefined),
    // Per family: GPU values and gradients against cpu64; the finite differences of the shared
    // cpu64 reference run once, in the cases above.
    ...VARIANTS.flatMap((v) => [
      att("B2 T9 H2 D4 (vec4)", 2, 9, 2, 4, {}, v),
      att("B1 T5 H1 D3 (scalar words)", 1, 5, 1, 3, {}, v),
      att("B1 T1 H1 D2", 1, 1, 1, 2, {}, v),
      attBig("B2 T41 H3 D12 (T past two row blocks and a partial tile)", 2, 41, 3, 12, v),
      attBig("B1 T70 H2 D128", 1, 70, 2, 128, v),
      attBig("B2 T67 H2 D6 (scalar words)", 2, 67, 2, 6, v),
      attLarge(v),
      attLarge(v, 64),
      attProbs("probs B2 T5 H2 D2", 2, 5, 2, 2, {}, v),
      attProbs("probs B2 T40 H2 D4 forward", 2, 40, 2, 4, { noGradcheck: true }, v),
      attProbs("probs B1 T33 H1 D5 forward", 1, 33, 1, 5, { noGradcheck: true }, v),
    ].map((c): OpCase => ({ noFiniteDiff: true, ...c }))),
    attProbs("probs B2 T5 H2 D2", 2, 5, 2, 2),
  ],
  causalAttentionBackward: [
    attBack("B1 T5 H1 D1", 1, 5, 1, 1),
    attBack("B2 T37 H2 D4 (vec4)", 2, 37, 2, 4),
    attBack("B1 T41 H3 D3", 1, 41, 3, 3),
    ...VARIANTS.flatMap((v) => [
      attBack("B2 T38 H2 D8 (vec4)", 2, 38, 2, 8, v),
      attBack("B1 T39 H1 D6 (scalar words)", 1, 39, 1, 6, v),
      attBack("B1 T1 H2 D4", 1, 1, 2, 4, v),
      attBack("B2 T70 H2 D128", 2, 70, 2, 128, v),
    ]),
  ],
  adamwUpdate: [
    adamw("[3,5] weight decay 0.1", [3, 5], { ...hp, weightDecay: 0.1 }),
    adamw("[8] (vec4) no decay, gradScale 0.25", [8], { ...hp, weightDecay: 0 }, 0.25),
    adamw("[2,4] gradScale tensor", [2, 4], { ...hp, weightDecay: 0.01, step: 1 }, "tensor"),
  ],
};
