// Registry-driven gradcheck: every op's backward rule against f64 central differences on cpu64,
// and a registry test that fails when an op has no case.
import { describe, expect, test } from "vitest";
import { REGISTRY, tidy } from "../src/node";
import { CASES } from "../testkit/cases/index";
import { backwardWith, build, closeness, makeValues, numericGrad, outs, weights } from "../testkit/check";

test("every registered op has test cases", () => {
  const missing = [...REGISTRY.keys()].filter((n) => !CASES[n]?.length);
  expect(missing, `ops without cases: ${missing.join(", ")}`).toEqual([]);
});

describe("gradcheck (cpu64, f64 central differences)", () => {
  for (const [op, cases] of Object.entries(CASES)) {
    for (const c of cases.filter((c) => !c.noGradcheck && !c.noFiniteDiff)) {
      test(`${op}: ${c.label}`, () => {
        tidy(() => {
          const vals = c.inputs.map((s, i) => makeValues(s, 100 + i));
          const xs = build(c, vals, "cpu64", true);
          const os = outs(c.run(xs));
          const ws = weights(os, 7);
          backwardWith(os, ws, c.nondiff);
          let checked = 0;
          xs.forEach((x, i) => {
            if (!x.requiresGrad) return;
            const num = numericGrad(c, vals, i, ws);
            const ana = x.grad ? x.grad.storage.f64 : new Float64Array(num.length);
            const tol = c.fdTol ?? 1e-6;
            const { ratio, at } = closeness(ana, num, tol, tol);
            expect(ratio, `input ${i} at ${at}: analytic ${ana[at]} vs numeric ${num[at]}`).toBeLessThanOrEqual(1);
            checked++;
          });
          expect(checked).toBeGreaterThan(0);
        });
      });
    }
  }
});
