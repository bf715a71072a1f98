// Re-derives the GPU-vs-f64 bounds of testkit/tolerance.ts: runs every op case on this adapter
// and prints, per op, the largest observed c = error / (u · (1 + log2 L) · max|f64|) over its
// outputs and gradients, the c in force, and the headroom (c in force / observed) of its worst
// and median tensor (a stress case's error is divided by its `cond`). Run it after changing a
// kernel: `npx tsx scripts/tolerances.ts`.
import { init } from "../src/node";
import { CASES } from "../testkit/cases/index";
import { measureVsF64 } from "../testkit/check";
import { TOLERANCES, U } from "../testkit/tolerance";

await init({ backend: "webgpu" });
console.log("op                       c in force  observed c  headroom (worst op case, median)  tensors  failing");
let failing = 0;
for (const [op, cases] of Object.entries(CASES)) {
  const rule = TOLERANCES[op];
  const seen: number[] = [];
  let bad = 0;
  for (const c of cases) {
    const { errors, problems } = await measureVsF64(c, op);
    bad += problems.length;
    for (const e of errors) if (e.error > 0) seen.push(e.error / (e.bound / rule.c)); // the bound includes the case's cond
  }
  failing += bad;
  seen.sort((a, b) => a - b);
  const worst = seen.length ? seen[seen.length - 1] : 0;
  const median = seen.length ? seen[Math.floor(seen.length / 2)] : 0;
  const head = (x: number) => (x > 0 ? `${(rule.c / x).toFixed(1)}×` : "exact");
  console.log(`${op.padEnd(24)} ${rule.c.toFixed(1).padStart(10)}  ${worst.toFixed(2).padStart(10)}  ` +
    `${head(worst).padStart(14)} ${head(median).padStart(14)}      ${String(seen.length).padStart(7)}  ${bad || ""}`);
}
console.log(`u = ${U.toExponential(3)}; ${failing} tensors over their bound`);
