// Node GPU provider: the software-rasterizer thread default, and that it reaches the driver's
// environment before Dawn creates the GPU (checked with a mocked `webgpu`), keeping a value the
// user set.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const seen: (string | undefined)[] = [];
vi.mock("webgpu", () => ({
  globals: {},
  create: () => {
    seen.push(process.env.LP_NUM_THREADS);
    return {};
  },
}));

async function freshProvider() {
  vi.resetModules();
  return import("../src/tensor/webgpu/gpu-node");
}

describe("node GPU provider", () => {
  const saved = process.env.LP_NUM_THREADS;
  beforeEach(() => {
    seen.length = 0;
    delete process.env.LP_NUM_THREADS;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.LP_NUM_THREADS;
    else process.env.LP_NUM_THREADS = saved;
  });

  it("uses a few more software-rasterizer threads than cores; keeps the default on one core", async () => {
    const { softwareRasterizerThreads } = await freshProvider();
    expect(softwareRasterizerThreads(1)).toBeNull();
    expect(softwareRasterizerThreads(2)).toBe(8);
    expect(softwareRasterizerThreads(4)).toBe(8);
    expect(softwareRasterizerThreads(16)).toBe(16);
  });

  it("sets LP_NUM_THREADS before creating the GPU when the user has not", async () => {
    const { nodeGpuProvider, softwareRasterizerThreads } = await freshProvider();
    await nodeGpuProvider.gpu();
    const want = softwareRasterizerThreads();
    expect(seen).toEqual([want === null ? undefined : String(want)]);
  });

  it("keeps a value the user set", async () => {
    process.env.LP_NUM_THREADS = "3";
    const { nodeGpuProvider } = await freshProvider();
    await nodeGpuProvider.gpu();
    expect(seen).toEqual(["3"]);
    expect(process.env.LP_NUM_THREADS).toBe("3");
  });
});
