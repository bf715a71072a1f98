// The library in the browser: the browser bundle has no Node built-ins and package.json `exports`
// send bundlers/browsers to dist/browser and Node to dist/node; then headless Chromium (Debian's
// /usr/bin/chromium via playwright-core, WebGPU on SwiftShader) trains the demo page a few steps,
// its loss and probe values must match the same run in this Node process (Dawn), and a screenshot
// lands in results/browser/. Under CI=true a missing Chromium or WebGPU fails; elsewhere it skips.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { build, type Plugin } from "esbuild";
import { chromium, type BrowserContext } from "playwright-core";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoSession, type SessionConfig, type StepRecord } from "../examples/session";
import { startDemoServer, type DemoServer } from "../scripts/demo";
import { gpu } from "./helpers/gpu";

const ROOT = resolve(__dirname, "..");
const BUNDLE = join(ROOT, "dist", "browser", "index.js");
/** Debian's chromium; METAGRAD_CHROMIUM may name another locally installed Chromium binary. */
const CHROMIUM = process.env.METAGRAD_CHROMIUM ?? "/usr/bin/chromium";
const CI = process.env.CI === "true";
/** The configuration both sides train: small enough for ~1 s of steps on software adapters. */
const CONFIG: SessionConfig = { size: "tiny", seed: 1, lr: 1e-2, warmup: 2 };
const STEPS = 16;
/**
 * Browser (SwiftShader) vs Node (lavapipe) tolerance, relative. Both run the same WGSL in f32; the
 * drivers differ in instruction selection (FMA contraction, exp/log approximations) and the
 * runtime may pick other kernel variants from the adapters' limits, so sums round differently
 * (~1e-7 relative per op, growing to ~1e-5 through a forward pass). Adam then turns gradient
 * differences into weight differences of up to lr × (relative gradient error) per step; over 16
 * steps at lr 1e-2 that stays far below 1e-3 of a loss near 4, while a real bug (a wrong
 * kernel, a missed layer, a stale bundle) moves the values by 1e-2 or more.
 */
const RTOL = 1e-3;

/** Newest modification time of the .ts files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith(".ts") ? statSync(p).mtimeMs : 0);
  }
  return t;
}

/**
 * Runs `npm run build` when a bundle or the declarations are missing. When only the browser bundle
 * is older than src/ (someone edited the source since), rebuilds just that bundle (build.mjs
 * --browser-only), so the page runs the same code as the Node side without a full tsc pass.
 */
async function ensureBuilt(): Promise<void> {
  const outs = [BUNDLE, join(ROOT, "dist", "node", "index.js"), join(ROOT, "dist", "types", "index.d.ts")];
  if (!outs.every((f) => existsSync(f))) {
    execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "pipe" });
  } else if (statSync(BUNDLE).mtimeMs < newest(join(ROOT, "src"))) {
    execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "--browser-only"], { cwd: ROOT, stdio: "pipe" });
  }
}

/** Every module specifier the bundle at `file` still imports (a self-contained bundle has none). */
async function importsOf(file: string): Promise<string[]> {
  const seen: string[] = [];
  const record: Plugin = {
    name: "record",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (a) => {
        if (a.kind === "entry-point") return undefined;
        seen.push(a.path);
        return { path: a.path, external: true };
      });
    },
  };
  await build({ entryPoints: [file], bundle: true, write: false, platform: "neutral", plugins: [record], logLevel: "silent" });
  return seen;
}

/** Builds `import "metagrad"` from a folder where metagrad is installed, returning the inputs used. */
async function resolvedEntry(from: string, platform: "browser" | "node"): Promise<string> {
  const deps = Object.keys(createRequire(join(ROOT, "package.json"))("./package.json").dependencies ?? {});
  const r = await build({
    stdin: { contents: `export * from "metagrad";`, resolveDir: from, loader: "js" },
    bundle: true, write: false, metafile: true, platform, external: deps, logLevel: "silent",
  });
  const hits = Object.keys(r.metafile.inputs).filter((p) => /dist\/(browser|node)\/index\.js$/.test(p));
  expect(hits).toHaveLength(1);
  return relative(ROOT, resolve(hits[0]!));
}

describe("browser build", () => {
  let consumer = "";

  beforeAll(async () => {
    await ensureBuilt();
    // A package that depends on metagrad: node_modules/metagrad -> this repository.
    consumer = mkdtempSync(join(tmpdir(), "metagrad-consumer-"));
    mkdirSync(join(consumer, "node_modules"));
    symlinkSync(ROOT, join(consumer, "node_modules", "metagrad"), "dir");
  });
  afterAll(() => rmSync(consumer, { recursive: true, force: true }));

  it("dist/browser/index.js is self-contained: no imports at all, so no node: or built-in modules", async () => {
    expect(await importsOf(BUNDLE)).toEqual([]);
    // The source graph of the browser entry reaches no Node built-in (checked at resolution time).
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const reached: string[] = [];
    await build({
      entryPoints: [join(ROOT, "src", "index.ts")], bundle: true, write: false, platform: "browser", logLevel: "silent",
      plugins: [{ name: "no-node", setup(b) { b.onResolve({ filter: /.*/ }, (a) => { if (builtins.has(a.path)) reached.push(`${a.path} from ${relative(ROOT, a.importer)}`); return undefined; }); } }],
    });
    expect(reached).toEqual([]);
    // The Node bundle, by contrast, does import Node-side modules (Dawn): the check is not vacuous.
    expect(await importsOf(join(ROOT, "dist", "node", "index.js"))).toContain("webgpu");
  });

  it("package.json exports: browser and bundlers get dist/browser, Node gets dist/node", async () => {
    expect(await resolvedEntry(consumer, "browser")).toBe("dist/browser/index.js");
    expect(await resolvedEntry(consumer, "node")).toBe("dist/node/index.js");
    // Node itself, for import and for require.
    const esm = execFileSync(process.execPath, ["--input-type=module", "-e", `console.log(import.meta.resolve("metagrad"))`], { cwd: consumer }).toString().trim();
    expect(esm).toMatch(/\/dist\/node\/index\.js$/);
    expect(createRequire(join(consumer, "x.js")).resolve("metagrad")).toMatch(/\/dist\/node\/index\.js$/);
    // TypeScript picks the matching declarations.
    const typesOf = (conditions: string[], mode: ts.ModuleResolutionKind): string => {
      const opts: ts.CompilerOptions = { moduleResolution: mode, module: ts.ModuleKind.ESNext, customConditions: conditions };
      const r = ts.resolveModuleName("metagrad", join(consumer, "x.ts"), opts, ts.sys).resolvedModule;
      return relative(ROOT, ts.sys.realpath!(r!.resolvedFileName));
    };
    expect(typesOf(["browser"], ts.ModuleResolutionKind.Bundler)).toBe("dist/types/index.d.ts");
    expect(typesOf(["node"], ts.ModuleResolutionKind.Bundler)).toBe("dist/types/node.d.ts");
  });
});

describe("demo page in headless Chromium (WebGPU on SwiftShader)", () => {
  let server: DemoServer | null = null;
  let context: BrowserContext | null = null;
  let profile = "";

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) return;
    await ensureBuilt();
    server = await startDemoServer();
    profile = mkdtempSync(join(tmpdir(), "metagrad-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 940 },
      args: [
        "--enable-unsafe-webgpu", "--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic",
      ],
    });
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("trains in the page; loss and probes match the Node run; screenshot saved", async (ctx) => {
    if (!context || !server) {
      const why = `${CHROMIUM} is missing: run \`bash .ci/install-chromium.sh\` (Debian's chromium package)`;
      if (CI) throw new Error(`browser test under CI=true: ${why}`);
      ctx.skip(why);
      return;
    }
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    const q = `size=${CONFIG.size}&seed=${CONFIG.seed}&lr=${CONFIG.lr}&warmup=${CONFIG.warmup}&maxSteps=${STEPS}&autostart=1`;
    await page.goto(`${server.url}?${q}`);

    // The same configuration in this process on Dawn, concurrently with the page.
    const nodeRun = (async (): Promise<StepRecord[]> => {
      await gpu();
      const s = new DemoSession(CONFIG);
      const out: StepRecord[] = [];
      for (let i = 0; i < STEPS; i++) out.push(await s.step());
      s.dispose();
      return out;
    })();

    await page.waitForFunction(() => ["done", "error", "no-webgpu"].includes(window.__demo?.status), null, { timeout: 100_000 });
    const st = await page.evaluate(() => ({ status: window.__demo.status, message: window.__demo.message, adapter: window.__demo.adapter, records: window.__demo.records }));
    if (st.status === "no-webgpu" && !CI) {
      await nodeRun;
      ctx.skip(`Chromium offers no WebGPU here: ${st.message}`);
      return;
    }
    expect(st.status, st.message ?? "").toBe("done");
    expect(pageErrors).toEqual([]);
    const browser = st.records;
    const node = await nodeRun;
    expect(browser).toHaveLength(STEPS);

    // The loss falls, and the last layer's inner loss is the loss itself (D1 at l = L).
    const first = browser[0]!.loss;
    const lastMean = browser.slice(-3).reduce((a, r) => a + r.loss, 0) / 3;
    expect(first).toBeGreaterThan(Math.log(65) - 0.1);
    expect(lastMean).toBeLessThan(first - 0.1);
    for (const r of browser) expect(Math.abs(r.inner.at(-1)! - r.loss)).toBeLessThan(1e-5 * r.loss);

    // Browser vs Node, step by step: loss, inner loss per layer, norm per layer.
    let worst = 0;
    for (let i = 0; i < STEPS; i++) {
      const b = browser[i]!;
      const n = node[i]!;
      const pairs: [number, number][] = [[b.loss, n.loss], ...b.inner.map((v, l): [number, number] => [v, n.inner[l]!]),
        ...b.norms.map((v, l): [number, number] => [v, n.norms[l]!])];
      for (const [x, y] of pairs) {
        const rel = Math.abs(x - y) / Math.max(Math.abs(y), 1e-6);
        worst = Math.max(worst, rel);
        expect(rel, `step ${i}: browser ${x} vs node ${y}`).toBeLessThan(RTOL);
      }
    }
    console.log(`browser (${st.adapter?.vendor} ${st.adapter?.architecture}) vs node: max relative difference ` +
      `${worst.toExponential(2)} over ${STEPS} steps; loss ${first.toFixed(4)} -> ${browser.at(-1)!.loss.toFixed(4)}`);

    mkdirSync(join(ROOT, "results", "browser"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "results", "browser", "demo.png"), fullPage: true });
    await page.close();
  });

  it("a browser without WebGPU gets a clear message", async (ctx) => {
    if (!context || !server) {
      if (CI) throw new Error(`browser test under CI=true: ${CHROMIUM} is missing`);
      ctx.skip(`${CHROMIUM} is missing`);
      return;
    }
    const page = await context.newPage();
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined, configurable: true }));
    await page.goto(`${server.url}?autostart=1`);
    await page.waitForFunction(() => window.__demo?.status === "no-webgpu", null, { timeout: 20_000 });
    const text = await page.locator("#message").innerText();
    expect(text).toMatch(/does not offer WebGPU/);
    expect(await page.locator("#start").isDisabled()).toBe(true);
    await page.close();
  });
});
