// The GPT-2 style causal Transformer (PROTOCOL.md, Notation): h^0 = E[x] + P[t], pre-LN blocks,
// logits = W_U LN_f(h^L) with W_U tied to E by default, mean next-token cross-entropy.
// Parameter names follow Hugging Face GPT-2 with `h.{l}` spelled `blocks.{l}`; stateDict() and
// loadStateDict() speak the Hugging Face names themselves (`transformer.h.{l}.…`, `lm_head.weight`).
import {
  add, crossEntropy, fromValues, layerNorm, matmul, OpError, fmt, readAll, reshape, Tensor,
  type Backend, type BackendName,
} from "../tensor/index";
import { hashInts } from "../data/rng";
import { Embedding, LayerNorm, initNormal } from "./layers";
import type { Lens } from "./lens";
import { Module, setValues } from "./module";
import { Block } from "./transformer";

/** Model configuration (stored in checkpoints; two models are compatible iff configs are equal). */
export interface GPTConfig {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Maximum context length (rows of the position embedding). */
  blockSize: number;
  vocabSize: number;
  /** W_U = E (default true); otherwise a separate `lm_head.weight` [V, C]. */
  tiedUnembedding?: boolean;
  /** Biases in the linear layers (default true). */
  bias?: boolean;
  /** LayerNorm epsilon (default 1e-5). */
  lnEps?: number;
  /** MLP width multiple (default 4). */
  mlpRatio?: number;
}

/** Fills in the defaults of a config and validates it. */
export function gptConfig(c: GPTConfig): Required<GPTConfig> {
  const full: Required<GPTConfig> = { tiedUnembedding: true, bias: true, lnEps: 1e-5, mlpRatio: 4, ...c };
  for (const k of ["nLayer", "nHead", "nEmbd", "blockSize", "vocabSize", "mlpRatio"] as const) {
    if (!Number.isInteger(full[k]) || full[k] < 1) throw new Error(`GPT config: ${k} must be a positive integer, got ${full[k]}`);
  }
  if (full.nEmbd % full.nHead !== 0) {
    throw new Error(`GPT config: nEmbd ${full.nEmbd} must be divisible by nHead ${full.nHead}`);
  }
  if (!(full.lnEps > 0)) throw new Error(`GPT config: lnEps must be positive, got ${full.lnEps}`);
  return full;
}

/** Construction options that are not part of the architecture. */
export interface GPTOptions {
  /** Backend of all parameters, an object or a name (default: the current default backend). */
  backend?: Backend | BackendName;
  /** Seed of the GPT-2 init (default 0). */
  seed?: number;
  /** Skip the random init (all weights zero, LN 1/0), e.g. before loading weights. */
  noInit?: boolean;
}

/** Result of {@link GPT.forward}. */
export interface GPTOutput {
  /** [B, T, V] */
  logits: Tensor;
  /** Mean cross-entropy over non-ignored targets (a 1-element tensor), when targets were given. */
  loss?: Tensor;
}

/**
 * A value for {@link GPT.loadStateDict}: a tensor (any backend), or host data such as a
 * {@link SafeTensor} from `parseSafetensors` (any numeric dtype; I64 values are converted to numbers).
 */
export type StateValue = Tensor | { readonly shape: readonly number[]; readonly data: ArrayLike<number> | BigInt64Array };

/** Options of {@link GPT.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Where the tensors came from (a file name, say), quoted in error messages. */
  source?: string;
}

/**
 * Our parameter name for a Hugging Face GPT-2 tensor name (`transformer.h.0.attn.c_attn.weight`
 * or `h.0.attn.c_attn.weight` → `blocks.0.attn.c_attn.weight`), or null for the causal-mask
 * buffers (`h.{l}.attn.bias`, `h.{l}.attn.masked_bias`) that carry no weights.
 */
export function hfToOurName(key: string): string | null {
  const k = key.startsWith("transformer.") ? key.slice("transformer.".length) : key;
  if (/^h\.\d+\.attn\.(masked_)?bias$/.test(k)) return null;
  return k.replace(/^h\.(\d+)\./, "blocks.$1.");
}

/**
 * The Hugging Face `GPT2LMHeadModel` name of one of our parameters (`blocks.0.ln_1.weight` →
 * `transformer.h.0.ln_1.weight`; `lm_head.weight` stays as it is).
 */
export function ourToHfName(name: string): string {
  return name === "lm_head.weight" ? name : `transformer.${name.replace(/^blocks\.(\d+)\./, "h.$1.")}`;
}

/**
 * GPT-2 with GPT-2 init: weights N(0, 0.02), residual projections N(0, 0.02/sqrt(2·nLayer)),
 * biases 0, LayerNorm 1/0. Taps: `blocks.{l}.*` (see Block; `attn_probs` on request), `ln_f.out`,
 * and `logits`, the last tap of a forward. What observers of the model may read besides its taps:
 * {@link GPT.lens} (the logit lens), {@link GPT.lastTap}, {@link GPT.vocabSize} and {@link GPT.logits}.
 */
export class GPT extends Module {
  readonly config: Required<GPTConfig>;
  /** The backend holding every parameter. */
  readonly backend: Backend;
  /** The tap that ends a forward. */
  readonly lastTap = "logits";
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly blocks: Block[];
  /** The final LayerNorm LN_f (probes use it for the logit lens). */
  readonly lnF: LayerNorm;
  /** Untied unembedding [V, C], or null when W_U = wte.weight. */
  readonly lmHead: Tensor | null;
  #positions = new Map<number, Tensor>();

  constructor(config: GPTConfig, opts: GPTOptions = {}) {
    super();
    const c = (this.config = gptConfig(config));
    const backend = opts.backend;
    const seed = opts.seed ?? 0;
    const std = opts.noInit ? 0 : 0.02;
    const residStd = std / Math.sqrt(2 * c.nLayer);
    let k = 0;
    const next = () => hashInts(seed, k++);
    this.wte = this.child("wte", new Embedding(c.vocabSize, c.nEmbd, { backend, std, seed: next() }));
    this.wpe = this.child("wpe", new Embedding(c.blockSize, c.nEmbd, { backend, std, seed: next() }));
    this.backend = this.wte.weight.backend;
    this.blocks = [];
    for (let l = 0; l < c.nLayer; l++) {
      const seeds: [number, number, number, number] = [next(), next(), next(), next()];
      const o = { ...c, backend, std, residStd, seeds };
      this.blocks.push(this.child(`blocks.${l}`, new Block(l, o)));
    }
    this.lnF = this.child("ln_f", new LayerNorm(c.nEmbd, c.lnEps, { backend }));
    this.lmHead = c.tiedUnembedding
      ? null
      : this.param("lm_head.weight", initNormal([c.vocabSize, c.nEmbd], { backend, std, seed: next() }));
  }

  /** Vocabulary size: token ids lie in [0, vocabSize). */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** The logit lens: LN_f with detached weights, W_U and the token embedding E. */
  get lens(): Lens {
    const ln = this.lnF, model = this;
    return {
      norm: (h) => layerNorm(h, ln.weight.detach(), ln.bias.detach(), ln.eps),
      get wU() { return model.wU; },
      get embedding() { return model.wte.weight; },
    };
  }

  /** The unembedding W_U [V, C] (the token embedding when tied). */
  get wU(): Tensor {
    return this.lmHead ?? this.wte.weight;
  }

  /** Logits from final-normalized states: [..., C] → [..., V] (x · W_Uᵀ). */
  unembed(x: Tensor): Tensor {
    return matmul(x, this.wU, { transB: true });
  }

  /** Position ids 0..T-1 as an i32 tensor, cached per T (kept across steps). */
  #pos(T: number): Tensor {
    let p = this.#positions.get(T);
    if (!p) {
      p = fromValues(Array.from({ length: T }, (_, i) => i), [T], { dtype: "i32", backend: this.backend }).keep();
      this.#positions.set(T, p);
    }
    return p;
  }

  /**
   * idx i32 [B, T] → logits [B, T, V]; with targets i32 [B, T] also the mean cross-entropy
   * (targets equal to `ignoreIndex`, default -1, are skipped).
   */
  forward(idx: Tensor, targets?: Tensor, opts: { ignoreIndex?: number } = {}): GPTOutput {
    if (idx.dtype !== "i32" || idx.rank !== 2) {
      throw new OpError("GPT.forward", `idx must be an i32 [B, T] tensor, got ${idx.dtype} ${fmt(idx.shape)}`);
    }
    const [B, T] = idx.shape;
    if (T > this.config.blockSize) {
      throw new OpError("GPT.forward", `sequence length ${T} exceeds blockSize ${this.config.blockSize}`);
    }
    if (targets && (targets.dtype !== "i32" || targets.shape.join() !== idx.shape.join())) {
      throw new OpError("GPT.forward", `targets must be i32 ${fmt(idx.shape)} like idx, got ${targets.dtype} ${fmt(targets.shape)}`);
    }
    let h = add(this.wte.forward(idx), this.wpe.forward(this.#pos(T))); // [B, T, C]
    for (const block of this.blocks) h = block.forward(h);
    const z = this.tap("ln_f.out", this.lnF.forward(h)); // [B, T, C]
    const logits = this.tap("logits", this.unembed(z)); // [B, T, V]
    if (!targets) return { logits };
    const V = this.config.vocabSize;
    const loss = crossEntropy(reshape(logits, [B * T, V]), reshape(targets, [B * T]), {
      ignoreIndex: opts.ignoreIndex ?? -1, reduction: "mean",
    });
    return { logits, loss };
  }

  /** The forward on token ids alone: idx i32 [B, T] → logits [B, T, V] (the same taps fire). */
  logits(idx: Tensor): Tensor {
    return this.forward(idx).logits;
  }

  /**
   * The parameters under Hugging Face `GPT2LMHeadModel` names, in registration order:
   * `transformer.wte.weight`, `transformer.wpe.weight`, `transformer.h.{l}.{ln_1,attn.c_attn,
   * attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}.{weight,bias}`, `transformer.ln_f.{weight,bias}`.
   * Linear weights are `[in, out]`, the layout of GPT-2's Conv1D, so nothing is transposed. A tied
   * model (the default, as in GPT-2) has no `lm_head.weight` entry: the unembedding is
   * `transformer.wte.weight`, which is also what `save_pretrained` writes for a tied GPT-2. An
   * untied model (`tiedUnembedding: false`) adds its own `lm_head.weight` [V, C].
   *
   * The values are the live parameter tensors, not copies: read them with `readAll`, never
   * dispose them.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.namedParameters()) out.set(ourToHfName(name), p);
    return out;
  }

  /**
   * Overwrites every parameter from a state dict with Hugging Face GPT-2 names (the output of
   * {@link GPT.stateDict}, a `parseSafetensors` result's tensors, or a `GPT2LMHeadModel`
   * state_dict saved with safetensors). Keys may carry the `transformer.` prefix or not; the
   * causal-mask buffers `attn.bias` / `attn.masked_bias` are ignored, and so is `lm_head.weight`
   * when the model is tied (Hugging Face ties it to `wte`). Every tensor is checked first — present,
   * right shape, a float dtype for host data, finite values, no unknown names — and on any problem it
   * throws an error naming the tensors and loads nothing. Tensors on a device are read back once.
   */
  async loadStateDict(dict: ReadonlyMap<string, StateValue> | Readonly<Record<string, StateValue>>, opts: LoadStateDictOptions = {}): Promise<void> {
    const who = `loadStateDict${opts.source ? `: ${opts.source}` : ""}`;
    const entries: [string, StateValue][] = dict instanceof Map ? [...dict] : Object.entries(dict as Record<string, StateValue>);
    const params = this.namedParameters();
    const given = new Map<string, [string, StateValue]>(); // our name → [key as given, value]
    const problems: string[] = [];
    for (const [key, v] of entries) {
      const ours = hfToOurName(key);
      if (ours === null || (ours === "lm_head.weight" && this.config.tiedUnembedding)) continue;
      if (!params.has(ours)) problems.push(`unexpected tensor "${key}"`);
      else if (given.has(ours)) problems.push(`tensor "${key}" is given twice (as "${given.get(ours)![0]}" too)`);
      else given.set(ours, [key, v]);
    }
    for (const [name, p] of params) {
      const g = given.get(name);
      const dtype = g && !(g[1] instanceof Tensor) ? (g[1] as { dtype?: unknown }).dtype : undefined;
      if (!g) problems.push(`tensor "${ourToHfName(name)}" is missing`);
      else if (g[1].shape.join() !== p.shape.join()) {
        problems.push(`tensor "${g[0]}" has shape [${g[1].shape.join(", ")}], expected [${p.shape.join(", ")}]`);
      } else if (typeof dtype === "string" && !["F32", "F64", "F16", "BF16"].includes(dtype)) {
        problems.push(`tensor "${g[0]}" has dtype ${dtype}, expected a float (F32, F16, BF16 or F64)`);
      }
    }
    const fail = () => {
      const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
      throw new Error(`${who}: ${problems.slice(0, 5).join("; ")}${more}; nothing was loaded`);
    };
    if (problems.length) fail();
    const groups = new Map<Tensor["backend"], Tensor[]>(); // device tensors, one readback per backend
    for (const [, v] of given.values()) if (v instanceof Tensor) groups.set(v.backend, [...(groups.get(v.backend) ?? []), v]);
    const read = new Map<Tensor, Float64Array>();
    for (const ts of groups.values()) (await readAll(ts)).forEach((v, i) => read.set(ts[i]!, v));
    const values = new Map<string, ArrayLike<number>>();
    for (const [name] of params) {
      const [key, v] = given.get(name)!;
      const raw = v instanceof Tensor ? read.get(v)! : v.data;
      const data = raw instanceof BigInt64Array ? Float64Array.from(raw, Number) : raw;
      let bad = -1;
      for (let i = 0; i < data.length && bad < 0; i++) if (!Number.isFinite(data[i])) bad = i;
      if (bad >= 0) problems.push(`tensor "${key}" holds ${data[bad]} at index ${bad}`);
      values.set(name, data);
    }
    if (problems.length) fail();
    for (const [name, p] of params) setValues(p, values.get(name)!);
  }

  override dispose(): void {
    super.dispose();
    for (const p of this.#positions.values()) p.dispose();
    this.#positions.clear();
  }
}
