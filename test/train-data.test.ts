// Training data sources: batches have the right layout (targets = next tokens, -1 at the end of
// a seeds sequence), state()/setState() resumes the exact batch sequence, validation batches are
// fixed, and the unigram baseline is measured on those validation targets. Pure CPU.
import { expect, test } from "vitest";
import { makeSeedsData } from "../src/data/seeds";
import { unigramLoss } from "../src/data/text";
import { makeDataSource, seedsSource, streamSource } from "../src/data/sources";

test("seeds: x is a sequence, y its next tokens with -1 last; resume replays the same batches", () => {
  const src = seedsSource({ B: 3, T: 16, seed: 1, nTrain: 20, nVal: 9, valBatches: 2 });
  expect(src.vocabSize).toBe(65);
  const b = src.nextTrain();
  for (let r = 0; r < 3; r++) {
    for (let t = 0; t < 15; t++) expect(b.y[r * 16 + t]).toBe(b.x[r * 16 + t + 1]);
    expect(b.y[r * 16 + 15]).toBe(-1);
  }
  for (let i = 0; i < 4; i++) src.nextTrain();
  const st = JSON.parse(JSON.stringify(src.state()));
  const want = Array.from({ length: 8 }, () => src.nextTrain()); // crosses an epoch (6 batches per epoch)
  const again = seedsSource({ B: 3, T: 16, seed: 1, nTrain: 20, nVal: 9, valBatches: 2 });
  again.setState(st);
  for (const w of want) expect(again.nextTrain()).toEqual(w);
  expect(again.val).toEqual(src.val);
  expect(src.val.length).toBe(2);
  expect(src.unigram).toBeGreaterThan(3.5);
  expect(() => seedsSource({ B: 4, T: 16, seed: 1, nTrain: 20 }).setState(st)).toThrow(/does not fit this source/);
  // Prebuilt splits: the same batches as generating them from the same arguments.
  const data = makeSeedsData({ T: 16, seed: 1, nTrain: 20, nVal: 9 });
  const given = seedsSource({ B: 3, T: 16, seed: 1, data, valBatches: 2 });
  expect(given.val).toEqual(src.val);
  expect(given.nextTrain()).toEqual(b);
  expect(() => seedsSource({ B: 3, T: 8, seed: 1, data })).toThrow(/sequences of 16 tokens, not T = 8/);
});

test("stream: shuffled windows resume exactly; unigram is measured on the validation targets", () => {
  const train = Int32Array.from({ length: 500 }, (_, i) => (i * i) % 7);
  const val = Int32Array.from({ length: 200 }, (_, i) => (i * 3) % 7);
  const src = streamSource("toy", { train, val }, 7, { B: 2, T: 10, seed: 4, valBatches: 3 });
  const b = src.nextTrain();
  expect(b.y.subarray(0, 9)).toEqual(b.x.subarray(1, 10));
  const st = src.state();
  const want = [src.nextTrain(), src.nextTrain()];
  const again = streamSource("toy", { train, val }, 7, { B: 2, T: 10, seed: 4, valBatches: 3 });
  again.setState(st);
  expect([again.nextTrain(), again.nextTrain()]).toEqual(want);
  expect(src.val.length).toBe(3);
  expect(src.unigram).toBeCloseTo(unigramLoss(train, src.val.flatMap((v) => Array.from(v.y)), 7), 12);
});

test("makeDataSource: sotu with bytes, and a clear error for wikitext without a folder", async () => {
  const s = await makeDataSource("sotu", { B: 2, T: 32, seed: 0, valBatches: 1 });
  expect(s.vocabSize).toBe(256);
  expect(s.name).toBe("sotu (bytes)");
  await expect(makeDataSource("wikitext", { B: 2, T: 32, seed: 0 })).rejects.toThrow(/--wikitext-dir/);
  await expect(makeDataSource("wikitext", { B: 2, T: 32, seed: 0, wikitextDir: "/nonexistent" })).rejects.toThrow(/missing file/);
});
