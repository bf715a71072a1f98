// Shape-generic kernels (sizes in a uniform, one pipeline per op across a model's shapes):
// reductions over the layouts a training step reduces (leading axes, as a bias gradient;
// everything, as a parameter's Σg²), in the baked kernel's summation order (the same bits), and
// the vec4 binary ops on equal shapes, against cpu64.
import { beforeAll, describe, expect, test } from "vitest";
import { add, fromValues, mul, randn, readAll, reshape, sum, sumSquares, max, mean } from "../src/node";
import { BINARY } from "../src/tensor/ops/core";
import { binaryKernel } from "../src/shaders/elementwise";
import { reducePlan } from "../src/shaders/reduce";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

describe("shape-generic reductions", () => {
  test("leading axes and all axes: one kernel code per kind across shapes, sizes in the uniform", () => {
    for (const kind of ["sum", "sumsq", "max"] as const) {
      // Kept sizes in fours read vec4 columns (reduce_<kind>_v4), others one column per invocation.
      const lead = [[2048, 128], [2048, 384], [16, 128, 128], [7, 8]].map((s) => reducePlan(s, [0], kind, 1));
      expect(new Set(lead.map((p) => p[0].k.code)).size, kind).toBe(1);
      expect(lead[0][0].k.name).toBe(`reduce_${kind}_v4`);
      expect(lead.every((p) => p.length === 1 && p[0].uniform)).toBe(true);
      const odd = [[7, 3], [2048, 65]].map((s) => reducePlan(s, [0], kind, 1));
      expect(new Set(odd.map((p) => p[0].k.code)).size, kind).toBe(1);
      expect(odd[0][0].k.name).toBe(`reduce_${kind}`);
      const all = [[128], [384, 128], [65536], [20000]].map((s) => reducePlan(s, s.map((_, d) => d), kind, 1));
      expect(new Set(all.map((p) => p[0].k.code)).size, kind).toBe(1); // one pass or the partials: the same code
      expect(new Set(all.filter((p) => p.length === 2).map((p) => p[1].k.code)).size).toBe(1);
      expect(all.map((p) => p.length)).toEqual([1, 2, 2, 2]); // partials past 8,192 terms
      expect(lead[0][0].k.code).not.toBe(all[0][0].k.code);
    }
    // Other layouts bake their shape.
    expect(reducePlan([3, 4, 5], [2], "sum", 1)[0].uniform).toBeUndefined();
    expect(reducePlan([3, 4, 5], [0, 2], "sum", 1)[0].uniform).toBeUndefined();
  });

  test("the same bits as the baked kernel that sums in the same order; cpu64 agrees", async () => {
    for (const [R, O] of [[2048, 96], [300, 7], [9000, 2]]) {
      const x = randn([R, O], { seed: R + O });
      // [R, O] over axis 0 runs the generic kernel (vec4 columns at O = 96); [R, O, 1] over axes 0 and 2 (not consecutive) the
      // baked one, visiting the terms in the same order.
      const [generic, baked, meanG, meanB] = await readAll([
        sum(x, 0), sum(reshape(x, [R, O, 1]), [0, 2]), mean(x, 0), mean(reshape(x, [R, O, 1]), [0, 2]),
      ]);
      expect(generic).toEqual(baked);
      expect(meanG).toEqual(meanB);
      const xc = randn([R, O], { seed: R + O, backend: "cpu64" });
      const [want] = await readAll([sum(xc, 0)]);
      for (let o = 0; o < O; o++) expect(Math.abs(generic[o] - want[o])).toBeLessThan(1e-4 * Math.sqrt(R) * 4);
      x.dispose();
    }
    for (const n of [128, 20000, 65536]) {
      const x = randn([n], { seed: n });
      const xc = randn([n], { seed: n, backend: "cpu64" });
      const [s2, mx] = await readAll([sumSquares(x), max(x)]);
      const [w2, wmx] = await readAll([sumSquares(xc), max(xc)]);
      expect(Math.abs(s2[0] - w2[0]) / w2[0]).toBeLessThan(1e-5);
      expect(mx[0]).toBe(Math.fround(wmx[0]));
      x.dispose();
    }
  });

  test("vec4 binary ops: one code per op for every equal-shape size, a repeated row baked; exact against cpu64", async () => {
    const add4 = (a: number[], b: number[], out: number[]) => binaryKernel("add", BINARY.add.wgsl, a, b, out);
    const same = [[2048, 128], [16, 128, 512], [4]].map((s) => add4(s, s, s));
    expect(new Set(same.map((p) => p.k.code)).size).toBe(1);
    expect([...same[1].uniform!]).toEqual([16 * 128 * 512 / 4, 0, 0, 0]);
    // A repeated row (a bias) stays baked: the generic form was slower on lavapipe (elementwise.ts).
    const rows = [[[2048, 384], [384]], [[2048, 128], [128]]].map(([o, r]) => add4(o, r, o));
    expect(rows[0].k.code).not.toBe(rows[1].k.code);
    expect(rows[0].uniform).toBeUndefined();
    for (const [xs, bs, swap] of [[[70000, 4], [4], false], [[3, 5, 8], [5, 8], true], [[2048, 96], [96], false]] as const) {
      const x = randn([...xs], { seed: 1 }), b = randn([...bs], { seed: 2 });
      // cpu64 on the same f32 values: an f32 sum or product is the exact one rounded once.
      const [xv, bv] = await readAll([x, b]);
      const xc = fromValues(xv, [...xs], { backend: "cpu64" }), bc = fromValues(bv, [...bs], { backend: "cpu64" });
      const [got, gotMul] = await readAll([swap ? add(b, x) : add(x, b), mul(x, x)]);
      const [want, wantMul] = await readAll([swap ? add(bc, xc) : add(xc, bc), mul(xc, xc)]);
      const differing = (g: Float64Array, w: Float64Array) => g.filter((v, i) => v !== Math.fround(w[i])).length;
      expect(got.length).toBe(want.length);
      expect(differing(got, want), JSON.stringify(xs)).toBe(0);
      expect(differing(gotMul, wantMul), JSON.stringify(xs)).toBe(0);
      x.dispose();
      b.dispose();
    }
  });
});
