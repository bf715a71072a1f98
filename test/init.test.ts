// First contact with init(): in a browser without WebGPU the error says what a browser user can
// do (not Node advice), and init() prints nothing unless asked with { verbose: true }. The browser
// cases import the browser entry (no Node GPU provider) with a stand-in navigator. shutdown()
// releases the device: cpu64 afterwards, a clear error for tensors left on it, init() again works.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, test } from "vitest";
import { init } from "../src/index";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..");
const g = globalThis as { navigator?: unknown };
const hadNavigator = "navigator" in globalThis;
const original = g.navigator;
afterEach(() => {
  if (hadNavigator) Object.defineProperty(globalThis, "navigator", { value: original, configurable: true, writable: true });
  else delete g.navigator;
});
const setNavigator = (v: unknown) => Object.defineProperty(globalThis, "navigator", { value: v, configurable: true, writable: true });

describe("the no-adapter error in a browser", () => {
  test("no navigator.gpu: which browsers have WebGPU, the Linux flag, secure context, cpu64", async () => {
    setNavigator({ userAgent: "test" });
    const e = await init({ backend: "webgpu" }).then(() => null, (err: Error) => err);
    expect(e?.message).toMatch(/^init: this browser has no WebGPU \(navigator\.gpu is missing\)\. Use a browser that has it \(Chrome or Edge 113\+/);
    expect(e?.message).toMatch(/--enable-unsafe-webgpu/);
    expect(e?.message).toMatch(/secure context/);
    expect(e?.message).toMatch(/init\(\{ backend: 'cpu64' \}\)/);
    expect(e?.message).not.toMatch(/Mesa|Debian|install-vulkan/);
  });

  test("navigator.gpu without an adapter: blocklist / hardware acceleration advice", async () => {
    setNavigator({ gpu: { requestAdapter: async () => null } });
    const e = await init({ backend: "webgpu" }).then(() => null, (err: Error) => err);
    expect(e?.message).toMatch(/^init: the browser has WebGPU but gave no adapter .*chrome:\/\/gpu.*hardware acceleration/);
    expect(e?.message).not.toMatch(/Mesa|Debian/);
  });

  test("auto falls back to cpu64 quietly, and says why when verbose", async () => {
    setNavigator({ gpu: { requestAdapter: async () => null } });
    const lines: string[] = [];
    const info = console.info;
    console.info = (...a: unknown[]) => void lines.push(a.join(" "));
    try {
      expect((await init()).backend).toBe("cpu64");
      expect(lines).toEqual([]);
      expect((await init({ verbose: true })).backend).toBe("cpu64");
      expect(lines).toEqual([expect.stringMatching(/^metagrad: backend cpu64 \(the f64 reference\), because the browser has WebGPU but gave no adapter/)]);
    } finally {
      console.info = info;
    }
  });
});

/** Runs an ES module's source in a fresh Node process in the repository root (tsx loaded); returns its output. */
function runModule(code: string): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: REPO, timeout: 60_000, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp" },
  });
}

describe("init() in Node", () => {
  /** Runs init() with `opts` in a fresh Node process (the Node entry) and returns its output. */
  const initOutput = (opts: string) => runModule(
    `const m = await import("./src/node.ts"); const i = await m.init(${opts}); if (i.backend !== "webgpu") process.exit(3);`);
  // Dawn (native code, not ours) warns on stderr when it clamps a driver's limits, as on Mesa's
  // software adapter; nothing in JavaScript can intercept a native write, so those two lines are
  // the only output allowed.
  const DAWN = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

  test("prints nothing of its own", async () => {
    const r = await initOutput("");
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n").filter((l) => l !== "" && !DAWN.test(l))).toEqual([]);
  });

  test("{ verbose: true } names the adapter", async () => {
    const r = await initOutput("{ verbose: true }");
    expect(r.stdout).toMatch(/^metagrad: backend webgpu on .+\n$/);
  });
});

describe("shutdown()", () => {
  test("releases WebGPU: cpu64 until the next init(), old tensors name the op and the fix, init() gives a new device", async () => {
    const code = `
      const m = await import("./src/node.ts");
      await m.init({ backend: "webgpu" });
      const first = m.gpuRuntime();
      const t = m.fromValues([1, 2, 3], [3]);
      const before = [...(await m.readAll([t.mul(2)]))[0]];
      await m.shutdown();
      const after = m.defaultBackend().name, cleared = m.gpuRuntime() === null;
      const fail = async (f) => { try { await f(); return "no error"; } catch (e) { return e.message; } };
      const opError = await fail(() => t.add(t));
      const readError = await fail(() => m.readAll([t]));
      t.dispose();
      await m.shutdown();
      const cpu = [...(await m.readAll([m.fromValues([1, 2], [2]).mul(3)]))[0]];
      await m.init({ backend: "webgpu" });
      const again = [...(await m.readAll([m.fromValues([4], [1]).mul(2)]))[0]];
      console.log(JSON.stringify({ before, after, cleared, opError, readError, cpu, again, fresh: m.gpuRuntime() !== first }));`;
    const out = JSON.parse((await runModule(code)).stdout.trim().split("\n").at(-1)!);
    expect(out.before).toEqual([2, 4, 6]);
    expect(out.after).toBe("cpu64");
    expect(out.cleared).toBe(true);
    expect(out.opError).toBe("add: input 0 (shape [3]) is on the webgpu backend, which was shut down (shutdown() or process exit); " +
      "call `await init()` again and recreate the tensors made before it");
    expect(out.readError).toMatch(/^webgpu: the runtime was shut down .*call `await init\(\)` again/);
    expect(out.cpu).toEqual([3, 6]);
    expect(out.again).toEqual([8]);
    expect(out.fresh).toBe(true);
  });
});
