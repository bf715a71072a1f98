// Data for the experiments: the S1 seeds task with its per-position labels, the R1 corpus with the
// byte tokenizer, the R2 WikiText prefix with the GPT-2 tokenizer, as training sources (resumable)
// and as fixed probe batches; plus token frequencies. Deterministic from the run's seed, which
// picks the seeds task's functions and draws and the R1 document split.
import { makeSeedsData, seedsBatch, type SeedsData, type SeedsSplit } from "../src/data/seeds";
import {
  byteTokenizer, encodeCorpus, encodeWikiText, loadCorpus, loadGpt2Tokenizer, packSequences, type Tokenizer,
} from "../src/data/text";
import type { ProbeBatch } from "../src/probes/probe";
import { mulberry32 } from "../src/probes/metrics";
import { seedsSource, streamSource, type DataSource } from "../src/train/data";
import type { ExpConfig } from "./config";

/** Token ids of a text corpus split by document. */
export interface TextIds {
  name: string;
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
}

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

/** Probe batches of the first `nSeq` sequences of an S1 split, `batch` per forward, with the labels seed, next and seedNext. */
export function s1Batches(split: SeedsSplit, nSeq: number, batch: number): ProbeBatch[] {
  const n = Math.min(nSeq, split.nSeq);
  const out: ProbeBatch[] = [];
  for (let r0 = 0; r0 < n; r0 += batch) {
    out.push(seedsBatch(split, Array.from({ length: Math.min(batch, n - r0) }, (_, i) => r0 + i)));
  }
  return out;
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

/** Probe batches of the first `nSeq` non-overlapping validation windows of length T. */
export function textBatches(val: Int32Array, T: number, nSeq: number, batch: number): ProbeBatch[] {
  const packed = packSequences(val, T, { maxWindows: nSeq });
  if (packed.B === 0) throw new Error(`text: the validation text (${val.length} tokens) is shorter than one window of ${T + 1}`);
  const out: ProbeBatch[] = [];
  for (let r0 = 0; r0 < packed.B; r0 += batch) {
    const B = Math.min(batch, packed.B - r0);
    out.push({ B, T, x: packed.x.slice(r0 * T, (r0 + B) * T), y: packed.y.slice(r0 * T, (r0 + B) * T) });
  }
  return out;
}

/**
 * The shuffled-target control: the same batches with each batch's scored next-token targets
 * permuted among its scored positions (inputs and ignored positions unchanged), seeded.
 */
export function shuffleTargets(batches: readonly ProbeBatch[], seed: number, ignoreIndex = -1): ProbeBatch[] {
  const rng = mulberry32(seed ^ 0x5f3759df);
  return batches.map((b) => {
    const y = Int32Array.from(b.y!);
    const at: number[] = [];
    y.forEach((v, i) => { if (v !== ignoreIndex) at.push(i); });
    for (let i = at.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [y[at[i]], y[at[j]]] = [y[at[j]], y[at[i]]];
    }
    return { ...b, y };
  });
}
