// Tests of the real-text pipeline: bundled corpora and their document split, byte and GPT-2
// tokenizers, the WikiText reader on a temp folder, packSequences/Batcher (shapes, determinism,
// exact resume) and the unigram baseline. Pure CPU; no GPU; no network.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Batcher, byteTokenizer, encodeCorpus, encodeDocs, encodeWikiText, loadCorpus, loadDocs,
  loadGpt2Tokenizer, packSequences, readWikiText, splitDocs, unigramLoss, wikiTextPath,
} from '../src/data/text';

describe('bundled corpora', () => {
  it('loads State of the Union and Moby-Dick', () => {
    const sotu = loadDocs('sotu');
    expect(sotu.length).toBe(233);
    expect(sotu[0]!.id).toBe('1790_George Washington');
    expect(sotu.reduce((a, d) => a + d.text.length, 0)).toBeGreaterThan(10_000_000);
    expect(new Set(sotu.map((d) => d.id)).size).toBe(sotu.length);
    const moby = loadDocs('moby-dick');
    expect(moby.length).toBe(139);
    expect(moby.some((d) => d.text.startsWith('Call me Ishmael.'))).toBe(true);
  });

  it('splits by document, disjoint and deterministic', () => {
    const a = loadCorpus('sotu', { seed: 1 });
    const b = loadCorpus('sotu', { seed: 1 });
    const c = loadCorpus('sotu', { seed: 2 });
    expect(a.val.map((d) => d.id)).toEqual(b.val.map((d) => d.id));
    expect(c.val.map((d) => d.id)).not.toEqual(a.val.map((d) => d.id));
    expect(a.val.length).toBe(23);
    expect(a.train.length + a.val.length).toBe(233);
    const trainIds = new Set(a.train.map((d) => d.id));
    expect(a.val.every((d) => !trainIds.has(d.id))).toBe(true);
    expect(() => splitDocs([{ id: 'x', text: '' }])).toThrow(/at least 2/);
  });
});

describe('tokenizers', () => {
  it('byte tokenizer round-trips UTF-8', () => {
    const s = 'Call me Ishmael — naïve 🐋\n';
    const ids = byteTokenizer.encode(s);
    expect(ids.length).toBe(new TextEncoder().encode(s).length);
    expect(Math.max(...ids)).toBeLessThan(256);
    expect(byteTokenizer.decode(ids)).toBe(s);
    expect(() => byteTokenizer.decode([300])).toThrow(/not a byte/);
  });

  it('GPT-2 BPE matches known ids and round-trips', async () => {
    const tok = await loadGpt2Tokenizer();
    expect(tok.vocabSize).toBe(50257);
    expect(Array.from(tok.encode('Hello world'))).toEqual([15496, 995]);
    const s = loadDocs('moby-dick')[5]!.text.slice(0, 2000);
    expect(tok.decode(tok.encode(s))).toBe(s);
    expect(Array.from(tok.encode('<|endoftext|>'))).not.toContain(50256); // literal text, not special
  });

  it('encodeDocs separates documents', async () => {
    const tok = await loadGpt2Tokenizer();
    expect(Array.from(encodeDocs(['Hello', 'world'], tok))).toEqual([15496, 50256, 6894]);
    expect(byteTokenizer.decode(encodeDocs(['a', 'b'], byteTokenizer))).toBe('a\n\nb');
  });
});

describe('WikiText reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wikitext-'));
  const raw = mkdtempSync(join(tmpdir(), 'wikitext-raw-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(raw, { recursive: true, force: true });
  });
  const body = [' = Valkyria Chronicles III = ', '', ' Senjō no Valkyria 3 : <unk> Chronicles ( Japanese : 戦場のヴァルキュリア3 ) , is a game . ',
    '', ' = = Gameplay = = ', '', '  Two  spaces and a 100 @,@ 000 number .', 'x', ''].join('\n').repeat(20);
  for (const s of ['train', 'valid', 'test']) writeFileSync(join(dir, `wiki.${s}.tokens`), `${s}\n${body}`);
  writeFileSync(join(raw, 'wiki.valid.raw'), 'raw text\n');

  it('reads the standard layout (tokens and raw variants)', () => {
    expect(readWikiText(dir, 'valid')).toBe(`valid\n${body}`);
    expect(readWikiText(raw, 'valid')).toBe('raw text\n');
    expect(readWikiText(raw, 'valid', { variant: 'raw' })).toBe('raw text\n');
    const head = readWikiText(dir, 'train', { maxBytes: 100 });
    expect(head.length).toBeLessThanOrEqual(100);
    expect(head.endsWith('\n')).toBe(true);
    expect(`train\n${body}`.startsWith(head)).toBe(true);
  });

  it('streams in chunks without changing the tokenization', async () => {
    const tok = await loadGpt2Tokenizer();
    const whole = tok.encode(`test\n${body}`);
    // Every chunk size above the longest line; a naive "cut after any newline" fails several.
    const bad: number[] = []; // chunk sizes whose cuts changed the ids
    for (let chunkBytes = 120; chunkBytes <= 240; chunkBytes++) {
      const ids = encodeWikiText(dir, 'test', tok, { chunkBytes });
      if (ids.length !== whole.length || ids.some((v, i) => v !== whole[i])) bad.push(chunkBytes);
    }
    expect(bad).toEqual([]);
    expect(encodeWikiText(dir, 'test', tok)).toEqual(whole);
    expect(byteTokenizer.decode(encodeWikiText(dir, 'test', byteTokenizer, { chunkBytes: 17 }))).toBe(`test\n${body}`);
  });

  it('names the missing file', () => {
    expect(() => readWikiText(raw, 'train')).toThrow(/missing file .*wiki\.train\.tokens \(or .*wiki\.train\.raw\)/);
    expect(() => wikiTextPath(dir, 'test', 'raw')).toThrow(/missing file .*wiki\.test\.raw/);
    expect(() => readWikiText(join(dir, 'nope'), 'valid', { variant: 'tokens' })).toThrow(/wiki\.valid\.tokens/);
  });
});

describe('packing and batching', () => {
  const ids = Int32Array.from({ length: 1000 }, (_, i) => i);

  it('packSequences makes shifted windows', () => {
    const p = packSequences(ids, 10);
    expect(p.B).toBe(99);
    expect(p.x.length).toBe(99 * 10);
    expect(Array.from(p.x.subarray(10, 20))).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(Array.from(p.y.subarray(10, 20))).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(packSequences(ids, 10, { stride: 5, maxWindows: 3 }).x[10]).toBe(5);
    expect(packSequences(ids.subarray(0, 5), 10).B).toBe(0);
  });

  it('Batcher is deterministic, covers an epoch, and resumes exactly', () => {
    const run = (n: number, b = new Batcher(ids, { B: 4, T: 8, seed: 7 })): number[][] =>
      Array.from({ length: n }, () => Array.from(b.next().x));
    const a = new Batcher(ids, { B: 4, T: 8, seed: 7 });
    expect(a.nWindows).toBe(124);
    expect(a.batchesPerEpoch).toBe(31);
    const first = a.next();
    expect(first.x.length).toBe(32);
    expect(first.y.length).toBe(32);
    for (let i = 0; i < 32; i++) expect(first.y[i]).toBe(first.x[i]! + 1);
    const all = run(70);
    expect(run(70)).toEqual(all);
    expect(run(1, new Batcher(ids, { B: 4, T: 8, seed: 8 }))[0]).not.toEqual(all[0]);
    const starts = new Set(all.slice(0, 31).flatMap((x) => [x[0], x[8], x[16], x[24]]));
    expect(starts.size).toBe(124); // one epoch visits every window once
    expect(all[31]).not.toEqual(all[0]); // the next epoch reshuffles

    const b = new Batcher(ids, { B: 4, T: 8, seed: 7 });
    run(40, b);
    const saved = JSON.parse(JSON.stringify(b.state()));
    const cont = run(10, b);
    const c = new Batcher(ids, { B: 4, T: 8, seed: 7 });
    c.setState(saved);
    expect(run(10, c)).toEqual(cont);
    expect(cont).toEqual(all.slice(40, 50));
    expect(() => new Batcher(ids, { B: 4, T: 8, seed: 9 }).setState(saved)).toThrow(/seed/);
    expect(() => new Batcher(ids, { B: 200, T: 8 })).toThrow(/fewer than B=200/);
  });

  it('sequential mode walks windows in order', () => {
    const s = new Batcher(ids, { B: 2, T: 10, shuffle: false });
    expect(s.next().x[10]).toBe(10);
    expect(s.next().x[0]).toBe(20);
  });

  it('unigramLoss is the add-one smoothed cross-entropy', () => {
    expect(unigramLoss([0, 1, 2, 3], [0, 1, 2, 3], 4)).toBeCloseTo(Math.log(4), 12);
    expect(unigramLoss([0, 0, 0], [0], 2)).toBeCloseTo(-Math.log(4 / 5), 12);
    expect(() => unigramLoss([5], [0], 2)).toThrow(/outside/);
  });

  it('real corpus: byte-level unigram baseline is below log(256)', () => {
    const enc = encodeCorpus(loadCorpus('moby-dick'), byteTokenizer);
    const loss = unigramLoss(enc.train, enc.val, 256);
    expect(loss).toBeGreaterThan(2.5);
    expect(loss).toBeLessThan(Math.log(256));
  });
});
