// Every kernel variant compiles on the adapter: each generator is instantiated over the shape
// classes that select its variants, and compiled with validation errors surfaced per kernel.
import { describe, expect, test, beforeAll } from "vitest";
import { UNARY, BINARY } from "../src/tensor/ops/core";
import { unaryKernel, binaryKernel, broadcastKernel } from "../src/shaders/elementwise";
import { reducePlan } from "../src/shaders/reduce";
import { matmulKernel } from "../src/shaders/matmul";
import { attentionKernel, type AttentionPart } from "../src/shaders/attention";
import { f32 } from "../src/shaders/wgsl";
import { checkKernel } from "../src/shaders/checks";
import type { Kernel } from "../src/shaders/wgsl";
import { gpu } from "./helpers/gpu";

function variants(): Kernel[] {
  const ks: Kernel[] = [];
  for (const [name, row] of Object.entries(UNARY)) {
    for (const n of [7, 8]) ks.push(unaryKernel(name, (x, T) => row.wgsl(x, T, f32(3), f32(0.5)), n).k);
  }
  for (const [name, row] of Object.entries(BINARY)) {
    const prelude = "prelude" in row ? row.prelude : undefined; // the functions the expression calls, as the op passes them
    ks.push(binaryKernel(name, row.wgsl, [4, 4], [4, 4], [4, 4], "f32", prelude).k); // vec4
    ks.push(binaryKernel(name, row.wgsl, [2, 1, 3], [4, 1], [2, 4, 3], "f32", prelude).k); // broadcast
  }
  ks.push(broadcastKernel([3, 1], [2, 3, 4]).k);
  for (const kind of ["sum", "max"] as const) {
    ks.push(...reducePlan([3, 4, 5], [2], kind, 1).map((p) => p.k)); // consecutive
    ks.push(...reducePlan([3, 4, 5], [0, 2], kind, 0.5).map((p) => p.k)); // strided
    ks.push(...reducePlan([20000], [0], kind, 1).map((p) => p.k)); // two-pass (generic: all axes)
    ks.push(...reducePlan([3, 4, 5], [0, 1], kind, 0.5).map((p) => p.k)); // generic: leading axes
    ks.push(...reducePlan([20000, 2], [0], kind, 1).map((p) => p.k)); // baked two-pass (few long columns)
  }
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const [M, N, K] of [[8, 8, 8], [5, 7, 3]]) {
        ks.push(...matmulKernel({ M, N, K, batch: 2, transA, transB, bShared: false }).kernels);
      }
    }
  }
  // Attention: every part of both families, vec4 and scalar words; the subgroup tiles the bench
  // compares; the tiled family with its word loops unrolled (GPUs) and with the uniform's bound.
  const parts: AttentionPart[] = ["forward", "probs", "dq", "dkv"];
  for (const D of [8, 6]) {
    for (const part of parts) {
      for (const tile of [8, 16, 32] as const) ks.push(attentionKernel(part, "subgroup", D, { tile }));
      for (const unroll of [true, false]) ks.push(attentionKernel(part, "tiled", D, { unroll }));
    }
  }
  ks.push(checkKernel("ids"), checkKernel("nonfinite")); // device-side checks
  return ks;
}

describe("kernel variants compile", () => {
  beforeAll(async () => {
    await gpu();
  });
  const seen = new Set<string>();
  for (const k of variants()) {
    if (seen.has(k.code)) continue;
    seen.add(k.code);
    test(k.name, async () => {
      const rt = await gpu();
      await expect(rt.compile(k)).resolves.toBeUndefined();
    });
  }
});
