// Shared by test/, bench/ and scripts/ (testkit): registry-driven checks. Builds each case's
// inputs on a backend, runs it, and compares against finite differences (cpu64, f64) or against
// cpu64 (webgpu, f32).
import { fromValues, noGrad, readAll, tidy, Tensor, type BackendName } from "../src/node";
import { SplitMix32 } from "../src/tensor/random";
import { numel, type Shape } from "../src/tensor/shape";
import { relativeBound, relativeError } from "./tolerance";

/** How to fill one input. */
export interface InputSpec {
  shape: Shape;
  dtype?: "f32" | "i32";
  /** `randn` (default), `pos` (uniform 0.5..2, for log/sqrt/div), `int` (0..high-1), or fixed values. */
  kind?: "randn" | "pos" | "int" | "unit";
  high?: number;
  values?: number[];
  /** Take no gradient for this input even though it is f32. */
  noGrad?: boolean;
}

/** A test case of one registry op. */
export interface OpCase {
  label: string;
  inputs: InputSpec[];
  run: (xs: Tensor[]) => Tensor | Tensor[];
  /** Skip the finite-difference check (e.g. non-differentiable ops). */
  noGradcheck?: boolean;
  /**
   * Skip only the finite differences (sizes where they would take minutes); the gradients are
   * still compared between webgpu and cpu64.
   */
  noFiniteDiff?: boolean;
  /** Output indices that carry no gradient (e.g. saved statistics). */
  nondiff?: number[];
  /** Finite-difference tolerance (default 1e-6 relative/absolute). */
  fdTol?: number;
  /**
   * Also bound the per-row relative error of every output and gradient, GPU vs f64:
   * ‖gpu − f64‖₂ ≤ rowTol · ‖f64‖₂ over each row (the last dim; rank ≤ 1: each element), a row whose
   * f64 values are all 0 must be 0. Elementwise atol cannot see a lost 1e-8 on a saturated row; this can.
   */
  rowTol?: number;
  /**
   * How many times larger than at unit scale the f32 error of this case is expected to be, for
   * inputs made ill-conditioned on purpose (stress cases); scales the op's bound. Default 1.
   */
  cond?: number;
}

/**
 * Makes input values for a case, deterministically from `seed`. Float inputs are f32 values, so
 * webgpu (f32) and cpu64 (f64) start from the same numbers and their difference is the kernels'.
 */
export function makeValues(spec: InputSpec, seed: number): Float64Array {
  if (spec.values) return Float64Array.from(spec.values, (v) => (spec.dtype === "i32" ? v : Math.fround(v)));
  const g = new SplitMix32(seed);
  const n = numel(spec.shape);
  const kind = spec.kind ?? (spec.dtype === "i32" ? "int" : "randn");
  return Float64Array.from({ length: n }, () =>
    kind === "int" ? Math.floor(g.uniform() * (spec.high ?? 4))
      : Math.fround(kind === "pos" ? 0.5 + 1.5 * g.uniform() : kind === "unit" ? g.uniform() : g.normal()));
}

/** Builds the case inputs on `backend` with the given values. */
export function build(c: OpCase, vals: Float64Array[], backend: BackendName, grad: boolean): Tensor[] {
  return c.inputs.map((s, i) => fromValues(vals[i], s.shape, {
    backend, dtype: s.dtype ?? "f32",
    requiresGrad: grad && (s.dtype ?? "f32") === "f32" && !s.noGrad,
  }));
}

/** Output list of a case run. */
export function outs(r: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(r) ? r : [r];
}

/** Random output weights (f32 values) so that the checked scalar is Σ_o Σ_i w_oi · out_oi. */
export function weights(os: Tensor[], seed: number): Float64Array[] {
  const g = new SplitMix32(seed);
  return os.map((o) => Float64Array.from({ length: o.size }, () => Math.fround(g.normal())));
}

/** Σ w·out over the differentiable outputs, read synchronously (cpu64 only). */
export function weighted(os: Tensor[], ws: Float64Array[], nondiff: number[] = []): number {
  let s = 0;
  os.forEach((o, k) => {
    if (nondiff.includes(k) || o.dtype !== "f32") return;
    const d = o.storage.f64;
    for (let i = 0; i < d.length; i++) s += d[i] * ws[k][i];
  });
  return s;
}

/** Runs backward with the output weights as output gradients (summing over outputs). */
export function backwardWith(os: Tensor[], ws: Float64Array[], nondiff: number[] = []): void {
  const roots = os.filter((o, k) => !nondiff.includes(k) && o.requiresGrad);
  roots.forEach((o, j) => {
    const k = os.indexOf(o);
    o.backward(fromValues(ws[k], o.shape, { backend: o.backend.name }), { retainGraph: j < roots.length - 1 });
  });
}

/** Central differences of a scalar function at `x`: (f(x + h·e_i) − f(x − h·e_i)) / 2h for every i. */
export function centralDiff(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < g.length; i++) {
    const p = x.slice(), m = x.slice();
    p[i] += h;
    m[i] -= h;
    g[i] = (f(p) - f(m)) / (2 * h);
  }
  return g;
}

/** Central-difference gradient of the weighted output wrt input `idx` on cpu64. */
export function numericGrad(c: OpCase, vals: Float64Array[], idx: number, ws: Float64Array[], h = 1e-6): Float64Array {
  return centralDiff((xi) => noGrad(() => {
    const v = vals.map((a, j) => (j === idx ? xi : a));
    const xs = build(c, v, "cpu64", false);
    const os = outs(c.run(xs));
    const r = weighted(os, ws, c.nondiff);
    for (const t of [...xs, ...os]) t.dispose();
    return r;
  }), vals[idx], h);
}

/** Max of |a-b| / (atol + rtol·|b|): ≤ 1 means close. Returns the worst index too. */
export function closeness(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): { ratio: number; at: number } {
  let ratio = 0, at = -1;
  if (a.length !== b.length) return { ratio: Infinity, at: -1 };
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(r <= ratio)) {
      ratio = Number.isNaN(r) ? Infinity : r;
      at = i;
    }
  }
  return { ratio, at };
}

/**
 * Relative error of each row of `got` against `ref` (row length `width`): ‖got − ref‖₂ / ‖ref‖₂;
 * a row whose reference is all zeros scores ‖got‖₂ (so it must be zero too).
 */
export function rowRelErrors(got: ArrayLike<number>, ref: ArrayLike<number>, width: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * width < ref.length; r++) {
    let d = 0, n = 0;
    for (let j = r * width; j < (r + 1) * width; j++) {
      d += (got[j] - ref[j]) ** 2;
      n += ref[j] ** 2;
    }
    out.push(n > 0 ? Math.sqrt(d / n) : Math.sqrt(d));
  }
  return out;
}

/** Outputs and gradients of one case run on one backend, read back in one round trip. */
export interface CaseRun {
  outs: Float64Array[];
  grads: Float64Array[];
  /** Row length of each output, then of each gradient (the last dim; 1 for rank ≤ 1). */
  widths: number[];
}

/** Runs case `c` on `backend` with fixed inputs and output weights; backward unless noGradcheck. */
export function runCase(c: OpCase, vals: Float64Array[], backend: BackendName): Promise<CaseRun> {
  return tidy(async () => {
    const xs = build(c, vals, backend, !c.noGradcheck);
    const os = outs(c.run(xs));
    const ws = weights(os, 7);
    if (!c.noGradcheck) backwardWith(os, ws, c.nondiff);
    const grads = xs.filter((x) => x.grad).map((x) => x.grad!);
    const data = await readAll([...os, ...grads]);
    const widths = [...os, ...grads].map((t) => (t.rank <= 1 ? 1 : t.shape[t.rank - 1]));
    return { outs: data.slice(0, os.length), grads: data.slice(os.length), widths };
  });
}

/** One output or gradient of a case: its error relative to its largest f64 value, and the op's bound. */
export interface TensorError {
  what: string;
  error: number;
  bound: number;
}

/**
 * Runs `c` (a case of `op`) on webgpu and cpu64 and measures every output and gradient against
 * the op's bound (testkit/tolerance.ts; `slack` scales it, e.g. for a hardware adapter's exp).
 */
export async function measureVsF64(c: OpCase, op: string, slack = 1): Promise<{ errors: TensorError[]; problems: string[] }> {
  const vals = c.inputs.map((s, i) => makeValues(s, 100 + i));
  const ref = await runCase(c, vals, "cpu64");
  const got = await runCase(c, vals, "webgpu");
  const bound = slack * relativeBound(op, c.inputs.map((s) => s.shape), c.cond);
  const problems: string[] = [];
  const errors: TensorError[] = [];
  if (got.grads.length !== ref.grads.length) problems.push(`${got.grads.length} gradients vs ${ref.grads.length} on cpu64`);
  const all = [...got.outs, ...got.grads], refs = [...ref.outs, ...ref.grads];
  refs.forEach((r, k) => {
    const what = k < ref.outs.length ? `output ${k}` : `grad ${k - ref.outs.length}`;
    const error = relativeError(all[k] ?? [], r);
    errors.push({ what, error, bound });
    if (!(error <= bound)) {
      problems.push(`${what}: max |gpu − f64| is ${error.toPrecision(3)} of max |f64|, over the bound ` +
        `${bound.toPrecision(3)} (${(error / bound).toFixed(1)}×)`);
    }
    if (c.rowTol !== undefined) {
      const e = rowRelErrors(all[k], r, ref.widths[k]);
      const worst = e.reduce((w, v, i) => (v > e[w] || Number.isNaN(v) ? i : w), 0);
      if (!(e[worst] <= c.rowTol)) problems.push(`${what} row ${worst}: relative error ${e[worst]} > ${c.rowTol}`);
    }
  });
  return { errors, problems };
}

/** Runs `c` (a case of `op`) on webgpu and cpu64 and lists every output or gradient outside the op's bound. */
export async function compareWithF64(c: OpCase, op: string, slack = 1): Promise<string[]> {
  return (await measureVsF64(c, op, slack)).problems;
}
