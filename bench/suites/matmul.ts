// Matmul suite: every kernel variant (including the ones the selection rejects) at square and
// GPT-step shapes, each checked against an f64 reference first, then the matmul op itself
// (the selected variant, through the one dispatch path) with dispatch overhead and compile cost.
import { fromValues, matmul, randn, zeros, type Tensor } from "../../src/node";
import {
  matmulVariantKernel, rowuboOptionsFor, ROWUBO_DEFAULT, ROWUBO_SUBGROUP, selectMatmulVariant,
  type MatmulShape, type MatmulVariant, type MatmulVariantOptions,
} from "../../src/shaders/matmul";
import { record, type Suite, type SuiteContext } from "../lib/context";
import { checkVsCpu64, compare, gpuTimer, measure, repsFor, rt, shp, timeEncoded } from "../lib/harness";
import { GPT_SHAPES } from "../lib/shapes";
import { runMatmulVariant } from "../../testkit/matmul";

/** A kernel variant as the bench names it; no `opts` means the variant's defaults, as selected. */
interface Candidate {
  label: string;
  variant: MatmulVariant;
  opts?: MatmulVariantOptions;
}

const CANDIDATES: Candidate[] = [
  { label: "rb4x4", variant: "rb4x4" },
  { label: "rowbcast r8 wg16", variant: "rowbcast" }, // ROWBCAST_DEFAULT
  { label: "rowbcast r4 wg16", variant: "rowbcast", opts: { rows: 4, wg: 16 } },
  { label: "rowbcast r8 wg8", variant: "rowbcast", opts: { rows: 8, wg: 8 } },
  { label: "rowbcast r8 wg32", variant: "rowbcast", opts: { rows: 8, wg: 32 } },
  { label: "rowubo", variant: "rowubo" }, // as selected for the adapter: ROWUBO_SUBGROUP with subgroups
  { label: "rowubo r16", variant: "rowubo", opts: ROWUBO_DEFAULT }, // without subgroups (selected before them)
  { label: "rowubo r16 sg", variant: "rowubo", opts: { ...ROWUBO_SUBGROUP, rows: 16 } }, // selected with subgroups until 32 rows compiled fast
  { label: "rowubo r32 sg 8 windows", variant: "rowubo", opts: { ...ROWUBO_SUBGROUP, windows: 8 } },
  { label: "rowubo r8", variant: "rowubo", opts: { rows: 8 } },
  { label: "tiled64", variant: "tiled" },
];

function shape(M: number, N: number, K: number, transA = false, transB = false): MatmulShape {
  return { M, N, K, batch: 1, transA, transB, bShared: true };
}

/** Stored shapes of A and B for a problem. */
function operands(p: MatmulShape): [number[], number[]] {
  return [p.transA ? [p.K, p.M] : [p.M, p.K], p.transB ? [p.N, p.K] : [p.K, p.N]];
}

function describeShape(p: MatmulShape): string {
  const [a, b] = operands(p);
  return `${shp(a)}${p.transA ? "ᵀ" : ""}x${shp(b)}${p.transB ? "ᵀ" : ""}`;
}

/** A candidate's options at a shape: its own, or for the selection's default the adapter's (rowubo). */
function optionsOf(c: Candidate, p: MatmulShape): MatmulVariantOptions | undefined {
  return c.opts ?? (c.variant === "rowubo" ? rowuboOptionsFor(p, rt().info) ?? undefined : undefined);
}

/** Checks one variant with the case's transpose flags on a small shape against f64. */
async function checkVariant(c: Candidate, p: MatmulShape): Promise<{ shape: string; maxErr: number; ok: boolean }> {
  // Fits every variant that fits p; rowubo's is deep enough for 64 KiB windows and 2 dispatches.
  const small = c.variant === "rowubo" ? shape(256, 64, 1024, p.transA, p.transB) : shape(96, 40, 36, p.transA, p.transB);
  const r = await runMatmulVariant(rt(), c.variant, small, optionsOf(c, small));
  if (!r) return { shape: describeShape(small), maxErr: NaN, ok: false };
  return { shape: describeShape(small), ...compare(r.got, r.want, 1e-4, 1e-4) };
}

async function variantCases(ctx: SuiteContext, shapes: { name: string; p: MatmulShape }[], sweep: string[]): Promise<void> {
  const tm = gpuTimer();
  const table: Record<string, Record<string, number>> = {};
  for (const { name, p } of shapes) {
    const a = randn([p.M * p.K], { seed: 1 }), b = randn([p.K * p.N], { seed: 2 }), c = zeros([p.M * p.N]);
    const flop = 2 * p.M * p.N * p.K;
    const selected = selectMatmulVariant(p, rt().info);
    const row: Record<string, number> = {};
    for (const cand of CANDIDATES) {
      // Shared memory on a software adapter is ~10× slower: sample it at one shape only.
      if (cand.variant === "tiled" && rt().info.isSoftware && flop > 2 * 512 ** 3) continue;
      // The full sweep at two shapes; elsewhere the selected variant against its closest rivals.
      const core = ["rb4x4", "rowbcast r8 wg16", "rowubo", "rowubo r16", "rowubo r16 sg"].includes(cand.label) || cand.variant === "tiled";
      if (!core && (ctx.quick || !sweep.includes(name)) && !(cand.label === "rowbcast r4 wg16" && !ctx.quick)) continue;
      if (cand.opts?.broadcast && (rt().info.subgroupMinSize ?? 0) < 8) continue; // needs subgroups of ≥ 8 lanes
      const plan = matmulVariantKernel(cand.variant, p, optionsOf(cand, p));
      if (!plan) continue;
      const check = await checkVariant(cand, p);
      const temps: Tensor[] = []; // scratch the dispatches keep for every replay
      const keepBuffer = (t: Tensor) => (temps.push(t), t.storage.buffer);
      const ds = plan.launches(a.storage.buffer, b.storage.buffer, c.storage.buffer, {
        scratch: (bytes) => keepBuffer(zeros([bytes / 4])),
        // A tensor's buffer carries UNIFORM usage; i32 keeps the u32 sizes' bits. It outlives every replay.
        uniform: (d) => keepBuffer(fromValues(Int32Array.from(d), [d.length], { dtype: "i32" })),
      });
      const compileMs = await tm.compile(ds);
      const one = await tm.time(ds, 1);
      const reps = repsFor(one.ms, 30);
      let source = one.source;
      const stats = await measure(`${name} ${cand.label}`, async () => {
        const t = await tm.time(ds, reps);
        source = t.source;
        return t.ms;
      }, ctx.budget);
      const gflops = flop / stats.median / 1e6;
      row[cand.label] = Number(gflops.toFixed(2));
      const isSel = cand.variant === selected && !cand.opts; // the selection uses each variant's defaults
      record(ctx, {
        suite: "matmul", name: `variant ${name}`, shape: describeShape(p), impl: "metagrad", variant: cand.label,
        timing: source, ms: stats, gflops, check, firstRunMs: compileMs,
        note: isSel ? "selected" : undefined,
      });
      for (const t of temps) t.dispose();
    }
    table[`${name} ${describeShape(p)}`] = row;
    for (const t of [a, b, c]) t.dispose();
  }
  ctx.sections.matmulVariants = { adapterIsSoftware: rt().info.isSoftware, gflops: table };
}

/**
 * The shape the op case checks against f64: the timed shape, halved along its largest even
 * dimension while that keeps the selected variant, down to 2^27 multiply-adds,
 * so the check runs the kernel that is timed at a size the f64 reference computes in a second.
 */
const CHECK_MACS = 2 ** 27; // the f64 reference of 2^27 multiply-adds takes about a second

function checkShape(p: MatmulShape): MatmulShape {
  const variant = selectMatmulVariant(p, rt().info);
  let q = p;
  while (q.M * q.N * q.K > CHECK_MACS) {
    const halves = (["M", "N", "K"] as const).filter((d) => q[d] % 8 === 0).sort((x, y) => q[y] - q[x])
      .map((d) => ({ ...q, [d]: q[d] / 2 }));
    const next = halves.find((h) => selectMatmulVariant(h, rt().info) === variant);
    if (!next) break;
    q = next;
  }
  return q;
}

async function opCases(ctx: SuiteContext, shapes: { name: string; p: MatmulShape }[]): Promise<void> {
  for (const { name, p } of shapes) {
    const small = checkShape(p);
    const check = await checkVsCpu64((backend) => {
      const [sa, sb] = operands(small);
      const x = randn(sa, { seed: 3, backend }), y = randn(sb, { seed: 4, backend });
      return [matmul(x, y, { transA: p.transA, transB: p.transB })];
    });
    const [aShape, bShape] = operands(p);
    const a: Tensor = randn(aShape, { seed: 5 }), b: Tensor = randn(bShape, { seed: 6 });
    const t = await timeEncoded(`op ${name}`, () => {
      matmul(a, b, { transA: p.transA, transB: p.transB });
    }, ctx.budget);
    record(ctx, {
      suite: "matmul", name: `op ${name}`, shape: describeShape(p), impl: "metagrad",
      variant: selectMatmulVariant(p, rt().info), timing: t.source, ms: t.stats,
      gflops: (2 * p.M * p.N * p.K) / t.stats.median / 1e6, check: { shape: describeShape(small), ...check },
      pipelines: t.pipelines, firstRunMs: t.firstRunMs, dispatches: t.dispatches, jsUsPerDispatch: t.jsUsPerDispatch,
    });
    a.dispose();
    b.dispose();
  }
}

/** The matmul suite. */
export const matmulSuite: Suite = {
  name: "matmul",
  describe: "f32 matmul variants and the matmul op: square 128..1024 and GPT-step shapes (with backward's transposed operands)",
  run: async (ctx) => {
    const sq = (ctx.quick ? [256, 1024] : [128, 256, 512, 1024]).map((n) => ({ name: `square ${n}`, p: shape(n, n, n) }));
    const g = GPT_SHAPES;
    const gpt = [
      { name: "gpt fc fwd", p: shape(g.BT, 4 * g.C, g.C) },
      { name: "gpt fc bwd dX", p: shape(g.BT, g.C, 4 * g.C, false, true) },
      { name: "gpt fc bwd dW", p: shape(g.C, 4 * g.C, g.BT, true, false) },
      { name: "gpt qkv fwd", p: shape(g.BT, 3 * g.C, g.C) },
      { name: "gpt proj fwd", p: shape(g.BT, g.C, 4 * g.C) },
      { name: "gpt proj bwd dX", p: shape(g.BT, 4 * g.C, g.C, false, true) },
      { name: "gpt proj bwd dW", p: shape(4 * g.C, g.C, g.BT, true, false) },
      { name: "gpt lm-head fwd", p: shape(g.BT, g.V, g.C, false, true) },
    ];
    // Variant sweeps skip qkv fwd and proj dW (same operand layouts as fc fwd and fc dW).
    const gptPick = ctx.quick ? gpt.slice(0, 1) : gpt.filter((x) => x.name !== "gpt qkv fwd" && x.name !== "gpt proj bwd dW");
    ctx.log("matmul kernel variants (GPU time per product):");
    await variantCases(ctx, [...sq, ...gptPick], ["square 512", "gpt fc fwd"]);
    ctx.log("matmul op (selected variant):");
    // Through the op: the same kernels plus the dispatch path (JS cost, compile count).
    await opCases(ctx, ctx.quick ? [sq[1], gpt[0]] : [sq[0], sq[3], gpt[0], gpt[1], gpt[2]]);
  },
};
