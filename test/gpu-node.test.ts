// Node GPU provider: the software-rasterizer thread default, and that it reaches the driver's
// environment before the adapter is created (a value the user set is kept).
import { describe, expect, it } from "vitest";
import { softwareRasterizerThreads } from "../src/tensor/webgpu/gpu-node";
import { gpu } from "./helpers/gpu";

describe("node GPU provider", () => {
  it("uses a few more software-rasterizer threads than cores, at least one per core", () => {
    expect(softwareRasterizerThreads(1)).toBe(4);
    expect(softwareRasterizerThreads(2)).toBe(8);
    expect(softwareRasterizerThreads(4)).toBe(8);
    expect(softwareRasterizerThreads(16)).toBe(16);
  });

  it("sets LP_NUM_THREADS before creating the adapter when the user has not", async () => {
    const before = process.env.LP_NUM_THREADS;
    await gpu();
    expect(process.env.LP_NUM_THREADS).toBe(before ?? String(softwareRasterizerThreads()));
  });
});
