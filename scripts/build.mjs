// Builds the package: an ESM bundle for browsers (no Node built-ins), an ESM bundle for Node
// (Dawn through the `webgpu` package and the optional peer packages kept external), and type
// declarations via the lockfile's tsc, made resolvable under every moduleResolution (see below).
// `node scripts/build.mjs --browser-only` rebuilds just the browser bundle (test/browser.test.ts
// does that when the source is newer than the bundle).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
].flatMap((name) => [name, `${name}/*`]);

await build({
  entryPoints: ["src/index.ts"],
  outfile: "dist/browser/index.js",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  logLevel: "info",
});
if (process.argv.includes("--browser-only")) process.exit(0);
await build({
  entryPoints: ["src/node.ts"],
  outfile: "dist/node/index.js",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external,
  sourcemap: true,
  logLevel: "info",
});

// Declarations. tsc keeps import specifiers as written ("./index", ".."), which `bundler`
// resolution accepts but node16/nodenext do not, so every relative specifier is rewritten to the
// file it means ("./index.js", "../index.js"); one that matches no emitted file fails the build.
// The WebGPU interfaces the declarations name come from webgpu-globals.d.ts (why: see that file),
// referenced from both entries.
const TYPES = "dist/types";
rmSync(TYPES, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc"); // the lockfile's TypeScript, not typescript-latest's bin
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
copyFileSync("src/webgpu-globals.d.ts", join(TYPES, "webgpu-globals.d.ts"));

const files = (dir) => readdirSync(dir, { withFileTypes: true })
  .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".d.ts") ? [join(dir, e.name)] : []));
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}(?:\/[^"']*)?)\2/g;
let rewritten = 0;
for (const file of files(TYPES)) {
  const text = readFileSync(file, "utf8");
  const out = text.replace(SPECIFIER, (_m, head, q, spec) => {
    const abs = resolve(dirname(file), spec);
    const target = existsSync(`${abs}.d.ts`) ? `${spec}.js` : existsSync(join(abs, "index.d.ts")) ? `${spec.replace(/\/$/, "")}/index.js` : null;
    if (!target) throw new Error(`build: ${relative(".", file)} imports "${spec}", which matches no emitted declaration file`);
    rewritten++;
    return `${head}${q}${target}${q}`;
  });
  if (out !== text) writeFileSync(file, out);
}
for (const entry of ["index.d.ts", "node.d.ts"]) {
  const p = join(TYPES, entry);
  writeFileSync(p, `/// <reference path="./webgpu-globals.d.ts" />\n${readFileSync(p, "utf8")}`);
}
console.log(`types: ${TYPES}/ (${rewritten} relative specifiers given explicit .js paths)`);
