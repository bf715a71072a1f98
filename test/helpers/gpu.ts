// Test helper: initializes the webgpu backend once per test file. A missing adapter is a test
// failure with install instructions (under CI=true and everywhere else), never a skip.
import { init, gpuRuntime, type DeviceInfo } from "../../src/node";
import type { WebGpuRuntime } from "../../src/tensor/webgpu/runtime";

let info: DeviceInfo | null = null;

/** Initializes webgpu (throwing a clear error without an adapter) and returns the runtime. */
export async function gpu(): Promise<WebGpuRuntime> {
  if (!info) {
    try {
      info = await init({ backend: "webgpu" });
    } catch (e) {
      throw new Error(`GPU tests need a WebGPU adapter (CI=${process.env.CI ?? "unset"}). ` +
        `On Debian without a GPU run: bash .ci/install-vulkan.sh\n${(e as Error).message}`);
    }
  }
  return gpuRuntime()!;
}
