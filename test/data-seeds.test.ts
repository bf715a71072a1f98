// Tests of the S1 synthetic seeds task and its PRNG: determinism, statistics (segment length,
// noise rate), label correctness, separator placement, train/val differences, Rng state resume.
// Pure CPU; no GPU.

import { describe, expect, it } from 'vitest';
import { Rng } from '../src/data/rng';
import { makeSeedsData, seedsBatch, seedsStats, sliceRows, type SeedsSplit } from '../src/data/seeds';

describe('Rng', () => {
  it('is deterministic and resumes from state()', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    for (let i = 0; i < 100; i++) expect(a.nextU32()).toBe(b.nextU32());
    const s = a.state();
    const xs = [a.uniform(), a.int(7), a.normal()];
    const c = new Rng(0);
    c.setState(JSON.parse(JSON.stringify(s)));
    expect([c.uniform(), c.int(7), c.normal()]).toEqual(xs);
    expect(new Rng(42, 1).nextU32()).not.toBe(new Rng(42, 0).nextU32());
  });

  it('has sane moments', () => {
    const r = new Rng(1);
    let su = 0, sn = 0, sn2 = 0;
    const counts = new Array(5).fill(0);
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
      counts[r.int(5)]++;
    }
    expect(su / N).toBeCloseTo(0.5, 1);
    expect(Math.abs(sn / N)).toBeLessThan(0.05);
    expect(sn2 / N).toBeCloseTo(1, 1);
    for (const c of counts) expect(Math.abs(c / N - 0.2)).toBeLessThan(0.02);
    expect(() => r.setState([0, 0, 0, 0])).toThrow(/all-zero/);
  });
});

describe('seeds task S1', () => {
  const cfg = { nTrain: 256, nVal: 64, T: 256, seed: 3 };
  const data = makeSeedsData(cfg);
  const { vocab: V } = data.config;

  it('uses the PROTOCOL defaults', () => {
    expect(data.config).toMatchObject({ vocab: 64, nSeeds: 16, noise: 0.1, minLen: 16, maxLen: 48 });
    expect(data.vocabSize).toBe(65);
    expect(data.sep).toBe(64);
    expect(data.nSeedNext).toBe(16 * 65);
    expect(data.fns).toHaveLength(16);
    expect(data.train.tokens.length).toBe(256 * 256);
  });

  it('is deterministic from one seed and varies with it', () => {
    const again = makeSeedsData(cfg);
    expect(again.train.tokens).toEqual(data.train.tokens);
    expect(again.val.seedNext).toEqual(data.val.seedNext);
    const other = makeSeedsData({ ...cfg, seed: 4 });
    expect(other.train.tokens).not.toEqual(data.train.tokens);
    expect(other.fns).toEqual(data.fns); // f_s depends only on s (PROTOCOL: "a PRNG seeded by s")
    expect(makeSeedsData({ ...cfg, functionSalt: 1 }).fns).not.toEqual(data.fns);
  });

  it('has segment lengths and noise rate as configured', () => {
    for (const split of [data.train, data.val]) {
      const st = seedsStats(split, data.fns, V);
      expect(st.meanSegmentLength).toBeGreaterThan(30);
      expect(st.meanSegmentLength).toBeLessThan(34);
      expect(Math.abs(st.noiseRate - 0.1)).toBeLessThan(0.02);
      expect(Math.abs(st.mismatchRate - 0.1 * (1 - 1 / V))).toBeLessThan(0.02);
    }
    const st = seedsStats(makeSeedsData({ ...cfg, noise: 0 }).train, data.fns, V);
    expect(st.noiseRate).toBe(0);
    expect(st.mismatchRate).toBe(0);
  });

  it('labels are correct', () => {
    // Collect violations instead of calling expect per position (tens of thousands of them).
    const check = (s: SeedsSplit): string[] => {
      const { T, tokens, seed, next, seedNext, fresh } = s;
      const bad: string[] = [];
      const need = (ok: boolean, what: string, r: number, t: number): void => {
        if (!ok && bad.length < 10) bad.push(`${what} at row ${r} t ${t}`);
      };
      let complete = 0;
      for (let r = 0; r < s.nSeq; r++) {
        let len = 0;
        need(tokens[r * T] !== V, 'sequence starts with separator', r, 0);
        for (let t = 0; t < T; t++) {
          const i = r * T + t;
          const x = tokens[i]!;
          need(x >= 0 && x <= V, 'token range', r, t);
          need(next[i] === (t + 1 < T ? tokens[i + 1] : -1), 'next label', r, t);
          if (x === V) {
            need(seed[i] === -1 && seedNext[i] === -1, 'separator labels', r, t);
            need(len >= 16 && len <= 48, `complete segment length ${len}`, r, t);
            complete++;
            len = 0;
            continue;
          }
          len++;
          need(seed[i]! >= 0 && seed[i]! < 16, 'seed label', r, t);
          need(seedNext[i] === (next[i]! < 0 ? -1 : seed[i]! * (V + 1) + next[i]!), 'seedNext label', r, t);
          if (len > 1) {
            need(seed[i] === seed[i - 1], 'seed constant within segment', r, t);
            if (!fresh[i]) need(x === data.fns[seed[i]!]![tokens[i - 1]!], 'x_{i+1} = f_s(x_i)', r, t);
          } else {
            need(fresh[i] === 1, 'segment start is a uniform draw', r, t);
          }
        }
        need(len <= 48, 'final segment length', r, T);
      }
      need(complete > s.nSeq * 5, `only ${complete} complete segments`, -1, -1);
      return bad;
    };
    expect(check(data.train)).toEqual([]);
    expect(check(data.val)).toEqual([]);
  });

  it('history holds several seeds', () => {
    const { T, seed } = data.train;
    let distinct = 0;
    for (let r = 0; r < data.train.nSeq; r++) {
      distinct += new Set(Array.from(seed.subarray(r * T, (r + 1) * T)).filter((s) => s >= 0)).size;
    }
    expect(distinct / data.train.nSeq).toBeGreaterThan(5);
  });

  it('validation is fresh draws of the same seeds', () => {
    const trainRows = new Set<string>();
    const T = data.train.T;
    for (let r = 0; r < data.train.nSeq; r++) trainRows.add(data.train.tokens.subarray(r * T, (r + 1) * T).join(','));
    for (let r = 0; r < data.val.nSeq; r++) expect(trainRows.has(data.val.tokens.subarray(r * T, (r + 1) * T).join(','))).toBe(false);
    expect(new Set(data.val.seed).size).toBe(17); // all 16 seeds and -1
  });

  it('sliceRows copies rows', () => {
    const b = sliceRows(data.train, [5, 2]);
    const T = data.train.T;
    expect(b.nSeq).toBe(2);
    expect(b.tokens.subarray(0, T)).toEqual(data.train.tokens.subarray(5 * T, 6 * T));
    expect(b.seedNext.subarray(T)).toEqual(data.train.seedNext.subarray(2 * T, 3 * T));
    expect(() => sliceRows(data.train, [9999])).toThrow(/out of range/);
  });

  it('seedsBatch labels rows for the probes', () => {
    const T = data.train.T;
    const b = seedsBatch(data.train, [3, 1]);
    expect([b.B, b.T]).toEqual([2, T]);
    expect(b.x.subarray(T)).toEqual(data.train.tokens.subarray(T, 2 * T));
    expect(b.y).toBe(b.labels.next);
    expect(b.labels.next.subarray(0, T)).toEqual(data.train.next.subarray(3 * T, 4 * T));
    expect(b.labels.seed.subarray(0, T)).toEqual(data.train.seed.subarray(3 * T, 4 * T));
    expect(b.labels.seedNext.subarray(T)).toEqual(data.train.seedNext.subarray(T, 2 * T));
  });

  it('rejects bad configs', () => {
    expect(() => makeSeedsData({ minLen: 10, maxLen: 5 })).toThrow(/maxLen/);
    expect(() => makeSeedsData({ noise: 2 })).toThrow(/noise/);
    expect(() => makeSeedsData({ vocab: 0 })).toThrow(/vocab/);
  });
});
