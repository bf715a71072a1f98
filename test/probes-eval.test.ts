// Evaluation-pass probes D4 (Gram decomposition), D5 (attention over history) and D6 (clustering):
// D4's identity holds to f32 precision on webgpu (f64 on cpu64) and both backends agree; D5 and
// D6 reproduce hand-computed shares and perfect clusterings on synthetic taps of a plain Module;
// on a GPT the device-side values (attention rows, D4 terms) agree between webgpu and cpu64.
import { beforeAll, describe, expect, test } from "vitest";
import { fromValues, type BackendName } from "../src/node";
import { GPT, Module, type GPTConfig } from "../src/nn/index";
import { makeSeedsData, seedsBatch } from "../src/data/seeds";
import {
  ProbeSet, attentionHistory, clustering, gram, mulberry32, symEig, symEigQL, type ProbeBatch,
} from "../src/probes/index";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

const CFG: GPTConfig = { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16, vocabSize: 11 };

/** Two batches of the S1 task (vocab 10 + separator) with seed / next / seedNext labels. */
function seedBatches(): ProbeBatch[] {
  const d = makeSeedsData({ vocab: 10, nSeeds: 3, T: 16, nTrain: 1, nVal: 4, minLen: 4, maxLen: 8 });
  return [0, 2].map((r) => seedsBatch(d.val, [r, r + 1]));
}

describe("D4 Gram decomposition", () => {
  test("the eigensolver recovers a known spectrum and reconstructs A = UΛUᵀ with orthonormal U", () => {
    for (const d of [1, 2, 7, 40]) {
      // A = Q diag(λ) Qᵀ with Q orthonormalized from random columns and λ chosen (zeros at d = 40: rank-deficient)
      const rng = mulberry32(d), Q = Float64Array.from({ length: d * d }, () => rng() - 0.5);
      for (let j = 0; j < d; j++) {
        for (let i = 0; i < j; i++) {
          let dot = 0;
          for (let k = 0; k < d; k++) dot += Q[k * d + i] * Q[k * d + j];
          for (let k = 0; k < d; k++) Q[k * d + j] -= dot * Q[k * d + i];
        }
        let n = 0;
        for (let k = 0; k < d; k++) n += Q[k * d + j] ** 2;
        for (let k = 0; k < d; k++) Q[k * d + j] /= Math.sqrt(n);
      }
      const lambda = Array.from({ length: d }, (_, i) => (d === 40 && i >= 5 ? 0 : (i % 2 ? -1 : 1) * (1 + i * 0.37)));
      const A = new Float64Array(d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) A[i * d + j] += Q[i * d + k] * lambda[k] * Q[j * d + k];
      const q = symEigQL(A, d);
      expect(symEig).toBe(symEigQL); // one eigensolver in the library
      [...lambda].sort((a, b) => b - a).forEach((v, i) => expect(q.values[i]).toBeCloseTo(v, 12));
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let a = 0, o = 0;
          for (let k = 0; k < d; k++) {
            a += q.vectors[i * d + k] * q.values[k] * q.vectors[j * d + k];
            o += q.vectors[k * d + i] * q.vectors[k * d + j];
          }
          expect(a).toBeCloseTo(A[i * d + j], 12);
          expect(o).toBeCloseTo(i === j ? 1 : 0, 12);
        }
      }
    }
  });

  test("identity to f32 precision (webgpu) / f64 (cpu64); shares, eigenvalues and correlations agree", async () => {
    const out = await Promise.all((["cpu64", "webgpu"] as BackendName[]).map(async (backend) => {
      const model = new GPT(CFG, { backend, seed: 2 });
      const ps = new ProbeSet(model);
      const d4 = ps.add(gram({ topK: [1, 4, 16] }));
      const r = (await ps.evaluate(seedBatches())).get(d4);
      const wu = await model.wU.data();
      ps.dispose();
      model.dispose();
      return { r, wu };
    }));
    const [cpu, web] = out;
    for (const half of ["logit", "gradient"] as const) {
      cpu.r[half].residualMax.forEach((v) => expect(v).toBeLessThan(1e-12));
      web.r[half].residualMax.forEach((v) => expect(v).toBeLessThan(2e-6));
      cpu.r[half].share.forEach((s, l) => {
        expect(s[0]).toBeLessThanOrEqual(s[1]);
        expect(s[1]).toBeLessThanOrEqual(s[2] + 1e-15);
        expect(s[2]).toBeCloseTo(1, 10); // k = C: every direction
        s.forEach((v, j) => expect(Math.abs(web.r[half].share[l][j] - v)).toBeLessThan(1e-5));
      });
      cpu.r[half].meanSquare.forEach((v, l) => expect(Math.abs(web.r[half].meanSquare[l] - v) / v).toBeLessThan(1e-5));
    }
    // Σλ = trace(W_UᵀW_U) = ‖W_U‖_F².
    const fro = cpu.wu.reduce((s, x) => s + x * x, 0);
    expect(cpu.r.eigenvalues.reduce((a, b) => a + b, 0)).toBeCloseTo(fro, 12);
    for (const k of ["confidence", "finalConfidence", "innerLoss", "position", "logFrequency"] as const) {
      cpu.r.correlations[k].forEach((v, l) => {
        expect(v).toBeGreaterThanOrEqual(-1);
        expect(Math.abs(web.r.correlations[k][l] - v)).toBeLessThan(1e-3);
      });
    }
    expect(cpu.r.correlations.finalConfidence[CFG.nLayer]).toBeCloseTo(cpu.r.correlations.confidence[CFG.nLayer], 12);
  });
});

/** A module without parameters that taps given representations and attention probabilities. */
class Synthetic extends Module {
  constructor(readonly backend: BackendName, readonly reps: number[], readonly probs: number[], readonly dims: number[]) {
    super();
  }
  forward(): void {
    const [B, H, T, C] = this.dims;
    this.tap("blocks.0.in", fromValues(this.reps, [B, T, C], { backend: this.backend }));
    if (this.wants("blocks.0.attn_probs")) this.tap("blocks.0.attn_probs", fromValues(this.probs, [B, H, T, T], { backend: this.backend }));
  }
}

describe("D5 and D6 on synthetic taps", () => {
  const B = 1, H = 2, T = 20, C = 3;
  const seed = Int32Array.from({ length: T }, (_, t) => t % 3);
  const noise = Int32Array.from({ length: T }, (_, t) => (t * 7) % 2);
  const batch: ProbeBatch = { B, T, x: new Int32Array(T), labels: { seed, noise } };
  // Head 0 weighs positions with the query's label (t ≡ 1 mod 3) above all others, increasing in t;
  // head 1 is uniform (ties: the more recent first). Row T−1 is the query's.
  const probs = new Array<number>(B * H * T * T).fill(0);
  for (let t = 0; t < T - 1; t++) {
    probs[(0 * T + T - 1) * T + t] = (t % 3 === 1 ? 10 + t : t) / 1000;
    probs[(1 * T + T - 1) * T + t] = 1 / T;
  }
  // Representations: one centre per seed label plus jitter.
  const rng = mulberry32(1);
  const reps = Array.from({ length: T * C }, (_, i) => (Math.floor(i / C) % 3 === i % C ? 10 : 0) + 0.1 * rng());

  for (const backend of ["cpu64", "webgpu"] as BackendName[]) {
    test(`${backend}: hand-computed top/bottom shares; perfect clusters score 1`, async () => {
      const m = new Synthetic(backend, reps, probs, [B, H, T, C]);
      const ps = new ProbeSet(m, { backend, forward: () => m.forward() });
      const d5 = ps.add(attentionHistory({ labels: ["seed"], k: 3, minHistory: T - 1 }));
      const d6 = ps.add(clustering({ labels: ["seed", "noise"], samples: T, restarts: 2 }));
      const rep = await ps.evaluate([batch]);
      const r5 = rep.get(d5).labels.seed;
      expect(rep.get(d5).queries.pos).toEqual(Int32Array.from([T - 1]));
      // Head 0: top 3 (t = 16, 13, 10) all share label 1, bottom 3 (t = 0, 2, 3) none. Head 1 (uniform):
      // top = 18, 17, 16 → one of three; bottom = 2, 1, 0 → one of three. Recency: 18, 17, 16 → one of
      // three in both heads. Distance-matched: head 0's top-3 distances (3, 6, 9) point at t = 16, 13, 10
      // (all same); head 1's (1, 2, 3) at 18, 17, 16 (one of three).
      expect(r5.top[0]).toBeCloseTo((1 + 1 / 3) / 2, 12);
      expect(r5.byHead.top[0]).toEqual([1, 1 / 3]);
      expect(r5.bottom[0]).toBeCloseTo((0 + 1 / 3) / 2, 12);
      expect(r5.recency[0]).toBeCloseTo(1 / 3, 12);
      expect(r5.byHead.distance[0][0]).toBeCloseTo(1, 12);
      expect(r5.byHead.distance[0][1]).toBeCloseTo(1 / 3, 12);
      expect(r5.chance[0]).toBeCloseTo(6 / 19, 12);
      expect(r5.queries).toBe(1);
      const r6 = rep.get(d6);
      expect(r6.n).toBe(T);
      expect(r6.labels.seed.k).toBe(3);
      expect(r6.labels.seed.f1[0]).toBeCloseTo(1, 12);
      expect(r6.labels.seed.nmi[0]).toBeCloseTo(1, 12);
      expect(r6.labels.seed.ari[0]).toBeCloseTo(1, 12);
      expect(r6.labels.noise.k).toBe(2);
      expect(r6.labels.noise.f1[0]).toBeLessThan(0.9);
      ps.dispose();
    });
  }
});

describe("D5 and D6 on a GPT", () => {
  test("webgpu's attention rows match cpu64; sampling is deterministic; shares are probabilities", async () => {
    const res = await Promise.all((["cpu64", "webgpu"] as BackendName[]).map(async (backend) => {
      const model = new GPT(CFG, { backend, seed: 7 });
      const ps = new ProbeSet(model);
      const labels = ["seed", "next", "seedNext"];
      const d5 = ps.add(attentionHistory({ labels, minHistory: 4 }));
      const d6 = ps.add(clustering({ labels: ["seed"], samples: 24, restarts: 2, seed: 3 }));
      const rep = await ps.evaluate(seedBatches());
      const out = { d5: rep.get(d5), d6: rep.get(d6) };
      ps.dispose();
      model.dispose();
      return out;
    }));
    const [cpu, web] = res;
    expect(cpu.d5.weights).toHaveLength(CFG.nLayer);
    const nQ = cpu.d5.queries.pos.length;
    expect(nQ).toBeGreaterThan(4 * 8); // every labelled position q ≥ 4 of the 4 sequences
    expect(Math.min(...cpu.d5.queries.pos)).toBeGreaterThanOrEqual(4);
    cpu.d5.weights.forEach((w, l) => {
      expect(w.shape).toEqual([nQ, CFG.nHead, 16]);
      w.data.forEach((v, i) => expect(Math.abs(web.d5.weights[l].data[i] - v)).toBeLessThan(1e-6));
    });
    expect(web.d5.queries).toEqual(cpu.d5.queries);
    for (const l of ["seed", "next", "seedNext"]) {
      const s = cpu.d5.labels[l];
      for (const v of [...s.top, ...s.bottom, ...s.chance, ...s.recency, ...s.distance]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    expect(cpu.d6.labels.seed.f1).toHaveLength(CFG.nLayer + 1);
    expect(web.d6.labels.seed.k).toBe(cpu.d6.labels.seed.k);
    expect(web.d6.positions).toEqual(cpu.d6.positions);
    expect(cpu.d6.n).toBe(24);
  });
});
