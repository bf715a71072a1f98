// ProbeSet with D1 (logit-lens inner loss), D3 (norms) and D2 (alignment, a grad() inside the
// forward) on a tiny GPT: probes change neither losses nor gradients (bit-identical on webgpu), a probed step still reads back once, the ring
// delivers every step's record, GPU values match cpu64, and D1 at layer L is the model's loss.
import { beforeAll, describe, expect, test } from "vitest";
import { fromValues, gpuRuntime, readAll, tidy } from "../src/node";
import { Linear, Module, type LMBatch } from "../src/nn/index";
import { ProbeSet, alignment, innerLoss, matchTap, norms, type ProbeRecord } from "../src/probes/index";
import { gpu } from "./helpers/gpu";
import { TINY, tinyBatch, tinySetup } from "./helpers/tiny-gpt";

const B = 2, T = 8;
const batch = (offset = 0): LMBatch => tinyBatch(B, offset, 5);

function close(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 2e-4, atol = 1e-5): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i])) expect(a[i]).toBeNaN();
    else expect(Math.abs(a[i] - b[i]), `at ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(atol + rtol * Math.abs(b[i]));
  }
}

beforeAll(async () => {
  await gpu();
});

describe("ProbeSet in training (D1, D3)", () => {
  test("webgpu: losses and final parameters are bit-identical with probes on and off; one readback per step", async () => {
    const rt = gpuRuntime()!;
    const run = async (probed: boolean) => {
      const s = tinySetup("webgpu");
      const ps = probed ? new ProbeSet(s.model, { ringSize: 3 }) : null;
      ps?.add(innerLoss());
      ps?.add(norms());
      ps?.add(alignment(), { every: 2 }); // D2 runs grad() inside the forward
      const losses: number[] = [], records: ProbeRecord[] = [];
      for (let i = 0; i < 5; i++) {
        const before = { ...rt.stats };
        const b = [batch(i % 2)];
        const r = ps ? await ps.trainStep(s.trainer, b) : { ...(await s.trainer.trainStep(b)), records: [] };
        if (i > 0) {
          expect(rt.stats.readbacks - before.readbacks).toBe(1);
          expect(rt.stats.submits - before.submits).toBeLessThanOrEqual(3);
        }
        losses.push(r.loss);
        records.push(...r.records);
      }
      if (ps) records.push(...(await ps.flush()));
      const params = await readAll(s.model.parameters());
      ps?.dispose();
      s.dispose();
      return { losses, params, records };
    };
    const off = await run(false);
    const on = await run(true);
    expect(on.losses).toEqual(off.losses);
    on.params.forEach((p, i) => expect(p).toEqual(off.params[i]));
    expect(on.records.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    expect(on.records.map((r) => "D2.cos" in r.values)).toEqual([true, false, true, false, true]);
    for (const [i, r] of on.records.entries()) {
      expect(r.values["D1.inner_loss"]).toHaveLength(TINY.nLayer + 1);
      expect(r.values["D3.norm"]).toHaveLength(TINY.nLayer + 1);
      // ℓ^L is the model's own training loss (same kernels, same values).
      expect(r.values["D1.inner_loss"][TINY.nLayer]).toBeCloseTo(on.losses[i], 5);
    }
  });

  test("webgpu: every parameter gradient is bit-identical with the hook armed (hand-written step API)", async () => {
    const s = tinySetup("webgpu");
    const grads = async (ps: ProbeSet | null) => tidy(async () => {
      ps?.beginStep(0, [batch()]);
      const b = batch();
      const x = fromValues(b.x, [B, T], { dtype: "i32" }), y = fromValues(b.y, [B, T], { dtype: "i32" });
      s.model.forward(x, y).loss!.backward();
      const extra = ps?.endStep() ?? [];
      const vals = await readAll([...s.model.parameters().map((p) => p.grad!), ...extra]);
      s.model.zeroGrad();
      const recs = ps && extra.length ? ps.ingest(vals.at(-1)!) : [];
      return { g: vals.slice(0, s.model.parameters().length), recs };
    });
    const off = await grads(null);
    const ps = new ProbeSet(s.model, { ringSize: 1 });
    ps.add(innerLoss());
    ps.add(norms());
    ps.add(alignment());
    const on = await grads(ps);
    on.g.forEach((g, i) => expect(g).toEqual(off.g[i]));
    expect(on.recs).toHaveLength(1);
    ps.dispose();
    s.dispose();
  });

  test("gradient accumulation: the record is the mean over micro-batches (cpu64)", async () => {
    const s = tinySetup("cpu64");
    const ps = new ProbeSet(s.model, { ringSize: 1 });
    ps.add(innerLoss());
    const r = await ps.trainStep(s.trainer, [batch(0), batch(1)]);
    expect(r.records[0].values["D1.inner_loss"][TINY.nLayer]).toBeCloseTo(r.loss, 12);
    ps.dispose();
    s.dispose();
  });

  test("the stacked once-per-forward path (lastTap) equals the per-tap path for D1, D2, D3 (cpu64)", async () => {
    const recs = await Promise.all([undefined, null].map(async (lastTap) => {
      const s = tinySetup("cpu64");
      const ps = new ProbeSet(s.model, { ringSize: 1, lastTap });
      ps.add(innerLoss());
      ps.add(norms());
      ps.add(alignment());
      const out: ProbeRecord[] = [];
      for (let i = 0; i < 2; i++) out.push(...(await ps.trainStep(s.trainer, [batch(i)])).records);
      ps.dispose();
      s.dispose();
      return out;
    }));
    const [stacked, perTap] = recs;
    expect(Object.keys(stacked[0].values).sort()).toEqual(Object.keys(perTap[0].values).sort());
    for (let i = 0; i < 2; i++) {
      for (const [k, v] of Object.entries(perTap[i].values)) {
        expect(stacked[i].values[k]).toHaveLength(v.length);
        v.forEach((x, l) => expect(stacked[i].values[k][l], `${k}[${l}] step ${i}`).toBeCloseTo(x, 10));
      }
    }
  });

  test("every: a probe scheduled every 2 steps appears only in even steps", async () => {
    const s = tinySetup("cpu64");
    const ps = new ProbeSet(s.model, { ringSize: 1 });
    ps.add(innerLoss());
    ps.add(norms(), { every: 2 });
    const recs: ProbeRecord[] = [];
    for (let i = 0; i < 3; i++) recs.push(...(await ps.trainStep(s.trainer, [batch()])).records);
    expect(recs.map((r) => Object.keys(r.values).sort().join())).toEqual(["D1.inner_loss,D3.norm", "D1.inner_loss", "D1.inner_loss,D3.norm"]);
    ps.dispose();
    s.dispose();
  });
});

describe("evaluation pass (D1, D3)", () => {
  test("webgpu matches cpu64 on every output; unscored positions are NaN", async () => {
    const res = await Promise.all((["cpu64", "webgpu"] as const).map(async (backend) => {
      const s = tinySetup(backend);
      const ps = new ProbeSet(s.model);
      const d1 = ps.add(innerLoss()), d3 = ps.add(norms());
      const rep = await ps.evaluate([batch(0), batch(1)]);
      const out = { d1: rep.get(d1), d3: rep.get(d3), scalars: rep.scalars, defs: rep.definitions };
      ps.dispose();
      s.dispose();
      return out;
    }));
    const [cpu, web] = res;
    close(web.d1.perLayer, cpu.d1.perLayer);
    for (let l = 0; l <= TINY.nLayer; l++) {
      close(web.d1.perPosition[l], cpu.d1.perPosition[l]);
      close(web.d3.perPosition[l], cpu.d3.perPosition[l]);
      close(web.d3.byToken[l], cpu.d3.byToken[l]);
      close(web.d3.byNextToken[l], cpu.d3.byNextToken[l]);
      close(web.d3.byPosition[l], cpu.d3.byPosition[l]);
    }
    close(web.d3.embeddingNorm!, cpu.d3.embeddingNorm!);
    expect(cpu.d1.shape).toEqual([2 * B, T]);
    expect(cpu.d1.perPosition[0][5]).toBeNaN();
    expect(cpu.d3.tokenCount.reduce((a, b) => a + b, 0)).toBe(2 * B * T);
    expect(cpu.defs.D1).toMatch(/^D1: inner loss: logit-lens/);
    // A token's mean norm at layer 0 equals the hand-computed mean over its occurrences.
    const b0 = [batch(0), batch(1)];
    const x = [...b0[0].x, ...b0[1].x];
    const v = x[0];
    let s = 0, n = 0;
    x.forEach((id, i) => { if (id === v) { s += cpu.d3.perPosition[0][i]; n++; } });
    expect(cpu.d3.byToken[0][v]).toBeCloseTo(s / n, 12);
    // Scalars of the pass are the per-forward means, averaged.
    expect(cpu.scalars["D3.norm"][1]).toBeCloseTo(cpu.d3.perLayer[1], 12);
  });
});

describe("attaching to any Module", () => {
  class Tiny extends Module {
    readonly a = this.child("a", new Linear(4, 4, { backend: "cpu64", seed: 1 }));
    readonly b = this.child("b", new Linear(4, 4, { backend: "cpu64", seed: 2 }));
    forward(x: import("../src/node").Tensor) {
      const h = this.tap("h0", x);
      const h1 = this.tap("layers.0.out", this.a.forward(h));
      return this.tap("layers.1.out", this.b.forward(h1));
    }
  }

  test("glob patterns select taps; a custom probe records arrays; norms on the chosen taps", async () => {
    expect(matchTap("blocks.*.out", "blocks.3.out")).toBe(true);
    expect(matchTap("blocks.*.out", "blocks.3.mlp.out")).toBe(false);
    expect(matchTap("**.out", "blocks.3.mlp.out")).toBe(true);
    expect(matchTap("blocks.**", "blocks.3.mlp.out")).toBe(true);
    const m = new Tiny();
    const seen: string[] = [];
    // The module maps float features; the pass's forward builds them from the batch.
    const feats = (b: { B: number; T: number }) =>
      fromValues(Array.from({ length: b.B * b.T * 4 }, (_, i) => (i % 5) - 2), [b.B * b.T, 4], { backend: "cpu64" });
    const ps = new ProbeSet(m, { forward: (_x, b) => m.forward(feats(b)) });
    const d3 = ps.add(norms({ taps: ["layers.*.out"], vocabSize: 4 }));
    const mine = ps.add({
      name: "mine", definition: "custom", reading: "row sums of the tap", taps: ["layers.1.out"],
      onTap: (name, x, i, ctx) => { seen.push(`${name}:${i}`); ctx.array("mine.sum", i, x.sum(-1), "concat"); },
      finish: (out) => out.arrays("mine.sum")[0].data,
    });
    const rep = await ps.evaluate([{ B: 1, T: 2, x: Int32Array.from([0, 1]) }]);
    expect(seen).toEqual(["layers.1.out:0"]);
    expect(rep.get(d3).perLayer).toHaveLength(2); // layers.0.out, layers.1.out
    const want = await tidy(() => m.forward(feats({ B: 1, T: 2 })).sum(-1)).data();
    expect([...rep.get(mine)]).toEqual([...want]);
    expect(rep.definitions.mine).toBe("custom (mine): row sums of the tap");
    const bare = new ProbeSet(m);
    await expect(bare.evaluate([{ B: 1, T: 2, x: Int32Array.from([0, 1]) }])).rejects.toThrow(/pass \{ forward/);
    bare.dispose();
    ps.dispose();
    expect(m.tapHook).toBeNull();
    m.dispose();
  });
});
