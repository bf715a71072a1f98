// GPT-2 import (P1): builds a GPT from a local Hugging Face folder (config.json + model.safetensors)
// and pairs it with the GPT-2 BPE tokenizer. HF's Conv1D weights are stored [in, out], the layout
// Linear uses, so they load without transposes. Node-only (node:fs); never downloads anything.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendName } from "../tensor/index";
import { loadGpt2Tokenizer, type Tokenizer } from "../data/tokenizer";
import { GPT, gptConfig, type GPTConfig } from "./gpt";
import { setValues } from "./module";
import { firstNonFinite, toFloat32, type SafeTensor } from "./safetensors";
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

const hfName = (ours: string) => ours.replace(/^blocks\.(\d+)\./, "h.$1.");

/** The config's sizes against the file's embedding, first-MLP and layer tensors (errors name both files). */
function checkSizes(cfgPath: string, stPath: string, c: Required<GPTConfig>, byName: Map<string, SafeTensor>): void {
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
 * Loads GPT-2 from `dir` (config.json + model.safetensors, keys optionally prefixed with
 * `transformer.`, lm_head tied to wte unless config says otherwise). Every tensor is checked for
 * presence, shape, a float dtype and finite values before any weight is set; errors name the file
 * and the tensor.
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
  let config: Required<GPTConfig>;
  try {
    config = gpt2ConfigFromHf(cfgPath, hf);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith("loadGpt2:") ? msg : `loadGpt2: ${cfgPath}: ${msg}`, { cause: e });
  }
  const { tensors } = readSafetensors(stPath);
  const byName = new Map<string, SafeTensor>();
  for (const [key, t] of Object.entries(tensors)) {
    const ours = hfToOurName(key);
    if (ours === null || (ours === "lm_head.weight" && config.tiedUnembedding)) continue;
    byName.set(ours, t);
  }
  checkSizes(cfgPath, stPath, config, byName); // before the model exists: a corrupt config must not allocate
  const model = new GPT(config, { backend: opts.backend, noInit: true });
  try {
    const problems: string[] = [];
    const params = model.namedParameters();
    for (const [name, p] of params) {
      const t = byName.get(name);
      const hf = hfName(name);
      if (!t) problems.push(`tensor "${hf}" is missing`);
      else if (t.shape.join() !== p.shape.join()) {
        problems.push(`tensor "${hf}" has shape [${t.shape.join(", ")}], expected [${p.shape.join(", ")}]`);
      } else if (!["F32", "F64", "F16", "BF16"].includes(t.dtype)) {
        problems.push(`tensor "${hf}" has dtype ${t.dtype}, expected a float (F32, F16, BF16 or F64)`);
      } else if (firstNonFinite(t.data) >= 0) {
        const i = firstNonFinite(t.data);
        problems.push(`tensor "${hf}" holds ${(t.data as Float32Array)[i]} at index ${i}`);
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
