// A small custom probe for E5's projections: it copies the residual-stream vectors h^0..h^L at a
// fixed sample of positions (gathered on the device, read back once per pass) so the host can run
// PCA on them. It measures nothing itself; the protocol's D1–D6 live in src/probes.
import { indexSelect, reshape, type Tensor } from "../src/tensor/index";
import { RESIDUAL_TAPS, type PassOutput, type Probe, type ProbeBatch, type ProbeContext } from "../src/probes/index";
import { Rng } from "../src/data/rng";

/** The gathered vectors of one pass. */
export interface RepsResult {
  /** Per stream index l: [n, C] row-major. */
  perLayer: Float64Array[];
  n: number;
  C: number;
  /** For each gathered row: its sequence (in pass order), position t and current token id. */
  seq: Int32Array;
  position: Int32Array;
  token: Int32Array;
}

/** Chooses `n` distinct positions of a pass (deterministic from `seed`), grouped by forward. */
export function samplePositions(batches: readonly ProbeBatch[], n: number, seed: number): Int32Array[] {
  const total = batches.reduce((s, b) => s + b.B * b.T, 0);
  const perm = new Rng(seed, 0x7e95).permutation(total);
  const chosen = Array.from(perm.subarray(0, Math.min(n, total))).sort((a, b) => a - b);
  const out: number[][] = batches.map(() => []);
  const size = (f: number): number => batches[f].B * batches[f].T;
  let fwd = 0, base = 0;
  for (const i of chosen) {
    while (i >= base + size(fwd)) {
      base += size(fwd);
      fwd++;
    }
    out[fwd].push(i - base);
  }
  return out.map((a) => Int32Array.from(a));
}

/** The probe: `picks[f]` are flat indices b·T + t of forward f whose vectors are kept. */
export function representations(picks: readonly Int32Array[]): Probe<RepsResult> {
  return {
    name: "reps",
    definition: "custom",
    reading: "residual-stream vectors h^l_t (before any LayerNorm) at sampled positions, for PCA",
    taps: RESIDUAL_TAPS,
    evalOnly: true,
    onTap(_name: string, h: Tensor, l: number, ctx: ProbeContext) {
      const p = picks[ctx.forward];
      if (!p || p.length === 0) return;
      const { B, T } = ctx.batch;
      const C = h.shape[h.rank - 1];
      const idx = ctx.ids("reps.positions", p, B * T); // uploaded once per forward, shared by every layer
      ctx.array("reps.h", l, indexSelect(reshape(h, [B * T, C]), 0, idx), "concat"); // [n_f, C]
    },
    finish(out: PassOutput): RepsResult {
      const arrays = out.arrays("reps.h");
      const seq: number[] = [], position: number[] = [], token: number[] = [];
      let s0 = 0;
      out.batches.forEach((b, f) => {
        for (const i of picks[f] ?? []) {
          seq.push(s0 + Math.floor(i / b.T));
          position.push(i % b.T);
          token.push(b.x[i]);
        }
        s0 += b.B;
      });
      const C = arrays[0]?.shape[1] ?? 0;
      return {
        perLayer: arrays.map((a) => a.data), n: seq.length, C,
        seq: Int32Array.from(seq), position: Int32Array.from(position), token: Int32Array.from(token),
      };
    },
  };
}
