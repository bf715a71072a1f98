// Crash safety of `npm run train`: a run killed with SIGKILL at several seeded random points (each
// after a checkpoint of its own, so every restart resumes) and stopped once with SIGINT (which
// checkpoints at once, prints the resume command and exits 130) ends with losses and weights
// bit-identical to an uninterrupted run's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { readCheckpointMeta, readSafetensors } from "../src/nn/node";
import { SplitMix32 } from "../src/tensor/random";
import { mtime, sleep, start, until } from "./helpers/proc";

const dir = mkdtempSync(join(tmpdir(), "crash-train-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ARGS = ["--data", "seeds", "--layers", "1", "--heads", "2", "--width", "16", "--context", "16", "--batch", "4",
  "--steps", "80", "--eval-every", "40", "--eval-batches", "1", "--autosave-seconds", "0.05", "--backend", "webgpu"];

/** Runs to completion (rc 0) and returns the output. */
async function finish(args: string[]): Promise<string> {
  const c = start("scripts/train.ts", args);
  const rc = await c.exited;
  expect(rc, c.output()).toBe(0);
  return c.output();
}

it("SIGKILL at seeded random points and one SIGINT: the resumed run is bit-identical to an uninterrupted one", async () => {
  const ref = join(dir, "ref.safetensors"), out = join(dir, "run.safetensors");
  await finish([...ARGS, "--out", ref]);

  const g = new SplitMix32(17);
  const resumes: number[] = [];
  for (const [i, sig] of (["SIGKILL", "SIGKILL", "SIGINT", "SIGKILL"] as const).entries()) {
    const before = mtime(out);
    const c = start("scripts/train.ts", before ? ["--resume", out] : [...ARGS, "--out", out]);
    // Kill only after this process wrote a checkpoint of its own, then after a random delay.
    await until(c, () => mtime(out) > before, `kill ${i}: a new checkpoint`);
    await sleep(Math.floor(g.uniform() * 250));
    c.proc.kill(sig);
    const rc = await c.exited;
    const m = /resumed .* at step (\d+)/.exec(c.output());
    if (m) resumes.push(Number(m[1]));
    if (sig === "SIGINT") {
      expect(rc, c.output()).toBe(130);
      expect(c.output()).toContain(`SIGINT: checkpoint saved; resume with: npm run train -- --resume ${out}`);
    } else if (rc === 0) break; // finished before the kill landed
    else expect(rc).toBe(137);
  }
  const last = await finish(["--resume", out]);
  resumes.push(Number(/resumed .* at step (\d+)/.exec(last)![1]));
  expect(resumes.length).toBeGreaterThanOrEqual(4);
  expect(resumes.every((s, i) => s > 0 && (i === 0 || s >= resumes[i - 1]))).toBe(true);

  const a = readCheckpointMeta(ref), b = readCheckpointMeta(out);
  expect(b.step).toBe(80);
  expect((b.log as { losses: number[] }).losses).toHaveLength(80);
  expect((b.log as { losses: number[] }).losses).toEqual((a.log as { losses: number[] }).losses);
  const ta = readSafetensors(ref).tensors, tb = readSafetensors(out).tensors;
  expect(Object.keys(tb).sort()).toEqual(Object.keys(ta).sort());
  for (const [name, t] of Object.entries(ta)) {
    expect(Buffer.from((tb[name].data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
  }
}, 300_000);
