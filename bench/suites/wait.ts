// Polite-wait bench: the same kernel loop in two child processes (the waiter is chosen at init),
// METAGRAD_WAIT=spin (dawn.node's plain await, which spins the main thread) vs the polite wait.
import { fileURLToPath } from "node:url";
import { record, type Suite } from "../lib/context";
import { runChild } from "../lib/child";
import type { Stats } from "../lib/harness";

const CHILD = fileURLToPath(new URL("../lib/wait-child.ts", import.meta.url));

interface WaitReport { wait: string; ms: Stats; cpuPerWall: number; flop: number }

/** The polite-wait suite. */
export const waitSuite: Suite = {
  name: "wait",
  describe: "matmul 512³ + sync loop with METAGRAD_WAIT=spin vs the default polite wait (child processes)",
  run: async (ctx) => {
    const rows: Record<string, WaitReport | string> = {};
    for (const mode of ["spin", "polite"]) {
      const o = await runChild<WaitReport>(CHILD, [ctx.quick ? "quick" : "full"], {
        env: mode === "spin" ? { METAGRAD_WAIT: "spin" } : { METAGRAD_WAIT: "polite" }, timeoutMs: 180_000, prefix: "    ",
      });
      if (!o.report) {
        rows[mode] = o.error ?? "no report";
        continue;
      }
      rows[mode] = o.report;
      record(ctx, {
        suite: "wait", name: "matmul 512³ + sync loop", shape: "[512,512]x[512,512]", impl: "metagrad", variant: `wait=${mode}`,
        timing: "wall-e2e", ms: o.report.ms, gflops: o.report.flop / o.report.ms.median / 1e6,
        extra: { cpuCoresBusy: Number(o.report.cpuPerWall.toFixed(2)) },
      });
    }
    const s = rows.spin, p = rows.polite;
    ctx.sections.wait = {
      rows,
      spinOverPolite: typeof s === "object" && typeof p === "object" ? s.ms.median / p.ms.median : null,
    };
  },
};
