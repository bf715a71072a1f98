// Op suites: layerNorm, softmax + cross-entropy, AdamW and elementwise
// bandwidth. Each case checks forward (and gradients) against cpu64 on a small shape, then times
// the op's kernels (forward, and backward through autograd) replayed in a timestamped pass.
import { fromValues, noGrad, randint, randn, type Tensor } from "../../src/node";
import * as mg from "../../src/node";
import { record, type Suite, type SuiteContext } from "../lib/context";
import { checkVsCpu64, shp, timeEncoded } from "../lib/harness";
import { hasOp, lookupOp } from "../lib/ops-lookup";

type Backend = "cpu64" | "webgpu";

/** One op case: inputs on a backend, the forward, and the work it does. */
interface OpCase {
  label: string;
  shape: string;
  /** Makes inputs (f32 inputs that should get gradients have requiresGrad). */
  inputs: (backend: Backend, small: boolean) => Tensor[];
  fwd: (xs: Tensor[]) => Tensor;
  /** Whether to time the backward too (autograd from a fixed upstream gradient). */
  backward: boolean;
  flop?: { fwd: number; bwd: number };
  bytes?: { fwd: number; bwd: number };
}

function dyFor(y: Tensor, backend: Backend): Tensor {
  return randn(y.shape as number[], { seed: 99, backend });
}

/** Checks forward and gradients on cpu64 vs webgpu, then times forward and backward. */
async function benchCase(ctx: SuiteContext, suite: string, c: OpCase): Promise<void> {
  const check = await checkVsCpu64((backend) => {
    const xs = c.inputs(backend, true);
    const y = c.fwd(xs);
    if (!c.backward) return [y];
    y.backward(dyFor(y, backend));
    return [y, ...xs.filter((x) => x.grad).map((x) => x.grad!)];
  }, 5e-4, 5e-3);
  const xs = c.inputs("webgpu", false);
  const fwd = await timeEncoded(`${c.label} fwd`, () => {
    noGrad(() => c.fwd(xs));
  }, ctx.budget);
  const thr = (kind: "fwd" | "bwd", ms: number) => ({
    gflops: c.flop ? c.flop[kind] / ms / 1e6 : undefined,
    gbps: c.bytes ? c.bytes[kind] / ms / 1e6 : undefined,
  });
  record(ctx, {
    suite, name: `${c.label} fwd`, shape: c.shape, impl: "metagrad", timing: fwd.source, ms: fwd.stats,
    ...thr("fwd", fwd.stats.median), check: { shape: "small", ...check },
    pipelines: fwd.pipelines, firstRunMs: fwd.firstRunMs, dispatches: fwd.dispatches, jsUsPerDispatch: fwd.jsUsPerDispatch,
  });
  if (c.backward) {
    const y = mg.keep(c.fwd(xs));
    const dy = mg.keep(dyFor(y, "webgpu"));
    const bwd = await timeEncoded(`${c.label} bwd`, () => {
      for (const x of xs) {
        x.grad?.dispose();
        x.grad = null;
      }
      y.backward(dy, { retainGraph: true });
      for (const x of xs) if (x.grad) mg.keep(x.grad);
    }, ctx.budget);
    record(ctx, {
      suite, name: `${c.label} bwd`, shape: c.shape, impl: "metagrad", timing: bwd.source, ms: bwd.stats,
      ...thr("bwd", bwd.stats.median), check: { shape: "small (grads)", ...check },
      pipelines: bwd.pipelines, firstRunMs: bwd.firstRunMs, dispatches: bwd.dispatches, jsUsPerDispatch: bwd.jsUsPerDispatch,
    });
    for (const x of xs) x.grad?.dispose();
    y.dispose();
    dy.dispose();
  }
  for (const x of xs) x.dispose();
}

async function runCases(ctx: SuiteContext, suite: string, needs: string[], cases: OpCase[]): Promise<void> {
  const missing = needs.filter((n) => !hasOp(n));
  if (missing.length) {
    ctx.log(`  skipped: op(s) ${missing.join(", ")} not in src/tensor/ops yet`);
    const un = (ctx.sections.unavailable ??= {}) as Record<string, string>;
    un[suite] = `ops not available: ${missing.join(", ")}`;
    return;
  }
  for (const c of cases) await benchCase(ctx, suite, c);
}

const f32 = (n: number) => 4 * n;

function layerNormCases(quick: boolean): OpCase[] {
  const shapes = quick ? [[4096, 256]] : [[4096, 256], [4096, 1024], [1024, 768]];
  const ln = lookupOp<(x: Tensor, w: Tensor, b: Tensor, eps?: number) => Tensor>;
  return shapes.map(([R, C]) => ({
    label: "layerNorm", shape: shp([R, C]), backward: true,
    inputs: (backend, small) => {
      const [r, c] = small ? [6, 20] : [R, C];
      return [randn([r, c], { seed: 2, backend, requiresGrad: true }), randn([c], { seed: 3, backend, mean: 1, std: 0.1, requiresGrad: true }),
        randn([c], { seed: 4, backend, std: 0.1, requiresGrad: true })];
    },
    fwd: ([x, w, b]) => ln("layerNorm")(x, w, b, 1e-5),
    bytes: { fwd: f32(2 * R * C), bwd: f32(3 * R * C) }, // fwd: read x, write y; bwd: read x, dy, write dx
  }));
}

function softmaxCases(quick: boolean): OpCase[] {
  const shapes = quick ? [[4096, 1024]] : [[4096, 1024], [16384, 256], [1024, 4096]];
  const out: OpCase[] = shapes.map(([R, C]) => ({
    label: "softmax", shape: shp([R, C]), backward: true,
    inputs: (backend, small) => [randn(small ? [5, 33] : [R, C], { seed: 5, backend, std: 2, requiresGrad: true })],
    fwd: ([x]) => mg.softmax(x, -1),
    bytes: { fwd: f32(2 * R * C), bwd: f32(3 * R * C) },
  }));
  if (hasOp("crossEntropy")) {
    const ce = lookupOp<(l: Tensor, t: Tensor) => Tensor>("crossEntropy");
    for (const [N, V] of quick ? [[4096, 1024]] : [[4096, 1024], [1024, 8192]]) {
      out.push({
        label: "crossEntropy", shape: shp([N, V]), backward: true,
        inputs: (backend, small) => {
          const [n, v] = small ? [7, 19] : [N, V];
          return [randn([n, v], { seed: 6, backend, std: 2, requiresGrad: true }), randint(v, [n], { seed: 7, backend, dtype: "i32" })];
        },
        fwd: ([l, t]) => ce(l, t),
        bytes: { fwd: f32(N * V), bwd: f32(2 * N * V) },
      });
    }
  }
  return out;
}

function adamwCases(quick: boolean): OpCase[] {
  const update = lookupOp<(p: Tensor, g: Tensor, m: Tensor, v: Tensor, o: Record<string, number>) => void>;
  return (quick ? [1 << 20] : [1 << 20, 1 << 22]).map((n) => ({
    label: "adamwUpdate", shape: shp([n]), backward: false,
    inputs: (backend, small) => {
      const k = small ? 37 : n;
      return [randn([k], { seed: 8, backend }), randn([k], { seed: 9, backend }), randn([k], { seed: 10, backend, std: 0.1 }),
        fromValues(new Float64Array(k).fill(0.01), [k], { backend })];
    },
    fwd: (xs) => {
      update("adamwUpdate")(xs[0], xs[1], xs[2], xs[3], { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 });
      return xs[0];
    },
    bytes: { fwd: f32(7 * n), bwd: 0 }, // read p, g, m, v; write p, m, v
  }));
}

function elementwiseCases(quick: boolean): OpCase[] {
  const n = quick ? 1 << 20 : 1 << 22;
  const mk = (backend: Backend, small: boolean, k: number) =>
    Array.from({ length: k }, (_, i) => randn([small ? 45 : n], { seed: 20 + i, backend, requiresGrad: true }));
  return [
    { label: "add", shape: shp([n]), backward: false, inputs: (b, s) => mk(b, s, 2), fwd: ([x, y]) => mg.add(x, y), bytes: { fwd: f32(3 * n), bwd: 0 } },
    { label: "gelu", shape: shp([n]), backward: true, inputs: (b, s) => mk(b, s, 1), fwd: ([x]) => mg.gelu(x), bytes: { fwd: f32(2 * n), bwd: f32(3 * n) } },
    { label: "mul", shape: shp([n]), backward: true, inputs: (b, s) => mk(b, s, 2), fwd: ([x, y]) => mg.mul(x, y), bytes: { fwd: f32(3 * n), bwd: f32(6 * n) } },
  ];
}

/** The op suites, in bench order. */
export const opSuites: Suite[] = [
  { name: "layernorm", describe: "layerNorm forward and backward",
    run: (ctx) => runCases(ctx, "layernorm", ["layerNorm"], layerNormCases(ctx.quick)) },
  { name: "softmax", describe: "softmax and cross-entropy forward and backward",
    run: (ctx) => runCases(ctx, "softmax", ["softmax"], softmaxCases(ctx.quick)) },
  { name: "adamw", describe: "fused AdamW update (GB/s)",
    run: (ctx) => runCases(ctx, "adamw", ["adamwUpdate"], adamwCases(ctx.quick)) },
  { name: "elementwise", describe: "elementwise bandwidth: add, gelu (+ backward), mul (+ backward)",
    run: (ctx) => runCases(ctx, "elementwise", ["add"], elementwiseCases(ctx.quick)) },
];
