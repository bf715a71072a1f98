// Renders a bench result file as Markdown: provenance, targets (met or not, with the numbers),
// peer ratios, the matmul variant table, dispatch/compile overhead, and every case.
import type { CaseResult } from "./harness";
import type { AttentionRow } from "../suites/attention";
import type { PeerRow } from "./table";

/** The parts of a result file the report reads. */
export interface ResultFile {
  started: string;
  /** False while suites are still to run (the file is rewritten after each one). */
  complete?: boolean;
  mode: string;
  suiteMs: Record<string, number>;
  /** Suites that threw: name → error stack. */
  failures?: Record<string, string>;
  adapter?: { description: string; isSoftware: boolean };
  timestamps: boolean;
  machine: Record<string, unknown>;
  machineEnd?: Record<string, unknown>;
  results: CaseResult[];
  peers?: { rows: PeerRow[]; note: string; errors: Record<string, unknown>; versions: Record<string, string | null> };
  matmulVariants?: { adapterIsSoftware: boolean; gflops: Record<string, Record<string, number>> };
  wait?: { spinOverPolite: number | null };
  unavailable?: Record<string, string>;
  gptPipelines?: Record<string, unknown>;
  attention?: { flops: string; rows: AttentionRow[] };
}

const x2 = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : `${v.toFixed(2)}×`);
const ms = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : v >= 100 ? v.toFixed(0) : v.toFixed(2));

function row(cells: (string | number)[]): string {
  return `| ${cells.join(" | ")} |`;
}

function table(head: string[], rows: (string | number)[][]): string {
  return [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n");
}

/** Target checks computed from a result file. */
export function targets(f: ResultFile): { target: string; value: string; met: boolean | null }[] {
  const peer = (id: string) => f.peers?.rows.find((r) => r.id === id);
  // The op case and the selected variant's kernel case at the same shape (GPU time).
  const best = (name: string) => f.results.filter((r) => r.suite === "matmul" && r.impl === "metagrad" &&
      (r.name === name || (r.name === name.replace(/^op /, "variant ") && r.note === "selected")))
    .reduce<number | null>((m, r) => Math.max(m ?? 0, r.gflops ?? 0), null);
  const out: { target: string; value: string; met: boolean | null }[] = [];
  for (const [id, op] of [["matmul 1024x1024x1024", "op square 1024"], ["matmul 4096x256x1024", "op gpt fc fwd"]]) {
    const p = peer(id);
    out.push({ target: `${id}: ≥ 2.5× tfjs-webgpu`, value: `${x2(p?.vsTfjs)} (min-sample ${x2(p?.vsTfjsMin)}, CPU time ${x2(p?.vsTfjsCpu)})`, met: p?.vsTfjs ? p.vsTfjs >= 2.5 : null });
    out.push({ target: `${id}: ≥ 2× jax-js-webgpu`, value: `${x2(p?.vsJax)} (min-sample ${x2(p?.vsJaxMin)}, CPU time ${x2(p?.vsJaxCpu)})`, met: p?.vsJax ? p.vsJax >= 2 : null });
    const g = best(op);
    out.push({ target: `${id}: ≥ 20 GFLOP/s`, value: g === null ? "n/a" : `${g.toFixed(1)} GFLOP/s (GPU time, median; best of op and selected-variant cases)`, met: g === null ? null : g >= 20 });
  }
  for (const id of ["softmax [4096,1024]", "layernorm [4096,256]"]) {
    const p = peer(id);
    out.push({ target: `${id}: ≥ 4× tfjs-webgpu`, value: `${x2(p?.vsTfjs)} (min-sample ${x2(p?.vsTfjsMin)}, CPU time ${x2(p?.vsTfjsCpu)})`, met: p?.vsTfjs ? p.vsTfjs >= 4 : null });
  }
  const mlp = f.peers?.rows.find((r) => r.id.startsWith("mlp"));
  out.push({ target: "small MLP training step: ≥ 2× tfjs-webgpu", value: `${x2(mlp?.vsTfjs)} (min-sample ${x2(mlp?.vsTfjsMin)}, CPU time ${x2(mlp?.vsTfjsCpu)})`, met: mlp?.vsTfjs ? mlp.vsTfjs >= 2 : null });
  out.push({ target: "small MLP training step: ≥ 2× jax-js-webgpu", value: `${x2(mlp?.vsJax)} (min-sample ${x2(mlp?.vsJaxMin)}, CPU time ${x2(mlp?.vsJaxCpu)})`, met: mlp?.vsJax ? mlp.vsJax >= 2 : null });
  // The training step at the three target shapes, the cold first step, the probe overhead.
  for (const r of f.results.filter((x) => x.suite === "step" && x.impl === "metagrad" && x.name.startsWith("GPT step "))) {
    const target = r.extra?.targetMs as number | undefined;
    const torch = f.results.find((x) => x.suite === "step" && x.impl === "pytorch-cpu" && x.name === r.name);
    out.push({
      target: `${r.name.replace("GPT step ", "GPT step ")}: ≤ ${target} ms`,
      value: `${ms(r.ms.median)} ms (${r.dispatches} dispatches, ${r.extra?.submitsPerStep} submit(s), ${r.extra?.distinctPipelines} pipelines, ` +
        `encode ${ms(r.extra?.hostEncodeMs as number)} ms, attention ${((r.extra?.attentionShare as number) * 100).toFixed(0)} %` +
        `${torch ? `; PyTorch CPU ${ms(torch.ms.median)} ms` : ""})`,
      met: target === undefined ? null : r.ms.median <= target,
    });
  }
  const cold = f.results.find((x) => x.suite === "step" && x.name === "first step, cold pipeline cache");
  const warm = f.results.find((x) => x.suite === "step" && x.name === "first step, warm pipeline cache");
  out.push({
    target: "first training step of config a from a cold pipeline cache: ≤ 8 s",
    value: cold ? `${(cold.ms.median / 1000).toFixed(2)} s (${cold.ms.samples > 1 ? `median of ${cold.ms.samples} fresh processes, ${(cold.ms.min / 1000).toFixed(2)}–${(cold.ms.max / 1000).toFixed(2)} s; ` : ""}` +
      `${cold.pipelines} pipelines; warm cache ${warm ? (warm.ms.median / 1000).toFixed(2) : "n/a"} s)` : "n/a",
    met: cold ? cold.ms.median <= 8000 : null,
  });
  for (const p of f.results.filter((x) => x.suite === "probes" && x.name === "train step + D1+D3 every step")) {
    const pct = p.extra?.overheadPct as number | undefined;
    out.push({ target: `probes D1 + D3 every step (${p.shape}): ≤ 5 % of a training step`, value: pct === undefined ? "n/a" : `${pct.toFixed(1)} %`, met: pct === undefined ? null : pct <= 5 });
  }
  const gpt = f.results.find((r) => r.name === "GPT training step");
  const nb = gpt?.extra?.newBuffersPerStep as number | undefined, sb = gpt?.extra?.submitsPerStep as number | undefined;
  out.push({ target: "GPT step: zero new GPU buffers per step after warm-up", value: nb === undefined ? "n/a" : String(nb), met: nb === undefined ? null : nb === 0 });
  out.push({ target: "GPT step: ≤ 3 submits per step", value: sb === undefined ? "n/a" : String(sb), met: sb === undefined ? null : sb <= 3 });
  // Attention against matmul 1024³ in the same run, over the grid T 128–1024 × D 32–128: the worst case decides.
  const grid = f.attention?.rows.filter((r) => r.kind === "grid") ?? [];
  for (const [what, key, goal] of [["forward", "fwdVsMatmul", 0.5], ["fwd+bwd", "fwdBwdVsMatmul", 0.4]] as const) {
    const rs = grid.map((r) => r[key]);
    const lo = Math.min(...rs), hi = Math.max(...rs);
    const worst = grid.find((r) => r[key] === lo);
    out.push({
      target: `attention ${what} vs matmul: ≥ ${goal * 100} % of the 1024³ matmul GFLOP/s (T 128–1024, D 32–128)`,
      value: rs.length ? `${(lo * 100).toFixed(0)}–${(hi * 100).toFixed(0)} % over ${rs.length} shapes (lowest: ${worst!.shape})` : "n/a",
      met: rs.length ? lo >= goal : null,
    });
  }
  return out;
}

/** The Markdown report of one result file. */
export function renderMarkdown(f: ResultFile): string {
  const m = f.machine;
  const parts: string[] = [];
  if (f.complete === false) parts.push("**Partial run**: interrupted, or still running; only the suites listed below ran.");
  parts.push(`Run of ${f.started} (${f.mode} mode), adapter **${f.adapter?.description ?? "?"}** ` +
    `(software: ${f.adapter?.isSoftware}), GPU timestamps: ${f.timestamps}; machine: ${m.cpus} × ${m.cpuModel}, ` +
    `Node ${m.node}; LP_NUM_THREADS ${m.lpNumThreads === undefined ? "not recorded" : m.lpNumThreads ?? "unset"}; load average at start ${JSON.stringify(m.loadavg)}` +
    `${f.machineEnd ? `, at end ${JSON.stringify(f.machineEnd.loadavg)}` : ""}. Suite wall times (s): ` +
    Object.entries(f.suiteMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)}`).join(", ") + ".");
  const failed = Object.entries(f.failures ?? {});
  if (failed.length) {
    parts.push("### Failed suites\n\n" + failed.map(([k, v]) => `- ${k}: ${v.split("\n")[0]}`).join("\n"));
  }
  parts.push("### Targets\n\n" + table(["target", "measured", "met"],
    targets(f).map((t) => [t.target, t.value, t.met === null ? "not measured" : t.met ? "yes" : "**no**"])));
  if (f.peers) {
    parts.push("### Peers (same adapter, median ms per call; ratio = their time / ours)\n\n" + table(
      ["case", "metagrad", `tfjs-webgpu ${f.peers.versions?.tfjs ?? ""}`, `jax-js-webgpu ${f.peers.versions?.jax ?? ""}`,
        "tfjs / ours", "jax / ours", "tfjs / ours (min)", "jax / ours (min)", "CPU ms/call ours, tfjs, jax", "tfjs / ours (CPU)", "jax / ours (CPU)"],
      f.peers.rows.map((r) => [r.id, ms(r.metagradMs), ms(r.tfjsMs), ms(r.jaxMs), x2(r.vsTfjs), x2(r.vsJax), x2(r.vsTfjsMin), x2(r.vsJaxMin),
        r.cpuMs ? [r.cpuMs.metagrad, r.cpuMs.tfjs, r.cpuMs.jax].map(ms).join(", ") : "n/a", x2(r.vsTfjsCpu), x2(r.vsJaxCpu)])) +
      `\n\n${f.peers.note}` +
      (Object.keys(f.peers.errors ?? {}).length ? `\n\nPeer errors: \`${JSON.stringify(f.peers.errors)}\`` : ""));
  }
  if (f.attention?.rows.length) {
    const pc = (x: number) => `${(x * 100).toFixed(0)} %`;
    parts.push("### Attention (GFLOP/s of GPU time, median of rounds; ratio to the 1024³ matmul op in the same rounds)\n\n" + table(
      ["case", "shape", "variant", "fwd ms", "bwd ms", "fwd GFLOP/s", "fwd+bwd GFLOP/s", "fwd / matmul", "fwd+bwd / matmul"],
      f.attention.rows.map((r) => [r.kind, r.shape, r.variant, ms(r.fwdMs), ms(r.bwdMs), r.fwdGflops.toFixed(1), r.fwdBwdGflops.toFixed(1),
        pc(r.fwdVsMatmul), pc(r.fwdBwdVsMatmul)])) + `\n\nFLOPs: ${f.attention.flops}.`);
  }
  if (f.matmulVariants) {
    const cols = [...new Set(Object.values(f.matmulVariants.gflops).flatMap((r) => Object.keys(r)))];
    parts.push("### Matmul variants (GFLOP/s from GPU timestamps, median)\n\n" + table(["shape", ...cols],
      Object.entries(f.matmulVariants.gflops).map(([k, r]) => [k, ...cols.map((c) => (r[c] === undefined ? "" : r[c].toFixed(1)))])));
  }
  const ov = f.results.filter((r) => r.impl === "metagrad" && r.dispatches !== undefined);
  if (ov.length) {
    parts.push("### Dispatch and compile overhead\n\n" + table(
      ["case", "shape", "dispatches", "JS µs / dispatch", "new pipelines", "cold first run ms", "warm median ms"],
      ov.map((r) => [r.name, r.shape, r.dispatches!.toFixed(0), (r.jsUsPerDispatch ?? 0).toFixed(0), r.pipelines ?? "",
        ms(r.firstRunMs), ms(r.ms.median)])));
  }
  if (f.gptPipelines) {
    const g = f.gptPipelines;
    parts.push(`GPT step pipelines: ${g.dispatchesPerStep} dispatches, ${g.distinctPipelines} distinct pipelines from ` +
      `${g.distinctKernels} kernel generators; ${g.shapeCopiesAvoidable} are shape-baked copies that sizes-in-a-uniform ` +
      `kernels would not compile (${JSON.stringify(g.copiesByKernel)}). Cold first step minus a warm step: ` +
      `${g.coldFirstStepExtraMs} ms, about ${g.msPerPipelineCold} ms per pipeline.`);
  }
  parts.push("### All cases\n\n" + table(["suite", "impl", "case", "shape", "variant", "timing", "median ms", "min", "max", "throughput", "check", "extra"],
    f.results.map((r) => [r.suite, r.impl, r.name, r.shape, `${r.variant ?? ""}${r.note ? ` (${r.note})` : ""}`, r.timing,
      ms(r.ms.median), ms(r.ms.min), ms(r.ms.max),
      r.gflops !== undefined ? `${r.gflops.toFixed(1)} GFLOP/s` : r.gbps !== undefined ? `${r.gbps.toFixed(1)} GB/s` : "",
      r.check ? (r.check.ok ? "ok" : "FAIL") : "", r.extra ? JSON.stringify(r.extra).replace(/"/g, "").replace(/\|/g, "/") : ""])));
  if (f.unavailable && Object.keys(f.unavailable).length) {
    parts.push(`Not measured: ${Object.entries(f.unavailable).map(([k, v]) => `${k} (${v})`).join("; ")}.`);
  }
  return `${parts.join("\n\n")}\n`;
}
