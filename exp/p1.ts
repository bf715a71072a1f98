// P1: the pretrained GPT-2 from a local Hugging Face folder (--gpt2), with the text it is probed
// on: the R2 WikiText validation prefix when --data is given, else the R1 corpus re-tokenized
// with the GPT-2 BPE (both encoded once per process); token frequencies come from the matching
// training text.
import { countIds } from "../src/probes/host";
import { loadGpt2 } from "../src/nn/node";
import type { GPT } from "../src/nn/gpt";
import type { ProbeBatch } from "../src/probes/index";
import type { RunContext } from "./context";
import { r1Gpt2Ids, r2Ids, textBatches } from "./data";

/** The pretrained model with its probe batches. */
export interface P1 {
  model: GPT;
  name: string;
  /** What the batches are, e.g. "sotu validation (gpt2)". */
  dataName: string;
  batches: ProbeBatch[];
  /** Token counts of the training text ([V]). */
  trainCounts: Float64Array;
}

/** Loads P1 (the caller disposes `model`); null without --gpt2. */
export async function loadP1(ctx: RunContext): Promise<P1 | null> {
  if (!ctx.gpt2) return null;
  const { model, config } = await loadGpt2(ctx.gpt2, { backend: ctx.backend, tokenizer: false });
  if (config.vocabSize < 50257) {
    model.dispose();
    throw new Error(`--gpt2 ${ctx.gpt2}: vocab_size is ${config.vocabSize}; P1 reads text with the GPT-2 BPE, which needs 50257 tokens`);
  }
  const p = ctx.config.probes;
  const T = Math.min(p.p1T, config.blockSize);
  const { val, train } = ctx.data ? await r2Ids(ctx.config, ctx.data) : await r1Gpt2Ids(ctx.config, ctx.seed);
  const dataName = ctx.data ? "wikitext-103 validation (gpt2)" : `${ctx.config.r1.corpus} validation (gpt2)`;
  return {
    model: model.eval(), name: `GPT-2 (${config.nLayer}L-${config.nEmbd})`, dataName,
    batches: textBatches(val, T, p.p1Seqs, Math.min(p.batch, 8)), trainCounts: countIds(config.vocabSize, train),
  };
}
