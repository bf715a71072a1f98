// Out-of-range ids give the same error on webgpu and cpu64: class targets (cross-entropy and its
// backward), token ids (embedding, GPT.forward, and its backward), indexSelect. Host ids are checked
// where they enter (Trainer, ProbeSet) before any GPU work; ids already on the device are checked by
// a kernel whose fault record rides along the next readback (no extra readback). ignoreIndex stays allowed.
import { beforeAll, describe, expect, it } from "vitest";
import {
  crossEntropy, crossEntropyBackward, crossEntropyWithStats, embedding, fromValues, indexSelect, readAll, randn, tidy,
  type BackendName, type Tensor,
} from "../src/node";
import { AdamW, GPT, Trainer } from "../src/nn/index";
import { ProbeSet, innerLoss } from "../src/probes/index";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

/** Runs `f` and reads its results back; returns the error message (or "" when none). */
async function failure(backend: BackendName, f: (b: BackendName) => Tensor[]): Promise<string> {
  try {
    await tidy(async () => readAll(f(backend)));
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

/** The same message on both backends, matching `re`. */
async function sameError(f: (b: BackendName) => Tensor[], re: RegExp): Promise<string> {
  const cpu = await failure("cpu64", f), web = await failure("webgpu", f);
  expect(cpu).toMatch(re);
  expect(web).toBe(cpu);
  return cpu;
}

const logits = (b: BackendName, N = 4, V = 11) => randn([N, V], { seed: 1, backend: b, requiresGrad: true });
const ids = (v: number[], b: BackendName, shape = [v.length]) => fromValues(v, shape, { dtype: "i32", backend: b });

describe("device ids: the same error on webgpu (at the readback) and cpu64 (at once)", () => {
  it("crossEntropy: a target outside [0, V) names the op, the value, its row and the vocabulary size", async () => {
    const msg = await sameError((b) => [crossEntropy(logits(b), ids([3, -1, 11, 40], b))],
      /^crossEntropy: target 11 at row 2 is outside \[0, 11\) \(vocabulary size 11\) and is not ignoreIndex -1/);
    expect(msg).toContain("pass { ignoreIndex }");
    await sameError((b) => [crossEntropy(logits(b), ids([3, 7, -2, 0], b), { reduction: "none" })], /target -2 at row 2/);
  });

  it("ignoreIndex stays allowed, also inside [0, V)", async () => {
    expect(await failure("webgpu", (b) => [crossEntropy(logits(b), ids([3, -1, -1, 10], b))])).toBe("");
    expect(await failure("cpu64", (b) => [crossEntropy(logits(b), ids([3, -1, -1, 10], b))])).toBe("");
    const ig = { ignoreIndex: 99 };
    expect(await failure("webgpu", (b) => [crossEntropy(logits(b), ids([99, 1, 99, 2], b), ig)])).toBe("");
    await sameError((b) => [crossEntropy(logits(b), ids([99, 1, -1, 2], b), ig)], /target -1 at row 2 .* not ignoreIndex 99/);
  });

  it("crossEntropyBackward checks its targets too", async () => {
    await sameError((b) => {
      const z = logits(b), good = ids([1, 2, 3, 4], b);
      const { stats, count } = crossEntropyWithStats(z, good);
      return [crossEntropyBackward(fromValues([1], [], { backend: b }), z, ids([1, 2, 12, 4], b), stats, count)];
    }, /^crossEntropyBackward: target 12 at row 2 is outside \[0, 11\) \(vocabulary size 11\)/);
  });

  it("embedding and its backward: an id outside the table", async () => {
    const table = (b: BackendName) => randn([5, 4], { seed: 2, backend: b, requiresGrad: true });
    await sameError((b) => [embedding(ids([0, 4, 5, 1], b, [2, 2]), table(b))],
      /^embedding: id 5 at position 2 is outside \[0, 5\): the table has 5 rows \(vocabulary size 5\)/);
    await sameError((b) => {
      const t = table(b), y = embedding(ids([0, 4, 1, 1], b), t);
      y.sum().backward();
      return [t.grad!];
    }, /^$/); // in range: no error on either backend
  });

  it("GPT.forward with device token ids: the embedding error", async () => {
    const cfg = { nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 4, vocabSize: 7 };
    await sameError((b) => {
      const m = new GPT(cfg, { backend: b, seed: 1 });
      try {
        return [m.forward(ids([1, 2, 3, 9, 0, 0, 1, 2], b, [2, 4])).logits];
      } finally {
        m.dispose();
      }
    }, /^embedding: id 9 at position 3 is outside \[0, 7\)/);
  });

  it("indexSelect", async () => {
    await sameError((b) => [indexSelect(randn([4, 3], { seed: 3, backend: b }), 0, ids([1, 4], b))],
      /^indexSelect: index 4 at position 1 is out of range for axis 0 of x \[4, 3\] \(size 4\)/);
  });

  it("the fault is reported once, then the runtime reads normally; checks add no readback", async () => {
    const rt = await gpu();
    await expect(tidy(async () => readAll([crossEntropy(logits("webgpu"), ids([1, 2, 11, 4], "webgpu"))]))).rejects.toThrow(/target 11/);
    const r0 = rt.stats.readbacks;
    const [v] = await tidy(async () => readAll([crossEntropy(logits("webgpu"), ids([1, 2, 3, 4], "webgpu"))]));
    expect(Number.isFinite(v[0])).toBe(true);
    expect(rt.stats.readbacks - r0).toBe(1);
  });

  it("i32 tensors take only 32-bit integers (webgpu would truncate what cpu64 keeps)", () => {
    for (const b of ["cpu64", "webgpu"] as const) {
      expect(() => fromValues([1, 2.5], [2], { dtype: "i32", backend: b })).toThrow(/^tensor: i32 value 2.5 at index 1 is not a 32-bit integer/);
    }
  });
});

describe("host ids: checked where they enter, before any GPU work", () => {
  const cfg = { nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 4, vocabSize: 7 };
  const step = async (b: BackendName, x: number[], y: number[]) => {
    const m = new GPT(cfg, { backend: b, seed: 1 }), opt = AdamW.forModel(m);
    const tr = new Trainer(m, opt, { schedule: { lr: 1e-3, warmup: 1, total: 10 } });
    try {
      await tr.trainStep([{ B: 1, T: 4, x: Int32Array.from(x), y: Int32Array.from(y) }]);
      return "";
    } catch (e) {
      return (e as Error).message;
    } finally {
      m.dispose();
      opt.dispose();
    }
  };

  it("Trainer: token ids and targets give the same error on both backends, before a dispatch", async () => {
    const rt = await gpu();
    for (const [x, y, re] of [
      [[1, 2, 7, 0], [2, 3, 4, 5], /^embedding: id 7 at position 2 is outside \[0, 7\)/],
      [[1, 2, 3, 0], [2, -1, 8, 5], /^crossEntropy: target 8 at row 2 is outside \[0, 7\) \(vocabulary size 7\)/],
    ] as const) {
      const cpu = await step("cpu64", [...x], [...y]);
      const d0 = rt.stats.dispatches;
      const web = await step("webgpu", [...x], [...y]);
      expect(cpu).toMatch(re);
      expect(web).toBe(cpu);
      expect(rt.stats.dispatches).toBe(d0); // refused on the host
    }
    expect(await step("cpu64", [1, 2, 3, 0], [2, -1, -1, 5])).toBe(""); // ignoreIndex passes
  });

  it("ProbeSet.evaluate checks token ids and targets against the lens's vocabulary", async () => {
    for (const b of ["cpu64", "webgpu"] as const) {
      const m = new GPT(cfg, { backend: b, seed: 1 });
      const ps = new ProbeSet(m);
      ps.add(innerLoss());
      await expect(ps.evaluate([{ B: 1, T: 4, x: Int32Array.from([1, 2, 3, 4]), y: Int32Array.from([1, 9, 3, 4]) }]))
        .rejects.toThrow(/^crossEntropy: target 9 at row 1 is outside \[0, 7\)/);
      ps.dispose();
      m.dispose();
    }
  });
});
