// D2 inner-gradient alignment: the functional inner gradient matches central differences (cpu64,
// f64), leaves every parameter .grad alone, and the probe's per-layer values agree between webgpu
// and cpu64 and with a hand computation from the taps, also where the logit lens is confident (saturated rows).
import { beforeAll, expect, test } from "vitest";
import { crossEntropy, fromValues, noGrad, randn, readAll, tidy, type BackendName, type Tensor } from "../src/node";
import { GPT, type GPTConfig } from "../src/nn/index";
import { ProbeSet, alignment, gptLens, innerGradient, lensLogits } from "../src/probes/index";
import { centralDiff } from "../testkit/check";
import { gpu } from "./helpers/gpu";
import { d2ConfidentLens } from "../testkit/saturated";

const CFG: GPTConfig = { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11 };
const B = 2, T = 8;
const X = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 11);
const Y = Int32Array.from({ length: B * T }, (_, i) => (i % T === 2 ? -1 : (i * 5 + 1) % 11));

beforeAll(async () => {
  await gpu();
});

test("inner gradient = central differences of Σ_t ℓ_t through LN_f and W_U (cpu64, f64)", async () => {
  const model = new GPT(CFG, { backend: "cpu64", seed: 3 });
  const lens = gptLens(model);
  const N = 4, C = CFG.nEmbd;
  const h0 = await randn([N, C], { seed: 9, backend: "cpu64" }).data();
  const tg = fromValues([1, 4, -1, 7], [N], { dtype: "i32", backend: "cpu64" });
  const loss = (v: Float64Array) => noGrad(() => tidy(() => {
    const z = lensLogits(lens, fromValues(v, [N, C], { backend: "cpu64" }));
    return crossEntropy(z, tg, { reduction: "sum" }).storage.f64[0];
  }));
  const g = await tidy(() => innerGradient(lens, fromValues(h0, [N, C], { backend: "cpu64" }), tg)).data();
  const fd = centralDiff(loss, h0);
  for (let i = 0; i < N * C; i++) {
    expect(Math.abs(g[i] - fd[i]), `entry ${i}`).toBeLessThan(1e-7 + 1e-6 * Math.abs(fd[i]));
  }
  for (let i = 2 * C; i < 3 * C; i++) expect(g[i]).toBe(0); // the ignored row has no gradient
  for (const p of model.parameters()) expect(p.grad).toBeNull();
  model.dispose();
});

async function evalD2(backend: BackendName) {
  const model = new GPT(CFG, { backend, seed: 5 });
  const ps = new ProbeSet(model);
  const d2 = ps.add(alignment({ seed: 4 }));
  const taps = new Map<string, Float64Array>();
  const rep = await ps.evaluate([{ B, T, x: X, y: Y }]);
  // Hand computation from the taps (cpu64 only): h^l, h^{l+1}, attn/mlp parts and g^l.
  if (backend === "cpu64") {
    const m2 = new GPT(CFG, { backend, seed: 5 });
    const got = new Map<string, Tensor>();
    m2.setTapHook((n, x) => got.set(n, x));
    await tidy(async () => {
      m2.forward(fromValues(X, [B, T], { dtype: "i32", backend }));
      const names = [...got.keys()];
      const vals = await readAll(names.map((n) => got.get(n)!));
      names.forEach((n, i) => taps.set(n, vals[i]));
      const tg = fromValues(Y, [B * T], { dtype: "i32", backend });
      for (let l = 0; l < CFG.nLayer; l++) {
        taps.set(`g${l}`, await innerGradient(gptLens(m2), got.get(`blocks.${l}.in`)!, tg).data());
      }
    });
    m2.dispose();
  }
  const out = rep.get(d2);
  ps.dispose();
  model.dispose();
  return { out, taps, scalars: rep.scalars };
}

test("D2 per layer: webgpu matches cpu64, and cpu64 matches a hand computation from the taps", async () => {
  const cpu = await evalD2("cpu64");
  const web = await evalD2("webgpu");
  for (const k of ["cos", "cosAttn", "cosMlp", "cosRandom", "eta", "gradNorm"] as const) {
    cpu.out[k].forEach((v, l) => expect(Math.abs(web.out[k][l] - v), `${k}[${l}]`).toBeLessThan(1e-4 + 1e-4 * Math.abs(v)));
  }
  const C = CFG.nEmbd;
  for (let l = 0; l < CFG.nLayer; l++) {
    const h = cpu.taps.get(`blocks.${l}.in`)!, o = cpu.taps.get(`blocks.${l}.out`)!, g = cpu.taps.get(`g${l}`)!;
    let cs = 0, n = 0, dot = 0, gg = 0;
    for (let t = 0; t < B * T; t++) {
      if (Y[t] === -1) continue;
      let d = 0, uu = 0, g2 = 0;
      for (let c = 0; c < C; c++) {
        const u = o[t * C + c] - h[t * C + c];
        d -= u * g[t * C + c];
        uu += u * u;
        g2 += g[t * C + c] ** 2;
      }
      cs += d / Math.sqrt(uu * g2);
      n++;
      dot += d;
      gg += g2;
    }
    expect(cpu.out.cos[l]).toBeCloseTo(cs / n, 10);
    expect(cpu.out.eta[l]).toBeCloseTo(dot / gg, 10);
    expect(cpu.scalars["D2.cos"][l]).toBeCloseTo(cs / n, 10);
    expect(Math.abs(cpu.out.cosRandom[l])).toBeLessThan(0.5);
  }
  expect(cpu.out.perPosition[0][2]).toBeNaN();
  expect(cpu.out.shape).toEqual([B, T]);
});

test("D2 cosines within 1e-4 and D1 losses within 1e-3 relative of f64 where the h⁰ logit lens is confident and right", async () => {
  // Saturated lens rows are where an f32 p_y − 1 rounds to 0 and g loses all relative precision,
  // and where a loss of 1e-8 nats computed as lse − z_y rounds to 0.
  const { maxAbs, d1Rel, lens0Margin } = await d2ConfidentLens();
  expect(lens0Margin).toBeGreaterThan(15);
  maxAbs.forEach((d, l) => expect(d, `D2 layer ${l}`).toBeLessThanOrEqual(1e-4));
  d1Rel.forEach((d, l) => expect(d, `D1 stream ${l}`).toBeLessThanOrEqual(1e-3));
});
