// Data for the experiments: the S1 seeds task with its per-position labels, the R1 corpus with the
// byte tokenizer, the R2 WikiText prefix with the GPT-2 tokenizer, as training sources (resumable)
// and as fixed probe batches; plus token frequencies. Deterministic from the run's seed, which
// picks the seeds task's functions and draws and the R1 document split. What is not specific to
// the experiments' configuration (sources, batching, the shuffled-target control) lives in
// src/data and is re-exported here under the names the experiments use.
import { makeSeedsData, seedsBatches, type SeedsData } from "../src/data/seeds";
import {
  byteTokenizer, encodeCorpus, encodeWikiText, loadCorpus, loadGpt2Tokenizer, type Tokenizer,
} from "../src/data/text";
import { shuffleTargets, windowBatches } from "../src/data/batcher";
import { seedsSource, streamSource, type DataSource } from "../src/data/sources";
import type { ExpConfig } from "./config";

/** Token ids of a text corpus split by document. */
export interface TextIds {
  name: string;
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
}

/** Probe batches of the first `nSeq` sequences of an S1 split, `batch` per forward, with the labels seed, next and seedNext. */
export const s1Batches = seedsBatches;
/** Probe batches of the first `nSeq` non-overlapping validation windows of length T. */
export const textBatches = windowBatches;
export { shuffleTargets };

const seedsCache = new Map<string, SeedsData>();

/**
 * The S1 task of a configuration for one seed (the same data `s1Source` trains on): the seed
 * draws the sequences and, as the function salt, the family of seed functions f_s.
 */
export function s1Task(cfg: ExpConfig, seed: number): SeedsData {
  const k = `${cfg.s1.T}/${cfg.s1.nTrain}/${cfg.s1.nVal}/${seed}`;
  let d = seedsCache.get(k);
  if (!d) {
    d = makeSeedsData({ T: cfg.s1.T, nTrain: cfg.s1.nTrain, nVal: cfg.s1.nVal, seed, functionSalt: seed });
    seedsCache.set(k, d);
  }
  return d;
}

/** The S1 training source over {@link s1Task}'s data (whole sequences, a fresh seeded order every epoch). */
export function s1Source(cfg: ExpConfig, seed: number): DataSource {
  const s = cfg.s1;
  return seedsSource({ B: s.train.batch, T: s.T, seed, data: s1Task(cfg, seed), valBatches: Math.max(1, Math.floor(s.nVal / s.train.batch)) });
}

const textCache = new Map<string, TextIds>();

/** The R1 corpus in bytes, its documents split into train and validation by `seed`. */
export function r1Ids(cfg: ExpConfig, seed: number): TextIds {
  const k = `r1/${cfg.r1.corpus}/${seed}`;
  let ids = textCache.get(k);
  if (!ids) {
    const enc = encodeCorpus(loadCorpus(cfg.r1.corpus, { seed }), byteTokenizer);
    ids = { name: `${cfg.r1.corpus} (bytes)`, tokenizer: byteTokenizer, ...enc };
    textCache.set(k, ids);
  }
  return ids;
}

/**
 * The R1 corpus re-tokenized with the GPT-2 BPE for P1 (its first 40 training documents: enough
 * for token frequencies; documents split by `seed`), encoded once per process.
 */
export async function r1Gpt2Ids(cfg: ExpConfig, seed: number): Promise<TextIds> {
  const k = `r1-gpt2/${cfg.r1.corpus}/${seed}`;
  let ids = textCache.get(k);
  if (!ids) {
    const tok = await loadGpt2Tokenizer();
    const split = loadCorpus(cfg.r1.corpus, { seed });
    ids = { name: `${cfg.r1.corpus} (gpt2)`, tokenizer: tok, ...encodeCorpus({ ...split, train: split.train.slice(0, 40) }, tok) };
    textCache.set(k, ids);
  }
  return ids;
}

/** The R2 WikiText-103 prefix (`maxBytes` of train, a tenth of that of valid) with the GPT-2 BPE. */
export async function r2Ids(cfg: ExpConfig, dir: string): Promise<TextIds> {
  const k = `r2/${dir}/${cfg.r2.maxBytes}`;
  let ids = textCache.get(k);
  if (!ids) {
    const tok = await loadGpt2Tokenizer();
    const train = encodeWikiText(dir, "train", tok, { maxBytes: cfg.r2.maxBytes });
    const val = encodeWikiText(dir, "valid", tok, { maxBytes: Math.max(100_000, Math.floor(cfg.r2.maxBytes / 10)) });
    ids = { name: "wikitext-103 (gpt2)", tokenizer: tok, train, val };
    textCache.set(k, ids);
  }
  return ids;
}

/** A training source over a text (shuffled windows of T+1). */
export function textSource(ids: TextIds, T: number, batch: number, seed: number, valBatches = 4): DataSource {
  return streamSource(ids.name, ids, ids.tokenizer.vocabSize, { B: batch, T, seed, valBatches });
}
