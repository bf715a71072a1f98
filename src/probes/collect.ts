// What an evaluation pass accumulates on the device (one scalar row and a list of arrays per
// forward), its single readback, and the host-side combination into a PassOutput.
// Internal to ProbeSet.
import { readAll, type Tensor } from "../tensor/index";
import { parseSlot, type RecordedArray } from "./context";
import type { HostArray, Lens, PassOutput, ProbeBatch } from "./probe";

interface Row {
  layout: string[];
  t: Tensor | null;
}

/** Per-forward device results of an evaluation pass, read back once. */
export class EvalCollector {
  #rows: Row[] = [];
  #arrays: RecordedArray[] = [];

  constructor(readonly batches: readonly ProbeBatch[], readonly lens: Lens | null, readonly ignoreIndex: number) {}

  /** Takes ownership of one forward's scalar row (see packRow) and arrays. */
  addForward(packed: { layout: string[]; row: Tensor } | null, arrays: RecordedArray[]): void {
    this.#rows.push({ layout: packed?.layout ?? [], t: packed?.row ?? null });
    this.#arrays.push(...arrays);
  }

  /** Reads every row and readable array back in one round trip and combines them per key. */
  async read(): Promise<PassOutput & { allScalars(): Record<string, number[]> }> {
    const rows = this.#rows.filter((r) => r.t);
    const arrs = this.#arrays.filter((a) => a.read);
    const vals = await readAll([...rows.map((r) => r.t!), ...arrs.map((a) => a.t)]);
    // Scalars: mean over the forwards that wrote each slot.
    const sums = new Map<string, { s: number; n: number }>();
    rows.forEach((r, i) => r.layout.forEach((slot, j) => {
      const e = sums.get(slot) ?? { s: 0, n: 0 };
      e.s += vals[i][j];
      e.n++;
      sums.set(slot, e);
    }));
    const scalars: Record<string, number[]> = {};
    for (const [slot, { s, n }] of sums) {
      const [key, i] = parseSlot(slot);
      const arr = (scalars[key] ??= []);
      while (arr.length < i) arr.push(NaN);
      arr[i] = s / n;
    }
    // Arrays: combined per (key, index) in forward order.
    const groups = new Map<string, Map<number, { combine: RecordedArray["combine"]; parts: { v: Float64Array; shape: number[] }[] }>>();
    arrs.forEach((a, i) => {
      const byIndex = groups.get(a.key) ?? new Map();
      groups.set(a.key, byIndex);
      const g = byIndex.get(a.index) ?? { combine: a.combine, parts: [] };
      byIndex.set(a.index, g);
      g.parts.push({ v: vals[rows.length + i], shape: [...a.t.shape] });
    });
    const host = new Map<string, HostArray[]>();
    for (const [key, byIndex] of groups) {
      const out: HostArray[] = [];
      for (const [i, g] of byIndex) out[i] = combine(key, g.combine, g.parts);
      host.set(key, out);
    }
    const arrays = this.#arrays;
    return {
      batches: this.batches,
      lens: this.lens,
      ignoreIndex: this.ignoreIndex,
      scalars: (key) => scalars[key] ?? [],
      arrays: (key) => host.get(key) ?? [],
      pieces: (key) => {
        const out: Tensor[][] = [];
        for (const a of arrays) if (a.key === key) (out[a.index] ??= []).push(a.t);
        return out;
      },
      allScalars: () => scalars,
    };
  }

  /** Frees every device result of the pass. */
  dispose(): void {
    for (const r of this.#rows) r.t?.dispose();
    for (const a of this.#arrays) a.t.dispose();
    this.#rows = [];
    this.#arrays = [];
  }
}

function combine(key: string, how: RecordedArray["combine"], parts: { v: Float64Array; shape: number[] }[]): HostArray {
  const first = parts[0];
  if (how === "concat") {
    const rest = first.shape.slice(1);
    const data = new Float64Array(parts.reduce((s, p) => s + p.v.length, 0));
    let off = 0, rows = 0;
    for (const p of parts) {
      if (p.shape.slice(1).join() !== rest.join()) throw new Error(`probe array '${key}': cannot join shapes [${first.shape}] and [${p.shape}]`);
      data.set(p.v, off);
      off += p.v.length;
      rows += p.shape[0] ?? 1;
    }
    return { data, shape: [rows, ...rest] };
  }
  const data = new Float64Array(first.v.length);
  for (const p of parts) {
    if (p.v.length !== data.length) throw new Error(`probe array '${key}': cannot ${how} shapes [${first.shape}] and [${p.shape}]`);
    for (let i = 0; i < data.length; i++) data[i] += p.v[i];
  }
  if (how === "mean") for (let i = 0; i < data.length; i++) data[i] /= parts.length;
  return { data, shape: first.shape };
}
