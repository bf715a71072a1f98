// Opt-in non-finite detection: off by default (no check kernels encoded); on, the first op that
// produced NaN/Inf, forward or backward, is named with the tensor, index and step, with the same
// message on cpu64 (thrown at the op) and webgpu (thrown at the next readback); a NaN parameter
// is named before the op that reads it; the Trainer stops with that message; checks change no value.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  detectAnomaly, fromValues, isAnomalyDetectionEnabled, log, readAll, setAnomalyDetection, sqrt, sum, tidy,
  type BackendName, type Tensor,
} from "../src/node";
import { AdamW, GPT, Trainer, setValues } from "../src/nn/index";
import { captureDispatches } from "../src/tensor/webgpu/timing";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});
afterEach(() => setAnomalyDetection(false));

async function failure(backend: BackendName, f: (b: BackendName) => Tensor[]): Promise<string> {
  try {
    await tidy(async () => readAll(f(backend)));
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

async function sameError(f: (b: BackendName) => Tensor[], re: RegExp): Promise<string> {
  const cpu = await failure("cpu64", f), web = await failure("webgpu", f);
  expect(cpu).toMatch(re);
  expect(web).toBe(cpu);
  return cpu;
}

const xs = (b: BackendName) => fromValues([1, 2, -3, 4], [4], { backend: b, requiresGrad: true });

describe("anomaly detection", () => {
  it("is off by default: NaN flows through and no check kernel is encoded", async () => {
    expect(isAnomalyDetectionEnabled()).toBe(false);
    expect(await failure("cpu64", (b) => [log(xs(b))])).toBe("");
    const rt = await gpu();
    let out: Tensor[] = [];
    const ds = captureDispatches(rt, () => { out = [log(xs("webgpu"))]; });
    const [v] = await readAll(out);
    expect(Number.isNaN(v[2])).toBe(true);
    expect(ds.map((d) => d.kernel.name).filter((n) => n.startsWith("check_"))).toEqual([]);
    for (const t of out) t.dispose();
  });

  it("forward: names the op that produced NaN, the tensor and the index, the same on both backends", async () => {
    setAnomalyDetection(true);
    const msg = await sameError((b) => [sum(log(xs(b)))],
      /^log: anomaly detection: output 0 \[4\] \(forward\) holds NaN at index 2, the first non-finite value seen; look at what feeds 'log'/);
    expect(msg).not.toContain("sum"); // the first op, not a later one
  });

  it("backward: names the op of a backward rule and the op it differentiates", async () => {
    await detectAnomaly(async () => {
      await sameError((b) => {
        const x = fromValues([4, 0, 1], [3], { backend: b, requiresGrad: true });
        sum(sqrt(x)).backward();
        return [x.grad!];
      }, /^div: anomaly detection: output 0 \[3\] \(backward of sqrt\) holds \+Inf at index 1/);
    });
    expect(isAnomalyDetectionEnabled()).toBe(false); // detectAnomaly restores the setting
  });

  it("the Trainer stops with the step and the NaN parameter's name; with detection off it stops on the NaN loss", async () => {
    const cfg = { nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 4, vocabSize: 7 };
    const batch = { B: 2, T: 4, x: Int32Array.from([1, 2, 3, 4, 5, 6, 0, 1]), y: Int32Array.from([2, 3, 4, 5, 6, 0, 1, 2]) };
    const run = async (b: BackendName, detect: boolean) => {
      const m = new GPT(cfg, { backend: b, seed: 1 }), opt = AdamW.forModel(m);
      const tr = new Trainer(m, opt, { schedule: { lr: 1e-3, warmup: 1, total: 10 } });
      const losses: number[] = [];
      try {
        setAnomalyDetection(detect);
        for (let s = 0; s < 4; s++) {
          if (s === 2) {
            const w = m.namedParameters().get("blocks.0.mlp.c_fc.weight")!;
            const v = Array.from(await w.data());
            v[5] = NaN;
            setValues(w, v);
          }
          losses.push((await tr.trainStep([batch])).loss);
        }
        return { msg: "", losses };
      } catch (e) {
        return { msg: (e as Error).message, losses };
      } finally {
        setAnomalyDetection(false);
        m.dispose();
        opt.dispose();
      }
    };
    const cpu = await run("cpu64", true), web = await run("webgpu", true);
    expect(cpu.msg).toMatch(/^matmul: anomaly detection \(step 2\): input 1 \(parameter 'blocks\.0\.mlp\.c_fc\.weight'\) \[8, 32\] \(forward\) holds NaN at index 5/);
    expect(web.msg).toBe(cpu.msg);
    expect(cpu.losses).toHaveLength(2);
    expect(web.losses).toHaveLength(2);
    const off = await run("webgpu", false);
    expect(off.msg).toMatch(/^Trainer: step 2: the loss is NaN .*Turn on anomaly detection/);
    // Detection changes no value: the steps before the NaN are bit-identical with it on and off.
    expect(web.losses).toEqual(off.losses);
  });
});
