// D2 (inner-gradient alignment) as E2 and E4 use it: run the src/probes `alignment` probe in an
// evaluation pass, keep its per-layer numbers, draw them, and the rules that read them
// ("each layer is a descent step": cos(Δ, −g) clearly above the random-direction control).
import { meanFinite } from "../src/probes/host";
import { alignment, type AlignmentResult, type ProbeBatch, type ProbeSet } from "../src/probes/index";
import { f3, figure } from "./experiment";
import { grid, lineChart } from "./plot";
import type { ReportFigure } from "./report";

/** D2 per layer l = 0..L−1 (Δ^l = h^{l+1} − h^l): the probe's per-layer numbers plus the layer indices. */
export type AlignmentByLayer = Pick<AlignmentResult, "reading" | "cos" | "cosAttn" | "cosMlp" | "cosRandom" | "eta" | "gradNorm"> & {
  layers: number[];
};

/** Margin by which the mean cos(Δ, −g) must beat the random direction's |cos|. */
export const D2_MARGIN = 0.05;

/** Runs D2 on `batches` with the ProbeSet's model (a seeded random control direction). */
export async function alignmentOf(ps: ProbeSet, batches: readonly ProbeBatch[], seed = 0): Promise<AlignmentByLayer> {
  const d2 = (ps.probes.find((p) => p.name === "D2") as ReturnType<typeof alignment> | undefined)
    ?? ps.add(alignment({ seed }), { every: 0 });
  const r = (await ps.evaluate(batches, { probes: [d2] })).get(d2) as AlignmentResult;
  return {
    reading: r.reading, layers: r.cos.map((_, l) => l), cos: r.cos, cosAttn: r.cosAttn, cosMlp: r.cosMlp,
    cosRandom: r.cosRandom, eta: r.eta, gradNorm: r.gradNorm,
  };
}

/** The D2 rules: trained alignment beats the random control (and the untrained model, when given). */
export function alignmentRules(a: AlignmentByLayer, untrained?: AlignmentByLayer): { text: string; pass: boolean }[] {
  const c = meanFinite(a.cos), rnd = Math.abs(meanFinite(a.cosRandom));
  const out = [{
    text: `D2: mean over layers of cos(Δ^l, −g^l) = ${f3(c)} exceeds |random-direction cos| = ${f3(rnd)} by ≥ ${D2_MARGIN}`,
    pass: c >= rnd + D2_MARGIN,
  }];
  if (untrained) {
    const u = meanFinite(untrained.cos);
    out.push({ text: `D2: trained alignment ${f3(c)} > untrained-model alignment ${f3(u)}`, pass: c > u });
  }
  return out;
}

/** One panel per model (cos of Δ, its attention and MLP parts, random control) and one of η. */
export async function alignmentFigure(outDir: string, name: string, title: string,
  models: { name: string; a: AlignmentByLayer }[]): Promise<ReportFigure> {
  const panels = models.map(({ name: n, a }) => lineChart({
    title: n, xLabel: "layer l (Δ^l = h^{l+1} − h^l)", yLabel: "mean cos with −g^l", width: 260, height: 200,
    series: [
      { name: "Δ (whole block)", x: a.layers, y: a.cos },
      { name: "attention part", x: a.layers, y: a.cosAttn },
      { name: "MLP part", x: a.layers, y: a.cosMlp },
      { name: "random direction", x: a.layers, y: a.cosRandom },
    ],
  }));
  panels.push(lineChart({
    title: "fitted step size η_l", xLabel: "layer l", yLabel: "η_l = ⟨Δ, −g⟩ / ‖g‖²", width: 260, height: 200,
    series: models.map(({ name: n, a }) => ({ name: n, x: a.layers, y: a.eta })),
  }));
  return figure(outDir, name, grid({ title, panels, columns: 3, independentColor: true }),
    "D2: mean cosine between each block's update Δ^l (and its attention and MLP parts) and the negative inner-loss gradient −g^l " +
    "(taken through LN_f and W_U only), against a fixed random direction; last panel: the least-squares step size η_l.");
}
