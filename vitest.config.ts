// Vitest configuration: Node forks (Dawn is not thread-safe across workers), generous timeouts
// for the software Vulkan adapter, and the Node entry point loaded so WebGPU is available.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp" },
  },
});
