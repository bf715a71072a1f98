// Hugging Face GPT-2 folders on disk (Node-only, node:fs): loadGpt2 reads config.json +
// model.safetensors (P1) and pairs the model with the GPT-2 BPE tokenizer; saveGpt2 writes a
// folder that `transformers`' GPT2LMHeadModel.from_pretrained loads. Never downloads anything.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadGpt2Tokenizer, type Tokenizer } from "../data/tokenizer";
import { writeFileAtomic } from "./atomic-write";
import type { GPT, GPTConfig } from "./gpt";
import { gpt2FromTensors, gpt2ToBuffers } from "./gpt2";
import { readSafetensors } from "./safetensors-file";
import type { Backend, BackendName } from "../tensor/index";

/** What {@link loadGpt2} returns. */
export interface Gpt2Model {
  model: GPT;
  config: Required<GPTConfig>;
  /** The GPT-2 BPE tokenizer (null when not requested). */
  tokenizer: Tokenizer | null;
}

/** Options of {@link loadGpt2}. */
export interface LoadGpt2Options {
  /** Backend of the parameters, an object or a name (default: the current default backend). */
  backend?: Backend | BackendName;
  /** Load the GPT-2 BPE tokenizer too (default true; needs the optional package `gpt-tokenizer`). */
  tokenizer?: boolean;
}

/**
 * Loads GPT-2 from `dir` (config.json + model.safetensors, keys optionally prefixed with
 * `transformer.`, lm_head tied to wte unless config says otherwise). The config's sizes are checked
 * against the file before the model is built, every tensor for presence, shape, a float dtype and
 * finite values before any is loaded; errors name the file and the tensor.
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
    hf = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`loadGpt2: ${cfgPath} is not valid JSON (${(e as Error).message})`);
  }
  const { tensors } = readSafetensors(stPath); // checks the header against the file size before reading the data
  const { model, config } = await gpt2FromTensors(hf, tensors, { backend: opts.backend, source: stPath, configSource: cfgPath });
  const tokenizer = opts.tokenizer === false ? null : await loadGpt2Tokenizer();
  return { model, config, tokenizer };
}

/**
 * Writes `model` as a Hugging Face GPT-2 folder: `dir/config.json` and `dir/model.safetensors`
 * (see {@link gpt2ToBuffers}), each atomically; creates `dir`. `GPT2LMHeadModel.from_pretrained(dir)`
 * loads it, and so does {@link loadGpt2}. Returns the two paths.
 */
export async function saveGpt2(model: GPT, dir: string): Promise<{ config: string; safetensors: string }> {
  const { config, safetensors } = await gpt2ToBuffers(model);
  const out = { config: join(dir, "config.json"), safetensors: join(dir, "model.safetensors") };
  writeFileAtomic(out.safetensors, safetensors);
  writeFileAtomic(out.config, `${JSON.stringify(config, null, 2)}\n`);
  return out;
}
