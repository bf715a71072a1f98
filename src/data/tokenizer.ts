// Tokenizers for the real-text corpora: a byte-level tokenizer (vocab 256) and a GPT-2 BPE
// wrapper around the `gpt-tokenizer` package (r50k_base = GPT-2's 50257-token encoding, shipped
// inside the package, so it works offline; an optional peer dependency, imported on first use).
// No Node built-ins.
// Not a tokenizer trainer, and no other encodings.

/** The interface every tokenizer here implements. */
export interface Tokenizer {
  /** Short name used in configs and reports ("bytes", "gpt2"). */
  readonly name: string;
  /** Number of token ids; every id is in [0, vocabSize). */
  readonly vocabSize: number;
  /** End-of-text id placed between documents, if the tokenizer has one. */
  readonly eot?: number;
  /** Text to ids. */
  encode(text: string): Int32Array;
  /** Ids to text. */
  decode(ids: ArrayLike<number>): string;
}

const utf8Encoder = new TextEncoder();

/** Byte-level tokenizer: ids are the UTF-8 bytes of the text (vocab 256, no special tokens). */
export const byteTokenizer: Tokenizer = {
  name: 'bytes',
  vocabSize: 256,
  encode(text: string): Int32Array {
    return Int32Array.from(utf8Encoder.encode(text));
  },
  decode(ids: ArrayLike<number>): string {
    const bytes = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (!(v >= 0 && v < 256)) throw new Error(`byteTokenizer.decode: id ${v} at ${i} is not a byte`);
      bytes[i] = v;
    }
    return new TextDecoder().decode(bytes);
  },
};

/** GPT-2's end-of-text token id. */
export const GPT2_EOT = 50256;

let gpt2Cache: Promise<Tokenizer> | undefined;

/**
 * The GPT-2 BPE tokenizer (vocab 50257, `<|endoftext|>` = 50256). Loaded lazily because the
 * merge table is large; the promise is cached. Text containing the literal string
 * "<|endoftext|>" is encoded as ordinary text, never as the special token.
 */
export function loadGpt2Tokenizer(): Promise<Tokenizer> {
  gpt2Cache ??= import('gpt-tokenizer/encoding/r50k_base').catch((e: unknown) => {
    gpt2Cache = undefined; // a later call may find the package installed
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error('the GPT-2 tokenizer (loadGpt2Tokenizer) needs the optional package gpt-tokenizer, which is ' +
        'not installed: npm install gpt-tokenizer', { cause: e });
    }
    throw e;
  }).then((m) => {
    const noSpecial = { disallowedSpecial: new Set<string>() };
    const tok: Tokenizer = {
      name: 'gpt2',
      vocabSize: m.vocabularySize,
      eot: GPT2_EOT,
      encode: (text: string) => Int32Array.from(m.encode(text, noSpecial)),
      decode: (ids: ArrayLike<number>) => m.decode(Array.from(ids)),
    };
    if (tok.vocabSize !== 50257) throw new Error(`gpt2 tokenizer: expected vocab 50257, package reports ${tok.vocabSize}`);
    return tok;
  });
  return gpt2Cache;
}

/** Look a tokenizer up by name ("bytes" or "gpt2"). */
export async function getTokenizer(name: string): Promise<Tokenizer> {
  if (name === 'bytes') return byteTokenizer;
  if (name === 'gpt2') return loadGpt2Tokenizer();
  throw new Error(`unknown tokenizer "${name}" (expected "bytes" or "gpt2")`);
}

/**
 * Encode documents into one id stream. Documents are separated by the tokenizer's end-of-text
 * id when it has one, otherwise by the encoding of a blank line ("\n\n").
 */
export function encodeDocs(docs: readonly string[], tok: Tokenizer): Int32Array {
  const sep = tok.eot !== undefined ? Int32Array.of(tok.eot) : tok.encode('\n\n');
  const parts = docs.map((d) => tok.encode(d));
  let n = 0;
  for (const p of parts) n += p.length;
  n += sep.length * Math.max(0, parts.length - 1);
  const out = new Int32Array(n); // [N]
  let o = 0;
  parts.forEach((p, i) => {
    if (i > 0) {
      out.set(sep, o);
      o += sep.length;
    }
    out.set(p, o);
    o += p.length;
  });
  return out;
}
