// Crash safety of `npm run exp`: the smoke configuration of E2 and E4 for one seed (the S1 run
// and two R1 runs) killed with SIGKILL inside the S1 training run, between experiments and inside an R1
// training run, then rerun, ends with the same results as an uninterrupted run: bit-identical
// loss histories and weights, and identical experiment JSON apart from timing and createdAt.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { SplitMix32 } from "../src/tensor/random";
import { sleep, start, until, type Child } from "./helpers/proc";

const dir = mkdtempSync(join(tmpdir(), "crash-exp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENV = { METAGRAD_AUTOSAVE_SECONDS: "0" }; // state after every step, so a kill always has one to resume
const args = (out: string) => ["e2", "e4", "--config", "smoke", "--seeds", "1", "--out", out];

const TIMING = new Set(["createdAt", "wallSeconds", "trainSeconds", "stepSeconds"]);

/** A JSON value without its timing and date fields (at any depth). */
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !TIMING.has(k)).map(([k, x]) => [k, strip(x)]));
  }
  return v;
}

/** The results that must not depend on interruptions: timings and dates left out. */
function results(out: string): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  for (const id of ["e2", "e4"]) {
    r[id] = strip(JSON.parse(readFileSync(join(out, `${id}.json`), "utf8")));
    r[`seed-0/${id}`] = strip(JSON.parse(readFileSync(join(out, "seed-0", `${id}.json`), "utf8")));
  }
  for (const run of readdirSync(join(out, "seed-0", "runs"))) {
    const d = join(out, "seed-0", "runs", run);
    r[`${run}/run.json`] = strip(JSON.parse(readFileSync(join(d, "run.json"), "utf8")));
    for (const f of readdirSync(d).filter((x) => x.endsWith(".safetensors"))) r[`${run}/${f}`] = readFileSync(join(d, f)).toString("base64");
  }
  return r;
}

async function finish(c: Child): Promise<void> {
  expect(await c.exited, c.output()).toBe(0);
}

it("SIGKILL inside training runs and between experiments: the rerun's results equal an uninterrupted run's", async () => {
  const ref = join(dir, "ref"), out = join(dir, "run");
  await finish(start("exp/run.ts", args(ref), ENV));

  const g = new SplitMix32(23);
  const s1State = join(out, "seed-0/runs/s1/state.safetensors"), r1State = join(out, "seed-0/runs/r1-2L-16/state.safetensors");
  const kills: [string, (c: Child) => boolean][] = [
    ["inside the S1 training run", () => existsSync(s1State)],
    ["between experiments (after E2)", (c) => c.output().includes("[seed 0 · e2] done in")],
    ["inside an R1 training run", () => existsSync(r1State)],
  ];
  const logs: string[] = [];
  for (const [what, ready] of kills) {
    const c = start("exp/run.ts", args(out), ENV);
    await until(c, () => ready(c), what);
    if (what.startsWith("inside")) await sleep(Math.floor(g.uniform() * 100));
    c.proc.kill("SIGKILL");
    expect(await c.exited).toBe(137);
    logs.push(c.output());
  }
  const last = start("exp/run.ts", args(out), ENV);
  await finish(last);
  logs.push(last.output());
  // The reruns resumed: S1 from its state, E2 skipped as finished, R1 from its state.
  expect(logs[1]).toMatch(/\[s1\] resuming at step [1-9]/);
  expect(logs.slice(2).join("\n")).toMatch(/\[seed 0 · e2\] .*finished earlier/);
  expect(logs.slice(3).join("\n")).toMatch(/\[r1-2L-16\] (resuming at step [1-9]|trained earlier)/);
  expect(results(out)).toEqual(results(ref));
}, 300_000);
