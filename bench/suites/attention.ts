// Attention suite: the causalAttention op forward and forward + backward at T ∈ {128, 256, 512,
// 1024} × D ∈ {32, 64, 128} (B·H sized so that every case is the same 2^28 forward FLOPs, ~10–100 ms
// on lavapipe) and at the two training shapes of the experiments (S1, R1), as GFLOP/s and as a
// ratio to the 1024³ matmul measured in the same run; then (full mode) the kernel variants the
// selection in src/shaders/attention.ts chose between. The matmul, forward and backward are timed
// in alternation, one sample of each per round (GPU timestamps), so a change in the machine's load
// moves all three: the ratio of each round is the figure, its median the one reported. FLOPs
// are counted the usual way: 4·B·H·T²·D for the forward, halved for the causal mask; the backward
// is 2.5× that (fwd + bwd = 3.5×), whatever the kernels recompute.
import * as mg from "../../src/node";
import { fromValues, keep, noGrad, randn, tidy, zeros, type Tensor } from "../../src/node";
import { ATTENTION_ROW_STATS, attentionPlan, type AttentionPart, type AttentionVariant } from "../../src/shaders/attention";
import type { SubgroupTile } from "../../src/shaders/attention-subgroup";
import type { Dispatch } from "../../src/shaders/wgsl";
import { captureDispatches } from "../../src/tensor/webgpu/timing";
import { record, type Suite, type SuiteContext } from "../lib/context";
import { checkVsCpu64, gpuTimer, repsFor, rt } from "../lib/harness";

/** Variant options the op accepts (the variant cases force one; undefined = the adapter's choice). */
type Variant = mg.AttentionOptions["variant"];

/** One measured shape: B, H, T, D and the forward FLOPs (causal). */
interface Shape {
  B: number;
  H: number;
  T: number;
  D: number;
}
const fwdFlops = ({ B, H, T, D }: Shape) => 2 * B * H * T * T * D;
const label = ({ B, H, T, D }: Shape) => `B${B} H${H} T${T} D${D}`;

/** The grid's shape at (T, D): B·H = 2^27 / (T²·D), heads 4 when there are at least 4. */
function gridShape(T: number, D: number): Shape {
  const bh = Math.max(1, Math.round(2 ** 27 / (T * T * D)));
  const H = Math.min(4, bh);
  return { B: Math.max(1, Math.round(bh / H)), H, T, D };
}

/** Captured dispatches of the matmul op at 1024³ (the reference rate). */
function matmulDispatches(): { ds: Dispatch[]; keepAlive: Tensor[] } {
  const a = keep(randn([1024, 1024], { seed: 1 })), b = keep(randn([1024, 1024], { seed: 2 }));
  let ds: Dispatch[] = [];
  const out: Tensor[] = [];
  tidy(() => {
    ds = captureDispatches(rt(), () => out.push(keep(mg.matmul(a, b))));
  });
  return { ds, keepAlive: [a, b, ...out] };
}

/** Captured forward and backward dispatches of the op at a shape (inputs kept alive for replay). */
function attentionDispatches(s: Shape, variant: Variant): { fwd: Dispatch[]; bwd: Dispatch[]; keepAlive: Tensor[] } {
  const qkv = keep(randn([s.B, s.T, 3 * s.H * s.D], { seed: 1, std: 0.5, requiresGrad: true }));
  const dy = keep(randn([s.B, s.T, s.H * s.D], { seed: 2 }));
  const keepAlive: Tensor[] = [qkv, dy];
  let fwd: Dispatch[] = [], bwd: Dispatch[] = [];
  tidy(() => {
    fwd = captureDispatches(rt(), () => noGrad(() => keepAlive.push(keep(mg.causalAttention(qkv, s.H, { variant })))));
  });
  const y = keep(mg.causalAttention(qkv, s.H, { variant }));
  keepAlive.push(y);
  tidy(() => {
    bwd = captureDispatches(rt(), () => {
      y.backward(dy, { retainGraph: true });
      keepAlive.push(keep(qkv.grad!));
    });
  });
  return { fwd, bwd, keepAlive };
}

/** A kernel variant as the variant cases name it: a family and (subgroup) its tile. */
interface KernelVariant {
  label: string;
  variant: AttentionVariant;
  tile?: SubgroupTile;
}
const KERNEL_VARIANTS: KernelVariant[] = [
  { label: "subgroup KT8", variant: "subgroup", tile: 8 },
  { label: "subgroup KT16", variant: "subgroup", tile: 16 },
  { label: "subgroup KT32", variant: "subgroup", tile: 32 },
  { label: "tiled", variant: "tiled" },
];

/**
 * Forward and backward dispatches of one kernel variant, built from its plans directly (the op
 * picks the tile itself): the same kernels, buffers and order as the op's. Word loops unrolled as
 * the op would on this adapter.
 */
function variantDispatches(s: Shape, v: KernelVariant): { fwd: Dispatch[]; bwd: Dispatch[]; keepAlive: Tensor[] } {
  const C = s.H * s.D, d = { B: s.B, T: s.T, H: s.H, D: s.D };
  const qkv = randn([s.B, s.T, 3 * C], { seed: 1, std: 0.5 }), dy = randn([s.B, s.T, C], { seed: 2 });
  const y = zeros([s.B, s.T, C]), lse = zeros([s.B, s.H, s.T]), dqkv = zeros([s.B, s.T, 3 * C]);
  const dvec = zeros([s.B * s.H * s.T * ATTENTION_ROW_STATS]);
  const keepAlive = [qkv, dy, y, lse, dqkv, dvec];
  const dispatch = (part: AttentionPart, bufs: Tensor[]): Dispatch => {
    const p = attentionPlan(part, v.variant, d, { tile: v.tile, unroll: !rt().info.isSoftware });
    const u = fromValues(Array.from(p.uniform!), [4], { dtype: "i32" }); // u32 words < 2^31, bound as the uniform
    keepAlive.push(u);
    return { kernel: p.k, buffers: [...bufs, u].map((t) => t.storage.buffer), grid: p.grid };
  };
  return {
    fwd: [dispatch("forward", [qkv, y, lse])],
    bwd: [dispatch("dq", [qkv, dy, y, lse, dqkv, dvec]), dispatch("dkv", [qkv, dy, dvec, dqkv])],
    keepAlive,
  };
}

/** Checks forward and gradients against cpu64 on a small shape with the same head size. */
function check(D: number, variant: Variant): Promise<{ maxErr: number; ok: boolean }> {
  return checkVsCpu64((backend) => {
    const qkv = randn([2, 37, 3 * 2 * D], { seed: 3, backend, std: 0.5, requiresGrad: true });
    const y = mg.causalAttention(qkv, 2, { variant });
    y.backward(randn([2, 37, 2 * D], { seed: 4, backend }));
    return [y, qkv.grad!];
  }, 2e-4, 2e-3);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** One row of the suite's section (and of the report's attention table). */
export interface AttentionRow {
  shape: string;
  T: number;
  D: number;
  variant: string;
  fwdMs: number;
  bwdMs: number;
  fwdGflops: number;
  fwdBwdGflops: number;
  /** Medians over rounds of this case's GFLOP/s over the matmul's GFLOP/s in the same round. */
  fwdVsMatmul: number;
  fwdBwdVsMatmul: number;
  /** The grid of the target (T 128–1024, D 32–128), a training shape, or a variant comparison. */
  kind: "grid" | "train" | "variant";
}

/**
 * Times the matmul, forward and backward in alternation: `rounds` rounds of one sample each (a
 * sample replays a dispatch list enough times for ~30 ms of GPU work).
 */
async function alternate(mm: Dispatch[], fwd: Dispatch[], bwd: Dispatch[], rounds: number) {
  const tm = gpuTimer();
  const reps = async (ds: Dispatch[]) => {
    await tm.compile(ds);
    return repsFor((await tm.time(ds, 1)).ms, 30);
  };
  const [rm, rf, rb] = [await reps(mm), await reps(fwd), await reps(bwd)];
  const out = { mm: [] as number[], fwd: [] as number[], bwd: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    out.mm.push((await tm.time(mm, rm)).ms);
    out.fwd.push((await tm.time(fwd, rf)).ms);
    out.bwd.push((await tm.time(bwd, rb)).ms);
  }
  return out;
}

async function runCase(ctx: SuiteContext, s: Shape, kv: KernelVariant | null, kind: AttentionRow["kind"], mm: Dispatch[], rows: AttentionRow[]) {
  const variant: Variant = kv?.variant;
  const chk = await check(s.D, variant);
  const r = rt();
  const p0 = r.stats.pipelines;
  const t0 = performance.now();
  const { fwd, bwd, keepAlive } = kv ? variantDispatches(s, kv) : attentionDispatches(s, undefined);
  if (kv) await gpuTimer().time([...fwd, ...bwd], 1); // replayed dispatches compile on first use, not through rt
  await r.sync();
  const firstRunMs = performance.now() - t0;
  const pipelines = r.stats.pipelines - p0;
  const t = await alternate(mm, fwd, bwd, ctx.quick ? 5 : 9);
  for (const x of keepAlive) x.dispose();
  const f = fwdFlops(s), mmFlop = 2 * 1024 ** 3;
  const ratios = t.mm.map((m, i) => ({ fwd: (f / t.fwd[i]) / (mmFlop / m), fb: (3.5 * f / (t.fwd[i] + t.bwd[i])) / (mmFlop / m) }));
  const row: AttentionRow = {
    shape: label(s), T: s.T, D: s.D, variant: kv?.label ?? "auto", kind,
    fwdMs: median(t.fwd), bwdMs: median(t.bwd),
    fwdGflops: f / median(t.fwd) / 1e6, fwdBwdGflops: 3.5 * f / median(t.fwd.map((x, i) => x + t.bwd[i])) / 1e6,
    fwdVsMatmul: median(ratios.map((x) => x.fwd)), fwdBwdVsMatmul: median(ratios.map((x) => x.fb)),
  };
  rows.push(row);
  const stats = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs.length });
  const name = kind === "variant" ? "attention variant" : "causal attention";
  const base = { suite: "attention", shape: row.shape, impl: "metagrad", timing: "timestamp", variant: kv?.label, check: { shape: "B2 T37 H2 (grads)", ...chk } };
  record(ctx, { ...base, name: `${name} fwd`, ms: stats(t.fwd), gflops: row.fwdGflops, pipelines, firstRunMs,
    dispatches: fwd.length, extra: { vsMatmul: Number(row.fwdVsMatmul.toFixed(3)) } });
  record(ctx, { ...base, name: `${name} bwd`, ms: stats(t.bwd), gflops: 2.5 * f / row.bwdMs / 1e6, dispatches: bwd.length });
  record(ctx, { ...base, name: `${name} fwd+bwd`, ms: stats(t.fwd.map((x, i) => x + t.bwd[i])), gflops: row.fwdBwdGflops,
    extra: { vsMatmul: Number(row.fwdBwdVsMatmul.toFixed(3)) } });
}

async function run(ctx: SuiteContext): Promise<void> {
  const m = matmulDispatches();
  const rows: AttentionRow[] = [];
  // Filled as cases finish, so a suite that fails halfway still reports what it measured.
  ctx.sections.attention = {
    flops: "forward 4·B·H·T²·D / 2 (causal), backward 2.5× forward; ratios: per round against the 1024³ matmul op timed in the same round",
    rows,
  };
  const Ts = [128, 256, 512, 1024], Ds = [32, 64, 128];
  for (const T of Ts) for (const D of Ds) await runCase(ctx, gridShape(T, D), null, "grid", m.ds, rows);
  for (const s of [{ B: 32, H: 4, T: 64, D: 16 }, { B: 16, H: 4, T: 64, D: 12 }]) await runCase(ctx, s, null, "train", m.ds, rows);
  if (!ctx.quick) {
    // The choices in src/shaders/attention.ts: the software variant's tile, and the tiled variant.
    for (const D of Ds) for (const v of KERNEL_VARIANTS) await runCase(ctx, gridShape(256, D), v, "variant", m.ds, rows);
  }
  for (const x of m.keepAlive) x.dispose();
}

/** The attention suite. */
export const attentionSuite: Suite = {
  name: "attention",
  describe: "causal attention forward and forward + backward, T 128–1024 × D 32–128 and the training shapes, vs matmul 1024³ in the same run",
  run,
};
