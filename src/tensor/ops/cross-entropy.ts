// Fused softmax cross-entropy (log-softmax + NLL) over the last dim of logits [N, V] with integer
// targets, ignore_index and mean/sum/none reductions, and its one-kernel fused backward op. Both
// backends use the same stable formulas (see shaders/cross-entropy.ts): per-row stats (row max m,
// log S, S_t / S = 1 − p_t) so that p_t − 1 and the loss keep full relative precision on saturated rows.
import { fmt, OpError, sameShape } from "../shape";
import { apply, apply1, defineOp, type Arg, type Meta } from "../op";
import {
  CE_STATS, crossEntropyBackwardKernel, crossEntropyReduceKernel, crossEntropyRowKernel, type CrossEntropyReduction,
} from "../../shaders/cross-entropy";
import type { Tensor } from "../tensor";
import type { KernelEncoder } from "../webgpu/encoder";
import { checkIdsOnDevice, firstBadId, requireFloat } from "./util";

export type { CrossEntropyReduction } from "../../shaders/cross-entropy";

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Rows whose target equals this value add no loss and get no gradient (default -1). */
  ignoreIndex?: number;
  /** "mean" over non-ignored rows (default; 0 when all are ignored), "sum", or "none" (per-row [N]). */
  reduction?: CrossEntropyReduction;
}

type Attrs = Required<CrossEntropyOptions>;

function dims(op: string, logits: Meta, targets: Meta): [number, number] {
  if (logits.shape.length !== 2 || logits.shape[1] < 1) {
    throw new OpError(op, `logits must be [N, V] with V >= 1, got ${fmt(logits.shape)}; reshape to [-1, V]`);
  }
  const [N, V] = logits.shape;
  if (targets.dtype !== "i32" || !sameShape(targets.shape, [N])) {
    throw new OpError(op, `targets must be i32 [${N}] (one class id per row of logits ${fmt(logits.shape)}), ` +
      `got ${targets.dtype} ${fmt(targets.shape)}`);
  }
  return [N, V];
}

/**
 * The error for a target outside [0, V) that is not the ignore index: names the op, the value,
 * its row and the vocabulary size. cpu64 throws it at once; webgpu at the next readback.
 */
export function targetError(op: string, value: number, row: number, V: number, ignoreIndex: number): OpError {
  return new OpError(op, `target ${value} at row ${row} is outside [0, ${V}) (vocabulary size ${V}) and is not ` +
    `ignoreIndex ${ignoreIndex}; fix the data or pass { ignoreIndex } for padding rows`);
}

/** Throws {@link targetError} ("crossEntropy") for the first host target that is not a class or ignoreIndex: the check at upload. */
export function checkTargets(targets: ArrayLike<number>, V: number, ignoreIndex = -1): void {
  const bad = firstBadId(targets, V, ignoreIndex);
  if (bad) throw targetError("crossEntropy", bad[0], bad[1], V, ignoreIndex);
}

/** The cpu64 target check: a class id in [0, V) or the ignore index (else an OpError). */
function targetOf(op: string, t: Arg, r: number, V: number, ignore: number): number | null {
  const v = t.s.f64[r];
  if (v === ignore) return null;
  if (!Number.isInteger(v) || v < 0 || v >= V) throw targetError(op, v, r, V, ignore);
  return v;
}

/** The webgpu target check: a bad target fails the next readback with {@link targetError}. */
const deviceCheck = (rt: KernelEncoder, op: string, targets: Arg, V: number, ignore: number): void =>
  checkIdsOnDevice(rt, op, targets, V, ignore, (v, r) => targetError(op, v, r, V, ignore));

const lossShape = (N: number, a: Attrs) => (a.reduction === "none" ? [N] : []);

const crossEntropyOp = defineOp<Attrs>({
  name: "crossEntropy",
  infer: ([logits, targets], a) => {
    requireFloat("crossEntropy", [logits]);
    const [N] = dims("crossEntropy", logits, targets);
    return [
      { shape: lossShape(N, a), dtype: "f32" },
      { shape: [N, CE_STATS], dtype: "f32" }, // per row: m, log S, 1 − p_t
      { shape: [], dtype: "f32" }, // count of non-ignored rows
    ];
  },
  cpu: ([logits, targets], [loss, stats, count], a) => {
    const [N, V] = dims("crossEntropy", logits, targets);
    const Z = logits.s.f64, St = stats.s.f64;
    let s = 0, n = 0;
    for (let r = 0; r < N; r++) {
      const t = targetOf("crossEntropy", targets, r, V, a.ignoreIndex);
      let m = -Infinity;
      for (let j = 0; j < V; j++) m = Math.max(m, Z[r * V + j]);
      let l = 0, lt = 0;
      for (let j = 0; j < V; j++) {
        const e = Math.exp(Z[r * V + j] - m);
        l += e;
        if (j !== t) lt += e;
      }
      const ls = Math.log(l), rest = lt / l;
      St.set([m, ls, t === null ? 0 : rest], r * CE_STATS);
      const row = t === null ? 0 : rest <= 0.5 ? -Math.log1p(-rest) : m - Z[r * V + t] + ls;
      if (a.reduction === "none") loss.s.f64[r] = row;
      s += row;
      n += t === null ? 0 : 1;
    }
    count.s.f64[0] = n;
    if (a.reduction !== "none") loss.s.f64[0] = a.reduction === "sum" ? s : n > 0 ? s / n : 0;
  },
  gpu: (rt, [logits, targets], [loss, stats, count], a) => {
    const [N, V] = dims("crossEntropy", logits, targets);
    deviceCheck(rt, "crossEntropy", targets, V, a.ignoreIndex);
    const d = { N, V, ...a };
    const rows = a.reduction === "none" ? loss.s.buffer : rt.scratch(N * 4);
    const rk = crossEntropyRowKernel(d);
    rt.dispatch(rk.k, [logits.s.buffer, targets.s.buffer, stats.s.buffer, rows], rk.grid);
    const red = crossEntropyReduceKernel(d);
    const bufs = a.reduction === "none"
      ? [targets.s.buffer, count.s.buffer]
      : [targets.s.buffer, count.s.buffer, rows, loss.s.buffer];
    rt.dispatch(red, bufs, [1]);
  },
  nondiff: [1, 2],
  save: { inputs: [0, 1], outputs: [1, 2] },
  backward: ({ inputs: [logits, targets], outputs: [, stats, count], attrs }, [dloss]) => {
    if (!dloss) return [null, null];
    return [crossEntropyBackward(dloss, logits!, targets!, stats!, count!, attrs), null];
  },
});

const crossEntropyBackwardOp = defineOp<Attrs>({
  name: "crossEntropyBackward",
  infer: ([dloss, logits, targets, stats, count], a) => {
    requireFloat("crossEntropyBackward", [dloss, logits, stats, count]);
    const [N] = dims("crossEntropyBackward", logits, targets);
    if (!sameShape(dloss.shape, lossShape(N, a)) || !sameShape(stats.shape, [N, CE_STATS]) || count.shape.length !== 0) {
      throw new OpError("crossEntropyBackward", `expected dloss ${fmt(lossShape(N, a))}, stats [${N}, ${CE_STATS}], ` +
        `count [] for logits ${fmt(logits.shape)} (reduction ${a.reduction}); got ${fmt(dloss.shape)}, ` +
        `${fmt(stats.shape)}, ${fmt(count.shape)}; pass the stats crossEntropyWithStats returned`);
    }
    return [{ shape: logits.shape, dtype: "f32" }];
  },
  cpu: ([dloss, logits, targets, stats, count], [dlogits], a) => {
    const [N, V] = dims("crossEntropyBackward", logits, targets);
    const Z = logits.s.f64, G = dlogits.s.f64, St = stats.s.f64;
    for (let r = 0; r < N; r++) {
      const t = targetOf("crossEntropyBackward", targets, r, V, a.ignoreIndex);
      const g = t === null ? 0
        : a.reduction === "none" ? dloss.s.f64[r]
          : a.reduction === "sum" ? dloss.s.f64[0] : dloss.s.f64[0] / Math.max(count.s.f64[0], 1);
      const [m, ls, rest] = St.subarray(r * CE_STATS, r * CE_STATS + CE_STATS);
      for (let j = 0; j < V; j++) {
        G[r * V + j] = (j === t ? -rest : Math.exp(Z[r * V + j] - m - ls)) * g;
      }
    }
  },
  gpu: (rt, [dloss, logits, targets, stats, count], [dlogits], a) => {
    const [N, V] = dims("crossEntropyBackward", logits, targets);
    deviceCheck(rt, "crossEntropyBackward", targets, V, a.ignoreIndex);
    const { k, grid } = crossEntropyBackwardKernel({ N, V, ...a });
    rt.dispatch(k, [dloss, logits, targets, stats, count, dlogits].map((x) => x.s.buffer), grid);
  },
});

const attrsOf = (o: CrossEntropyOptions): Attrs => {
  const a = { ignoreIndex: o.ignoreIndex ?? -1, reduction: o.reduction ?? "mean" };
  if (!Number.isInteger(a.ignoreIndex) || !["mean", "sum", "none"].includes(a.reduction)) {
    throw new OpError("crossEntropy", `bad options ${JSON.stringify(o)}: ignoreIndex must be an integer ` +
      "and reduction one of mean, sum, none");
  }
  return a;
};

/**
 * Softmax cross-entropy of logits [N, V] against i32 targets [N]: a scalar for "mean" (over
 * non-ignored rows) and "sum", per-row losses [N] for "none". A target outside [0, V) other than
 * ignoreIndex is an error with the same message on both backends ({@link targetError}): cpu64
 * throws at once, webgpu at the next readback (its kernels skip the row meanwhile).
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const [loss, stats, count] = apply(crossEntropyOp, [logits, targets], attrsOf(opts));
  stats.dispose();
  count.dispose();
  return loss;
}

/**
 * Cross-entropy plus its saved statistics: `stats` [N, 3] holds per row the max logit m, log S with
 * S = Σ_j exp(z_j − m) (so logsumexp = m + log S), and 1 − p_target to full relative precision (0 on
 * ignored rows); `count` [] is the number of non-ignored rows.
 */
export function crossEntropyWithStats(
  logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {},
): { loss: Tensor; stats: Tensor; count: Tensor } {
  const [loss, stats, count] = apply(crossEntropyOp, [logits, targets], attrsOf(opts));
  return { loss, stats, count };
}

/**
 * The fused cross-entropy backward: dlogits [N, V] = (softmax − onehot) · dloss (/ count for
 * "mean"), zero on ignored rows. `dloss` is [] for mean/sum and [N] for "none"; `stats` and
 * `count` are what {@link crossEntropyWithStats} returned for these logits and targets.
 */
export function crossEntropyBackward(
  dloss: Tensor, logits: Tensor, targets: Tensor, stats: Tensor, count: Tensor, opts: CrossEntropyOptions = {},
): Tensor {
  return apply1(crossEntropyBackwardOp, [dloss, logits, targets, stats, count], attrsOf(opts));
}
