// Peer suite: the same matmul, softmax, layernorm and MLP training step in metagrad,
// TensorFlow.js (tfjs-backend-webgpu) and jax-js (webgpu), each in its own child process on the
// same adapter, timed by one harness (one call + GPU completion, polite wait for all three).
import { fileURLToPath } from "node:url";
import { record, type Suite } from "../lib/context";
import { runChild } from "../lib/child";
import { peerCases } from "../lib/shapes";
import type { PeerRow } from "../lib/table";
import type { PeerReport } from "../peers/child";

const CHILD = fileURLToPath(new URL("../peers/child.ts", import.meta.url));
const IMPLS = ["metagrad", "tfjs", "jax"] as const;

/** The fairness statement printed with the ratios and stored in the JSON. */
export const FAIRNESS = "Same adapter, same harness, each implementation in a fresh child process; one sample = one " +
  "call + waiting for GPU completion. Every implementation waits through the same politeWait (0.25 ms Atomics.wait " +
  "slices) instead of dawn.node's spinning await; the MLP step reads its loss every step in all three. " +
  "Ratios are their median / our median (> 1: metagrad is faster); full mode runs two rounds in opposite " +
  "orders and keeps each case's faster round. 'cpu' ratios compare CPU time per call of the whole process " +
  "(main thread + Dawn + lavapipe workers), which other load on a shared machine disturbs less than wall time.";

/** Per case, the round with the lower median (errors kept only when no round succeeded). */
function mergeRounds(a: PeerReport, b: PeerReport): PeerReport {
  const cases = a.cases.map((ca) => {
    const cb = b.cases.find((x) => x.id === ca.id);
    if (!cb?.ms) return ca;
    if (!ca.ms) return cb;
    return cb.ms.median < ca.ms.median ? cb : ca;
  });
  for (const cb of b.cases) if (!cases.some((x) => x.id === cb.id)) cases.push(cb);
  return { ...a, error: a.error && b.error ? a.error : undefined, cases, setup: a.setup ?? b.setup, version: a.version ?? b.version };
}

/** The peer suite. */
export const peersSuite: Suite = {
  name: "peers",
  describe: "metagrad vs tfjs-webgpu vs jax-js-webgpu: matmul, softmax, layernorm, MLP train step (child processes)",
  run: async (ctx) => {
    const reports: Record<string, PeerReport | { impl: string; error: string; cases: [] }> = {};
    // Full mode runs two rounds in opposite orders and keeps each case's faster round, so a burst
    // of other load on the machine does not land on one implementation only.
    const rounds = ctx.quick ? [IMPLS] : [IMPLS, [...IMPLS].reverse()];
    for (const [ri, order] of rounds.entries()) {
      for (const impl of order) {
        ctx.log(`peer ${impl} (round ${ri + 1}/${rounds.length}):`);
        const o = await runChild<PeerReport>(CHILD, [impl, ctx.quick ? "quick" : "full"], {
          timeoutMs: ctx.quick ? 240_000 : 420_000, prefix: "    ",
        });
        const rep: PeerReport = o.report ?? { impl, error: o.error ?? "no report", cases: [] };
        if (o.report && o.error) rep.error = o.error;
        reports[impl] = reports[impl] ? mergeRounds(reports[impl] as PeerReport, rep) : rep;
      }
    }
    const rows: PeerRow[] = [];
    for (const c of peerCases(ctx.quick)) {
      const ms = (impl: string, k: "median" | "min" = "median") => reports[impl].cases.find((x) => x.id === c.id)?.ms?.[k] ?? null;
      const ratio = (a: number | null, b: number | null) => (a && b ? b / a : null);
      const cpu = (impl: string) => reports[impl].cases.find((x) => x.id === c.id)?.cpuMsPerCall ?? null;
      const ours = ms("metagrad"), tf = ms("tfjs"), jx = ms("jax");
      rows.push({
        id: c.id, metagradMs: ours, tfjsMs: tf, jaxMs: jx, vsTfjs: ratio(ours, tf), vsJax: ratio(ours, jx),
        vsTfjsMin: ratio(ms("metagrad", "min"), ms("tfjs", "min")), vsJaxMin: ratio(ms("metagrad", "min"), ms("jax", "min")),
        cpuMs: { metagrad: cpu("metagrad"), tfjs: cpu("tfjs"), jax: cpu("jax") },
        vsTfjsCpu: ratio(cpu("metagrad"), cpu("tfjs")), vsJaxCpu: ratio(cpu("metagrad"), cpu("jax")),
      });
      for (const impl of IMPLS) {
        const r = reports[impl].cases.find((x) => x.id === c.id);
        if (!r?.ms) continue;
        const name = reports[impl].impl;
        record(ctx, {
          suite: "peers", name: c.id, shape: c.dims.join("x"), impl: name, timing: "wall-e2e", ms: r.ms,
          gflops: c.flop ? c.flop / r.ms.median / 1e6 : undefined, gbps: c.bytes ? c.bytes / r.ms.median / 1e6 : undefined,
          check: r.check ? { shape: "small", ...r.check } : undefined, firstRunMs: r.firstRunMs,
          extra: r.cpuMsPerCall !== undefined ? { cpuMsPerCall: Number(r.cpuMsPerCall.toFixed(2)) } : undefined,
        });
      }
    }
    ctx.sections.peers = {
      note: FAIRNESS,
      rows,
      errors: Object.fromEntries(IMPLS.flatMap((i) => {
        const rep = reports[i];
        const caseErrs = rep.cases.filter((x) => x.error).map((x) => `${x.id}: ${x.error}`);
        return rep.error || caseErrs.length ? [[i, { process: rep.error ?? null, cases: caseErrs }]] : [];
      })),
      versions: Object.fromEntries(IMPLS.map((i) => [i, (reports[i] as PeerReport).version ?? null])),
      setup: Object.fromEntries(IMPLS.map((i) => [i, (reports[i] as PeerReport).setup ?? null])),
    };
  },
};
