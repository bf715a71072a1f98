// GPU k-means (D6's engine) against metrics.kmeansCpu: identical assignments, iterations and best
// restart on separated data (webgpu and cpu64), the seeding from device-computed distances equals
// the reference k-means++, empty clusters keep their centroid, ties go to the lower index, and the
// cluster scores are invariant to label permutations; kmeansGpuMany matches kmeansGpu per k.
import { beforeAll, expect, test } from "vitest";
import { fromValues, tidy, type BackendName } from "../src/node";
import {
  ari, kmeansCpu, kmeansGpu, kmeansGpuMany, kmeansPlusPlusFromDistances, seedOnDevice, kmeansPlusPlusInit, matchedMacroF1, mulberry32, nmi,
  pairwiseSqDistances, purity,
} from "../src/probes/index";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

/** n points in d dims around k well-separated centres; labels = centre ids. */
function blobs(n: number, d: number, k: number, seed: number): { X: Float64Array; labels: Int32Array } {
  const rng = mulberry32(seed);
  const centres = Float64Array.from({ length: k * d }, () => 20 * (rng() - 0.5));
  const X = new Float64Array(n * d), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = (labels[i] = Math.floor(rng() * k));
    for (let f = 0; f < d; f++) X[i * d + f] = centres[c * d + f] + (rng() - 0.5);
  }
  return { X: Float64Array.from(Float32Array.from(X)), labels }; // f32-representable, same data for both sides
}

for (const backend of ["cpu64", "webgpu"] as BackendName[]) {
  test(`${backend}: matches kmeansCpu (assignments, iterations, best restart, inertia) on separated data`, async () => {
    // Every distinct shape compiles its own kernels (slow on lavapipe): webgpu runs one shape.
    const shapes = backend === "cpu64" ? [[120, 3, 4, 1], [200, 8, 7, 2]] : [[120, 3, 4, 1]];
    for (const [n, d, k, seed] of shapes) {
      const { X, labels } = blobs(n, d, k, seed);
      const ref = kmeansCpu(X, n, d, k, { restarts: 3, seed: 11 });
      for (const seeding of ["exact", "distances", "device"] as const) {
        const got = await tidy(() => kmeansGpu(fromValues(X, [n, d], { backend }), k, { restarts: 3, seed: 11, seeding }));
        expect([...got.assign]).toEqual([...ref.assign]);
        expect(got.iterations).toBe(ref.iterations);
        expect(got.restart).toBe(ref.restart);
        expect(Math.abs(got.inertia - ref.inertia) / ref.inertia).toBeLessThan(backend === "cpu64" ? 1e-12 : 1e-5);
        expect(got.restarts).toHaveLength(3);
        expect(ari(got.assign, labels)).toBeGreaterThan(0.9);
      }
    }
  });
}

test("the device seeding makes kmeansPlusPlusInit's picks (cpu64: every restart, n not a multiple of the block)", async () => {
  const n = 300, d = 5, k = 9, R = 3;
  const rng = mulberry32(4), X = Float64Array.from({ length: n * d }, () => rng() * 10);
  const picks = await seedOnDevice(fromValues(X, [n, d], { backend: "cpu64" }), k, R, 21);
  for (let r = 0; r < R; r++) expect([...picks[r]]).toEqual([...kmeansPlusPlusInit(X, n, d, k, mulberry32(21 + r))]);
  // Duplicate rows: weight-0 rows are never picked again, and all-equal rows fall back to ⌊u·n⌋.
  const same = new Float64Array(40 * 2).fill(1);
  const p = await seedOnDevice(fromValues(same, [40, 2], { backend: "cpu64" }), 3, 2, 5);
  for (let r = 0; r < 2; r++) expect([...p[r]]).toEqual([...kmeansPlusPlusInit(same, 40, 2, 3, mulberry32(5 + r))]);
});

test("restarts run in groups when their distances would not fit one binding; the result is the same", async () => {
  const n = 64, d = 3, k = 4, R = 5;
  const rng = mulberry32(8), X = Float64Array.from({ length: n * d }, () => rng());
  const whole = await kmeansGpu(fromValues(X, [n, d], { backend: "cpu64" }), k, { restarts: R, seed: 2 });
  const grouped = await kmeansGpu(fromValues(X, [n, d], { backend: "cpu64" }), k, { restarts: R, seed: 2, maxElements: n * k * 2 });
  expect(grouped).toEqual(whole);
  expect(grouped.restarts).toHaveLength(R);
});

test("seeding from device-computed distances reproduces kmeansPlusPlusInit's picks (cpu64)", async () => {
  const n = 60, d = 4, rng = mulberry32(3);
  const X = Float64Array.from({ length: n * d }, () => rng());
  const D = await tidy(() => pairwiseSqDistances(fromValues(X, [n, d], { backend: "cpu64" }))).data();
  for (let i = 0; i < n; i++) {
    expect(D[i * n + i]).toBe(0);
    let s = 0;
    for (let f = 0; f < d; f++) s += (X[i * d + f] - X[((i + 7) % n) * d + f]) ** 2;
    expect(D[i * n + ((i + 7) % n)]).toBeCloseTo(s, 12);
  }
  for (const k of [1, 5, 20]) {
    for (let r = 0; r < 3; r++) {
      expect([...kmeansPlusPlusFromDistances(D, n, k, mulberry32(r))]).toEqual([...kmeansPlusPlusInit(X, n, d, k, mulberry32(r))]);
    }
  }
});

for (const backend of ["cpu64", "webgpu"] as BackendName[]) {
  test(`${backend}: an empty cluster keeps its centroid; ties go to the lower index`, async () => {
    // 1-D points 0, 0, 5, 6 from centroids rows [0, 1, 2] = (0, 0, 5): the two identical centroids
    // tie for the zeros, which go to centroid 0, so centroid 1 is empty and stays at 0.
    const X = [0, 0, 5, 6];
    const r = await tidy(() => kmeansGpu(fromValues(X, [4, 1], { backend }), 3, { restarts: 1, init: [[0, 1, 2]] }));
    expect([...r.assign]).toEqual([0, 0, 2, 2]);
    expect([...r.centroids]).toEqual([0, 0, 5.5]);
    expect(r.iterations).toBe(1);
    expect(r.inertia).toBeCloseTo(0.5, 6);
  });
}

test("webgpu k-means scores: F1, NMI, ARI and purity are 1 under any permutation of the label ids", async () => {
  const n = 120, d = 3, k = 4;
  const { X, labels } = blobs(n, d, k, 9);
  const r = await tidy(() => kmeansGpu(fromValues(X, [n, d]), k, { restarts: 2, seed: 4 }));
  const perms = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]];
  for (const p of perms) {
    const permuted = Int32Array.from(labels, (c) => p[c] * 10 + 7); // arbitrary ids, not 0..k−1
    expect(matchedMacroF1(r.assign, permuted)).toBeCloseTo(1, 12);
    expect(nmi(r.assign, permuted)).toBeCloseTo(1, 12);
    expect(ari(r.assign, permuted)).toBeCloseTo(1, 12);
    expect(purity(r.assign, permuted)).toBe(1);
  }
  // Merging two true classes into one predicted cluster costs F1 on both sides.
  const merged = Int32Array.from(r.assign, (c) => (c === r.assign[labels.indexOf(1)] ? r.assign[labels.indexOf(0)] : c));
  expect(matchedMacroF1(merged, labels)).toBeLessThan(0.95);
  expect(purity(merged, labels)).toBeLessThan(1);
});

test("cpu64: kmeansGpuMany gives each k the result kmeansGpu gives it alone; equal k share one result", async () => {
  const n = 90, d = 3;
  const { X } = blobs(n, d, 5, 6);
  const x = fromValues(X, [n, d], { backend: "cpu64" });
  const many = await kmeansGpuMany(x, [3, 5, 3], { restarts: 2, seed: 2 });
  expect(many[2]).toBe(many[0]);
  for (const [i, k] of [[0, 3], [1, 5]]) {
    const one = await kmeansGpu(x, k, { restarts: 2, seed: 2 });
    expect([...many[i]!.assign]).toEqual([...one.assign]);
    expect(many[i]!.inertia).toBe(one.inertia);
    expect(many[i]!.iterations).toBe(one.iterations);
  }
  await expect(kmeansGpuMany(x, [3, 91])).rejects.toThrow(/need 1 ≤ k ≤ n \(k=91, n=90\)/);
  await expect(kmeansGpuMany(x, [3, 5], { restarts: 1, init: [[0, 1, 2]] })).rejects.toThrow(/init rows fit one k/);
  x.dispose();
});
