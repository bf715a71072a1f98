// Backend selection: init() finds a WebGPU adapter (navigator.gpu in browsers, a provider
// registered by the Node entry otherwise) or selects cpu64, and holds the default backend.
import type { Backend, BackendName } from "../backend";
import { cpu64 } from "../cpu/cpu64";
import { CompileHelper, wantsCompileHelper } from "./pipelines";
import { describeAdapter, LIMIT_NAMES, WebGpuRuntime, type AdapterInfo, type Waiter } from "./runtime";

/** Supplies a `GPU` object outside browsers (the Node entry registers Dawn's). */
export interface GpuProvider {
  /** Returns the `GPU` object (navigator.gpu's equivalent), created on first use. */
  gpu: () => GPU | Promise<GPU>;
  wait: Waiter;
  /**
   * Registers `fn` to run synchronously when the process exits (Node: `process.on("exit")`),
   * where init() destroys the devices (see WebGpuRuntime.destroy). Optional: browsers have none.
   */
  onExit?: (fn: () => void) => void;
}

let provider: GpuProvider | null = null;
let runtime: WebGpuRuntime | null = null;
let current: Backend = cpu64;
let exitHooked = false;

/** Registers how to obtain WebGPU outside a browser; called by the Node entry point. */
export function setGpuProvider(p: GpuProvider): void {
  provider = p;
}

/** Options for {@link init}. */
export interface InitOptions {
  /** `webgpu` (default when an adapter exists), or `cpu64` for the f64 reference backend. */
  backend?: BackendName | "auto";
  /** Adapter power preference. */
  powerPreference?: "low-power" | "high-performance";
  /**
   * Print (console.info) which backend and adapter were selected, and why `auto` fell back to
   * cpu64. Default false: init() itself prints nothing. (Dawn, the Node WebGPU, writes its own
   * warnings from native code when a driver reports limits it clamps — e.g. Mesa's software
   * adapter — and that output cannot be silenced from JavaScript.)
   */
  verbose?: boolean;
  /**
   * On Mesa's software adapter (lavapipe), compile new kernels on a second device in parallel
   * with the main one (they share Mesa's shader cache; see tensor/webgpu/pipelines.ts): a cold
   * first training step compiles up to twice as fast on two cores (on a VM that serializes
   * memory-heavy work across its cores, 6.0–10.6 s against 8.4–9.3 s without; a warm one pays
   * ~0.3 s for it: bench/RESULTS.md, "First step"). Default true unless the
   * environment sets METAGRAD_PARALLEL_COMPILE=0; it is off anyway on other adapters and when
   * MESA_SHADER_CACHE_DISABLE is set.
   */
  parallelCompile?: boolean;
}

/** What init() selected. */
export interface DeviceInfo {
  backend: BackendName;
  /** Adapter facts when the backend is webgpu. */
  adapter?: AdapterInfo;
}

const NODE_HINT =
  "no WebGPU adapter found. On Linux without a GPU install Mesa's software Vulkan driver " +
  "(Debian 12: `bash .ci/install-vulkan.sh`, i.e. mesa-vulkan-drivers + libvulkan1 from " +
  "bookworm-backports), or call init({ backend: 'cpu64' }) for the f64 reference backend.";
const BROWSER_NO_API =
  "this browser has no WebGPU (navigator.gpu is missing). Use a browser that has it (Chrome or Edge " +
  "113+, Safari 26+, Firefox 141+ on Windows); on Linux start Chrome/Chromium with " +
  "--enable-unsafe-webgpu or enable chrome://flags/#enable-unsafe-webgpu. WebGPU also needs a secure " +
  "context (https:// or http://localhost). Or call init({ backend: 'cpu64' }) to run without a GPU (slow).";
const BROWSER_NO_ADAPTER =
  "the browser has WebGPU but gave no adapter (the GPU may be blocklisted, or hardware acceleration is " +
  "off). Check chrome://gpu (or about:support), turn hardware acceleration on, update the GPU driver, " +
  "or call init({ backend: 'cpu64' }) to run without a GPU (slow).";

/**
 * Selects the default backend. With `webgpu` (or `auto`) it requests an adapter and device at the
 * adapter's maximum limits; `webgpu` throws a clear error when there is none, `auto` falls back
 * to cpu64. Calling it again returns the existing device.
 */
export async function init(opts: InitOptions = {}): Promise<DeviceInfo> {
  const want = opts.backend ?? "auto";
  if (want === "cpu64") {
    current = cpu64;
    return { backend: "cpu64" };
  }
  const say = opts.verbose ? (m: string) => console.info(`metagrad: ${m}`) : () => undefined;
  if (!runtime) {
    try {
      runtime = await createRuntime(opts);
    } catch (e) {
      if (want === "webgpu") throw e;
      current = cpu64;
      say(`backend cpu64 (the f64 reference), because ${(e as Error).message.replace(/^init: /, "")}`);
      return { backend: "cpu64" };
    }
  }
  if (!exitHooked && provider?.onExit) {
    exitHooked = true;
    provider.onExit(() => runtime?.destroy());
  }
  current = runtime;
  say(`backend webgpu on ${runtime.info.description || runtime.info.device || "an unnamed adapter"}`);
  return { backend: "webgpu", adapter: runtime.info };
}

async function createRuntime(opts: InitOptions): Promise<WebGpuRuntime> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const inBrowser = nav !== undefined && provider === null; // Node 21+ has a navigator, without gpu
  const gpu = nav?.gpu ?? (provider ? await provider.gpu() : undefined);
  if (!gpu) throw new Error(`init: ${inBrowser ? BROWSER_NO_API : NODE_HINT}`);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference });
  if (!adapter) throw new Error(`init: ${inBrowser ? BROWSER_NO_ADAPTER : NODE_HINT}`);
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  const features = (["timestamp-query", "subgroups", "shader-f16"] as GPUFeatureName[])
    .filter((f) => adapter.features.has(f));
  const descriptor = { requiredLimits, requiredFeatures: features };
  const device = await adapter.requestDevice(descriptor);
  const wait: Waiter = provider?.wait ?? ((p) => p);
  const info = describeAdapter(adapter);
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  let helper: CompileHelper | null = null;
  if ((opts.parallelCompile ?? env.METAGRAD_PARALLEL_COMPILE !== "0") && wantsCompileHelper(`${info.device} ${info.description}`, env)) {
    // A device of a second adapter object (an adapter gives out one device); the same features
    // and limits, so that its pipelines are the main device's to the driver's shader cache.
    const second = await gpu.requestAdapter({ powerPreference: opts.powerPreference });
    if (second) helper = new CompileHelper(await second.requestDevice(descriptor));
  }
  return new WebGpuRuntime(device, info, wait, helper);
}

/**
 * Releases WebGPU: submits what is encoded, waits for the GPU and for the compile helper to
 * finish, and destroys the devices. The default backend is cpu64 afterwards until the next
 * init(), which creates a new device; tensors made before shutdown() throw a clear error when
 * used (disposing them is fine). In Node the devices are also destroyed, synchronously, when
 * the process exits, so a script may simply end or call `process.exit`; shutdown() is for code
 * that wants the device released (and its errors reported) earlier. Does nothing when WebGPU
 * was not initialized.
 */
export async function shutdown(): Promise<void> {
  const rt = runtime;
  if (!rt) return;
  runtime = null;
  if (current === rt) current = cpu64;
  try {
    rt.flush();
    await rt.wait(Promise.all([rt.device.queue.onSubmittedWorkDone(), rt.compileHelper?.device.queue.onSubmittedWorkDone()]));
    rt.throwIfErrors();
  } finally {
    rt.destroy();
  }
}

/** The default backend used by tensor constructors. */
export function defaultBackend(): Backend {
  return current;
}

/** Sets the default backend without re-initializing (webgpu must have been initialized). */
export function useBackend(name: BackendName): void {
  if (name === "cpu64") current = cpu64;
  else if (runtime) current = runtime;
  else throw new Error("useBackend: webgpu is not initialized; call `await init()` first");
}

/** The backend object for a name (webgpu must have been initialized). */
export function backendOf(name: BackendName): Backend {
  if (name === "cpu64") return cpu64;
  if (!runtime) throw new Error("webgpu backend is not initialized; call `await init()` first");
  return runtime;
}

/** The WebGPU runtime, or null when it was never initialized. */
export function gpuRuntime(): WebGpuRuntime | null {
  return runtime;
}
