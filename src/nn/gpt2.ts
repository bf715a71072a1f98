// GPT-2 import (P1): builds a GPT from a local Hugging Face folder (config.json + model.safetensors)
// and pairs it with the GPT-2 BPE tokenizer. HF's Conv1D weights are stored [in, out], the layout
// Linear uses, so they load without transposes. Node-only (node:fs); never downloads anything.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendName } from "../tensor/index";
import { loadGpt2Tokenizer, type Tokenizer } from "../data/tokenizer";
import { GPT, gptConfig, type GPTConfig } from "./gpt";
import { setValues } from "./module";
import { toFloat32, type SafeTensor } from "./safetensors";
import { readSafetensors } from "./safetensors-file";

/** What {@link loadGpt2} returns. */
export interface Gpt2Model {
  model: GPT;
  config: Required<GPTConfig>;
  /** The GPT-2 BPE tokenizer (null when not requested). */
  tokenizer: Tokenizer | null;
}

/** Options of {@link loadGpt2}. */
export interface LoadGpt2Options {
  backend?: BackendName;
  /** Load the GPT-2 BPE tokenizer too (default true). */
  tokenizer?: boolean;
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

/** Maps a Hugging Face GPT-2 tensor name to ours, or null for buffers that carry no weights. */
export function hfToOurName(key: string): string | null {
  const k = key.startsWith("transformer.") ? key.slice("transformer.".length) : key;
  if (/^h\.\d+\.attn\.(masked_)?bias$/.test(k)) return null; // causal-mask buffers
  return k.replace(/^h\.(\d+)\./, "blocks.$1.");
}

/**
 * Loads GPT-2 from `dir` (config.json + model.safetensors, keys optionally prefixed with
 * `transformer.`, lm_head tied to wte unless config says otherwise). Every tensor is checked for
 * presence and shape before the model is built; errors name the file and the tensor.
 */
export async function loadGpt2(dir: string, opts: LoadGpt2Options = {}): Promise<Gpt2Model> {
  const cfgPath = join(dir, "config.json");
  const stPath = join(dir, "model.safetensors");
  for (const p of [cfgPath, stPath]) {
    if (!existsSync(p)) {
      throw new Error(`loadGpt2: missing file ${p}; a local Hugging Face GPT-2 folder needs config.json and ` +
        "model.safetensors (it is never downloaded; convert pytorch_model.bin to safetensors if that is what you have)");
    }
  }
  let hf: Record<string, unknown>;
  try {
    hf = JSON.parse(readFileSync(cfgPath, "utf8"));
  } catch (e) {
    throw new Error(`loadGpt2: ${cfgPath} is not valid JSON (${(e as Error).message})`);
  }
  const config = gpt2ConfigFromHf(cfgPath, hf);
  const { tensors } = readSafetensors(stPath);
  const byName = new Map<string, SafeTensor>();
  for (const [key, t] of Object.entries(tensors)) {
    const ours = hfToOurName(key);
    if (ours === null || (ours === "lm_head.weight" && config.tiedUnembedding)) continue;
    byName.set(ours, t);
  }
  const model = new GPT(config, { backend: opts.backend, noInit: true });
  try {
    const problems: string[] = [];
    const params = model.namedParameters();
    for (const [name, p] of params) {
      const t = byName.get(name);
      const hfName = name.replace(/^blocks\.(\d+)\./, "h.$1.");
      if (!t) problems.push(`tensor "${hfName}" is missing`);
      else if (t.shape.join() !== p.shape.join()) {
        problems.push(`tensor "${hfName}" has shape [${t.shape.join(", ")}], expected [${p.shape.join(", ")}]`);
      }
    }
    for (const name of byName.keys()) if (!params.has(name)) problems.push(`unexpected tensor "${name}"`);
    if (problems.length) throw new Error(`loadGpt2: ${stPath}: ${problems.slice(0, 5).join("; ")}`);
    for (const [name, p] of params) setValues(p, toFloat32(byName.get(name)!));
  } catch (e) {
    model.dispose();
    throw e;
  }
  const tokenizer = opts.tokenizer === false ? null : await loadGpt2Tokenizer();
  return { model, config, tokenizer };
}
