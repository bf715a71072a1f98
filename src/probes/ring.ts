// The metrics ring of training steps: each probed step leaves one row of scalars on the device;
// every `size` rows are joined into one tensor that rides along a step's single readback, and
// the values read back are decoded into per-step records. Internal to ProbeSet.
import { concat, keep, noGrad, readAll, type Tensor } from "../tensor/index";
import { parseSlot } from "./context";

/** One training step's probe scalars: `values[key][index]`, e.g. `values["D1.inner_loss"][l]`. */
export interface ProbeRecord {
  /** 0-based optimizer step whose forward was probed. */
  step: number;
  values: Record<string, number[]>;
}

/** Device-side rows waiting for a readback, and the layout of the rows last handed out. */
export class MetricsRing {
  #pending: { step: number; layout: string[]; t: Tensor }[] = [];
  #inflight: { step: number; layout: string[] }[] = [];

  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new Error(`ProbeSet: ringSize must be a positive integer, got ${size}`);
  }

  /** Takes ownership of a step's row [M] with its slot layout. */
  push(step: number, layout: string[], row: Tensor): void {
    this.#pending.push({ step, layout, t: keep(row) });
  }

  /** The tensor to read back when the ring is full (or `force`d and not empty), else []. */
  take(force = false): Tensor[] {
    const rows = this.#pending;
    if (rows.length === 0 || (!force && rows.length < this.size)) return [];
    this.#pending = [];
    this.#inflight = rows.map(({ step, layout }) => ({ step, layout }));
    const t = noGrad(() => (rows.length === 1 ? rows[0].t : concat(rows.map((r) => r.t), 0)));
    if (rows.length > 1) for (const r of rows) r.t.dispose();
    return [t];
  }

  /** Decodes the values read back for the last take() into records. */
  ingest(values: Float64Array): ProbeRecord[] {
    const out: ProbeRecord[] = [];
    let off = 0;
    for (const { step, layout } of this.#inflight) {
      const rec: ProbeRecord = { step, values: {} };
      layout.forEach((slot, j) => {
        const [key, i] = parseSlot(slot);
        (rec.values[key] ??= [])[i] = values[off + j];
      });
      off += layout.length;
      out.push(rec);
    }
    if (off !== values.length) throw new Error(`ProbeSet.ingest: expected ${off} values, got ${values.length}`);
    this.#inflight = [];
    return out;
  }

  /** Reads back whatever is pending (one readback) and returns its records. */
  async flush(): Promise<ProbeRecord[]> {
    const [t] = this.take(true);
    if (!t) return [];
    try {
      return this.ingest((await readAll([t]))[0]);
    } finally {
      t.dispose();
    }
  }

  /** Frees the pending rows. */
  dispose(): void {
    for (const r of this.#pending) r.t.dispose();
    this.#pending = [];
  }
}
