// Shared by test/, bench/ and scripts/ (testkit): a stress batch of saturated softmax rows (the class of input where f32 softmax /
// cross-entropy gradients lose relative precision): confident-and-right rows with margins of
// 15–30 nats at small and huge |z|, confident-and-wrong rows, ties, ignored rows, ordinary rows.
// Values are f32-exact so that webgpu (f32) and cpu64 (f64) see the same inputs. Shared by the op
// test cases and the bench's numerics suite.
import { fromValues, noGrad, tidy, type BackendName } from "../src/node";
import { GPT, setValues } from "../src/nn/index";
import { ProbeSet, alignment, innerLoss } from "../src/probes/index";
import { SplitMix32 } from "../src/tensor/random";

/** What kind of row each stress row is (for reports). */
export type RowKind = "right" | "wrong" | "tie" | "ignored" | "ordinary" | "uniform";

/** One row of the stress batch: how it is built. */
interface RowSpec {
  kind: RowKind;
  /** Added to every logit of the row. */
  base: number;
  /** The top logit is `base + margin` above the others' N(0, spread²) draws. */
  margin: number;
  spread: number;
}

const ROWS: RowSpec[] = [
  { kind: "right", base: 0, margin: 15, spread: 1 },
  { kind: "right", base: 0, margin: 20, spread: 1 },
  { kind: "right", base: 0, margin: 25, spread: 1 },
  { kind: "right", base: 0, margin: 30, spread: 1 },
  { kind: "right", base: 20, margin: 18, spread: 1 },
  { kind: "right", base: -40, margin: 22, spread: 2 },
  { kind: "right", base: 0, margin: 27, spread: 3 },
  { kind: "right", base: 1e4, margin: 20, spread: 1 },
  { kind: "right", base: -1e4, margin: 16, spread: 1 },
  { kind: "right", base: 3000, margin: 29, spread: 1 },
  { kind: "wrong", base: 0, margin: 25, spread: 1 },
  { kind: "wrong", base: 20, margin: 30, spread: 1 },
  { kind: "wrong", base: 1e4, margin: 18, spread: 1 },
  { kind: "tie", base: 5, margin: 22, spread: 1 },
  { kind: "ignored", base: 0, margin: 25, spread: 1 },
  { kind: "ignored", base: 1e4, margin: 15, spread: 1 },
  { kind: "ordinary", base: 0, margin: 0, spread: 1 },
  { kind: "ordinary", base: 30, margin: 2, spread: 2 },
  { kind: "uniform", base: 7, margin: 0, spread: 0 },
];

/** A stress batch: logits [N, V] (row-major, f32-exact), targets [N] and each row's kind. */
export interface SaturatedBatch {
  N: number;
  V: number;
  logits: number[];
  targets: number[];
  kinds: RowKind[];
}

/**
 * The saturated-row stress batch over `V` classes (V ≥ 4), deterministic for `seed`. Ignored rows
 * have target `ignoreIndex`; a tie row has two equal top logits, its target one of them.
 */
export function saturatedBatch(V: number, seed = 1, ignoreIndex = -1): SaturatedBatch {
  const g = new SplitMix32(seed);
  const logits: number[] = [], targets: number[] = [];
  for (const r of ROWS) {
    const top = Math.floor(g.uniform() * V);
    const row = Array.from({ length: V }, () => r.base + r.spread * g.normal());
    if (r.kind !== "ordinary" && r.kind !== "uniform") {
      const rest = Math.max(...row.filter((_, j) => j !== top));
      row[top] = rest + r.margin;
    }
    if (r.kind === "ordinary") row[top] += r.margin;
    const other = (top + 1 + Math.floor(g.uniform() * (V - 1))) % V;
    if (r.kind === "tie") row[other] = row[top];
    logits.push(...row.map(Math.fround));
    targets.push(r.kind === "ignored" ? ignoreIndex : r.kind === "wrong" || r.kind === "tie" ? other : top);
  }
  return { N: ROWS.length, V, logits, targets, kinds: ROWS.map((r) => r.kind) };
}

/** A model whose h⁰ logit lens is confident: token embeddings N(0, scale²), copy targets y = x. */
export const CONFIDENT_LENS = { nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 8, vocabSize: 11 } as const;

/** Builds the confident-lens GPT on `backend` (weights f32-exact, equal on both backends). */
export async function confidentLensModel(backend: BackendName): Promise<GPT> {
  const model = new GPT(CONFIDENT_LENS, { backend, seed: 5 });
  for (const [name, p] of model.namedParameters()) {
    const v = await p.data();
    const scale = name === "wte.weight" ? 1 / 0.02 : 1; // wte N(0, 1): the h⁰ lens is confident
    setValues(p, Array.from(v, (x) => Math.fround(x * scale)));
  }
  return model;
}

/** The confident-lens batch: x, copy targets y = x, one ignored position and one wrong target. */
export function confidentLensBatch(): { B: number; T: number; x: Int32Array; y: Int32Array } {
  const B = 2, T = CONFIDENT_LENS.blockSize, V = CONFIDENT_LENS.vocabSize;
  const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V);
  const y = Int32Array.from(x, (v, i) => (i === 5 ? -1 : i === 9 ? (v + 1) % V : v));
  return { B, T, x, y };
}

/**
 * The logit-lens probes on the confident-lens batch, webgpu vs cpu64: D2's per-position cosines
 * (max |Δ| per layer) and D1's per-position inner losses (max relative error per stream index).
 */
export async function d2ConfidentLens(): Promise<{ maxAbs: number[]; d1Rel: number[]; lens0Margin: number }> {
  const batch = confidentLensBatch();
  const per = async (backend: BackendName) => {
    const model = await confidentLensModel(backend);
    const ps = new ProbeSet(model);
    const d1 = ps.add(innerLoss());
    const d2 = ps.add(alignment({ seed: 4 }));
    const rep = await ps.evaluate([batch]);
    const r = { cos: rep.get(d2).perPosition, loss: rep.get(d1).perPosition };
    ps.dispose();
    model.dispose();
    return r;
  };
  const ref = await per("cpu64"), got = await per("webgpu");
  const worst = (a: Float64Array, f: (i: number) => number) => a.reduce((m, v, i) => (Number.isNaN(v) ? m : Math.max(m, f(i))), 0);
  const maxAbs = ref.cos.map((a, l) => worst(a, (i) => Math.abs(got.cos[l][i] - a[i])));
  const d1Rel = ref.loss.map((a, l) => worst(a, (i) => Math.abs(got.loss[l][i] - a[i]) / Math.abs(a[i])));
  // How confident the h⁰ lens is: the smallest top-1 margin (nats) over the scored positions.
  const model = await confidentLensModel("cpu64");
  const lens0Margin = await noGrad(() => tidy(async () => {
    const { B, T, x, y } = batch, V = CONFIDENT_LENS.vocabSize;
    const ids = fromValues(x, [B, T], { dtype: "i32", backend: "cpu64" });
    const pos = fromValues(Array.from({ length: T }, (_, i) => i), [T], { dtype: "i32", backend: "cpu64" });
    const h0 = model.wte.forward(ids).add(model.wpe.forward(pos));
    const z = (await model.unembed(model.lnF.forward(h0)).data());
    let m = Infinity;
    for (let i = 0; i < B * T; i++) {
      if (y[i] !== x[i]) continue;
      const row = z.subarray(i * V, (i + 1) * V);
      const top = row[x[i]];
      m = Math.min(m, top - Math.max(...row.filter((_, j) => j !== x[i])));
    }
    return m;
  }));
  model.dispose();
  return { maxAbs, d1Rel, lens0Margin };
}
