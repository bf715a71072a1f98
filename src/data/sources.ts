// Training data sources for the train CLI and experiments: S1 seeds sequences, bundled corpora
// (SOTU, Moby-Dick) and local WikiText, each with resumable train batches, fixed validation
// batches and the unigram baseline measured on exactly those validation targets. Node-only
// (text.ts reads files).
import { makeSeedsData, type SeedsData } from "./seeds";
import { Rng } from "./rng";
import {
  Batcher, encodeCorpus, encodeWikiText, getTokenizer, loadCorpus, packSequences, unigramLoss, type BatcherState,
} from "./text";
import type { Batch as LMBatch } from "./batcher";

/** A dataset as training sees it. */
export interface DataSource {
  /** e.g. "seeds", "sotu (bytes)". */
  readonly name: string;
  readonly vocabSize: number;
  /** Context length of every batch. */
  readonly T: number;
  /** Training tokens per epoch (for reports). */
  readonly trainTokens: number;
  /** The next training batch (advances the position). */
  nextTrain(): LMBatch;
  /** Fixed validation batches (the same on every call). */
  readonly val: LMBatch[];
  /** Unigram cross-entropy (nats) on the validation targets: the baseline to beat. */
  readonly unigram: number;
  /** Position for checkpoints (plain JSON). */
  state(): unknown;
  /** Resumes from {@link state}'s value; throws if it does not fit this source. */
  setState(s: unknown): void;
}

/** Common options of the sources. */
export interface SourceOptions {
  /** Batch size and context length. */
  B: number;
  T: number;
  /** Seed of data generation and shuffling. */
  seed: number;
  /** At most this many validation batches (default 8). */
  valBatches?: number;
}

function toBatches(x: Int32Array, y: Int32Array, rows: number, B: number, T: number, max: number): LMBatch[] {
  const out: LMBatch[] = [];
  for (let b = 0; b + B <= rows && out.length < max; b += B) {
    out.push({ B, T, x: x.slice(b * T, (b + B) * T), y: y.slice(b * T, (b + B) * T) });
  }
  if (out.length === 0) throw new Error(`data: only ${rows} validation rows, fewer than a batch of ${B}`);
  return out;
}

function validTargets(batches: LMBatch[]): number[] {
  return batches.flatMap((b) => Array.from(b.y).filter((v) => v >= 0));
}

/**
 * The S1 seeds task (PROTOCOL.md defaults, sequences of length T): inputs are whole sequences,
 * targets the next tokens (-1, ignored, at the last position). Training rows are visited in a
 * fresh seeded order each epoch. Pass `data` to train on splits made elsewhere (their T must be
 * `o.T`); otherwise they are generated from `o.seed`, `nTrain` and `nVal`.
 */
export function seedsSource(o: SourceOptions & { nTrain?: number; nVal?: number; data?: SeedsData }): DataSource {
  const data = o.data ?? makeSeedsData({ T: o.T, seed: o.seed, nTrain: o.nTrain ?? 2048, nVal: o.nVal ?? 256 });
  if (data.train.T !== o.T) throw new Error(`seedsSource: the given data has sequences of ${data.train.T} tokens, not T = ${o.T}`);
  const { train, val: vs, vocabSize } = data;
  const B = o.B, T = o.T;
  const perEpoch = Math.floor(train.nSeq / B);
  if (perEpoch < 1) throw new Error(`seeds: ${train.nSeq} training sequences are fewer than a batch of ${B}`);
  let epoch = 0, batch = 0;
  let order: Int32Array | null = null;
  const val = toBatches(vs.tokens, vs.next, vs.nSeq, B, T, o.valBatches ?? 8);
  return {
    name: "seeds", vocabSize, T, trainTokens: train.nSeq * T, val,
    unigram: unigramLoss(train.tokens, validTargets(val), vocabSize),
    nextTrain() {
      order ??= new Rng(o.seed, 1000 + epoch).permutation(train.nSeq);
      const x = new Int32Array(B * T), y = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        const r = order[batch * B + b]!;
        x.set(train.tokens.subarray(r * T, (r + 1) * T), b * T);
        y.set(train.next.subarray(r * T, (r + 1) * T), b * T);
      }
      if (++batch >= perEpoch) {
        batch = 0;
        epoch++;
        order = null;
      }
      return { B, T, x, y };
    },
    state: () => ({ kind: "seeds", epoch, batch, seed: o.seed, B, T }),
    setState(s: unknown) {
      const st = s as { kind?: string; epoch: number; batch: number; seed: number; B: number; T: number };
      if (st?.kind !== "seeds" || st.seed !== o.seed || st.B !== B || st.T !== T || !(st.batch >= 0 && st.batch < perEpoch)) {
        throw new Error(`seeds: data state ${JSON.stringify(s)} does not fit this source (seed ${o.seed}, B ${B}, T ${T})`);
      }
      epoch = st.epoch;
      batch = st.batch;
      order = null;
    },
  };
}

/** A token-stream source: shuffled windows of T+1 from `train`, the first windows of `val`. */
export function streamSource(name: string, ids: { train: Int32Array; val: Int32Array }, vocabSize: number, o: SourceOptions): DataSource {
  const batcher = new Batcher(ids.train, { B: o.B, T: o.T, seed: o.seed });
  const packed = packSequences(ids.val, o.T, { maxWindows: o.B * (o.valBatches ?? 8) });
  const val = toBatches(packed.x, packed.y, packed.B, o.B, o.T, o.valBatches ?? 8);
  return {
    name, vocabSize, T: o.T, trainTokens: ids.train.length, val,
    unigram: unigramLoss(ids.train, validTargets(val), vocabSize),
    nextTrain: () => {
      const { B, T, x, y } = batcher.next();
      return { B, T, x, y };
    },
    state: () => ({ kind: "stream", ...batcher.state() }),
    setState: (s: unknown) => batcher.setState(s as BatcherState),
  };
}

/** Names accepted by {@link makeDataSource}. */
export type DataName = "seeds" | "sotu" | "moby-dick" | "wikitext";

/** Builds a source by name; text sources use `tokenizer` (bytes or gpt2). */
export async function makeDataSource(
  data: DataName, o: SourceOptions & { tokenizer?: string; wikitextDir?: string; wikitextMaxBytes?: number },
): Promise<DataSource> {
  if (data === "seeds") return seedsSource(o);
  const tok = await getTokenizer(o.tokenizer ?? (data === "wikitext" ? "gpt2" : "bytes"));
  if (data === "wikitext") {
    if (!o.wikitextDir) throw new Error("--data wikitext needs --wikitext-dir DIR (wiki.{train,valid}.tokens)");
    const opts = { maxBytes: o.wikitextMaxBytes };
    const ids = { train: encodeWikiText(o.wikitextDir, "train", tok, opts), val: encodeWikiText(o.wikitextDir, "valid", tok, opts) };
    return streamSource(`wikitext (${tok.name})`, ids, tok.vocabSize, o);
  }
  if (data !== "sotu" && data !== "moby-dick") throw new Error(`unknown data "${String(data)}" (seeds, sotu, moby-dick, wikitext)`);
  const ids = encodeCorpus(loadCorpus(data, { seed: 0 }), tok);
  return streamSource(`${data} (${tok.name})`, ids, tok.vocabSize, o);
}
