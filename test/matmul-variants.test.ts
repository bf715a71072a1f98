// Every matmul kernel variant (rb4x4, rowbcast at each tuning, tiled) against an f64 reference
// on small shapes with each transpose flag, batched and shared B, aligned and ragged sizes.
import { describe, expect, test, beforeAll } from "vitest";
import { selectMatmulVariant, type MatmulShape, type MatmulVariant } from "../src/shaders/matmul";
import type { RowbcastOptions } from "../src/shaders/matmul-rowbcast";
import { gpu } from "./helpers/gpu";
import { runMatmulVariant } from "./helpers/matmul";

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
            const r = await runMatmulVariant(rt, variant, p, opts);
            if (!r) continue;
            const { got, want } = r;
            for (let i = 0; i < want.length; i++) {
              expect(Math.abs(got[i] - want[i]), `${JSON.stringify(p)} at ${i}`).toBeLessThan(1e-4 + 1e-4 * Math.abs(want[i]));
            }
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
