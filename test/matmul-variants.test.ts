// Every matmul kernel variant (rb4x4, rowbcast at each tuning, tiled) against an f64 reference
// on small shapes with each transpose flag, batched and shared B, aligned and ragged sizes.
import { describe, expect, test, beforeAll } from "vitest";
import { fromValues, zeros } from "../src/node";
import { matmulVariantKernel, selectMatmulVariant, type MatmulShape, type MatmulVariant } from "../src/shaders/matmul";
import type { RowbcastOptions } from "../src/shaders/matmul-rowbcast";
import { Philox } from "../src/tensor/random";
import { gpu } from "./helpers/gpu";

function reference(p: MatmulShape, A: Float64Array, B: Float64Array): Float64Array {
  const C = new Float64Array(p.batch * p.M * p.N);
  for (let z = 0; z < p.batch; z++) {
    const ao = z * p.M * p.K, bo = p.bShared ? 0 : z * p.K * p.N;
    for (let m = 0; m < p.M; m++) {
      for (let n = 0; n < p.N; n++) {
        let s = 0;
        for (let k = 0; k < p.K; k++) {
          s += A[ao + (p.transA ? k * p.M + m : m * p.K + k)] * B[bo + (p.transB ? n * p.K + k : k * p.N + n)];
        }
        C[z * p.M * p.N + m * p.N + n] = s;
      }
    }
  }
  return C;
}

const VARIANTS: [MatmulVariant, RowbcastOptions | undefined][] = [
  ["rb4x4", undefined], ["tiled", undefined],
  ["rowbcast", { rows: 8, wg: 16 }], ["rowbcast", { rows: 4, wg: 16 }], ["rowbcast", { rows: 4, wg: 8 }],
];
const SHAPES: [number, number, number, number, boolean][] = [
  [20, 24, 12, 2, false], [36, 8, 16, 1, true], [5, 7, 3, 2, false], [70, 68, 20, 1, true], [8, 72, 4, 3, true],
];

describe("matmul variants vs f64", () => {
  beforeAll(async () => {
    await gpu();
  });
  for (const [variant, opts] of VARIANTS) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        test(`${variant}${opts ? ` rows ${opts.rows} wg ${opts.wg}` : ""} tA=${transA} tB=${transB}`, async () => {
          const rt = await gpu();
          let ran = 0;
          for (const [M, N, K, batch, shared] of SHAPES) {
            const p: MatmulShape = { M, N, K, batch, transA, transB, bShared: shared && !transA };
            const plan = matmulVariantKernel(variant, p, opts);
            if (!plan) continue;
            const g = new Philox(M * 131 + N * 7 + K);
            const av = Float64Array.from({ length: batch * M * K }, () => g.normal());
            const bv = Float64Array.from({ length: (p.bShared ? 1 : batch) * K * N }, () => g.normal());
            const a = fromValues(av, [av.length], { backend: "webgpu" });
            const b = fromValues(bv, [bv.length], { backend: "webgpu" });
            const c = zeros([batch * M * N], { backend: "webgpu" });
            rt.dispatch(plan.k, [a.storage.buffer, b.storage.buffer, c.storage.buffer], plan.grid);
            const got = await c.data();
            const want = reference(p, av, bv);
            for (let i = 0; i < want.length; i++) {
              expect(Math.abs(got[i] - want[i]), `${JSON.stringify(p)} at ${i}`).toBeLessThan(1e-4 + 1e-4 * Math.abs(want[i]));
            }
            for (const t of [a, b, c]) t.dispose();
            ran++;
          }
          expect(ran).toBeGreaterThan(0);
        });
      }
    }
  }

  test("selection: rowbcast on software adapters when it fits, tiled on large GPU outputs", () => {
    const p = (M: number, N: number, K: number): MatmulShape =>
      ({ M, N, K, batch: 1, transA: false, transB: false, bShared: true });
    expect(selectMatmulVariant(p(512, 512, 512), { isSoftware: true })).toBe("rowbcast");
    expect(selectMatmulVariant(p(5, 7, 3), { isSoftware: true })).toBe("rb4x4");
    expect(selectMatmulVariant(p(1024, 1024, 64), { isSoftware: false })).toBe("tiled");
    expect(selectMatmulVariant(p(64, 64, 64), { isSoftware: false })).toBe("rb4x4");
  });
});
