// Registry-driven GPU check: every op's f32 WGSL forward and gradients against the cpu64 f64
// reference on the same inputs, with per-case tolerances.
import { describe, expect, test, beforeAll } from "vitest";
import { CASES } from "../testkit/cases/index";
import { compareWithF64 } from "../testkit/check";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

describe("webgpu f32 vs cpu64 f64", () => {
  for (const [op, cases] of Object.entries(CASES)) {
    for (const c of cases) {
      test(`${op}: ${c.label}`, async () => {
        expect(await compareWithF64(c, op)).toEqual([]);
      });
    }
  }
});
