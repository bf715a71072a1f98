// `npm run demo`: a tiny server on 127.0.0.1 for the browser example. It serves examples/ (its
// .ts page scripts bundled on request by esbuild, with every import of the library entry
// src/index.ts left external and pointed at /lib/index.js) and the built library dist/browser/
// under /lib/; static files go through sirv (MIME types, path containment, 404s). It writes
// nothing to disk and is not a production server.
import { build, type Plugin } from "esbuild";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { dirname, join, relative, resolve } from "node:path";
import sirv from "sirv";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const EXAMPLES = join(ROOT, "examples");
const SRC_ENTRY = join(ROOT, "src", "index.ts");

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions {
  /** TCP port (0 picks a free one). Default 0. */
  port?: number;
  /** Folder served under /lib/ (the browser bundle). Default dist/browser. */
  libDir?: string;
}

/** A running demo server. */
export interface DemoServer {
  /** Base URL, e.g. http://127.0.0.1:8080/ */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** esbuild plugin: the library entry stays external as /lib/index.js; other src/ imports are refused. */
const libraryExternal: Plugin = {
  name: "library-external",
  setup(b) {
    b.onResolve({ filter: /src\// }, (args) => {
      const abs = resolve(args.resolveDir, args.path);
      if (abs === SRC_ENTRY || abs + ".ts" === SRC_ENTRY) return { path: "/lib/index.js", external: true };
      if (relative(join(ROOT, "src"), abs).startsWith("..")) return undefined;
      return { errors: [{ text: `examples may import the library only through src/index (got ${args.path})` }] };
    });
  },
};

/** Bundles one page script examples/<name>.ts into an ES module (library external). */
export async function bundlePage(name: string): Promise<string> {
  const r = await build({
    entryPoints: [join(EXAMPLES, `${name}.ts`)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    sourcemap: "inline",
    plugins: [libraryExternal],
    logLevel: "silent",
  });
  return r.outputFiles[0]!.text;
}

/** Newest modification time (ms) of the .ts files under a folder. */
function newestTs(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestTs(p));
    else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** Why the library bundle in `libDir` cannot be served as is (missing or older than src/), or null. */
export function libraryProblem(libDir = join(ROOT, "dist", "browser")): string | null {
  const f = join(libDir, "index.js");
  if (!existsSync(f)) return `${relative(ROOT, f)} is missing: run \`npm run build\` first`;
  if (statSync(f).mtimeMs < newestTs(join(ROOT, "src"))) return `${relative(ROOT, f)} is older than src/: run \`npm run build\``;
  return null;
}

/** Starts the server on 127.0.0.1. */
export async function startDemoServer(opts: DemoServerOptions = {}): Promise<DemoServer> {
  const libDir = resolve(opts.libDir ?? join(ROOT, "dist", "browser"));
  const options = { dev: true, dotfiles: false, etag: false } as const; // dev: no caching, files re-read per request
  const lib = sirv(libDir, options);
  const pages = sirv(EXAMPLES, options);
  const server = createServer((req, res) => {
    const send = (code: number, type: string, body: string): void => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    const notFound = () => send(404, "text/plain", `not found: ${req.url ?? ""}`);
    void (async () => {
      const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
      if (path.startsWith("/lib/")) {
        req.url = req.url!.slice(4); // /lib/index.js → /index.js inside dist/browser
        return lib(req, res, notFound);
      }
      if (path.endsWith(".js") && existsSync(join(EXAMPLES, path.slice(1, -3) + ".ts"))) {
        return send(200, "text/javascript; charset=utf-8", await bundlePage(path.slice(1, -3)));
      }
      pages(req, res, notFound); // "/" is examples/index.html
    })().catch((e: Error) => send(500, "text/plain", `demo server: ${e.message}`));
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 0, "127.0.0.1", () => ok());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    server,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

const USAGE = `usage: npm run demo -- [--port N]   (default 8080; needs \`npm run build\` first)
Serves examples/ and the browser build on http://127.0.0.1:N/ for a browser with WebGPU.`;

/** The demo's command line: --port N (default 8080) and --help; anything else is a usage error. */
export function parseDemoArgs(argv: string[]): { port: number; help: boolean } {
  const { values } = parseArgs({ args: argv, options: { port: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port expects a port number (0–65535), got "${values.port}"`);
  return { port, help: values.help === true };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  let port = 8080;
  try {
    const args = parseDemoArgs(process.argv.slice(2));
    if (args.help) {
      console.log(USAGE);
      process.exit(0);
    }
    port = args.port;
  } catch (e) {
    console.error(`demo: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const problem = libraryProblem();
  if (problem?.includes("missing")) {
    console.error(`demo: ${problem}`);
    process.exit(1);
  }
  if (problem) console.warn(`demo: warning: ${problem}`);
  const s = await startDemoServer({ port });
  console.log(`demo: open ${s.url} in a browser with WebGPU (Ctrl-C stops)`);
}
