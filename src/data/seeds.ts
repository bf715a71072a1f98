// Synthetic "seeds" task S1 (docs/PROTOCOL.md, Data): sequences packed with noisy chains of
// seed-specific random functions, plus per-position labels (seed, next token, seed×next).
// Pure TypeScript and deterministic from one integer seed. Not a batcher or a model input
// pipeline; use sliceRows or seedsBatch (or your own indexing) to take batches from a split.

import { Rng } from './rng';

/** Configuration of the S1 task; every field has the PROTOCOL.md default. */
export interface SeedsConfig {
  /** Number of ordinary tokens V; the separator has id V, so the vocabulary is V+1. Default 64. */
  vocab?: number;
  /** Number of seeds S. Default 16. */
  nSeeds?: number;
  /** Probability ε that a chain step is replaced by a uniform token. Default 0.1. */
  noise?: number;
  /** Segment length range, inclusive. Default 16..48. */
  minLen?: number;
  maxLen?: number;
  /** Sequence length T. Default 256. */
  T?: number;
  /** Number of training / validation sequences. Defaults 2048 / 256. */
  nTrain?: number;
  nVal?: number;
  /** Seed of the sequence draws (train and validation use different streams of it). Default 0. */
  seed?: number;
  /**
   * Extra salt for the seed functions. Per PROTOCOL.md f_s comes from a PRNG seeded by s, so by
   * default the functions do not depend on `seed`; set this to draw a different family. Default 0.
   */
  functionSalt?: number;
}

/** One split: token sequences and per-position labels, all row-major `[nSeq, T]`. */
export interface SeedsSplit {
  nSeq: number;
  T: number;
  /** Token ids in [0, V]; V is the separator. */
  tokens: Int32Array; // [nSeq, T]
  /** Seed of the segment holding the position; -1 at separators. */
  seed: Int32Array; // [nSeq, T]
  /** Next token x_{t+1}; -1 at the last position. */
  next: Int32Array; // [nSeq, T]
  /** seed*(V+1)+next, or -1 where either label is -1. */
  seedNext: Int32Array; // [nSeq, T]
  /** 1 where the token was drawn uniformly (segment start or noise replacement), else 0. */
  fresh: Uint8Array; // [nSeq, T]
}

/** The generated task: both splits and the seed functions. */
export interface SeedsData {
  /** Config with defaults filled in. */
  config: Required<SeedsConfig>;
  /** V + 1 (tokens plus separator). */
  vocabSize: number;
  /** Separator token id (= V). */
  sep: number;
  /** Number of seed×next classes: S*(V+1). */
  nSeedNext: number;
  train: SeedsSplit;
  val: SeedsSplit;
  /** fns[s][x] = f_s(x). */
  fns: Int32Array[]; // S × [V]
}

/** Fill in PROTOCOL.md defaults and validate a config. */
export function seedsDefaults(cfg: SeedsConfig = {}): Required<SeedsConfig> {
  const c: Required<SeedsConfig> = {
    vocab: 64, nSeeds: 16, noise: 0.1, minLen: 16, maxLen: 48, T: 256,
    nTrain: 2048, nVal: 256, seed: 0, functionSalt: 0, ...cfg,
  };
  const ints: (keyof SeedsConfig)[] = ['vocab', 'nSeeds', 'minLen', 'maxLen', 'T', 'nTrain', 'nVal'];
  for (const k of ints) {
    const v = c[k];
    if (!Number.isInteger(v) || v < 1) throw new Error(`seeds config: ${k} must be a positive integer, got ${v}`);
  }
  if (c.maxLen < c.minLen) throw new Error(`seeds config: maxLen ${c.maxLen} < minLen ${c.minLen}`);
  if (!(c.noise >= 0 && c.noise <= 1)) throw new Error(`seeds config: noise must be in [0,1], got ${c.noise}`);
  return c;
}

/** Draw f_s: V → V for every seed s from a PRNG seeded by s (and the optional salt). */
export function seedFunctions(vocab: number, nSeeds: number, salt = 0): Int32Array[] {
  const fns: Int32Array[] = [];
  for (let s = 0; s < nSeeds; s++) {
    const rng = new Rng(s, 0x5eed0000 + salt);
    const f = new Int32Array(vocab); // [V]
    for (let x = 0; x < vocab; x++) f[x] = rng.int(vocab);
    fns.push(f);
  }
  return fns;
}

/** Generate one split of `nSeq` sequences from the generator `rng`. */
export function generateSplit(c: Required<SeedsConfig>, fns: Int32Array[], nSeq: number, rng: Rng): SeedsSplit {
  const { vocab: V, T } = c;
  const n = nSeq * T;
  const tokens = new Int32Array(n);
  const seed = new Int32Array(n).fill(-1);
  const fresh = new Uint8Array(n);
  for (let r = 0; r < nSeq; r++) {
    const base = r * T;
    let t = 0;
    while (t < T) {
      if (t > 0) tokens[base + t++] = V; // separator between segments
      if (t >= T) break;
      const s = rng.int(c.nSeeds);
      const len = rng.intRange(c.minLen, c.maxLen);
      const f = fns[s]!;
      let x = rng.int(V);
      for (let i = 0; i < len && t < T; i++, t++) {
        if (i > 0) {
          const replace = rng.uniform() < c.noise;
          x = replace ? rng.int(V) : f[x]!;
          if (replace) fresh[base + t] = 1;
        } else {
          fresh[base + t] = 1;
        }
        tokens[base + t] = x;
        seed[base + t] = s;
      }
    }
  }
  const next = new Int32Array(n);
  const seedNext = new Int32Array(n);
  for (let r = 0; r < nSeq; r++) {
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      next[i] = t + 1 < T ? tokens[i + 1]! : -1;
      seedNext[i] = seed[i]! < 0 || next[i]! < 0 ? -1 : seed[i]! * (V + 1) + next[i]!;
    }
  }
  return { nSeq, T, tokens, seed, next, seedNext, fresh };
}

/**
 * Build the S1 task. Train and validation share the seed functions and use different
 * random streams of `cfg.seed` ("unseen instances").
 */
export function makeSeedsData(cfg: SeedsConfig = {}): SeedsData {
  const c = seedsDefaults(cfg);
  const fns = seedFunctions(c.vocab, c.nSeeds, c.functionSalt);
  const train = generateSplit(c, fns, c.nTrain, new Rng(c.seed, 1));
  const val = generateSplit(c, fns, c.nVal, new Rng(c.seed, 2));
  return { config: c, vocabSize: c.vocab + 1, sep: c.vocab, nSeedNext: c.nSeeds * (c.vocab + 1), train, val, fns };
}

/** Statistics of a split, used by tests and reports. */
export interface SeedsStats {
  /** Number of segments, and how many ended with a separator (not truncated by T). */
  nSegments: number;
  nComplete: number;
  /** Mean length of complete segments (expected (minLen+maxLen)/2). */
  meanSegmentLength: number;
  /** Fraction of chain steps (non-first positions of a segment) drawn uniformly (expected ε). */
  noiseRate: number;
  /** Fraction of chain steps with x_{i+1} != f_s(x_i) (expected ε(1-1/V)). */
  mismatchRate: number;
  /** Fraction of positions holding the separator. */
  separatorRate: number;
}

/** Compute {@link SeedsStats} for a split against the seed functions. */
export function seedsStats(split: SeedsSplit, fns: Int32Array[], vocab: number): SeedsStats {
  const { nSeq, T, tokens, seed, fresh } = split;
  let nSegments = 0, nComplete = 0, completeLen = 0, steps = 0, noisy = 0, mismatch = 0, seps = 0;
  for (let r = 0; r < nSeq; r++) {
    let len = 0;
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      if (tokens[i] === vocab) {
        seps++;
        nComplete++;
        completeLen += len;
        len = 0;
        continue;
      }
      if (len === 0) nSegments++;
      else {
        steps++;
        noisy += fresh[i]!;
        if (fns[seed[i]!]![tokens[i - 1]!] !== tokens[i]) mismatch++;
      }
      len++;
    }
  }
  return {
    nSegments, nComplete,
    meanSegmentLength: nComplete > 0 ? completeLen / nComplete : NaN,
    noiseRate: steps > 0 ? noisy / steps : NaN,
    mismatchRate: steps > 0 ? mismatch / steps : NaN,
    separatorRate: seps / (nSeq * T),
  };
}

/** Copy rows `rows` of a split into a smaller split (e.g. a batch), preserving the layout. */
export function sliceRows(split: SeedsSplit, rows: ArrayLike<number>): SeedsSplit {
  const { T } = split;
  const B = rows.length;
  const take = <A extends Int32Array | Uint8Array>(a: A, out: A): A => {
    for (let b = 0; b < B; b++) {
      const r = rows[b]!;
      if (!(r >= 0 && r < split.nSeq)) throw new Error(`sliceRows: row ${r} out of range [0, ${split.nSeq})`);
      out.set(a.subarray(r * T, (r + 1) * T), b * T);
    }
    return out;
  };
  return {
    nSeq: B, T,
    tokens: take(split.tokens, new Int32Array(B * T)),
    seed: take(split.seed, new Int32Array(B * T)),
    next: take(split.next, new Int32Array(B * T)),
    seedNext: take(split.seedNext, new Int32Array(B * T)),
    fresh: take(split.fresh, new Uint8Array(B * T)),
  };
}

/** A batch of seeds rows: inputs, targets and the per-token labels the probes group by. */
export interface SeedsBatch {
  B: number;
  T: number;
  /** Input tokens [B, T]. */
  x: Int32Array;
  /** Next-token targets [B, T] (the same array as labels.next). */
  y: Int32Array;
  /** Per-token labels [B, T]: the governing seed, the next token, and the seed after it. */
  labels: { seed: Int32Array; next: Int32Array; seedNext: Int32Array };
}

/** Rows `rows` of a split as a labelled batch (structurally a ProbeBatch with targets). */
export function seedsBatch(split: SeedsSplit, rows: ArrayLike<number>): SeedsBatch {
  const s = sliceRows(split, rows);
  return { B: s.nSeq, T: s.T, x: s.tokens, y: s.next, labels: { seed: s.seed, next: s.next, seedNext: s.seedNext } };
}

/** Batches of the first `nSeq` sequences of a split, `batch` rows each (the last may be smaller), with their labels. */
export function seedsBatches(split: SeedsSplit, nSeq: number, batch: number): SeedsBatch[] {
  const n = Math.min(nSeq, split.nSeq);
  const out: SeedsBatch[] = [];
  for (let r0 = 0; r0 < n; r0 += batch) {
    out.push(seedsBatch(split, Array.from({ length: Math.min(batch, n - r0) }, (_, i) => r0 + i)));
  }
  return out;
}
