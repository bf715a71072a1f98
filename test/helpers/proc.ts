// Test helper: runs a repository entry point (tsx) in a child process, collects its output, and
// can kill it at a chosen moment (a line appears, a file appears or changes) with a chosen signal.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A running child: its output so far, and its exit. */
export interface Child {
  proc: ChildProcess;
  output: () => string;
  /** Exit code, or 128 + signal number when killed by a signal. */
  exited: Promise<number>;
}

/** Starts `node --import tsx <script> ...args` in the repository root. */
export function start(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const signals: Record<string, number> = { SIGINT: 2, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };
  const exited = new Promise<number>((resolve) => {
    proc.on("exit", (code, sig) => resolve(code ?? 128 + (signals[sig ?? ""] ?? 0)));
  });
  return { proc, output: () => out, exited };
}

/** Resolves when `test()` holds (polled every 10 ms); rejects after `ms` or when the child exits first. */
export async function until(child: Child, test: () => boolean, what: string, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  let done = false;
  void child.exited.then(() => (done = true));
  while (!test()) {
    if (done) throw new Error(`the child exited before ${what}:\n${child.output()}`);
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Modification time of `path` in ms, or 0 when it does not exist. */
export function mtime(path: string): number {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
