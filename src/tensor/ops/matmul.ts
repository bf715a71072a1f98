// Batched matmul with transpose flags on either operand, so backward needs no transpose copies,
// and an optional bias [N] added to every row (fused into the product's store where the kernel can).
// a: [..., M, K] (or [..., K, M] with transA), b: [K, N] shared or [..., K, N] (or [N, K] with transB).
import { fmt, numel, OpError, sameShape } from "../shape";
import { apply1, defineOp } from "../op";
import { matmulKernel } from "../../shaders/matmul";
import type { Tensor } from "../tensor";
import { dispatchPlan, requireFloat } from "./util";
import { BINARY, reshape, sum, sumTo } from "./core";
import { binaryKernel } from "../../shaders/elementwise";

/** Transpose flags for {@link matmul}. */
export interface MatmulTransposes {
  /** Use aᵀ (a is stored [..., K, M]). */
  transA?: boolean;
  /** Use bᵀ (b is stored [..., N, K]). */
  transB?: boolean;
}

/** Transpose flags and an optional bias for {@link matmul}. */
export interface MatmulOptions extends MatmulTransposes {
  /**
   * [N], added to every row of the product (a Linear layer's bias). Where the product kernel can
   * (rowubo, on software adapters, N a multiple of 4) the add runs in its store, saving a pass over
   * the output and a dispatch; the result is the same as `add(matmul(a, b), bias)`, to the bit.
   */
  bias?: Tensor;
}

interface Dims { M: number; N: number; K: number; batch: number[]; bShared: boolean }

function dims(a: readonly number[], b: readonly number[], o: Required<MatmulTransposes>): Dims {
  const ra = a.length, rb = b.length;
  if (ra < 2 || rb < 2) {
    throw new OpError("matmul", `operands need rank >= 2, got ${fmt(a)} and ${fmt(b)}; reshape vectors to [1, K] or [K, 1]`);
  }
  const [M, Ka] = o.transA ? [a[ra - 1], a[ra - 2]] : [a[ra - 2], a[ra - 1]];
  const [Kb, N] = o.transB ? [b[rb - 1], b[rb - 2]] : [b[rb - 2], b[rb - 1]];
  if (Ka !== Kb) {
    throw new OpError("matmul", `inner dimensions differ: ${fmt(a)}${o.transA ? "ᵀ" : ""} · ` +
      `${fmt(b)}${o.transB ? "ᵀ" : ""} has K = ${Ka} vs ${Kb}`);
  }
  const batch = a.slice(0, ra - 2);
  const bShared = rb === 2;
  if (o.transA && bShared && batch.length > 0) {
    throw new OpError("matmul", `transA on a batched ${fmt(a)} with a shared 2-D b ${fmt(b)} is not ` +
      "supported; reshape a to 2-D or broadcast b to the batch");
  }
  if (!bShared && !sameShape(b.slice(0, rb - 2), batch)) {
    throw new OpError("matmul", `batch dimensions differ: ${fmt(a)} vs ${fmt(b)}; b must be 2-D or ` +
      "have the same batch dimensions as a");
  }
  return { M, N, K: Ka, batch, bShared };
}

// Inputs: a, b and, with a bias, the bias [N] (input 2).
const matmulOp = defineOp<Required<MatmulTransposes>>({
  name: "matmul",
  infer: (ins, o) => {
    requireFloat("matmul", ins);
    const [a, b, bias] = ins;
    const d = dims(a.shape, b.shape, o);
    if (bias && !(bias.shape.length === 1 && bias.shape[0] === d.N)) {
      throw new OpError("matmul", `bias ${fmt(bias.shape)} does not match the product's N = ${d.N} ` +
        `(${fmt(a.shape)}${o.transA ? "ᵀ" : ""} · ${fmt(b.shape)}${o.transB ? "ᵀ" : ""}); pass a bias of shape [${d.N}]`);
    }
    return [{ shape: [...d.batch, d.M, d.N], dtype: "f32" }];
  },
  cpu: ([a, b, bias], [c], o) => {
    const { M, N, K, batch, bShared } = dims(a.shape, b.shape, o);
    const A = a.s.f64, B = b.s.f64, C = c.s.f64, bv = bias?.s.f64;
    // Element strides of op(A)[m, k] and op(B)[k, n] in their stored layouts.
    const [am, ak] = o.transA ? [1, M] : [K, 1];
    const [bk, bn] = o.transB ? [1, K] : [N, 1];
    for (let z = 0; z < numel(batch); z++) {
      const ao = z * M * K, bo = bShared ? 0 : z * K * N, co = z * M * N;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0, ia = ao + m * am, ib = bo + n * bn; k < K; k++, ia += ak, ib += bk) s += A[ia] * B[ib];
          C[co + m * N + n] = bv ? s + bv[n] : s;
        }
      }
    }
  },
  gpu: (rt, [a, b, bias], [c], o) => {
    const { M, N, K, batch, bShared } = dims(a.shape, b.shape, o);
    if (M * N === 0) return;
    const outShape = [...batch, M, N];
    // Without a kernel that adds it in its store, the bias is a second pass: the product goes to
    // scratch and the bias add (the add op's kernel) writes C.
    const addBias = (product: GPUBuffer) => dispatchPlan(rt,
      binaryKernel("add", BINARY.add.wgsl, outShape, [N], outShape), [product, bias!.s.buffer, c.s.buffer]);
    if (K === 0) {
      if (!bias) return rt.clear(c.s.buffer);
      const zero = rt.scratch(M * N * numel(batch) * 4);
      rt.clear(zero);
      return addBias(zero);
    }
    const { launches, fusesBias } = matmulKernel({ M, N, K, batch: numel(batch), bShared, ...o }, rt.info);
    const env = { scratch: (bytes: number) => rt.scratch(bytes), uniform: (d: Uint32Array<ArrayBuffer>) => rt.uniform(d) };
    const separate = bias && !fusesBias;
    const out = separate ? rt.scratch(M * N * numel(batch) * 4) : c.s.buffer;
    for (const d of launches(a.s.buffer, b.s.buffer, out, env, fusesBias ? bias?.s.buffer : undefined)) {
      rt.dispatch(d.kernel, d.buffers, d.grid);
    }
    if (separate) addBias(out);
  },
  save: { inputs: [0, 1] },
  backward: ({ inputs: [a, b], attrs: o, needs, shapes }, [dy]) => {
    const { transA: tA, transB: tB } = o;
    const g = dy!;
    // dA: (dY · op(B)ᵀ), transposed back if A was stored transposed.
    const da = !needs[0] ? null : tA ? matmul(b!, g, { transA: tB, transB: true }) : matmul(g, b!, { transB: !tB });
    let db: Tensor | null = null;
    if (needs[1]) {
      const rank = a!.rank;
      if (b!.rank === 2 && rank > 2 && !tA) {
        // Fold the batch into rows: dB = Aᵀ·dY over all B·T rows at once.
        const a2 = reshape(a!, [-1, a!.shape[rank - 1]]);
        const g2 = reshape(g, [-1, g.shape[g.rank - 1]]);
        db = tB ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true });
      } else {
        const full = tB ? matmul(g, a!, { transA: true, transB: tA }) : matmul(a!, g, { transA: !tA });
        db = b!.rank === 2 && rank > 2 ? sum(full, [...Array(rank - 2).keys()]) : full;
      }
    }
    return [da, db, needs[2] ? sumTo(g, shapes[2]) : null];
  },
});

/** Batched matrix product op(a) · op(b), plus a bias [N] on every row (see {@link MatmulOptions}). */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return apply1(matmulOp, opts.bias ? [a, b, opts.bias] : [a, b], { transA: opts.transA ?? false, transB: opts.transB ?? false });
}
