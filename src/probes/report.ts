// The result of an evaluation pass: each probe's result (typed by the probe), the pass's scalars
// and the definition every output follows.
import { describeProbe, type Probe, type ResultOf } from "./probe";

/** The result of an evaluation pass: each probe's result, its scalars and definitions. */
export class ProbeReport {
  constructor(
    readonly probes: readonly Probe[],
    /** Mean over the pass's forwards of every scalar key, by index. */
    readonly scalars: Record<string, number[]>,
    readonly results: ReadonlyMap<Probe, unknown>,
  ) {}

  /** The result of `probe` (typed by the probe). */
  get<P extends Probe>(probe: P): ResultOf<P> {
    if (!this.results.has(probe)) throw new Error(`ProbeReport: probe '${probe.name}' did not run in this pass`);
    return this.results.get(probe) as ResultOf<P>;
  }

  /** Probe name → "Dn name: reading" (what every output must state). */
  get definitions(): Record<string, string> {
    return Object.fromEntries(this.probes.map((p) => [p.name, describeProbe(p)]));
  }
}
