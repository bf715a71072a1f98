// Verdicts that can fail (PROTOCOL.md, "Controls, seeds and verdicts"). A claim is one measured
// effect beside the controls that could have produced it; per seed the margin is the effect minus
// the strongest control (the control closest to the effect on average), and the verdict reads the
// margin's 95 % interval [lo, hi] over seeds against a stated minimal effect size δ:
//   yes    — lo > δ and the margin is positive in every seed (established, at least δ);
//   partly — not yes, but either lo > 0 and hi > δ (the margin is real and may reach δ), or the
//            margin exceeds δ in every seed while the interval still reaches 0;
//   no     — otherwise (not distinguishable from the control, or shown smaller than δ).
// One seed gives no interval over seeds, so it can give "partly" at most (its margin above δ). An experiment's verdict
// combines its claims: all yes → yes, all no → no, else partly. Checks (identities, sanity rows)
// are reported beside the verdict but are not evidence.
import { meanCI, type Estimate } from "./stats";

/** The verdict words. */
export type Held = "yes" | "partly" | "no";

/** What a claim measures, fixed before looking at the numbers. */
export interface ClaimSpec {
  /** Short id, e.g. "seed-retrieval". */
  id: string;
  /** The claim in words. */
  text: string;
  /** What the effect is, e.g. "top-10 same-seed share at the layer/head chosen on training sequences". */
  effect: string;
  /** "higher": the effect must exceed its controls; "lower": it must stay below them (e.g. a loss). */
  better: "higher" | "lower";
  /** Minimal effect size δ, in the effect's unit. */
  minEffect: number;
}

/** One seed's numbers for a claim: the effect and every control, by name. */
export interface ClaimSample {
  effect: number;
  controls: Record<string, number>;
}

/** A named value over seeds. */
export interface SeededEstimate extends Estimate {
  name: string;
  perSeed: number[];
}

/** A judged claim: the spec, its numbers over seeds, the strongest control, the margin and the outcome. */
export interface ClaimVerdict extends ClaimSpec {
  held: Held;
  /** The rule and how it came out, in words (quoted in the report). */
  rule: string;
  seeds: number[];
  effectValue: SeededEstimate;
  controls: SeededEstimate[];
  /** Name of the strongest control (the margin is taken against it). */
  strongest: string;
  /** Effect minus the strongest control, signed so that positive supports the claim. */
  margin: SeededEstimate;
}

/** A reported check that is not evidence (an identity, a sanity control). */
export interface Check {
  text: string;
  value: number;
  pass: boolean;
}

/** An experiment's verdict, as written into its JSON. */
export interface Verdict {
  held: Held | "n/a";
  /** How the claims combine, and the primary claim's rule. */
  rule: string;
  /** The primary claim's effect and controls. */
  effect: Estimate & { name: string };
  controls: { name: string; value: number; ci95: [number, number] }[];
  seeds: number[];
  claims: ClaimVerdict[];
  checks: Check[];
}

const fmt = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(3))) : "n/a");
const interval = (e: Estimate): string => `${fmt(e.value)} [${fmt(e.ci95[0])}, ${fmt(e.ci95[1])}]`;

/** Judges one claim from its per-seed samples (seeds in the same order). */
export function judgeClaim(spec: ClaimSpec, seeds: readonly number[], samples: readonly ClaimSample[]): ClaimVerdict {
  if (samples.length !== seeds.length) throw new Error(`claim ${spec.id}: ${samples.length} samples for ${seeds.length} seeds`);
  const sign = spec.better === "higher" ? 1 : -1;
  const series = (name: string, perSeed: number[]): SeededEstimate => ({ name, perSeed, ...meanCI(perSeed) });
  const effectValue = series("effect", samples.map((s) => s.effect));
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.controls)))];
  const controls = names.map((n) => series(n, samples.map((s) => s.controls[n] ?? NaN)))
    .filter((c) => c.perSeed.some(Number.isFinite));
  // The strongest control: the one the effect beats by the least on average.
  const finite = controls.filter((c) => Number.isFinite(c.value));
  if (finite.length === 0) throw new Error(`claim ${spec.id}: no control with a finite value (a claim needs a control that could say no)`);
  const strongest = finite.reduce((best, c) => (sign * c.value > sign * best.value ? c : best));
  const margin = series(`effect − ${strongest.name}`, samples.map((s) => sign * (s.effect - (s.controls[strongest.name] ?? NaN))));
  const d = spec.minEffect;
  const every = (f: (m: number) => boolean) => margin.perSeed.length > 0 && margin.perSeed.every(f);
  const [lo, hi] = margin.ci95;
  const held: Held = lo > d && every((m) => m > 0) ? "yes" : (lo > 0 && hi > d) || every((m) => m > d) ? "partly" : "no";
  const what = spec.better === "higher" ? `${spec.effect} − ${strongest.name}` : `${strongest.name} − ${spec.effect}`;
  const rule = `margin = ${what}; yes iff its 95% interval over ${seeds.length} seed(s) lies above δ = ${d} and it is > 0 ` +
    `in every seed; partly iff the interval lies above 0 and reaches past δ, or the margin exceeds δ in every seed; else no. ` +
    `Measured: ${interval(margin)}, per seed ` +
    `${margin.perSeed.map(fmt).join(", ")}${seeds.length < 2 ? " (one seed: no interval over seeds, so at most partly)" : ""} → ${held}`;
  return { ...spec, held, rule, seeds: [...seeds], effectValue, controls, strongest: strongest.name, margin };
}

/** Combines judged claims (all yes → yes, all no → no, else partly; none → n/a) with the checks. */
export function combineClaims(claims: readonly ClaimVerdict[], checks: readonly Check[] = []): Verdict {
  const first = claims[0];
  const held: Verdict["held"] = claims.length === 0 ? "n/a"
    : claims.every((c) => c.held === "yes") ? "yes" : claims.every((c) => c.held === "no") ? "no" : "partly";
  return {
    held,
    rule: `${claims.length} claim(s); yes iff every claim is yes, no iff every claim is no, else partly. ` +
      (first ? `Primary claim (${first.id}): ${first.rule}` : ""),
    effect: first ? { name: first.effect, value: first.effectValue.value, ci95: first.effectValue.ci95 } : { name: "none", value: NaN, ci95: [NaN, NaN] },
    controls: first ? first.controls.map((c) => ({ name: c.name, value: c.value, ci95: c.ci95 })) : [],
    seeds: first ? first.seeds : [],
    claims: [...claims],
    checks: [...checks],
  };
}

/** One line per claim for a report's headline: effect, strongest control, margin and outcome. */
export function claimLine(c: ClaimVerdict): string {
  const ctl = c.controls.find((x) => x.name === c.strongest);
  return `${c.text}: ${c.effect} ${interval(c.effectValue)} vs ${c.strongest} ${ctl ? interval(ctl) : "n/a"}; ` +
    `margin ${interval(c.margin)} (δ = ${c.minEffect}, seeds ${c.seeds.join(", ")}) → ${c.held}`;
}

/** Formats an estimate as "value [lo, hi]". */
export function fmtEstimate(e: Estimate): string {
  return interval(e);
}
