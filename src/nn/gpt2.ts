// Hugging Face GPT-2 format, in memory (browser-safe): config.json ⇄ GPTConfig, and a whole model
// ⇄ the bytes of `config.json` + `model.safetensors` in the layout `transformers`'
// GPT2LMHeadModel loads (names `transformer.h.{l}.…`, Conv1D weights [in, out], metadata
// format "pt"). Our Linear stores [in, out] too, so nothing is transposed. Files: gpt2-file.ts.
import type { BackendName } from "../tensor/index";
import { readAll } from "../tensor/index";
import { GPT, gptConfig, type GPTConfig } from "./gpt";
import { parseSafetensors, serializeSafetensors, type TensorInput } from "./safetensors";

/** A GPT-2 built from Hugging Face config and weights (what {@link gpt2FromBuffers} returns). */
export interface Gpt2Weights {
  model: GPT;
  config: Required<GPTConfig>;
}

/** Options of {@link gpt2FromBuffers}. */
export interface Gpt2FromBuffersOptions {
  /** Backend of the parameters (default: the current default backend). */
  backend?: BackendName;
  /** Name of the weights in error messages (default "model.safetensors"). */
  source?: string;
}

/** The two files of a Hugging Face GPT-2 folder, in memory (what {@link gpt2ToBuffers} returns). */
export interface Gpt2Buffers {
  /** The parsed `config.json` (write it with JSON.stringify). */
  config: Record<string, unknown>;
  /** The bytes of `model.safetensors`. */
  safetensors: Uint8Array;
}

const TANH_GELUS = new Set(["gelu_new", "gelu_pytorch_tanh", "gelu_fast"]);

/** Reads a Hugging Face GPT-2 config.json into a GPTConfig (throws naming the file and key). */
export function gpt2ConfigFromHf(path: string, hf: Record<string, unknown>): Required<GPTConfig> {
  const int = (...keys: string[]): number => {
    for (const k of keys) if (Number.isInteger(hf[k])) return hf[k] as number;
    throw new Error(`loadGpt2: ${path} has no integer "${keys.join('" or "')}"`);
  };
  const act = hf.activation_function ?? "gelu_new";
  if (typeof act !== "string" || !TANH_GELUS.has(act)) {
    throw new Error(`loadGpt2: ${path} has activation_function ${JSON.stringify(act)}; only the tanh GELU ` +
      `(${[...TANH_GELUS].join(", ")}) is supported`);
  }
  return gptConfig({
    nLayer: int("n_layer"), nHead: int("n_head"), nEmbd: int("n_embd"),
    blockSize: int("n_positions", "n_ctx"), vocabSize: int("vocab_size"),
    lnEps: typeof hf.layer_norm_epsilon === "number" ? hf.layer_norm_epsilon : 1e-5,
    tiedUnembedding: hf.tie_word_embeddings !== false,
    mlpRatio: Number.isInteger(hf.n_inner) ? (hf.n_inner as number) / int("n_embd") : 4,
  });
}

/**
 * The Hugging Face GPT-2 `config.json` of a model configuration: `GPT2LMHeadModel`, tanh GELU
 * (`gelu_new`), no dropout (this library has none, so a model trained here behaves the same in
 * `transformers`), `tie_word_embeddings` as configured. Throws for configurations GPT-2 cannot
 * express (linear layers without biases).
 */
export function gpt2ConfigToHf(config: GPTConfig): Record<string, unknown> {
  const c = gptConfig(config);
  if (!c.bias) {
    throw new Error("gpt2ConfigToHf: Hugging Face GPT-2 has a bias in every linear layer; a model built with " +
      "bias: false cannot be exported to that format");
  }
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: c.vocabSize,
    n_positions: c.blockSize,
    n_ctx: c.blockSize,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: c.mlpRatio === 4 ? null : c.mlpRatio * c.nEmbd,
    activation_function: "gelu_new",
    layer_norm_epsilon: c.lnEps,
    tie_word_embeddings: c.tiedUnembedding,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    initializer_range: 0.02,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    torch_dtype: "float32",
  };
}

/**
 * Builds a GPT from the contents of a Hugging Face GPT-2 folder that are already in memory — e.g.
 * fetched by a web page: `config` is config.json (text or parsed), `safetensors` the bytes of
 * model.safetensors. Every tensor is checked for presence and shape before any is loaded; errors
 * name the file and the tensor. No tokenizer (Node's `loadGpt2` adds the GPT-2 BPE).
 */
export async function gpt2FromBuffers(
  config: string | Record<string, unknown>, safetensors: ArrayBuffer | Uint8Array, opts: Gpt2FromBuffersOptions = {},
): Promise<Gpt2Weights> {
  const source = opts.source ?? "model.safetensors";
  let hf: Record<string, unknown>;
  if (typeof config === "string") {
    try {
      hf = JSON.parse(config) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`loadGpt2: config.json is not valid JSON (${(e as Error).message})`);
    }
  } else hf = config;
  const cfg = gpt2ConfigFromHf("config.json", hf);
  const { tensors } = parseSafetensors(safetensors, source);
  const model = new GPT(cfg, { backend: opts.backend, noInit: true });
  try {
    await model.loadStateDict(tensors, { source });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, config: cfg };
}

/**
 * The files of a Hugging Face GPT-2 folder for `model`, in memory: `config.json` (see
 * {@link gpt2ConfigToHf}) and `model.safetensors` with the tensors of {@link GPT.stateDict} as F32
 * (cpu64 weights are rounded to f32), metadata `{ format: "pt" }` as `transformers` requires. A
 * tied model writes no `lm_head.weight` (GPT-2's `save_pretrained` layout); an untied one writes
 * it and sets `tie_word_embeddings: false`, which `transformers` honours. One readback.
 */
export async function gpt2ToBuffers(model: GPT): Promise<Gpt2Buffers> {
  const config = gpt2ConfigToHf(model.config);
  const sd = [...model.stateDict()];
  const values = await readAll(sd.map(([, t]) => t));
  const tensors: Record<string, TensorInput> = {};
  sd.forEach(([name, t], i) => {
    tensors[name] = { dtype: "F32", shape: t.shape, data: values[i]! };
  });
  return { config, safetensors: serializeSafetensors(tensors, { format: "pt" }) };
}
