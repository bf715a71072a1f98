// Tests of the host-side f64 metrics in src/probes/metrics.ts against hand-computed values
// (sklearn's documented examples for ARI/NMI), known optima and reconstruction identities.
// No GPU involved.
import { describe, expect, it } from 'vitest';
import {
  ari, contingency, hungarian, kmeansCpu, kmeansPlusPlusInit, matchedMacroF1, mulberry32, nmi, pca,
  purity, rankAverage, spearman, symEig,
} from '../src/probes/metrics';

const i32 = (xs: number[]): Int32Array => Int32Array.from(xs);
const totalCost = (cost: number[][], assign: number[]): number =>
  assign.reduce((s, c, r) => s + (c >= 0 ? cost[r][c] : 0), 0);

describe('hungarian', () => {
  it('finds the known optimum of a 3×3 problem', () => {
    const cost = [[4, 1, 3], [2, 0, 5], [3, 2, 2]];
    const a = hungarian(cost);
    expect(a).toEqual([1, 0, 2]);
    expect(totalCost(cost, a)).toBe(5);
  });

  it('solves wide and tall rectangular problems', () => {
    const wide = [[10, 1, 7, 9], [2, 8, 9, 3]];
    expect(hungarian(wide)).toEqual([1, 0]); // 1 + 2 = 3
    const tall = [[10, 2], [1, 8], [7, 9], [9, 3]];
    const a = hungarian(tall);
    expect(a).toEqual([1, 0, -1, -1]); // 2 + 1 = 3
    expect(a.filter((c) => c >= 0).sort()).toEqual([0, 1]);
  });

  it('matches brute force on random 5×5 problems', () => {
    const rng = mulberry32(7);
    const perms = (xs: number[]): number[][] => xs.length <= 1 ? [xs]
      : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    for (let t = 0; t < 20; t++) {
      const cost = Array.from({ length: 5 }, () => Array.from({ length: 5 }, () => Math.floor(rng() * 20) - 5));
      const best = Math.min(...perms([0, 1, 2, 3, 4]).map((p) => totalCost(cost, p)));
      expect(totalCost(cost, hungarian(cost))).toBe(best);
    }
  });
});

describe('cluster metrics', () => {
  it('scores a perfect clustering with permuted cluster ids as 1', () => {
    const labels = i32([0, 0, 1, 1, 2, 2, 2]);
    const pred = i32([5, 5, 0, 0, 3, 3, 3]);
    expect(matchedMacroF1(pred, labels)).toBe(1);
    expect(nmi(pred, labels)).toBeCloseTo(1, 12);
    expect(ari(pred, labels)).toBeCloseTo(1, 12);
    expect(purity(pred, labels)).toBe(1);
  });

  it('reproduces sklearn doc values: ARI = 4/7, NMI = 0.8 for [0,0,1,1] vs [0,0,1,2]', () => {
    const labels = i32([0, 0, 1, 1]), pred = i32([0, 0, 1, 2]);
    expect(ari(pred, labels)).toBeCloseTo(0.5714285714, 10);
    expect(ari(pred, labels)).toBeCloseTo(4 / 7, 14);
    expect(nmi(pred, labels)).toBeCloseTo(0.8, 14);
    expect(nmi(labels, pred)).toBeCloseTo(0.8, 14); // symmetric
    expect(purity(pred, labels)).toBe(1);
    // Matching: cluster 0 ↔ class 0 (F1 1); class 1 gets cluster 1 or 2 (2·1/(1+2) = 2/3).
    expect(matchedMacroF1(pred, labels)).toBeCloseTo((1 + 2 / 3) / 2, 14);
  });

  it('hand-computed ARI/NMI on an imperfect 6-point example', () => {
    // Contingency [[2,1],[0,3]]: Σ C(nij,2)=1+3=4, a=C(3,2)·2=6, b=C(2,2)+C(4,2)=7, N=C(6,2)=15.
    const labels = i32([0, 0, 1, 1, 1, 1]), pred = i32([0, 0, 0, 1, 1, 1]);
    const expected = 42 / 15, max = 6.5;
    expect(ari(pred, labels)).toBeCloseTo((4 - expected) / (max - expected), 14);
    const H = (ps: number[]): number => -ps.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);
    const hU = H([1 / 2, 1 / 2]), hV = H([1 / 3, 2 / 3]);
    const mi = hU + hV - H([2 / 6, 1 / 6, 0, 3 / 6]);
    expect(nmi(pred, labels)).toBeCloseTo(mi / ((hU + hV) / 2), 14);
    expect(purity(pred, labels)).toBeCloseTo(5 / 6, 14);
    expect(matchedMacroF1(pred, labels)).toBeCloseTo((0.8 + 6 / 7) / 2, 14);
  });

  it('ignores label -1 and tolerates empty clusters (ids that never occur)', () => {
    const labels = i32([0, 0, -1, 1, 1, -1]);
    const pred = i32([7, 7, 2, 9, 9, 7]); // clusters 0..6 and 8 are empty
    expect(contingency(pred, labels).n).toBe(4);
    expect(matchedMacroF1(pred, labels)).toBe(1);
    expect(ari(pred, labels)).toBeCloseTo(1, 12);
    expect(nmi(pred, labels)).toBeCloseTo(1, 12);
  });

  it('gives F1 0 to classes left unmatched when k < #classes', () => {
    const labels = i32([0, 0, 1, 1, 2, 2]), pred = i32([0, 0, 1, 1, 1, 1]);
    // class 0 ↔ cluster 0 (F1 1), class 1 or 2 ↔ cluster 1 (2·2/(4+2) = 2/3), the other 0.
    expect(matchedMacroF1(pred, labels)).toBeCloseTo((1 + 2 / 3 + 0) / 3, 14);
    expect(purity(pred, labels)).toBeCloseTo(4 / 6, 14);
  });

  it('handles k > #classes: surplus clusters stay unmatched', () => {
    const labels = i32([0, 0, 0, 0, 1, 1]), pred = i32([0, 0, 1, 1, 2, 3]);
    // class 0 ↔ a 2-point cluster: 2·2/(2+4) = 2/3; class 1 ↔ a singleton: 2·1/(1+2) = 2/3.
    expect(matchedMacroF1(pred, labels)).toBeCloseTo(2 / 3, 14);
    expect(purity(pred, labels)).toBe(1);
  });

  it('scores a single-cluster prediction against two classes as NMI 0, ARI 0', () => {
    const labels = i32([0, 0, 1, 1]), pred = i32([0, 0, 0, 0]);
    expect(nmi(pred, labels)).toBe(0);
    expect(ari(pred, labels)).toBeCloseTo(0, 14);
    expect(matchedMacroF1(pred, labels)).toBeCloseTo((2 * 2 / 6) / 2, 14);
  });
});

describe('spearman', () => {
  it('averages tied ranks', () => {
    expect(Array.from(rankAverage([10, 20, 20, 30]))).toEqual([1, 2.5, 2.5, 4]);
  });
  it('matches the hand-computed value with ties', () => {
    // ranks a: [1, 2.5, 2.5, 4], b: [1, 3, 2, 4]; Pearson of ranks = 4.5 / sqrt(4.5·5).
    expect(spearman([1, 2, 2, 3], [10, 30, 20, 40])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 14);
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 14);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 14);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

function randomSymmetric(d: number, seed: number): Float64Array {
  const rng = mulberry32(seed), A = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) A[i * d + j] = A[j * d + i] = rng() * 2 - 1;
  return A;
}

describe('symEig', () => {
  for (const d of [1, 2, 7, 32, 128]) {
    it(`reconstructs A = UΛUᵀ and UᵀU = I to 1e-10 (d = ${d})`, () => {
      const A = randomSymmetric(d, d);
      const { values, vectors: U } = symEig(A, d);
      for (let i = 1; i < d; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
      let errA = 0, errI = 0;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
        let r = 0, g = 0;
        for (let k = 0; k < d; k++) { r += U[i * d + k] * values[k] * U[j * d + k]; g += U[k * d + i] * U[k * d + j]; }
        errA = Math.max(errA, Math.abs(r - A[i * d + j]));
        errI = Math.max(errI, Math.abs(g - (i === j ? 1 : 0)));
      }
      expect(errA).toBeLessThan(1e-10);
      expect(errI).toBeLessThan(1e-10);
    });
  }

  it('returns exact eigenvalues of a known matrix', () => {
    const { values } = symEig(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
    expect(Array.from(values).map((x) => +x.toFixed(12))).toEqual([5, 3, 1]);
  });
});

describe('pca', () => {
  function lineData(n: number, d: number, dir: number[], seed: number): Float64Array {
    const rng = mulberry32(seed), X = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const t = (rng() - 0.5) * 20;
      for (let f = 0; f < d; f++) X[i * d + f] = 3 + t * dir[f] + (rng() - 0.5) * 0.1;
    }
    return X;
  }
  const unit = (v: number[]): number[] => { const n = Math.hypot(...v); return v.map((x) => x / n); };

  it('finds a known dominant direction (d = 4)', () => {
    const dir = unit([1, -2, 0.5, 3]);
    const { components, explainedVarianceRatio, projections } = pca(lineData(500, 4, dir, 1), 500, 4, 2);
    const cos = dir.reduce((s, x, f) => s + x * components[f], 0);
    expect(Math.abs(cos)).toBeGreaterThan(0.9999);
    expect(explainedVarianceRatio[0]).toBeGreaterThan(0.999);
    expect(projections.length).toBe(1000);
  });

  it('finds it at d = 300 too', () => {
    const d = 300, rng = mulberry32(3);
    const dir = unit(Array.from({ length: d }, () => rng() - 0.5));
    const { components, explainedVariance } = pca(lineData(400, d, dir, 2), 400, d, 2);
    expect(Math.abs(dir.reduce((s, x, f) => s + x * components[f], 0))).toBeGreaterThan(0.9999);
    expect(explainedVariance[0]).toBeGreaterThan(explainedVariance[1] * 100);
  });
});

describe('kmeansCpu', () => {
  function blobs(perBlob: number, seed: number): { X: Float64Array; labels: Int32Array } {
    const centres = [[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10], [10, 10, 10]];
    const rng = mulberry32(seed), n = perBlob * centres.length;
    const X = new Float64Array(n * 3), labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % centres.length;
      labels[i] = c;
      for (let f = 0; f < 3; f++) X[i * 3 + f] = centres[c][f] + (rng() - 0.5);
    }
    return { X, labels };
  }

  it('recovers well-separated blobs', () => {
    const { X, labels } = blobs(40, 11);
    const r = kmeansCpu(X, 200, 3, 5, { restarts: 4, iters: 50, seed: 3 });
    expect(matchedMacroF1(r.assign, labels)).toBe(1);
    expect(ari(r.assign, labels)).toBeCloseTo(1, 12);
    expect(r.inertia).toBeLessThan(200 * 3 * 0.25);
  });

  it('is deterministic given the seed, and seeding draws distinct rows', () => {
    const { X } = blobs(20, 5);
    const a = kmeansPlusPlusInit(X, 100, 3, 5, mulberry32(42));
    const b = kmeansPlusPlusInit(X, 100, 3, 5, mulberry32(42));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(new Set(a).size).toBe(5);
    const r1 = kmeansCpu(X, 100, 3, 5, { seed: 9 }), r2 = kmeansCpu(X, 100, 3, 5, { seed: 9 });
    expect(Array.from(r1.assign)).toEqual(Array.from(r2.assign));
    expect(r1.inertia).toBe(r2.inertia);
  });
});
