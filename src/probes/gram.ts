// D4 (PROTOCOL.md, Proposition 1): for v ↦ Mv with MᵀM = UΛUᵀ, ‖Mv‖² = Σ_i λ_i (u_iᵀv)². The Gram
// W_UᵀW_U is formed on the device and eigendecomposed in f64 on the host (eig.ts, QL) before
// the pass; per token the projections (u_iᵀv)² are one matmul by U on the device. Two halves:
// the logit norm (M = W_U, v = LN_f(h^l_t)) and the inner gradient before LN_f's Jacobian
// (M = W_Uᵀ acting on r = p − e_y, i.e. ‖W_Uᵀr‖² = Σ_i λ_i (w_iᵀr)² with w_i = W_U u_i/√λ_i the
// eigenvectors of W_U W_Uᵀ, computed as ((W_U u_i)ᵀ r)²), plus correlations of ‖h^l_t‖.
import {
  crossEntropyBackward, crossEntropyWithStats, exp, fromValues, full, matmul, neg, readAll, reshape, slice,
  square, sumSquares, type Tensor,
} from "../tensor/index";
import { countIds, joinField, positions, spearmanFinite } from "./host";
import { symEigQL } from "./eig";
import { rowNorms } from "./stream";
import { RESIDUAL_TAPS, type PassOutput, type PrepareEnv, type Probe, type ProbeContext } from "./probe";

/** Options of {@link gram}. */
export interface GramOptions {
  /** Probe name and key prefix (default "D4"). */
  name?: string;
  /** Taps whose distinct tensors are h^0, h^1, … (default {@link RESIDUAL_TAPS}). */
  taps?: readonly string[];
  /** Eigen-directions counted in the shares (default 1, 2, 4, …, up to C). */
  topK?: readonly number[];
  /** Token frequencies [V] for the correlation with ‖h‖ (default: counts of x over the pass). */
  tokenFrequency?: ArrayLike<number>;
}

/** One half of the decomposition, per layer. */
export interface GramHalf {
  /** max / mean over positions of |‖Mv‖² − Σ_i λ_i(u_iᵀv)²| / ‖Mv‖² (the identity's relative residual). */
  residualMax: number[];
  residualMean: number[];
  /** share[l][j]: Σ_t of the top-topK[j] eigen-terms over Σ_t of all terms. */
  share: number[][];
  /** Mean ‖Mv‖² over the positions used. */
  meanSquare: number[];
}

/** What D4 reports after an evaluation pass. */
export interface GramResult {
  definition: "D4";
  reading: string;
  /** Eigenvalues λ of W_UᵀW_U, descending. */
  eigenvalues: Float64Array;
  topK: number[];
  /** M = W_U on v = LN_f(h^l_t) (all positions). */
  logit: GramHalf;
  /** M = W_Uᵀ on r = p − e_y of the lens at layer l (scored positions). */
  gradient: GramHalf;
  /** Spearman of ‖h^l_t‖ with the lens confidence max_v p^l_t (same layer / final layer), ℓ^l_t, t, log freq(x_t). */
  correlations: { confidence: number[]; finalConfidence: number[]; innerLoss: number[]; position: number[]; logFrequency: number[] };
}

/** Reading of D4 used here. */
export const D4_READING = "Gram decomposition: ‖Mv‖² = Σ_i λ_i(u_iᵀv)² with W_UᵀW_U = UΛUᵀ (f64 eigendecomposition on the host); logit half M = W_U, " +
  "v = LN_f(h^l_t); gradient half M = W_Uᵀ on r = p − e_y (the inner gradient before LN_f's Jacobian), terms ((W_U u_i)ᵀr)²; " +
  "top-k shares pooled over positions; Spearman of ‖h^l_t‖ with lens confidence, ℓ^l_t, position, log frequency (D4)";

/** D4 probe (evaluation passes only; needs the lens and targets). */
export function gram(opts: GramOptions = {}): Probe<GramResult> {
  const name = opts.name ?? "D4";
  let dev: { U: Tensor; lam: Tensor; ones: Tensor; WU: Tensor } | null = null;
  let eigenvalues: Float64Array = new Float64Array(0), topK: number[] = [];
  const free = () => {
    for (const t of Object.values(dev ?? {})) t.dispose();
    dev = null;
  };
  return {
    name,
    definition: "D4",
    reading: D4_READING,
    taps: opts.taps ?? RESIDUAL_TAPS,
    needs: { targets: true, lens: true },
    evalOnly: true,
    async prepare(env: PrepareEnv) {
      free();
      const W = env.lens!.wU.detach(); // [V, C]
      const C = W.shape[1];
      const G = matmul(W, W, { transA: true }); // [C, C]
      const g = (await readAll([G]))[0];
      G.dispose();
      const { values, vectors } = symEigQL(g, C);
      eigenvalues = values;
      topK = (opts.topK ?? Array.from({ length: Math.floor(Math.log2(C)) + 1 }, (_, i) => 2 ** i)).filter((k) => k >= 1 && k <= C);
      const cols = topK.length + 1; // the last column keeps every term
      const lam = new Float64Array(C * cols), ones = new Float64Array(C * cols);
      for (let i = 0; i < C; i++) {
        for (let j = 0; j < cols; j++) {
          const on = j === topK.length || i < topK[j] ? 1 : 0;
          lam[i * cols + j] = on * values[i];
          ones[i * cols + j] = on;
        }
      }
      const U = fromValues(vectors, [C, C], { backend: env.backend }).keep(); // columns u_i
      dev = {
        U, lam: fromValues(lam, [C, cols], { backend: env.backend }).keep(),
        ones: fromValues(ones, [C, cols], { backend: env.backend }).keep(),
        WU: matmul(W, U).keep(), // [V, C]: columns W_U u_i
      };
      W.dispose();
    },
    onTap(_tap: string, h: Tensor, l: number, ctx: ProbeContext) {
      if (!dev) throw new Error("D4: prepare() did not run (D4 runs in evaluation passes only)");
      const { B, T } = ctx.batch;
      const C = h.shape[h.rank - 1], N = B * T;
      const h2 = reshape(h, [N, C]), W = ctx.lens.wU.detach();
      const v = ctx.lens.norm(h2), z = matmul(v, W, { transB: true }); // [N, C], [N, V]
      const { loss, stats, count } = crossEntropyWithStats(z, ctx.targets(), { ignoreIndex: ctx.ignoreIndex, reduction: "none" });
      const r = crossEntropyBackward(full([N], 1, { backend: ctx.backend }), z, ctx.targets(), stats, count,
        { ignoreIndex: ctx.ignoreIndex, reduction: "none" }); // p − e_y [N, V], 0 on unscored rows
      const put = (k: string, t: Tensor) => ctx.array(`${name}.${k}`, l, t, "concat");
      put("logit_sq", sumSquares(z, -1));
      put("logit_terms", matmul(square(matmul(v, dev.U)), dev.lam)); // [N, K+1]
      put("grad_sq", sumSquares(matmul(r, W), -1));
      put("grad_terms", matmul(square(matmul(r, dev.WU)), dev.ones)); // [N, K+1]
      put("confidence", exp(neg(reshape(slice(stats, [0, 1], [N, 2]), [N])))); // max_j p_j = 1 / S
      put("loss", loss);
      put("norm", rowNorms(h2));
    },
    finish(out: PassOutput): GramResult {
      const y = joinField(out.batches, (b) => b.y), x = joinField(out.batches, (b) => b.x);
      const scored = (i: number) => y[i] !== out.ignoreIndex;
      const half = (sq: string, terms: string, use: (i: number) => boolean): GramHalf => {
        const res: GramHalf = { residualMax: [], residualMean: [], share: [], meanSquare: [] };
        const S = out.arrays(`${name}.${sq}`), Tm = out.arrays(`${name}.${terms}`);
        S.forEach((s, l) => {
          const cols = Tm[l].shape[1], tm = Tm[l].data;
          let rmax = 0, rsum = 0, n = 0, msq = 0;
          const tot = new Float64Array(cols);
          for (let i = 0; i < s.data.length; i++) {
            if (!use(i) || !(s.data[i] > 0)) continue;
            const rel = Math.abs(s.data[i] - tm[i * cols + cols - 1]) / s.data[i];
            rmax = Math.max(rmax, rel);
            rsum += rel;
            msq += s.data[i];
            n++;
            for (let j = 0; j < cols; j++) tot[j] += tm[i * cols + j];
          }
          res.residualMax.push(rmax);
          res.residualMean.push(rsum / n);
          res.meanSquare.push(msq / n);
          res.share.push(Array.from(tot.subarray(0, cols - 1), (t) => t / tot[cols - 1]));
        });
        return res;
      };
      const norm = out.arrays(`${name}.norm`).map((a) => a.data);
      const conf = out.arrays(`${name}.confidence`).map((a) => a.data);
      const loss = out.arrays(`${name}.loss`).map((a) => a.data.map((v, i) => (scored(i) ? v : NaN)));
      const pos = positions(out.batches);
      const freq = opts.tokenFrequency ? Float64Array.from(opts.tokenFrequency) : countIds(out.lens!.wU.shape[0], x);
      const logF = Float64Array.from(x, (v) => (freq[v] > 0 ? Math.log(freq[v]) : NaN));
      const last = conf[conf.length - 1];
      return {
        definition: "D4", reading: D4_READING, eigenvalues, topK,
        logit: half("logit_sq", "logit_terms", () => true),
        gradient: half("grad_sq", "grad_terms", scored),
        correlations: {
          confidence: norm.map((h, l) => spearmanFinite(h, conf[l])),
          finalConfidence: norm.map((h) => spearmanFinite(h, last)),
          innerLoss: norm.map((h, l) => spearmanFinite(h, loss[l])),
          position: norm.map((h) => spearmanFinite(h, pos)),
          logFrequency: norm.map((h) => spearmanFinite(h, logF)),
        },
      };
    },
    dispose: free,
  };
}
