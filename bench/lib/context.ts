// What every suite receives: the budget, the quick flag and where to put results.
import type { Budget, CaseResult } from "./harness";

/** Shared state of one `npm run bench` invocation. */
export interface SuiteContext {
  quick: boolean;
  budget: Budget;
  results: CaseResult[];
  /** Prints one progress line. */
  log: (msg: string) => void;
  /** Extra sections of the JSON file (selection tables, child-process reports). */
  sections: Record<string, unknown>;
}

/** A bench suite: a name for `--suite` and its runner. */
export interface Suite {
  name: string;
  describe: string;
  run: (ctx: SuiteContext) => Promise<void>;
}

/** Adds a result, printing a one-line summary. */
export function record(ctx: SuiteContext, r: CaseResult): void {
  ctx.results.push(r);
  const thr = r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : r.gbps !== undefined ? `${r.gbps.toFixed(1)} GB/s` : "";
  const chk = r.check ? (r.check.ok ? " check ok" : ` CHECK FAILED (max err ${r.check.maxErr.toExponential(2)})`) : "";
  ctx.log(`  ${r.impl.padEnd(13)} ${r.name.padEnd(28)} ${r.shape.padEnd(28)} ${r.variant ? `${r.variant} ` : ""}` +
    `${r.ms.median.toFixed(3)} ms ${thr}${chk}${r.note ? ` (${r.note})` : ""}`);
}
