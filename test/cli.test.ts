// Every command-line entry (`npm run train | exp | bench | demo`) rejects an unknown option with
// its usage and exit status 2, and prints no stack trace.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..");

/** Runs a CLI script through tsx; returns its exit status and output. */
async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", script, ...args], { cwd: REPO, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

describe("unknown options", () => {
  const cases: [string, string, RegExp][] = [
    ["train", "scripts/train.ts", /^train: Unknown option '--bogus'[\s\S]*usage: npm run train -- \[flags\][\s\S]*--backend webgpu\|cpu64/],
    ["bench", "bench/run.ts", /^bench: Unknown option '--bogus'[\s\S]*usage: npm run bench -- \[--quick\][\s\S]*suites:\n {2}matmul/],
    ["demo", "scripts/demo.ts", /^demo: Unknown option '--bogus'[\s\S]*usage: npm run demo -- \[--port N\]/],
    ["exp", "exp/run.ts", /^exp: unknown option --bogus \(see --help\)\n\nusage: npm run exp -- \[e1 … e6\] \[options\][\s\S]*--seeds N/],
  ];
  for (const [name, script, usage] of cases) {
    test(`${name} --bogus: usage, exit status 2, no stack trace`, async () => {
      const r = await cli(script, ["--bogus"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(usage);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    });
  }

  test("demo --port takes a port number", async () => {
    const r = await cli("scripts/demo.ts", ["--port", "http"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^demo: --port expects a port number \(0–65535\), got "http"/);
  });
});
