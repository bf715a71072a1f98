// Embedding lookup: rows of table [V, C] gathered by i32 ids [...], and its fused, deterministic
// backward op (dtable [V, C] without atomics). Kernels live in shaders/embedding.ts.
import { fmt, numel, OpError, sameShape } from "../shape";
import { apply1, defineOp, type Arg, type Meta } from "../op";
import { embeddingBackwardPlan, embeddingKernel } from "../../shaders/embedding";
import type { Tensor } from "../tensor";
import type { KernelEncoder } from "../webgpu/encoder";
import { checkIdsOnDevice, firstBadId, requireFloat } from "./util";

/** Attributes of embeddingBackward: the vocabulary size V (rows of the table). */
export interface EmbeddingBackwardAttrs {
  vocabSize: number;
}

function checkIdx(op: string, idx: Meta): void {
  if (idx.dtype !== "i32") {
    throw new OpError(op, `ids must be i32, got ${idx.dtype} ${fmt(idx.shape)}; create them with { dtype: "i32" }`);
  }
}

/**
 * The error for an id outside the table: names the op, the id, its position and the vocabulary
 * size. cpu64 throws it at once; webgpu's device check throws it at the next readback.
 */
export function idRangeError(op: string, id: number, pos: number, V: number): OpError {
  return new OpError(op, `id ${id} at position ${pos} is outside [0, ${V}): the table has ${V} rows ` +
    `(vocabulary size ${V}); fix the ids or build the model with a larger vocabSize`);
}

/** Throws {@link idRangeError} ("embedding") for the first host id outside [0, V): the check at upload. */
export function checkTokenIds(ids: ArrayLike<number>, V: number): void {
  const bad = firstBadId(ids, V);
  if (bad) throw idRangeError("embedding", bad[0], bad[1], V);
}

/** cpu64 id check: throws an OpError for an id outside [0, V). */
function idOf(op: string, idx: Arg, n: number, V: number): number {
  const id = idx.s.f64[n];
  if (!Number.isInteger(id) || id < 0 || id >= V) throw idRangeError(op, id, n, V);
  return id;
}

/** webgpu id check: an id outside [0, V) fails the next readback with {@link idRangeError}. */
const deviceCheck = (rt: KernelEncoder, op: string, idx: Arg, V: number): void =>
  checkIdsOnDevice(rt, op, idx, V, null, (v, p) => idRangeError(op, v, p, V));

const embeddingOp = defineOp<Record<string, never>>({
  name: "embedding",
  infer: ([idx, table]) => {
    checkIdx("embedding", idx);
    requireFloat("embedding", [table]);
    if (table.shape.length !== 2) {
      throw new OpError("embedding", `table must be [V, C], got ${fmt(table.shape)}`);
    }
    return [{ shape: [...idx.shape, table.shape[1]], dtype: "f32" }];
  },
  cpu: ([idx, table], [out]) => {
    const [V, C] = table.shape, N = numel(idx.shape);
    for (let n = 0; n < N; n++) {
      const id = idOf("embedding", idx, n, V);
      out.s.f64.set(table.s.f64.subarray(id * C, id * C + C), n * C);
    }
  },
  gpu: (rt, [idx, table], [out]) => {
    const [V, C] = table.shape;
    deviceCheck(rt, "embedding", idx, V);
    const { k, grid } = embeddingKernel({ N: numel(idx.shape), V, C });
    rt.dispatch(k, [idx.s.buffer, table.s.buffer, out.s.buffer], grid);
  },
  save: { inputs: [0] },
  backward: ({ inputs: [idx], shapes }, [dy]) => {
    if (!dy) return [null, null];
    return [null, embeddingBackward(dy, idx!, shapes[1][0])];
  },
});

const embeddingBackwardOp = defineOp<EmbeddingBackwardAttrs>({
  name: "embeddingBackward",
  infer: ([dy, idx], { vocabSize }) => {
    checkIdx("embeddingBackward", idx);
    requireFloat("embeddingBackward", [dy]);
    const C = dy.shape[dy.shape.length - 1];
    if (dy.shape.length < 1 || !sameShape(dy.shape.slice(0, -1), idx.shape)) {
      throw new OpError("embeddingBackward", `dy ${fmt(dy.shape)} must be [...ids, C] for ids ${fmt(idx.shape)}`);
    }
    if (!Number.isInteger(vocabSize) || vocabSize < 0) {
      throw new OpError("embeddingBackward", `vocabSize must be a non-negative integer, got ${vocabSize}`);
    }
    return [{ shape: [vocabSize, C], dtype: "f32" }];
  },
  cpu: ([dy, idx], [dtable], { vocabSize: V }) => {
    const N = numel(idx.shape), C = dtable.shape[1], G = dy.s.f64, D = dtable.s.f64;
    D.fill(0);
    for (let n = 0; n < N; n++) {
      const id = idOf("embeddingBackward", idx, n, V);
      for (let c = 0; c < C; c++) D[id * C + c] += G[n * C + c];
    }
  },
  gpu: (rt, [dy, idx], [dtable], { vocabSize: V }) => {
    deviceCheck(rt, "embeddingBackward", idx, V);
    const plan = embeddingBackwardPlan({ N: numel(idx.shape), V, C: dtable.shape[1] });
    if (plan.clearFirst) rt.clear(dtable.s.buffer);
    rt.dispatch(plan.k, [dy.s.buffer, idx.s.buffer, dtable.s.buffer], plan.grid);
  },
});

/**
 * Looks up rows of `table` [V, C] for the i32 ids `idx` [...], returning [..., C]. An id outside
 * [0, V) is an error with the same message on both backends ({@link idRangeError}): cpu64 throws at
 * once, webgpu at the next readback (its kernel reads a zero row meanwhile, never out of bounds).
 */
export function embedding(idx: Tensor, table: Tensor): Tensor {
  return apply1(embeddingOp, [idx, table], {});
}

/**
 * The fused embedding backward: dtable [vocabSize, C] with dtable[v] = Σ dy[n] over positions n
 * with idx[n] = v, summed in position order (deterministic, no atomics).
 */
export function embeddingBackward(dy: Tensor, idx: Tensor, vocabSize: number): Tensor {
  return apply1(embeddingBackwardOp, [dy, idx], { vocabSize });
}
