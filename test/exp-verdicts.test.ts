// Falsification tests of the verdicts: for each experiment, the real probes (D1–D6) measure planted
// models over three seeds and the experiment's own summary judges them. Where the claim is false
// (noise, recency-only or uniform attention, segment-only representations, norms unrelated to
// frequency, an isotropic spectrum) the verdict must be "no"; where the effect is planted it must be
// "yes". A rule that cannot say "no" fails here. Runs on the cpu64 backend (f64, no adapter needed).
import { describe, expect, it } from "vitest";
import { init, type BackendName } from "../src/node";
import { makeSeedsData } from "../src/data/seeds";
import { countIds } from "../src/probes/host";
import { ProbeSet, type ProbeBatch } from "../src/probes/index";
import { alignmentOf } from "../exp/alignment";
import { CONFIGS } from "../exp/config";
import { s1Batches, shuffleTargets } from "../exp/data";
import { e1, e1Scores, measureD6, type E1Seed } from "../exp/e1";
import { e2, innerLossOf, type E2Seed } from "../exp/e2";
import { e3, e3Seed, measureD5 } from "../exp/e3";
import { e4, unigramOf, type E4Model } from "../exp/e4";
import { e5, normsAndProjections, type E5Model } from "../exp/e5";
import { e6, measureGram, type E6Model } from "../exp/e6";
import { claimLine, type ClaimVerdict } from "../exp/verdict";
import { Planted, attentionFrom, gaussians, identityLens, rowsOf, type ProbsFn, type RepsFn } from "./helpers/planted";

const backend: BackendName = "cpu64";
const cfg = CONFIGS.smoke;
const SEEDS = [0, 1, 2];
const V = 10, C = 16, L = 2, H = 2;

/** A small seeds task per seed (T = 64: several segments per sequence, queries with ≥ 20 earlier positions). */
function task(seed: number) {
  const d = makeSeedsData({ vocab: V, nSeeds: 3, T: 64, nTrain: 16, nVal: 16, minLen: 4, maxLen: 8, seed, functionSalt: seed });
  return { d, val: s1Batches(d.val, 16, 8), train: s1Batches(d.train, 16, 8) };
}

/** A ProbeSet over a planted model (identity LN_f and the given W_U when there is one). */
function probeSet(m: Planted, wU?: Float64Array, vocab = V + 1): ProbeSet {
  return new ProbeSet(m, {
    backend, forward: (_x, b) => m.forward(b), lastTap: null,
    ...(wU ? { lens: identityLens(wU, vocab, m.C, backend) } : {}),
  });
}

async function withPs<T>(m: Planted, fn: (ps: ProbeSet) => Promise<T>, wU?: Float64Array, vocab?: number): Promise<T> {
  const ps = probeSet(m, wU, vocab);
  try {
    return await fn(ps);
  } finally {
    ps.dispose();
  }
}

const heldOf = <S>(ex: { summarize(rs: { seed: number; result: S }[], c: typeof cfg): { verdict: { held: string; claims: { held: string }[] } } },
  results: S[]) => {
  const v = ex.summarize(results.map((result, i) => ({ seed: SEEDS[i], result })), cfg).verdict;
  if (process.env.VERDICT_DEBUG) for (const c of v.claims as unknown as ClaimVerdict[]) console.log(claimLine(c));
  return { held: v.held, claims: v.claims.map((c) => c.held) };
};

describe("falsification: each verdict says no where the claim is false and yes where it is planted", () => {
  it("E3 (D5): recency-only and uniform attention → no; attention to same-label history → yes", async () => {
    await init({ backend });
    const noise = (b: ProbeBatch, seed: number) => Array.from({ length: L + 1 }, (_, l) => rowsOf(b, C, () => null, 1, seed + l));
    const recency: (b: ProbeBatch) => Float64Array[] = (b) => attentionFrom(b, H, L, (_r, q, t) => Math.exp((t - q) / 3));
    const uniform: (b: ProbeBatch) => Float64Array[] = (b) => attentionFrom(b, H, L, () => 1);
    const retrieval: (b: ProbeBatch) => Float64Array[] = (b) => attentionFrom(b, H, L, (r, q, t) => {
      const i = r * b.T + q, j = r * b.T + t, lab = b.labels!;
      return 1 + 50 * +(lab.seed[j] >= 0 && lab.seed[j] === lab.seed[i]) + 10 * +(lab.next[j] === lab.next[i]) + 0.01 * ((t * 7919) % 13);
    });
    const run = async (final: ProbsFn) => Promise.all(SEEDS.map(async (seed) => {
      const { val, train } = task(seed);
      const at = (probs: ProbsFn, bs: ProbeBatch[]) =>
        withPs(new Planted(backend, L, C, H, (b) => noise(b, seed), probs), (ps) => measureD5(ps, bs, cfg, seed));
      return e3Seed([await at(uniform, val), await at(final, val)], await at(final, train), { run: {}, epochs: [0, 1] });
    }));
    expect(heldOf(e3, await run(recency)).held).toBe("no");
    expect(heldOf(e3, await run(uniform)).held).toBe("no");
    expect(heldOf(e3, await run(retrieval))).toEqual({ held: "yes", claims: ["yes", "yes"] });
  });

  it("E1 (D6): representations that know only their segment → no; seed and next-token codes → yes", async () => {
    const table = (n: number, seed: number, scale: number) => Array.from({ length: n }, (_, i) => gaussians(C, seed * 1000 + i).map((x) => x * scale));
    const run = async (final: (seed: number) => RepsFn) => Promise.all(SEEDS.map(async (seed): Promise<E1Seed> => {
      const { val, train } = task(seed);
      const tok = table(V + 1, seed + 50, 1);
      const untrained: RepsFn = (b) => Array.from({ length: L + 1 }, (_, l) => rowsOf(b, C, (i) => tok[b.x[i]], 1, seed * 10 + l));
      const rows = async (bs: ProbeBatch[]) => Promise.all([untrained, final(seed)].map((reps) =>
        withPs(new Planted(backend, L, C, H, reps), (ps) => measureD6(ps, bs, cfg, seed))));
      const [rv, rt] = [await rows(val), await rows(train)];
      const labels = ["seed", "next", "seedNext"];
      return {
        definitions: {}, run: {}, epochs: [0, 1], layers: [0, 1, 2], n: { val: rv[0].n, train: rt[0].n },
        splits: { val: e1Scores(rv, val, labels, seed), train: e1Scores(rt, train, labels, seed) },
      };
    }));
    const segmentOnly = (seed: number): RepsFn => (b) => {
      const seg = new Int32Array(b.B * b.T);
      for (let i = 0, s = 0; i < seg.length; i++) {
        if (i % b.T === 0 || b.labels!.seed[i - 1] < 0) s++;
        seg[i] = s;
      }
      const segVec = table(seg[seg.length - 1] + 1, seed + 70, 3);
      const tok = table(V + 1, seed + 50, 1);
      return [rowsOf(b, C, (i) => tok[b.x[i]], 1, seed), ...[1, 2].map((l) => rowsOf(b, C, (i) => segVec[seg[i]], 0.3, seed + l))];
    };
    const codes = (seed: number): RepsFn => (b) => {
      const tok = table(V + 1, seed + 50, 1), seedVec = table(3, seed + 60, 3), nextVec = table(V + 1, seed + 80, 3);
      const lab = b.labels!;
      return [
        rowsOf(b, C, (i) => tok[b.x[i]], 1, seed),
        rowsOf(b, C, (i) => (lab.seed[i] >= 0 ? seedVec[lab.seed[i]] : null), 0.3, seed + 1),
        rowsOf(b, C, (i) => (lab.next[i] >= 0 ? nextVec[lab.next[i]] : null), 0.3, seed + 2),
      ];
    };
    expect(heldOf(e1, await run(segmentOnly)).held).toBe("no");
    expect(heldOf(e1, await run(codes))).toEqual({ held: "yes", claims: ["yes", "yes"] });
  });

  // D1/D2 planted: h^l moves toward the target's unembedding row with depth, h^l = (l/L)·α·W_U[y] + noise.
  const lensRows = (seed: number) => gaussians((V + 1) * C, seed + 900);
  const toward = (wU: Float64Array, alpha: number, seed: number): RepsFn => (b) => Array.from({ length: L + 1 }, (_, l) =>
    rowsOf(b, C, (i) => {
      const y = b.labels!.next[i]; // the true next token: a model sees inputs, never the (possibly shuffled) targets
      return y >= 0 ? wU.subarray(y * C, (y + 1) * C).map((x) => (x * alpha * l) / L) : null;
    }, 0.3, seed * 10 + l));
  // Untrained-like: small random states, so the lens predicts about uniformly at every layer.
  const noiseReps = (seed: number): RepsFn => (b) => Array.from({ length: L + 1 }, (_, l) => rowsOf(b, C, () => null, 0.1, seed * 20 + l));

  it("E2 (D1, D2): noise at every snapshot → no; representations that descend the inner loss → yes", async () => {
    const run = async (strength: number) => Promise.all(SEEDS.map(async (seed): Promise<E2Seed> => {
      const { d, val, train } = task(seed);
      const wU = lensRows(seed), shuffled = shuffleTargets(val, seed);
      const model = (alpha: number) => new Planted(backend, L, C, H, alpha > 0 ? toward(wU, alpha, seed) : noiseReps(seed));
      const snaps = [0, strength / 2, strength];
      const rows = [];
      for (const a of snaps) {
        rows.push(await withPs(model(a), async (ps) => ({
          tr: (await innerLossOf(ps, train)).perLayer, va: (await innerLossOf(ps, val)).perLayer,
          align: await alignmentOf(ps, val, seed), sh: (await innerLossOf(ps, shuffled)).perLayer, shA: await alignmentOf(ps, shuffled, seed),
        }), wU));
      }
      return {
        definitions: {}, run: {}, epochs: [0, 1, 2], layers: [0, 1, 2], innerTrain: rows.map((r) => r.tr), innerVal: rows.map((r) => r.va),
        outerEpoch: [1, 2], outerEpochLoss: [3, 2], stepLoss: [3, 2], valLoss: rows.map((r) => r.va[2]),
        unigram: unigramOf(countIds(V + 1, d.train.tokens), val), logV: Math.log(V + 1), alignment: rows.map((r) => r.align),
        shuffled: { snapshots: [1, 2], innerVal: [rows[1].sh, rows[2].sh], alignment: rows[2].shA },
      };
    }));
    expect(heldOf(e2, await run(0))).toEqual({ held: "no", claims: ["no", "no", "no", "no"] });
    expect(heldOf(e2, await run(1))).toEqual({ held: "yes", claims: ["yes", "yes", "yes", "yes"] });
  });

  it("E4 (D1, D2 over several models): noise → no; descending representations → yes", async () => {
    const run = async (alpha: number) => Promise.all(SEEDS.map(async (seed) => {
      const { d, val } = task(seed);
      const counts = countIds(V + 1, d.train.tokens), shuffled = shuffleTargets(val, seed);
      const models: E4Model[] = [];
      for (const [k, name] of ["R1 2L-16", "R1 2L-16 untied"].entries()) {
        const wU = lensRows(seed + 17 * k);
        const measure = async (reps: RepsFn, bs: ProbeBatch[]) => withPs(new Planted(backend, L, C, H, reps), async (ps) => {
          const r = await innerLossOf(ps, bs);
          return { mean: r.perLayer, alignment: await alignmentOf(ps, bs, seed) };
        }, wU);
        const final = alpha > 0 ? toward(wU, alpha, seed + k) : noiseReps(seed + 5 + k);
        const m = await measure(final, val);
        models.push({
          name, kind: "R1", data: "planted", nLayer: L, nEmbd: C, untied: k === 1, params: 0, steps: 1, valLoss: m.mean[L],
          unigram: unigramOf(counts, val), layers: [0, 1, 2], ...m, samples: [m.mean],
          untrained: await measure(noiseReps(seed + k), val), shuffled: await measure(final, shuffled),
        });
      }
      return { definitions: {}, models };
    }));
    expect(heldOf(e4, await run(0))).toEqual({ held: "no", claims: ["no", "no", "no"] });
    expect(heldOf(e4, await run(1))).toEqual({ held: "yes", claims: ["yes", "yes", "yes"] });
  });

  it("E5 (D3): norms unrelated to frequency → no; norms that track frequency along one direction → yes", async () => {
    const VV = 64, T = 32, B = 8;
    const zipf = (seed: number, n: number) => {
      const w = Array.from({ length: VV }, (_, v) => 1 / (v + 1)), z = w.reduce((a, x) => a + x, 0);
      let s = seed * 2654435761 >>> 0;
      return Int32Array.from({ length: n }, () => {
        s = (s * 1664525 + 1013904223) >>> 0;
        let u = (s / 2 ** 32) * z, v = 0;
        while (u > w[v] && v < VV - 1) u -= w[v++];
        return v;
      });
    };
    const run = async (planted: boolean) => Promise.all(SEEDS.map(async (seed) => {
      const counts = countIds(VV, zipf(seed + 100, 20000));
      const batches: ProbeBatch[] = [0, 1, 2, 3].map((k) => {
        const x = zipf(seed * 7 + k, B * T);
        return { B, T, x, y: Int32Array.from(x, (_, i) => ((i + 1) % T === 0 ? -1 : x[i + 1])) };
      });
      const tokVecs = new Map<number, Float64Array[]>(); // one table per seed: rowsOf asks for it once per row
      const tokVec = (s: number): Float64Array[] => {
        const t = tokVecs.get(s) ?? Array.from({ length: VV }, (_, v) => gaussians(C, s * 100 + v));
        tokVecs.set(s, t);
        return t;
      };
      const u = gaussians(C, seed + 333);
      const random = (s: number): RepsFn => (b) => Array.from({ length: L + 1 }, (_, l) => rowsOf(b, C, (i) => tokVec(s)[b.x[i]], 0.2, s + l));
      const tracking: RepsFn = (b) => Array.from({ length: L + 1 }, (_, l) =>
        rowsOf(b, C, (i) => u.map((x) => x * (1 + 0.6 * -Math.log((counts[b.x[i]] + 1) / 20000))), 0.2, seed + l));
      const models: E5Model[] = [];
      for (const kind of ["R1", "S1"] as const) {
        const fin = await withPs(new Planted(backend, L, C, H, planted ? tracking : random(seed + 1)), (ps) => normsAndProjections(ps, batches, counts, seed, 200));
        const un = await withPs(new Planted(backend, L, C, H, random(seed + 2)), (ps) => normsAndProjections(ps, batches, counts, seed, 200));
        const { defs: _d, ...rest } = fin;
        models.push({ name: `${kind} planted`, kind, data: "planted", ...rest, untrained: { rhoFreq: un.rhoFreq, partialRho: un.partialRho, pcRho: un.pcRho } });
      }
      return { definitions: {}, models };
    }));
    expect(heldOf(e5, await run(false))).toEqual({ held: "no", claims: ["no", "no"] });
    expect(heldOf(e5, await run(true))).toEqual({ held: "yes", claims: ["yes", "yes"] });
  });

  it("E6 (D4): an isotropic spectrum of representations → no; representations on the top eigen-directions → yes", async () => {
    const VV = 32, K = 4;
    const run = async (aligned: boolean) => Promise.all(SEEDS.map(async (seed) => {
      // W_U: K tokens with large rows along K orthogonal directions (the top of the spectrum), the rest a random bulk.
      const basis = Array.from({ length: K }, (_, i) => Float64Array.from({ length: C }, (_, c) => +(c === i)));
      const bulk = gaussians(VV * C, seed + 500);
      const wU = Float64Array.from({ length: VV * C }, (_, j) => (Math.floor(j / C) < K ? 2 * basis[Math.floor(j / C)][j % C] : 0.15 * bulk[j]));
      const { val } = task(seed);
      // Targets spread over the whole vocabulary; the planted states point at one of the top tokens (chosen from the input).
      const batches = val.map((b) => ({ ...b, y: Int32Array.from(b.y!, (y, i) => (y < 0 ? y : (3 * y + i) % VV)) }));
      const iso = (s: number): RepsFn => (b) => Array.from({ length: 2 }, (_, l) => rowsOf(b, C, () => null, 1, s + l));
      const top: RepsFn = (b) => Array.from({ length: 2 }, (_, l) => rowsOf(b, C, (i) => basis[(b.x[i] + i) % K].map((x) => 3 * x), 0.1, seed + l));
      const counts = countIds(VV, ...val.map((b) => b.x));
      const snap = (reps: RepsFn, x: number) => withPs(new Planted(backend, 1, C, H, reps), async (ps) =>
        (await measureGram(ps, batches, counts, [1, K], x)).snap, wU, VV);
      const model: E6Model = {
        name: "planted", kind: "S1", data: "planted", xLabel: "epoch", C, layers: [0, 1], topK: [1, K],
        snapshots: [await snap(iso(seed * 3), 0), await snap(aligned ? top : iso(seed * 3 + 1), 1)],
      };
      return { definitions: {}, k: K, models: [model] };
    }));
    expect(heldOf(e6, await run(false))).toEqual({ held: "no", claims: ["no", "no"] });
    expect(heldOf(e6, await run(true))).toEqual({ held: "yes", claims: ["yes", "yes"] });
  });
});
