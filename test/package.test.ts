// The package as a stranger gets it: `npm pack` of the built library, installed into an empty
// project by `npm ci --offline` (its lockfile is derived from ours, so only what our own `npm ci`
// put in the npm cache is used: no network). Then, in that project: the tarball's contents and the
// install size; a typecheck of every `ts`/`js` block of README.md (extracted here, never copied)
// plus an API file under moduleResolution node16, nodenext and bundler, on the lockfile's
// TypeScript and on `latest` (typescript-latest), with and without the DOM library; every README
// block run; a train → save → load → export round trip; the optional peers' errors; and which
// Node feature the ESM-only entry needs (require(esm) only for CommonJS callers).
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..");
const TMP = mkdtempSync(join(tmpdir(), "metagrad-pkg-"));
const APP = join(TMP, "app");
const TSC = { "5.x": join(REPO, "node_modules/typescript/bin/tsc"), latest: join(REPO, "node_modules/typescript-latest/bin/tsc") };
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp" };
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

interface PackInfo { filename: string; size: number; unpackedSize: number; files: { path: string }[] }
let pack: PackInfo;

/** Newest modification time under a folder. */
function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
    const p = join(dir, e.name);
    return Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);
}

/** Bytes under a folder. */
function du(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isDirectory() ? du(p) : e.isFile() ? statSync(p).size : 0);
  }, 0);
}

/** README.md's `ts` and `js` blocks in order; a block whose first line is `// fragment…` is typechecked only. */
function readmeBlocks(): { file: string; code: string; fragment: boolean }[] {
  const md = readFileSync(join(REPO, "README.md"), "utf8");
  return [...md.matchAll(/^```(ts|js)\n([\s\S]*?)^```$/gm)].map((m, i) => ({
    file: `readme-${i + 1}.${m[1]}`, code: m[2]!, fragment: /^\/\/ fragment\b/i.test(m[2]!),
  }));
}

/**
 * The consumer's package-lock.json: the tarball plus the closure of its runtime dependencies with
 * the versions and integrities of our own lockfile, so `npm ci --offline` finds every tarball in
 * the cache our `npm ci` filled.
 */
function consumerLock(tgz: string): object {
  const ours = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, Record<string, unknown>> };
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as Record<string, Record<string, string>>;
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tgz)).digest("base64")}`;
  const packages: Record<string, object> = {
    "": { name: "app", dependencies: { metagrad: `file:${tgz}` } },
    "node_modules/metagrad": {
      version: pkg.version, resolved: `file:${tgz}`, integrity, license: pkg.license, dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies, peerDependenciesMeta: pkg.peerDependenciesMeta, engines: pkg.engines,
    },
  };
  const todo = Object.keys(pkg.dependencies ?? {});
  while (todo.length) {
    const key = `node_modules/${todo.pop()!}`;
    if (packages[key]) continue;
    const entry = { ...ours.packages[key] };
    if (!entry.version) throw new Error(`package test: ${key} is not in package-lock.json at the top level`);
    for (const flag of ["dev", "devOptional", "peer", "optional"]) delete entry[flag];
    packages[key] = entry;
    todo.push(...Object.keys((entry.dependencies as Record<string, string> | undefined) ?? {}));
  }
  return { name: "app", lockfileVersion: 3, requires: true, packages };
}

/** Runs a command in the consumer project; resolves with its stdout, rejects with stdout and stderr on failure. */
async function sh(cmd: string, args: string[], opts: { timeout?: number } = {}): Promise<string> {
  try {
    const r = await run(cmd, args, { cwd: APP, env, timeout: opts.timeout ?? 120_000, maxBuffer: 16 << 20 });
    return r.stdout;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

const ROUND_TRIP = `// train → save (checkpoint) → load → export (Hugging Face) → import: logits must not change.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  init, GPT, AdamW, Trainer, makeSeedsData, seedsBatch, saveCheckpoint, loadCheckpoint, readCheckpointMeta,
  saveGpt2, loadGpt2, readAll, fromValues, tidy,
} from "metagrad";

await init({ backend: "webgpu" });
const dir = mkdtempSync(join(tmpdir(), "roundtrip-"));
const data = makeSeedsData({ T: 16, nTrain: 32, nVal: 4 });
const model = new GPT({ nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16, vocabSize: data.vocabSize }, { seed: 3 });
const opt = AdamW.forModel(model, { lr: 1e-2 });
const trainer = new Trainer(model, opt, { schedule: { lr: 1e-2, warmup: 1, total: 20 } });
const losses: number[] = [];
for (let s = 0; s < 6; s++) losses.push((await trainer.trainStep([seedsBatch(data.train, [s, s + 8, s + 16])])).loss);
const logits = (m: GPT) => tidy(async () => (await readAll([m.forward(fromValues(Array.from(data.val.tokens), [4, 16], { dtype: "i32" })).logits]))[0]!);
await saveCheckpoint(join(dir, "ckpt.safetensors"), model, opt, { run: { note: "round trip" } });
const meta = readCheckpointMeta(join(dir, "ckpt.safetensors"));
const restored = new GPT(meta.config);
const restoredOpt = AdamW.forModel(restored, { lr: 1e-2 });
loadCheckpoint(join(dir, "ckpt.safetensors"), restored, restoredOpt);
await saveGpt2(restored, join(dir, "hf"));
const { model: imported } = await loadGpt2(join(dir, "hf"), { tokenizer: false });
const [a, b, c] = [await logits(model), await logits(restored), await logits(imported)];
const same = (x: Float64Array, y: Float64Array) => x.length === y.length && x.every((v, i) => v === y[i]);
console.log(JSON.stringify({ step: meta.step, firstLoss: losses[0], lastLoss: losses.at(-1), checkpoint: same(a, b), gpt2: same(a, c), adamStep: restoredOpt.stepCount }));
if (!same(a, b) || !same(a, c) || meta.step !== 6 || restoredOpt.stepCount !== 6) process.exit(1);
`;

const OPTIONAL = `// The optional peer packages are not installed here: the functions that need them say what to install.
import { loadDocs, loadGpt2Tokenizer } from "metagrad";

const errors: string[] = [];
try { loadDocs("sotu"); } catch (e) { errors.push((e as Error).message); }
try { await loadGpt2Tokenizer(); } catch (e) { errors.push((e as Error).message); }
console.log(JSON.stringify(errors));
`;

const GPU_TYPES = `// Raw WebGPU objects from the API get their full types where the project has WebGPU's types.
import { init, gpuRuntime } from "metagrad";

await init();
const device = gpuRuntime()?.device;
const buffer = device?.createBuffer({ size: 16, usage: 0x80 }); // STORAGE
console.log(buffer?.size);
`;

const BROWSER = `// What a page does with the browser build: weights it fetched, the seeds task, probes. Node-only names are absent.
import { init, parseSafetensors, gpt2FromBuffers, makeSeedsData, seedsBatch, ProbeSet, innerLoss } from "metagrad";
import * as lib from "metagrad";

await init({ backend: "webgpu" });
const [config, weights] = await Promise.all([
  fetch("/gpt2/config.json").then((r) => r.text()), fetch("/gpt2/model.safetensors").then((r) => r.arrayBuffer()),
]);
const names: string[] = Object.keys(parseSafetensors(weights, "model.safetensors").tensors);
const { model } = await gpt2FromBuffers(config, weights);
const probes = new ProbeSet(model);
probes.add(innerLoss());
const data = makeSeedsData({ T: 16, nTrain: 8 });
console.log(names.length, seedsBatch(data.train, [0]).B);
// @ts-expect-error saveGpt2 writes files: it is in the Node build only
console.log(lib.saveGpt2);
`;

beforeAll(async () => {
  const dist = ["dist/node/index.js", "dist/browser/index.js", "dist/types/node.d.ts"].map((f) => join(REPO, f));
  if (dist.some((f) => !existsSync(f) || statSync(f).mtimeMs < newest(join(REPO, "src")))) {
    execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "ignore" });
  }
  mkdirSync(APP, { recursive: true });
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", TMP], { cwd: REPO, encoding: "utf8" });
  pack = (JSON.parse(out) as PackInfo[])[0]!;
  const tgz = join(TMP, pack.filename);
  writeFileSync(join(APP, "package.json"), JSON.stringify({ name: "app", private: true, type: "module", dependencies: { metagrad: `file:${tgz}` } }));
  writeFileSync(join(APP, "package-lock.json"), JSON.stringify(consumerLock(tgz), null, 1));
  await sh("npm", ["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"]);
  for (const b of readmeBlocks()) writeFileSync(join(APP, b.file), b.code);
  writeFileSync(join(APP, "roundtrip.ts"), ROUND_TRIP);
  writeFileSync(join(APP, "optional.ts"), OPTIONAL);
  writeFileSync(join(APP, "gpu-types.ts"), GPU_TYPES);
  writeFileSync(join(APP, "browser.ts"), BROWSER);
}, 300_000);

/** Writes a tsconfig for one cell of the matrix and returns its path. */
function tsconfig(name: string, o: {
  resolution: "node16" | "nodenext" | "bundler"; dom: boolean; files: string[]; emit?: boolean; types?: string[]; conditions?: string[];
}): string {
  const file = join(APP, `tsconfig.${name}.json`);
  const compilerOptions = {
    strict: true, target: "es2022", skipLibCheck: false, allowJs: true, checkJs: true,
    module: o.resolution === "bundler" ? "esnext" : o.resolution, moduleResolution: o.resolution,
    ...(o.resolution === "bundler" ? { customConditions: o.conditions ?? ["node"] } : {}), // the README's code runs in Node
    lib: o.dom ? ["es2022", "dom"] : ["es2022"],
    // @types/node comes from our own node_modules; a scoped types package (@webgpu/types) from the consumer's
    types: o.types ?? ["node"], typeRoots: [join(APP, "node_modules/@types"), join(REPO, "node_modules/@types"), join(APP, "node_modules")],
    ...(o.emit ? { outDir: join(APP, "out"), rootDir: APP } : { noEmit: true }),
  };
  writeFileSync(file, JSON.stringify({ compilerOptions, files: o.files }, null, 1));
  return file;
}

const SOURCES = () => [...readmeBlocks().map((b) => b.file), "roundtrip.ts", "optional.ts"];

describe("the packed package", () => {
  test("the tarball holds the builds, the types, README and LICENSE, and nothing else", () => {
    const files = pack.files.map((f) => f.path).sort();
    for (const f of ["LICENSE", "README.md", "package.json", "dist/node/index.js", "dist/browser/index.js",
      "dist/types/index.d.ts", "dist/types/node.d.ts", "dist/types/webgpu-globals.d.ts"]) expect(files).toContain(f);
    expect(files.filter((f) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(f))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string>; dependencies: Record<string, string> };
    expect(pkg.scripts.prepack).toBe("npm run build"); // a fresh clone's `npm pack` ships dist
    expect(Object.keys(pkg.dependencies)).toEqual(["webgpu"]);
    console.log(`tarball ${pack.filename}: ${(pack.size / 1024).toFixed(0)} KiB packed, ${(pack.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${pack.files.length} files`);
  });

  test("a consumer that trains on the seeds task installs only the library and Dawn", () => {
    const installed = readdirSync(join(APP, "node_modules")).filter((n) => !n.startsWith("."));
    expect(installed.sort()).toEqual(["@webgpu", "debug", "metagrad", "ms", "webgpu"]);
    const bytes = du(join(APP, "node_modules"));
    console.log(`consumer node_modules: ${(bytes / 2 ** 20).toFixed(1)} MiB (webgpu ${(du(join(APP, "node_modules/webgpu")) / 2 ** 20).toFixed(1)} MiB)`);
    expect(bytes).toBeLessThan(160 * 2 ** 20);
  });

  for (const ts of ["5.x", "latest"] as const) {
    for (const resolution of ["node16", "nodenext", "bundler"] as const) {
      test(`TypeScript ${ts}, moduleResolution ${resolution}: every README block and the API files typecheck`, async () => {
        const out = await sh(process.execPath, [TSC[ts], "-p", tsconfig(`${ts}-${resolution}`, { resolution, dom: true, files: SOURCES() })]);
        expect(out).toBe("");
      });
    }
    test(`TypeScript ${ts} without the DOM library (a Node project): the declarations still resolve`, async () => {
      const out = await sh(process.execPath, [TSC[ts], "-p", tsconfig(`${ts}-nodom`, { resolution: "node16", dom: false, files: SOURCES() })]);
      expect(out).toBe("");
    });
  }

  test("a browser project (bundler resolution, no node condition) sees the browser build's types", async () => {
    const js = readmeBlocks().filter((b) => b.file.endsWith(".js")).map((b) => b.file); // the "In the browser" block
    expect(js.length).toBeGreaterThan(0);
    for (const ts of ["5.x", "latest"] as const) {
      const cfg = tsconfig(`browser-${ts}`, { resolution: "bundler", dom: true, files: ["browser.ts", ...js], types: [], conditions: [] });
      expect(await sh(process.execPath, [TSC[ts], "-p", cfg])).toBe("");
    }
  });

  test("WebGPU objects have full types with TypeScript 7's DOM library, or @webgpu/types on 5.x", async () => {
    expect(await sh(process.execPath, [TSC.latest, "-p", tsconfig("gpu-latest", { resolution: "node16", dom: true, files: ["gpu-types.ts"] })])).toBe("");
    expect(await sh(process.execPath, [TSC["5.x"], "-p", tsconfig("gpu-5", { resolution: "node16", dom: true, files: ["gpu-types.ts"], types: ["node", "@webgpu/types"] })])).toBe("");
  });

  describe("running", () => {
    beforeAll(async () => {
      await sh(process.execPath, [TSC["5.x"], "-p", tsconfig("emit", { resolution: "nodenext", dom: true, files: SOURCES(), emit: true })]);
    }, 120_000);

    for (const b of readmeBlocks()) {
      test(`README block ${b.file} (${b.code.split("\n")[0]!.slice(0, 60)}…) ${b.fragment ? "is a fragment: typechecked only" : "runs"}`, async () => {
        if (b.fragment) return;
        await sh(process.execPath, [join(APP, "out", b.file.replace(/\.ts$/, ".js"))], { timeout: 180_000 });
      }, 200_000);
    }

    test("train → save → load → export → import keeps the logits bit for bit", async () => {
      const out = await sh(process.execPath, [join(APP, "out", "roundtrip.js")]);
      const r = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>;
      expect(r).toMatchObject({ step: 6, checkpoint: true, gpt2: true, adamStep: 6 });
      expect(r.lastLoss as number).toBeLessThan(r.firstLoss as number);
    });

    test("without the optional peers, the corpus and the GPT-2 BPE name the package to install", async () => {
      const out = await sh(process.execPath, [join(APP, "out", "optional.js")]);
      const errors = JSON.parse(out.trim().split("\n").at(-1)!) as string[];
      expect(errors).toEqual([
        expect.stringMatching(/needs the optional package @stdlib\/datasets-sotu, which is not installed: npm install @stdlib\/datasets-sotu/),
        expect.stringMatching(/needs the optional package gpt-tokenizer, which is not installed: npm install gpt-tokenizer/),
      ]);
    });

    test("the entry is ESM: import needs no require(esm); only CommonJS require() does", async () => {
      const imported = await sh(process.execPath, ["--no-experimental-require-module", "--input-type=module", "-e",
        'const m = await import("metagrad"); console.log(typeof m.init, typeof m.saveGpt2)']);
      expect(imported.trim()).toBe("function function");
      expect((await sh(process.execPath, ["-e", 'console.log(typeof require("metagrad").GPT)'])).trim()).toBe("function");
      await expect(sh(process.execPath, ["--no-experimental-require-module", "-e", 'require("metagrad")'])).rejects.toThrow(/ERR_REQUIRE_ESM/);
    });
  });
});
