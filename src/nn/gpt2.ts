// Hugging Face GPT-2 format, in memory (browser-safe): config.json ⇄ GPTConfig, and a whole model
// ⇄ the bytes of `config.json` + `model.safetensors` in the layout `transformers`'
// GPT2LMHeadModel loads (names `transformer.h.{l}.…`, Conv1D weights [in, out], metadata
// format "pt"). Our Linear stores [in, out] too, so nothing is transposed. Files: gpt2-file.ts.
import type { Backend, BackendName } from "../tensor/index";
import { readAll } from "../tensor/index";
import { GPT, gptConfig, hfToOurName, type GPTConfig } from "./gpt";
import { parseSafetensors, serializeSafetensors, type SafeTensor, type TensorInput } from "./safetensors";

/** A GPT-2 built from Hugging Face config and weights (what {@link gpt2FromBuffers} returns). */
export interface Gpt2Weights {
  model: GPT;
  config: Required<GPTConfig>;
}

/** Options of {@link gpt2FromBuffers}. */
export interface Gpt2FromBuffersOptions {
  /** Backend of the parameters, an object or a name (default: the current default backend). */
  backend?: Backend | BackendName;
  /** Name of the weights in error messages (default "model.safetensors"). */
  source?: string;
  /** Name of the config in error messages (default "config.json"). */
  configSource?: string;
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

const hfName = (ours: string) => ours.replace(/^blocks\.(\d+)\./, "h.$1.");

/**
 * The config's sizes against the file's embedding, first-MLP and layer tensors (errors name both
 * files), checked before the model is built: a corrupt config must not allocate a huge model.
 */
function checkSizes(cfgPath: string, stPath: string, c: Required<GPTConfig>, tensors: Record<string, SafeTensor>): void {
  const byName = new Map<string, SafeTensor>();
  for (const [key, t] of Object.entries(tensors)) {
    const ours = hfToOurName(key);
    if (ours !== null) byName.set(ours, t);
  }
  const problems: string[] = [];
  const want: [string, number[]][] = [
    ["wte.weight", [c.vocabSize, c.nEmbd]], ["wpe.weight", [c.blockSize, c.nEmbd]],
    ["blocks.0.mlp.c_fc.weight", [c.nEmbd, c.mlpRatio * c.nEmbd]],
  ];
  for (const [name, shape] of want) {
    const t = byName.get(name);
    if (!t) problems.push(`tensor "${hfName(name)}" is missing`);
    else if (t.shape.join() !== shape.join()) {
      problems.push(`tensor "${hfName(name)}" has shape [${t.shape.join(", ")}], but ${cfgPath} implies [${shape.join(", ")}]`);
    }
  }
  const layers = new Set([...byName.keys()].map((n) => /^blocks\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined));
  if (layers.size !== c.nLayer) problems.push(`it holds ${layers.size} layers (h.*), but ${cfgPath} says n_layer ${c.nLayer}`);
  if (problems.length) throw new Error(`loadGpt2: ${stPath}: ${problems.slice(0, 5).join("; ")}`);
}

/**
 * Builds a GPT from the contents of a Hugging Face GPT-2 folder that are already in memory — e.g.
 * fetched by a web page: `config` is config.json (text or parsed), `safetensors` the bytes of
 * model.safetensors. The config's sizes are checked against the file before the model is built,
 * and every tensor for presence, shape, a float dtype and finite values before any is loaded;
 * errors name the file and the tensor. No tokenizer (Node's `loadGpt2` adds the GPT-2 BPE).
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
      throw new Error(`loadGpt2: ${opts.configSource ?? "config.json"} is not valid JSON (${(e as Error).message})`);
    }
  } else hf = config;
  return gpt2FromTensors(hf, parseSafetensors(safetensors, source).tensors, opts);
}

/**
 * {@link gpt2FromBuffers} once the weights are parsed (Node's `loadGpt2` reads them with
 * `readSafetensors`, which refuses a bad header before reading the file's data).
 */
export async function gpt2FromTensors(
  hf: Record<string, unknown>, tensors: Record<string, SafeTensor>, opts: Gpt2FromBuffersOptions = {},
): Promise<Gpt2Weights> {
  const source = opts.source ?? "model.safetensors";
  const cfgName = opts.configSource ?? "config.json";
  let cfg: Required<GPTConfig>;
  try {
    cfg = gpt2ConfigFromHf(cfgName, hf);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith("loadGpt2:") ? msg : `loadGpt2: ${cfgName}: ${msg}`, { cause: e });
  }
  checkSizes(cfgName, source, cfg, tensors);
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
