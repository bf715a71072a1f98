// Numerics suite: f32 WGSL results against the f64 reference (cpu64) where f32 is known to lose
// relative precision: saturated softmax rows (cross-entropy forward/backward, softmax and
// log-softmax and their backward), causal attention with large scores, layerNorm with a large
// mean, and the logit-lens probes (D2 cosines, D1 losses) where the h⁰ lens is confident and right.
// Records per-row relative errors ‖gpu − f64‖₂ / ‖f64‖₂ (max over the rows of each kind) in the
// JSON's `numerics` section; a check fails above 1e-3 (1e-4 for the D2 cosines).
import {
  causalAttention, crossEntropy, fromValues, layerNorm, logSoftmax, mul, readAll, softmax, sum, tidy,
  type BackendName, type Tensor,
} from "../../src/node";
import { SplitMix32 } from "../../src/tensor/random";
import { rowRelErrors } from "../../testkit/check";
import { d2ConfidentLens, saturatedBatch, type RowKind } from "../../testkit/saturated";
import { record, type Suite, type SuiteContext } from "../lib/context";

/** Runs `f` on a backend (inputs are built from host values inside) and reads every result back. */
async function on(backend: BackendName, f: (b: BackendName) => Tensor[]): Promise<Float64Array[]> {
  return tidy(async () => readAll(f(backend)));
}

/** Max per-row relative error by row kind. */
function byKind(errs: number[], kinds: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  errs.forEach((e, r) => {
    out[kinds[r]] = Math.max(out[kinds[r]] ?? 0, e);
  });
  return out;
}

const oneHot = (targets: number[], V: number): number[] =>
  targets.flatMap((t) => Array.from({ length: V }, (_, j) => (j === t ? 1 : 0)));

/** Cross-entropy (per-row loss, dCE/dz), softmax / log-softmax and their backward on the stress batch. */
async function softmaxFamily(): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const V of [32, 37]) {
    const s = saturatedBatch(V);
    const hot = oneHot(s.targets, V);
    const run = (b: BackendName) => {
      const z = fromValues(s.logits, [s.N, V], { backend: b, requiresGrad: true });
      const t = fromValues(s.targets, [s.N], { backend: b, dtype: "i32" });
      const loss = crossEntropy(z, t, { reduction: "none" });
      sum(loss).backward();
      // softmax with dy = e_t (the gradient of p_t), log-softmax with dy = −e_t (NLL composed).
      const e = fromValues(hot, [s.N, V], { backend: b });
      const z2 = fromValues(s.logits, [s.N, V], { backend: b, requiresGrad: true });
      const p = softmax(z2);
      sum(mul(p, e)).backward();
      const z3 = fromValues(s.logits, [s.N, V], { backend: b, requiresGrad: true });
      const lp = logSoftmax(z3);
      sum(mul(lp, mul(e, -1))).backward();
      return [loss, z.grad!, p, z2.grad!, lp, z3.grad!];
    };
    const ref = await on("cpu64", run), got = await on("webgpu", run);
    const names = ["ce loss", "ce dz", "softmax", "softmax dz", "logSoftmax", "logSoftmax dz"];
    names.forEach((n, i) => {
      const width = n === "ce loss" ? 1 : V;
      out[`${n} V${V}`] = byKind(rowRelErrors(got[i], ref[i], width), s.kinds);
    });
    // log p_target itself (one element per row: the norm over a row hides the top element).
    const pick = (a: Float64Array) => s.targets.map((t, r) => (t < 0 ? 0 : a[r * V + t]));
    out[`logSoftmax at target V${V}`] = byKind(rowRelErrors(pick(got[4]), pick(ref[4]), 1), s.kinds);
  }
  return out;
}

/** Elementwise tanh near 0 and GELU (and its gradient) at negative x: relative error per element. */
async function activations(): Promise<Record<string, number>> {
  const small = Array.from({ length: 64 }, (_, i) => Math.fround((i % 2 ? -1 : 1) * 10 ** (-1 - i / 10)));
  const wide = Array.from({ length: 64 }, (_, i) => Math.fround(-9 + i * 0.25)); // gelu(−9) ≈ 2e-28: normal in f32
  const run = (b: BackendName) => {
    const t = fromValues(small, [64], { backend: b, requiresGrad: true });
    const th = t.tanh();
    sum(th).backward();
    const x = fromValues(wide, [64], { backend: b, requiresGrad: true });
    const ge = x.gelu();
    sum(ge).backward();
    return [th, t.grad!, ge, x.grad!];
  };
  const ref = await on("cpu64", run), got = await on("webgpu", run);
  const max = (a: number[]) => Math.max(...a);
  return {
    "tanh |x| 1e-7..0.1": max(rowRelErrors(got[0], ref[0], 1)), "tanh grad": max(rowRelErrors(got[1], ref[1], 1)),
    "gelu x -9..7": max(rowRelErrors(got[2], ref[2], 1)), "gelu grad": max(rowRelErrors(got[3], ref[3], 1)),
  };
}

/** Causal attention with large scores (|q·k|/√D up to ~100): y and dqkv per (b, t) row. */
async function attention(): Promise<Record<string, number>> {
  const B = 2, T = 16, H = 2, D = 8, C = H * D;
  const g = new SplitMix32(3);
  const qkv = Array.from({ length: B * T * 3 * C }, (_, i) => {
    const part = Math.floor((i % (3 * C)) / C);
    return Math.fround(g.normal() * (part < 2 ? 5 : 1));
  });
  const dy = Array.from({ length: B * T * C }, () => Math.fround(g.normal()));
  const run = (b: BackendName) => {
    const x = fromValues(qkv, [B, T, 3 * C], { backend: b, requiresGrad: true });
    const y = causalAttention(x, H);
    y.backward(fromValues(dy, [B, T, C], { backend: b }));
    return [y, x.grad!];
  };
  const ref = await on("cpu64", run), got = await on("webgpu", run);
  const max = (a: number[]) => Math.max(...a);
  return { "y": max(rowRelErrors(got[0], ref[0], C)), "dqkv": max(rowRelErrors(got[1], ref[1], 3 * C)) };
}

/** LayerNorm rows with mean 1e4 and std 1: y, dx, dw, db. */
async function layerNormLargeMean(): Promise<Record<string, number>> {
  const N = 8, C = 32;
  const g = new SplitMix32(4);
  const x = Array.from({ length: N * C }, () => Math.fround(1e4 + g.normal()));
  const w = Array.from({ length: C }, () => Math.fround(1 + 0.1 * g.normal()));
  const bb = Array.from({ length: C }, () => Math.fround(0.1 * g.normal()));
  const dy = Array.from({ length: N * C }, () => Math.fround(g.normal()));
  const run = (b: BackendName) => {
    const xs = fromValues(x, [N, C], { backend: b, requiresGrad: true });
    const ws = fromValues(w, [C], { backend: b, requiresGrad: true });
    const bs = fromValues(bb, [C], { backend: b, requiresGrad: true });
    const y = layerNorm(xs, ws, bs);
    y.backward(fromValues(dy, [N, C], { backend: b }));
    return [y, xs.grad!, ws.grad!, bs.grad!];
  };
  const ref = await on("cpu64", run), got = await on("webgpu", run);
  const max = (a: number[]) => Math.max(...a);
  return {
    y: max(rowRelErrors(got[0], ref[0], C)), dx: max(rowRelErrors(got[1], ref[1], C)),
    dw: max(rowRelErrors(got[2], ref[2], C)), db: max(rowRelErrors(got[3], ref[3], C)),
  };
}

async function measureAll(ctx: SuiteContext): Promise<void> {
  const sm = await softmaxFamily();
  const att = await attention();
  const ln = await layerNormLargeMean();
  const act = await activations();
  const d2 = await d2ConfidentLens();
  ctx.sections.numerics = { softmaxFamily: sm, attention: att, layerNorm: ln, activations: act, d2: d2 };
  // Accuracy rows, not timings (ms 0): the error is the check's maxErr and leads the note.
  const line = (name: string, shape: string, err: number, bound: number, note?: string) => record(ctx, {
    suite: "numerics", name, shape, impl: "metagrad", timing: "wall-e2e",
    ms: { median: 0, min: 0, max: 0, samples: 0 }, check: { shape: `per-row rel err ≤ ${bound}`, maxErr: err, ok: err <= bound },
    note: `max error ${err.toExponential(2)} (bound ${bound})${note ? `; ${note}` : ""}`,
  });
  const kinds: RowKind[] = ["right", "wrong", "tie", "ignored", "ordinary", "uniform"];
  for (const [k, v] of Object.entries(sm)) {
    const worst = Math.max(...kinds.map((kk) => v[kk] ?? 0));
    line(k, "stress rows", worst, 1e-3, kinds.map((kk) => `${kk} ${(v[kk] ?? 0).toExponential(1)}`).join(", "));
  }
  for (const [k, v] of Object.entries(att)) line(`attention ${k}`, "B2 T16 H2 D8, |s| ≲ 100", v, 1e-3);
  for (const [k, v] of Object.entries(ln)) line(`layerNorm ${k}`, "[8,32] mean 1e4 std 1", v, 1e-3);
  for (const [k, v] of Object.entries(act)) line(k, "[64] per element", v, 1e-3);
  d2.maxAbs.forEach((v, l) => line(`D2 cos layer ${l}`, `h0 lens margin ≥ ${d2.lens0Margin.toFixed(1)} nats`, v, 1e-4));
  d2.d1Rel.forEach((v, l) => line(`D1 inner loss stream ${l}`, `h0 lens margin ≥ ${d2.lens0Margin.toFixed(1)} nats`, v, 1e-3));
}

/** The numerics suite. */
export const numericsSuite: Suite = {
  name: "numerics",
  describe: "f32 vs f64 per-row relative errors on saturated softmax rows, large attention scores, large-mean layerNorm, D2 cosines",
  run: measureAll,
};
