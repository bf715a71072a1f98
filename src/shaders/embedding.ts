// WGSL for embedding lookup (a row gather) and its deterministic backward (a scatter-add done as
// in-order gathers, no atomics). Ids outside [0, V) read nothing: the forward writes a zero row
// and the backward skips the position; the op's device check (shaders/checks.ts) reports them.
import { grid1d, kernel, main1d, type Kernel } from "./wgsl";

/** Positions (N, all index dims flattened), vocabulary rows (V) and channels (C). */
export interface EmbeddingDims {
  N: number;
  V: number;
  C: number;
}

const MAXG = 65535;

function words(C: number): { T: string; Cw: number } {
  return C % 4 === 0 ? { T: "vec4f", Cw: C / 4 } : { T: "f32", Cw: C };
}

/** Invocations per workgroup across the channel words of one row. */
function chanWg(Cw: number): number {
  let wg = 8;
  while (wg < Cw && wg < 64) wg *= 2;
  return wg;
}

const valid = (id: string, V: number) => `(${id} >= 0i && ${id} < ${V}i)`;

/** Forward: out[n, :] = table[idx[n], :] (zeros for an out-of-range id). */
export function embeddingKernel({ N, V, C }: EmbeddingDims): { k: Kernel; grid: number[] } {
  const { T, Cw } = words(C);
  const k = kernel(`embedding${T === "f32" ? "" : "_v4"}`, [
    { name: "idx", kind: "read", type: "i32" },
    { name: "table", kind: "read", type: T },
    { name: "out", kind: "rw", type: T },
  ], `${main1d()}
  if (i >= ${N * Cw}u) { return; }
  let n = i / ${Cw}u;
  let c = i % ${Cw}u;
  let id = idx[n];
  if (${valid("id", V)}) { out[i] = table[u32(id) * ${Cw}u + c]; } else { out[i] = ${T}(0.0); }
}`);
  return { k, grid: grid1d(N * Cw) };
}

/** The backward kernel plus whether dtable must be zero-filled first. */
export interface EmbeddingBackwardPlan {
  k: Kernel;
  grid: number[];
  /** True for the by-position variant, which writes only the rows that occur. */
  clearFirst: boolean;
}

/** Vocabulary rows per workgroup of the by-vocab backward: each scan of the ids serves this many rows. */
const VOCAB_ROWS = 32;

/**
 * Backward dtable [V, C]. Both variants sum the dy rows of each id in increasing position order
 * (bit-identical results) with uniform index reads: by vocab row (one workgroup per
 * {@link VOCAB_ROWS} ids and channel chunk, scanning all positions once for its rows) when V <= N,
 * else by position (one workgroup per (position, channel chunk); the first occurrence of an id
 * sums all its later occurrences).
 */
export function embeddingBackwardPlan({ N, V, C }: EmbeddingDims): EmbeddingBackwardPlan {
  const { T, Cw } = words(C);
  const wg = chanWg(Cw);
  const byVocab = V <= N;
  const G = byVocab ? VOCAB_ROWS : 1; // rows per workgroup
  const blocks = Math.ceil((byVocab ? V : N) / G);
  const grid = [Math.ceil(Cw / wg), Math.min(blocks, MAXG), Math.ceil(blocks / MAXG)];
  const rowsOf = [...Array(G).keys()];
  const head = `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = (wid.y + wid.z * ${MAXG}u) * ${G}u;
  let c = wid.x * ${wg}u + lid.x;
  if (row >= ${byVocab ? V : N}u || c >= ${Cw}u) { return; }`;
  // By vocab: id - row picks the accumulator (an if chain, not a select, so that an unmatched
  // row adds nothing, not +0.0); rows past V are never matched and not stored.
  const body = byVocab
    ? `
  ${rowsOf.map((j) => `var acc${j} = ${T}(0.0);`).join(" ")}
  for (var n = 0u; n < ${N}u; n++) {
    let j = idx[n] - i32(row);
    if (j >= 0i && j < ${G}i) {
      let v = dy[n * ${Cw}u + c];
      ${rowsOf.map((j) => `if (j == ${j}i) { acc${j} += v; }`).join(" else ")}
    }
  }
  ${rowsOf.map((j) => `${j ? `if (row + ${j}u < ${V}u) { ` : ""}dtable[(row + ${j}u) * ${Cw}u + c] = acc${j};${j ? " }" : ""}`).join("\n  ")}
}`
    : `
  let id = idx[row];
  if (!${valid("id", V)}) { return; }
  for (var m = 0u; m < row; m++) { if (idx[m] == id) { return; } }
  var acc = ${T}(0.0);
  for (var n = row; n < ${N}u; n++) {
    if (idx[n] == id) { acc += dy[n * ${Cw}u + c]; }
  }
  dtable[u32(id) * ${Cw}u + c] = acc;
}`;
  const k = kernel(`embedding_backward_${byVocab ? "by_vocab" : "by_position"}${T === "f32" ? "" : "_v4"}`, [
    { name: "dy", kind: "read", type: T },
    { name: "idx", kind: "read", type: "i32" },
    { name: "dtable", kind: "rw", type: T },
  ], head + body);
  return { k, grid, clearFirst: !byVocab };
}
