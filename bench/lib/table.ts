// Console output of a bench run: one table of every case, then the peer ratios.
import type { CaseResult } from "./harness";

function fmtMs(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3);
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
}

/** Peer comparison rows as stored in the JSON `peers` section. */
export interface PeerRow {
  id: string;
  metagradMs: number | null;
  tfjsMs: number | null;
  jaxMs: number | null;
  /** Their time / our time (> 1: we are faster). */
  vsTfjs: number | null;
  vsJax: number | null;
  /** The same ratios on the fastest samples (less sensitive to other load on the machine). */
  vsTfjsMin: number | null;
  vsJaxMin: number | null;
  /** CPU ms per call (whole process) and the same ratios on CPU time. */
  cpuMs: { metagrad: number | null; tfjs: number | null; jax: number | null };
  vsTfjsCpu: number | null;
  vsJaxCpu: number | null;
}

/** Prints all results and, when present, the peer ratio table. */
export function printTable(results: readonly CaseResult[], sections: Record<string, unknown>): void {
  const head = ["suite", "impl", "case", "shape", "variant", "median ms", "min", "max", "throughput", "check"];
  const rows = results.map((r) => [
    r.suite, r.impl, r.name, r.shape, r.variant ?? "", fmtMs(r.ms.median), fmtMs(r.ms.min), fmtMs(r.ms.max),
    r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : r.gbps !== undefined ? `${r.gbps.toFixed(1)} GB/s` : "",
    r.check ? (r.check.ok ? "ok" : "FAIL") : "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(`\n${pad(head, widths)}`);
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(pad(r, widths));
  const peers = sections.peers as { rows?: PeerRow[]; note?: string } | undefined;
  if (peers?.rows?.length) {
    const h = ["peer case", "metagrad ms", "tfjs-webgpu ms", "jax-js ms", "tfjs/ours", "jax/ours", "tfjs/ours min", "jax/ours min",
      "tfjs/ours cpu", "jax/ours cpu"];
    const f = (x: number | null, r = false) => (x === null ? "n/a" : r ? `${x.toFixed(2)}x` : fmtMs(x));
    const pr = peers.rows.map((p) => [p.id, f(p.metagradMs), f(p.tfjsMs), f(p.jaxMs), f(p.vsTfjs, true), f(p.vsJax, true),
      f(p.vsTfjsMin, true), f(p.vsJaxMin, true), f(p.vsTfjsCpu, true), f(p.vsJaxCpu, true)]);
    const w = h.map((x, i) => Math.max(x.length, ...pr.map((r) => r[i].length)));
    console.log(`\n${h.map((x, i) => (i ? x.padStart(w[i]) : x.padEnd(w[i]))).join("  ")}`);
    for (const r of pr) console.log(r.map((x, i) => (i ? x.padStart(w[i]) : x.padEnd(w[i]))).join("  "));
    if (peers.note) console.log(peers.note);
  }
}
