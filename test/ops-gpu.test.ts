// Registry-driven GPU check: every op's f32 WGSL forward and gradients against the cpu64 f64
// reference on the same inputs, with per-case tolerances.
import { describe, expect, test, beforeAll } from "vitest";
import { tidy, readAll } from "../src/node";
import { CASES } from "./cases/index";
import { backwardWith, build, closeness, makeValues, outs, weights } from "./helpers/check";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

describe("webgpu f32 vs cpu64 f64", () => {
  for (const [op, cases] of Object.entries(CASES)) {
    for (const c of cases) {
      test(`${op}: ${c.label}`, async () => {
        const vals = c.inputs.map((s, i) => makeValues(s, 100 + i));
        const run = (backend: "cpu64" | "webgpu") => tidy(async () => {
          const xs = build(c, vals, backend, !c.noGradcheck);
          const os = outs(c.run(xs));
          const ws = weights(os, 7);
          if (!c.noGradcheck) backwardWith(os, ws, c.nondiff);
          const grads = xs.filter((x) => x.grad).map((x) => x.grad!);
          const data = await readAll([...os, ...grads]);
          return { outs: data.slice(0, os.length), grads: data.slice(os.length) };
        });
        const ref = await run("cpu64");
        const got = await run("webgpu");
        const { atol, rtol } = c.tol ?? { atol: 1e-4, rtol: 1e-3 };
        ref.outs.forEach((r, k) => {
          const { ratio, at } = closeness(got.outs[k], r, atol, rtol);
          expect(ratio, `output ${k} at ${at}: gpu ${got.outs[k][at]} vs f64 ${r[at]}`).toBeLessThanOrEqual(1);
        });
        expect(got.grads.length).toBe(ref.grads.length);
        ref.grads.forEach((r, k) => {
          const { ratio, at } = closeness(got.grads[k], r, atol, rtol);
          expect(ratio, `grad ${k} at ${at}: gpu ${got.grads[k][at]} vs f64 ${r[at]}`).toBeLessThanOrEqual(1);
        });
      });
    }
  }
});
