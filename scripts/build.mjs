// Builds the package: an ESM bundle for browsers (no Node built-ins), an ESM bundle for Node
// (Dawn through the `webgpu` package, kept external), and type declarations via tsc.
// `node scripts/build.mjs --browser-only` rebuilds just the browser bundle (test/browser.test.ts
// does that when the source is newer than the bundle).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const external = Object.keys(pkg.dependencies ?? {});

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
execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
console.log("types: dist/types/");
