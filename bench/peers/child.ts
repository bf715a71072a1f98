// Peer child process: `tsx bench/peers/child.ts <out.json> <metagrad|tfjs|jax> [quick]`. Runs
// every peer case in one implementation: a check against the f64 reference on a small shape,
// a cold first call, then tinybench samples of one call + GPU completion (polite wait).
import { writeFileAtomic } from "../../src/nn/atomic-write";
import { BUDGETS, compare, measure, type Stats } from "../lib/harness";
import { peerCases } from "../lib/shapes";
import { checkCase, installNavigatorGpu, reference, type PeerImpl } from "./common";

/** One case as a child reports it. */
export interface PeerCaseResult {
  id: string;
  ms?: Stats;
  firstRunMs?: number;
  /** CPU time of the whole process (main thread + Dawn + lavapipe workers) per call, in ms. */
  cpuMsPerCall?: number;
  check?: { maxErr: number; ok: boolean };
  error?: string;
}

/** What a child writes. */
export interface PeerReport {
  impl: string;
  version?: string;
  setup?: Record<string, unknown>;
  error?: string;
  cases: PeerCaseResult[];
}

const [out, which, mode] = process.argv.slice(2); // <out.json> <impl> [quick]
const quick = mode === "quick";
// Full mode runs two rounds per implementation (suites/peers.ts), so each round samples a bit less.
const budget = quick ? BUDGETS.quick : { ...BUDGETS.full, timeMs: 1000, minSamples: 4, warmup: 1 };
const report: PeerReport = { impl: which, cases: [] };

async function load(): Promise<PeerImpl> {
  if (which === "metagrad") return (await import("./impl-metagrad")).metagradPeer;
  installNavigatorGpu(); // before the peer's backend module is imported
  if (which === "tfjs") return (await import("./impl-tfjs")).tfjsPeer;
  if (which === "jax") return (await import("./impl-jax")).jaxPeer;
  throw new Error(`unknown peer '${which}'`);
}

try {
  const impl = await load();
  report.impl = impl.name;
  report.setup = await impl.setup();
  report.version = impl.version || undefined;
  for (const c of peerCases(quick)) {
    const r: PeerCaseResult = { id: c.id };
    report.cases.push(r);
    try {
      const small = checkCase(c);
      const p = await impl.prepare(small);
      const got = await p.output();
      p.dispose();
      const tol = c.kind === "mlp" ? 1e-3 : 2e-4;
      r.check = compare(Array.from(got), reference(small), tol, tol * 10);
      const q = await impl.prepare(c);
      const t0 = performance.now();
      await q.run();
      r.firstRunMs = performance.now() - t0;
      // CPU time per call: on a shared machine this tracks the work a call costs even when
      // other processes slow its wall clock down.
      let calls = 0;
      const cpu0 = process.cpuUsage();
      r.ms = await measure(`${impl.name} ${c.id}`, () => (calls++, q.run()), budget);
      const cpu = process.cpuUsage(cpu0);
      r.cpuMsPerCall = (cpu.user + cpu.system) / 1000 / calls;
      q.dispose();
      console.log(`${impl.name} ${c.id}: ${r.ms.median.toFixed(2)} ms (check ${r.check.ok ? "ok" : "FAILED"})`);
    } catch (e) {
      r.error = (e as Error).message.split("\n")[0];
      console.log(`${impl.name} ${c.id}: error ${r.error}`);
    }
  }
} catch (e) {
  report.error = (e as Error).stack ?? String(e);
  console.log(`${which}: cannot run: ${(e as Error).message}`);
}
writeFileAtomic(out, JSON.stringify(report));
process.exit(0);
