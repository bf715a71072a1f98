// Polite-wait child: `tsx bench/lib/wait-child.ts <out.json> [quick]`, run with METAGRAD_WAIT=spin
// or polite. The same loop (a 512³ matmul, then rt.sync()) timed with tinybench, plus the CPU time
// this process burns while it waits (dawn.node spins the main thread on a plain await).
import { init, gpuRuntime, matmul, noGrad, randn } from "../../src/node";
import { writeFileAtomic } from "../../src/nn/atomic-write";
import { BUDGETS, measure } from "./harness";

const [out, mode] = process.argv.slice(2); // <out.json> [quick]
await init({ backend: "webgpu" });
const rt = gpuRuntime()!;
const n = 512;
const a = randn([n, n], { seed: 1 }), b = randn([n, n], { seed: 2 });
const step = async () => {
  const c = noGrad(() => matmul(a, b));
  await rt.sync();
  c.dispose();
};
await step();
const cpu0 = process.cpuUsage(), t0 = performance.now();
const stats = await measure("wait loop", step, mode === "quick" ? BUDGETS.quick : BUDGETS.full);
const wallMs = performance.now() - t0, cpu = process.cpuUsage(cpu0);
writeFileAtomic(out, JSON.stringify({
  wait: process.env.METAGRAD_WAIT === "spin" ? "spin" : "polite",
  ms: stats,
  // CPU time of the whole process (main thread + Dawn/lavapipe threads) per wall second.
  cpuPerWall: (cpu.user + cpu.system) / 1000 / wallMs,
  flop: 2 * n ** 3,
}));
process.exit(0);
