// Tests of the experiments' resume and skip logic: a training run interrupted mid-way resumes
// from its state checkpoint and ends bit-identical to an uninterrupted run; a finished run is
// reused; an experiment's JSON marks it finished only for the same settings.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSafetensors } from "../src/nn/node";
import { CONFIGS } from "../exp/config";
import { isFinished, readResult, settingsKey, writeResult, type RunContext, type RunSettings } from "../exp/context";
import { s1Source, s1Task } from "../exp/data";
import { ensureTrained, type TrainSpec } from "../exp/train-run";
import { gpu } from "./helpers/gpu";

const tmp = mkdtempSync(join(tmpdir(), "exp-resume-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await gpu();
});

function context(out: string, over: Partial<RunSettings> = {}): RunContext & { lines: string[] } {
  const s: RunSettings = { config: CONFIGS.smoke, seed: 0, backend: "webgpu", data: null, gpt2: null, ...over };
  const lines: string[] = [];
  return { ...s, out, adapter: "test", commit: "test", key: settingsKey(s), log: (l) => lines.push(l), lines };
}

const cfg = CONFIGS.smoke;
const spec: TrainSpec = {
  id: "s1", model: { nLayer: 1, nHead: 2, nEmbd: 16, blockSize: cfg.s1.T, vocabSize: s1Task(cfg, 0).vocabSize },
  train: { ...cfg.s1.train, saveEvery: 3 }, steps: 8, snapshots: [4], stepsPerEpoch: 4, dataKey: "seeds smoke",
};

describe("training runs", () => {
  it("an interrupted run resumes from its last state and ends bit-identical to an uninterrupted one", async () => {
    const a = context(join(tmp, "a"));
    const full = await ensureTrained(a, spec, () => s1Source(cfg, 0));
    expect(full.snapshots.map((s) => s.step)).toEqual([0, 4, 8]);
    expect(full.lossHistory).toHaveLength(8);

    const b = context(join(tmp, "b"));
    let calls = 0;
    const failing = () => {
      const src = s1Source(cfg, 0);
      const next = src.nextTrain.bind(src);
      return Object.assign(src, {
        nextTrain: () => {
          if (++calls === 7) throw new Error("simulated interruption");
          return next();
        },
      });
    };
    await expect(ensureTrained(b, spec, failing)).rejects.toThrow("simulated interruption");
    expect(existsSync(join(b.out, "runs/s1/state.safetensors"))).toBe(true);
    expect(existsSync(join(b.out, "runs/s1/run.json"))).toBe(false);

    const resumed = await ensureTrained(b, spec, () => s1Source(cfg, 0));
    expect(b.lines.some((l) => /resuming at step 6 of 8/.test(l))).toBe(true);
    expect(resumed.lossHistory).toEqual(full.lossHistory);
    expect(resumed.snapshots.map((s) => s.valLoss)).toEqual(full.snapshots.map((s) => s.valLoss));
    const wa = readSafetensors(join(a.out, full.snapshots.at(-1)!.file)).tensors;
    const wb = readSafetensors(join(b.out, resumed.snapshots.at(-1)!.file)).tensors;
    for (const [name, t] of Object.entries(wa)) expect(Array.from(wb[name].data as Float32Array), name).toEqual(Array.from(t.data as Float32Array));
    expect(existsSync(join(b.out, "runs/s1/state.safetensors"))).toBe(false);

    const again = await ensureTrained(b, spec, () => {
      throw new Error("a finished run must not build its data again");
    });
    expect(again.key).toBe(resumed.key);
    expect(b.lines.at(-1)).toMatch(/trained earlier .*reusing/);
  });

  it("retrains when the spec changes", async () => {
    const c = context(join(tmp, "a"));
    const other = await ensureTrained(c, { ...spec, steps: 4, snapshots: [] }, () => s1Source(cfg, 0));
    expect(other.snapshots.map((s) => s.step)).toEqual([0, 4]);
    expect(JSON.parse(readFileSync(join(c.out, "runs/s1/run.json"), "utf8")).steps).toBe(4);
  });
});

describe("experiment results", () => {
  it("a JSON file marks an experiment finished only for the same settings", () => {
    const ctx = context(join(tmp, "r"));
    expect(isFinished(ctx, "E2")).toBe(false);
    writeResult(ctx, "E2", { x: [1.23456789, NaN] }, 1.5);
    expect(isFinished(ctx, "E2")).toBe(true);
    const j = readResult<{ x: number[] }>(ctx.out, "E2")!;
    expect(j).toMatchObject({ id: "E2", schema: 2, kind: "seed", key: ctx.key, seeds: [0], backend: "webgpu", adapter: "test", commit: "test", wallSeconds: 1.5 });
    expect(j.result.x).toEqual([1.234568, NaN]); // written as null, read back as NaN inside arrays
    expect(isFinished(context(ctx.out, { seed: 1 }), "E2")).toBe(false);
    expect(isFinished(context(ctx.out, { config: CONFIGS.quick }), "E2")).toBe(false);
  });
});
