// D2 (inner-gradient alignment) as E2 and E4 use it: run the src/probes `alignment` probe in an
// evaluation pass, keep its per-layer numbers, and draw them beside the controls that can fail
// (the shuffled-target gradient, the untrained model) and the random-direction sanity row.
import { alignment, type AlignmentResult, type ProbeBatch, type ProbeSet } from "../src/probes/index";
import { bandOver, figure } from "./experiment";
import { grid, lineChart } from "./plot";
import type { ReportFigure } from "./report";
import { mean } from "./stats";

/** D2 per layer l = 0..L−1 (Δ^l = h^{l+1} − h^l): the probe's per-layer numbers plus the layer indices. */
export type AlignmentByLayer = Pick<AlignmentResult, "reading" | "cos" | "cosAttn" | "cosMlp" | "cosRandom" | "eta" | "gradNorm"> & {
  layers: number[];
};

/** Runs D2 on `batches` with the ProbeSet's model (a seeded random sanity direction; the probe is attached on first use). */
export async function alignmentOf(ps: ProbeSet, batches: readonly ProbeBatch[], seed = 0): Promise<AlignmentByLayer> {
  const d2 = (ps.probes.find((p) => p.name === "D2") as ReturnType<typeof alignment> | undefined)
    ?? ps.add(alignment({ seed }), { every: 0 });
  const r = (await ps.evaluate(batches, { probes: [d2] })).get(d2) as AlignmentResult;
  return {
    reading: r.reading, layers: r.cos.map((_, l) => l), cos: r.cos, cosAttn: r.cosAttn, cosMlp: r.cosMlp,
    cosRandom: r.cosRandom, eta: r.eta, gradNorm: r.gradNorm,
  };
}

/** Mean over layers of cos(Δ^l, −g^l): the number the D2 claims judge. */
export function meanCos(a: AlignmentByLayer): number {
  return mean(a.cos);
}

/** The D2 numbers of one model in every seed: trained, shuffled targets, untrained. */
export interface AlignmentSeeds {
  name: string;
  trained: AlignmentByLayer[];
  shuffled: AlignmentByLayer[];
  untrained: AlignmentByLayer[];
}

/** One panel per model (mean over seeds with 95% bands) and one of the fitted step size η. */
export async function alignmentFigure(outDir: string, name: string, title: string, models: AlignmentSeeds[]): Promise<ReportFigure> {
  const band = (as: AlignmentByLayer[], k: "cos" | "cosAttn" | "cosMlp" | "cosRandom" | "eta") => bandOver(as.map((a) => a[k]));
  const panels = models.map((m) => {
    const layers = m.trained[0].layers;
    return lineChart({
      title: m.name, xLabel: "layer l (Δ^l = h^{l+1} − h^l)", yLabel: "mean cos with −g^l", width: 260, height: 200,
      series: [
        { name: "Δ (whole block)", x: layers, ...band(m.trained, "cos") },
        { name: "attention part", x: layers, ...band(m.trained, "cosAttn") },
        { name: "MLP part", x: layers, ...band(m.trained, "cosMlp") },
        { name: "shuffled-target gradient", dash: "control", x: layers, ...band(m.shuffled, "cos") },
        { name: "untrained model", dash: "control", x: layers, ...band(m.untrained, "cos") },
        { name: "random direction (sanity)", dash: "control", x: layers, ...band(m.trained, "cosRandom") },
      ],
    });
  });
  panels.push(lineChart({
    title: "fitted step size η_l", xLabel: "layer l", yLabel: "η_l = ⟨Δ, −g⟩ / ‖g‖²", width: 260, height: 200,
    series: models.map((m) => ({ name: m.name, x: m.trained[0].layers, ...band(m.trained, "eta") })),
  }));
  return figure(outDir, name, grid({ title, panels, columns: 3, independentColor: true }),
    "D2: mean cosine between each block's update Δ^l (and its attention and MLP parts) and the negative inner-loss gradient −g^l " +
    "(taken through LN_f and W_U only); dashed: the gradient for shuffled next-token targets (same model and batch), the untrained " +
    "model, and a fixed random direction (sanity row); mean over seeds, band = 95% interval; last panel: the least-squares step size η_l.");
}
