// Plain (no vitest) GPU-vs-cpu64 check for hardware runs: every op case of testkit/cases (forward and
// gradients, same logic as test/ops-gpu.test.ts), extra large matmul / realistic attention cases
// that select the `tiled` matmul and attention kernels, and a forced run of each matmul variant
// against an f64 reference. Usage: tsx scripts/gpu-check.ts [--slack K] (or an esbuild bundle of
// it). Cases use the per-op bounds of testkit/tolerance.ts, derived on lavapipe; `--slack K`
// multiplies them (a hardware adapter's exp/log may be a few ulp less accurate: WGSL allows
// 3 + 2|x| ulp), and every failure prints its ratio to the bound.
import * as T from "../src/node";
import { init, gpuRuntime } from "../src/node";
import { CASES } from "../testkit/cases/index";
import { compareWithF64, type OpCase } from "../testkit/check";
import { runMatmulVariant } from "../testkit/matmul";
import { selectMatmulVariant, type MatmulShape, type MatmulVariant } from "../src/shaders/matmul";

const slackAt = process.argv.indexOf("--slack");
const slack = slackAt > 0 ? Number(process.argv[slackAt + 1]) : 1;
if (!(slack >= 1)) throw new Error(`--slack must be a number >= 1, got ${process.argv[slackAt + 1]}`);
const info = await init({ backend: "webgpu" });
const rt = gpuRuntime()!;
console.log(`adapter: ${JSON.stringify(info.adapter)}`);
let pass = 0, fail = 0;
const failures: string[] = [];

async function checkCase(op: string, c: OpCase): Promise<void> {
  const name = `${op}: ${c.label}`;
  try {
    const errs = await compareWithF64(c, op, slack);
    if (errs.length) { fail++; failures.push(`${name}: ${errs.join("; ")}`); console.log(`FAIL ${name}\n  ${errs.join("\n  ")}`); }
    else pass++;
  } catch (e) {
    fail++; failures.push(`${name}: threw ${(e as Error).message}`); console.log(`FAIL ${name}: threw ${(e as Error).stack}`);
  }
}

// Extra cases for the hardware paths the registry's small cases never select.
const mm = (label: string, a: number[], b: number[], o: { transA?: boolean; transB?: boolean } = {}): OpCase => ({
  label: `${label} (hw extra)`, inputs: [{ shape: a }, { shape: b }], run: ([x, y]) => T.matmul(x, y, o),
});
const EXTRA: Record<string, OpCase[]> = {
  matmul: [
    mm("[256,96]x[96,320] (tiled)", [256, 96], [96, 320]),
    mm("[200,70]x[70,333] ragged (tiled)", [200, 70], [70, 333]),
    mm("transA [64,260]ᵀx[64,300]", [64, 260], [64, 300], { transA: true }),
    mm("transB [300,48]x[260,48]ᵀ", [300, 48], [260, 48], { transB: true }),
    mm("batched [4,130,40]x[4,40,140]", [4, 130, 40], [4, 40, 140]),
    mm("shared b [2,256,64]x[64,256]", [2, 256, 64], [64, 256]),
  ],
  "causalAttention (hw extra)": [
    { label: "B2 T200 H2 D64 auto (GPU → tiled)", inputs: [{ shape: [2, 200, 3 * 128] }],
      noFiniteDiff: true, run: ([q]) => T.causalAttention(q, 2) },
    { label: "B1 T130 H4 D32 tiled", inputs: [{ shape: [1, 130, 3 * 128] }],
      noFiniteDiff: true, run: ([q]) => T.causalAttention(q, 4, { variant: "tiled" }) },
  ],
};

const t0 = performance.now();
for (const [op, cases] of Object.entries(CASES)) for (const c of cases) await checkCase(op, c);
const regPass = pass, regFail = fail;
console.log(`registry cases: ${regPass} pass, ${regFail} fail (${Math.round(performance.now() - t0)} ms)`);
for (const [op, cases] of Object.entries(EXTRA)) for (const c of cases) await checkCase(op, c);
console.log(`extra cases: ${pass - regPass} pass, ${fail - regFail} fail`);

// Selection on this adapter.
const sel = (M: number, N: number, K: number) => selectMatmulVariant({ M, N, K, batch: 1, transA: false, transB: false, bShared: true }, { isSoftware: info.adapter!.isSoftware });
console.log(`selection (isSoftware=${info.adapter?.isSoftware}): 1024³ → ${sel(1024, 1024, 1024)}, 256x320x96 → ${sel(256, 320, 96)}, 64³ → ${sel(64, 64, 64)}`);

// Forced variants vs f64.
const SHAPES: [number, number, number, number, boolean][] = [
  [20, 24, 12, 2, false], [70, 68, 20, 1, true], [256, 256, 256, 1, true], [200, 333, 70, 1, true], [130, 140, 40, 3, false], [512, 512, 512, 1, true],
];
let vPass = 0, vFail = 0;
for (const variant of ["tiled", "rb4x4", "rowbcast", "rowubo"] as MatmulVariant[]) {
  for (const transA of [false, true]) for (const transB of [false, true]) for (const [M, N, K, batch, shared] of SHAPES) {
    const p: MatmulShape = { M, N, K, batch, transA, transB, bShared: shared && !transA };
    const r = await runMatmulVariant(rt, variant, p);
    if (!r) continue;
    const { got, want } = r;
    const tol = 1e-4 * Math.sqrt(K);
    let worst = 0, at = -1;
    for (let i = 0; i < want.length; i++) {
      const r = Math.abs(got[i] - want[i]) / (tol + 1e-4 * Math.abs(want[i]));
      if (!(r <= worst)) { worst = Number.isNaN(r) ? Infinity : r; at = i; }
    }
    const tag = `variant ${variant} ${JSON.stringify(p)}`;
    if (worst <= 1) vPass++;
    else { vFail++; failures.push(`${tag}: ratio ${worst} at ${at}: ${got[at]} vs ${want[at]}`); console.log(`FAIL ${tag} ratio ${worst} at ${at}: ${got[at]} vs ${want[at]}`); }
  }
}
console.log(`forced variants: ${vPass} pass, ${vFail} fail`);
console.log(`TOTAL: cases ${pass} pass ${fail} fail; variants ${vPass} pass ${vFail} fail`);
if (failures.length) console.log(`failures:\n${failures.join("\n")}`);
process.exit(fail + vFail ? 1 : 0);
