// The pre-LN GPT-2 block and its parts: causal self-attention on the fused attention op (c_attn
// packs q|k|v as GPT-2 does), the GELU MLP, and Block with its tap points. The model is gpt.ts.
import { add, causalAttention, causalAttentionWithStats, gelu, type Tensor } from "../tensor/index";
import { LayerNorm, Linear, type ParamInitOptions } from "./layers";
import { Module } from "./module";

/** Sizes and init of one block. */
export interface BlockOptions {
  nHead: number;
  nEmbd: number;
  /** LayerNorm epsilon (GPT-2: 1e-5). */
  lnEps: number;
  /** MLP hidden width as a multiple of nEmbd (GPT-2: 4). */
  mlpRatio: number;
  /** Biases in the linear layers (GPT-2: true). */
  bias: boolean;
  backend?: ParamInitOptions["backend"];
  /** Weight std of c_attn / c_fc, and of the residual projections (c_proj). */
  std: number;
  residStd: number;
  /** Seeds of the four weight matrices. */
  seeds: [number, number, number, number];
}

/** Multi-head causal self-attention: c_attn [C, 3C] → fused attention → c_proj [C, C]. */
export class CausalSelfAttention extends Module {
  readonly cAttn: Linear;
  readonly cProj: Linear;

  constructor(readonly nHead: number, readonly nEmbd: number, o: BlockOptions) {
    super();
    if (nEmbd % nHead !== 0) throw new Error(`CausalSelfAttention: nEmbd ${nEmbd} is not divisible by nHead ${nHead}`);
    const { backend, bias } = o;
    this.cAttn = this.child("c_attn", new Linear(nEmbd, 3 * nEmbd, { backend, bias, std: o.std, seed: o.seeds[0] }));
    this.cProj = this.child("c_proj", new Linear(nEmbd, nEmbd, { backend, bias, std: o.residStd, seed: o.seeds[1] }));
  }

  /** x [B, T, C] → y [B, T, C], plus the probabilities [B, H, T, T] when `withProbs`. */
  forward(x: Tensor, withProbs = false): { y: Tensor; probs: Tensor | null } {
    const qkv = this.cAttn.forward(x); // [B, T, 3C]
    if (withProbs) {
      const { y: att, lse, probs } = causalAttentionWithStats(qkv, this.nHead, { returnProbs: true }); // [B, T, C], [B, H, T, T]
      lse.dispose();
      return { y: this.cProj.forward(att), probs };
    }
    const att = causalAttention(qkv, this.nHead); // [B, T, C]
    return { y: this.cProj.forward(att), probs: null };
  }
}

/** The GPT-2 MLP: c_fc [C, rC] → GELU (tanh form) → c_proj [rC, C]. */
export class MLP extends Module {
  readonly cFc: Linear;
  readonly cProj: Linear;

  constructor(nEmbd: number, o: BlockOptions) {
    super();
    const { backend, bias } = o;
    const hidden = o.mlpRatio * nEmbd;
    this.cFc = this.child("c_fc", new Linear(nEmbd, hidden, { backend, bias, std: o.std, seed: o.seeds[2] }));
    this.cProj = this.child("c_proj", new Linear(hidden, nEmbd, { backend, bias, std: o.residStd, seed: o.seeds[3] }));
  }

  /** [B, T, C] → [B, T, C] */
  forward(x: Tensor): Tensor {
    return this.cProj.forward(gelu(this.cFc.forward(x)));
  }
}

/**
 * Pre-LN block l: m = h + Attn(LN1(h)), h' = m + MLP(LN2(m)). Taps (under `blocks.{l}.`): `in` (h),
 * `attn_probs` (on request: computed only when the tap hook `wants` it), `attn_out`,
 * `mid` (m), `mlp_out`, `out` (h').
 */
export class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: MLP;

  constructor(readonly layer: number, o: BlockOptions) {
    super();
    this.ln1 = this.child("ln_1", new LayerNorm(o.nEmbd, o.lnEps, { backend: o.backend }));
    this.attn = this.child("attn", new CausalSelfAttention(o.nHead, o.nEmbd, o));
    this.ln2 = this.child("ln_2", new LayerNorm(o.nEmbd, o.lnEps, { backend: o.backend }));
    this.mlp = this.child("mlp", new MLP(o.nEmbd, o));
  }

  /** h [B, T, C] → h' [B, T, C] */
  forward(h: Tensor): Tensor {
    this.tap("in", h);
    const { y: a, probs } = this.attn.forward(this.ln1.forward(h), this.wants("attn_probs"));
    if (probs) this.tap("attn_probs", probs);
    this.tap("attn_out", a);
    const m = this.tap("mid", add(h, a));
    const f = this.tap("mlp_out", this.mlp.forward(this.ln2.forward(m)));
    return this.tap("out", add(m, f));
  }
}
