// Runs a bench child process (the same tsx loader as this process) and returns its JSON report;
// runs a command with its output captured through a file (runToFile).
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Outcome of a child run: its parsed report, or why there is none. */
export interface ChildOutcome<T> {
  report: T | null;
  error?: string;
  wallMs: number;
}

/**
 * Runs `script <out.json> args...` in a fresh Node process with `env` added; forwards its
 * stdout lines (prefixed) and keeps the tail of stderr for the error message.
 */
export async function runChild<T>(script: string, args: string[], opts: { env?: Record<string, string>; timeoutMs: number; prefix: string }): Promise<ChildOutcome<T>> {
  const dir = mkdtempSync(join(tmpdir(), "metagrad-bench-"));
  const out = join(dir, "report.json");
  const t0 = performance.now();
  const child = spawn(process.execPath, [...process.execArgv, script, out, ...args], {
    env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"],
  });
  const errTail: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    for (const line of s.split("\n")) if (line.trim() && !line.startsWith("Warning:")) console.log(`${opts.prefix}${line}`);
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    errTail.push(...s.split("\n").filter((l) => l.trim() && !l.startsWith("Warning:")));
    errTail.splice(0, Math.max(0, errTail.length - 12));
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, opts.timeoutMs);
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  clearTimeout(timer);
  const wallMs = performance.now() - t0;
  try {
    const report = JSON.parse(readFileSync(out, "utf8")) as T;
    return { report, wallMs, error: timedOut ? `timed out after ${opts.timeoutMs} ms` : undefined };
  } catch {
    const why = timedOut ? `timed out after ${opts.timeoutMs} ms` : `exited with code ${code}`;
    return { report: null, wallMs, error: `${why}: ${errTail.join(" | ").slice(0, 800)}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs a command to completion with stdout and stderr both written to one file, and returns its
 * exit status and that output. A file, not a pipe: through a pipe, llvmpipe's GALLIVM_DEBUG=asm
 * listing of a large shader arrived cut short (6,966 of its 13,545 instructions, three runs of three).
 */
export function runToFile(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "metagrad-run-"));
  try {
    const log = join(dir, "output.txt");
    const fd = openSync(log, "w");
    let status: number | null;
    try {
      status = spawnSync(cmd, args, { env, stdio: ["ignore", fd, fd] }).status;
    } finally {
      closeSync(fd);
    }
    return { status, output: readFileSync(log, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
