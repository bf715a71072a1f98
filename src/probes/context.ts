// One forward's probe state: the ProbeContext handed to probes (device copies of targets, masks
// and ids, made once per forward), the taps seen so far, and the scalars and arrays recorded.
// Internal to ProbeSet; probes only see the ProbeContext interface.
import { concat, fromValues, keep, noGrad, reshape, type Backend, type Tensor } from "../tensor/index";
import type { Combine, Lens, ProbeBatch, ProbeContext } from "./probe";

/** An array recorded by a probe in one forward. */
export interface RecordedArray {
  key: string;
  index: number;
  t: Tensor;
  combine: Combine;
  read: boolean;
}

/** Settings shared by every forward of a ProbeSet. */
export interface ForwardEnv {
  mode: "train" | "eval";
  backend: Backend;
  ignoreIndex: number;
  lens: Lens | null;
  /** Whether onForwardEnd() runs while the forward's tensors are alive and the weights unchanged. */
  canDefer: boolean;
  persistent(key: string, make: () => Tensor): Tensor;
}

/** Slot name of (key, index) in a scalar row. */
export const slotOf = (key: string, index: number): string => `${key}#${index}`;

/** Scalars recorded as one tensor: its values fill `slots` in order. */
export interface ScalarGroup {
  t: Tensor;
  slots: string[];
}

/** Packs scalar groups into one row [M] (kept) and its slot layout; disposes the groups. */
export function packRow(groups: Iterable<ScalarGroup>): { layout: string[]; row: Tensor } | null {
  const gs = [...groups];
  if (gs.length === 0) return null;
  const row = keep(noGrad(() => (gs.length === 1 && gs[0].t.rank === 1 ? reshape(gs[0].t, [gs[0].t.size])
    : concat(gs.map((g) => reshape(g.t, [g.t.size])), 0))));
  for (const g of gs) g.t.dispose();
  return { layout: gs.flatMap((g) => g.slots), row };
}

/** Splits a slot name back into its key and index. */
export function parseSlot(slot: string): [string, number] {
  const at = slot.lastIndexOf("#");
  return [slot.slice(0, at), Number(slot.slice(at + 1))];
}

/** The state of one forward pass under a ProbeSet. */
export class Forward {
  /** The taps of this forward so far, by name (a name that repeats starts the next forward). */
  readonly taps = new Map<string, Tensor>();
  /** Per probe: the distinct tensors matched so far and their stream index. */
  readonly idents = new Map<object, Map<Tensor, number>>();
  /** Recorded scalars by their first slot. */
  readonly scalars = new Map<string, ScalarGroup>();
  /** Tensors cached for this forward by ctx.memo(). */
  readonly #memo = new Map<string, Tensor>();
  readonly arrays: RecordedArray[] = [];
  readonly ctx: ProbeContext;
  #owned = new Map<string, Tensor>();

  constructor(readonly index: number, readonly batch: ProbeBatch, env: ForwardEnv) {
    const { B, T, y } = batch;
    const n = B * T;
    if (batch.x.length !== n) throw new Error(`ProbeSet: batch ${index} has ${batch.x.length} ids for B·T = ${n}`);
    if (y && y.length !== n) throw new Error(`ProbeSet: batch ${index} has ${y.length} targets for B·T = ${n}`);
    let nValid = 0;
    if (y) for (const v of y) if (v !== env.ignoreIndex) nValid++;
    const own = (key: string, make: () => Tensor): Tensor => {
      let t = this.#owned.get(key);
      if (!t) this.#owned.set(key, (t = keep(make())));
      return t;
    };
    const self = this;
    this.ctx = {
      mode: env.mode,
      arrays: env.mode === "eval",
      forward: index,
      batch,
      backend: env.backend,
      ignoreIndex: env.ignoreIndex,
      get lens(): Lens {
        if (!env.lens) throw new Error("ProbeSet: this probe needs the model's logit lens; pass { lens } for a non-GPT model");
        return env.lens;
      },
      nValid,
      targets: () => own("@targets", () => {
        if (!y) throw new Error(`ProbeSet: batch ${index} has no targets (y), which this probe needs`);
        return fromValues(y, [n], { dtype: "i32", backend: env.backend });
      }),
      valid: () => own("@valid", () => {
        if (!y) throw new Error(`ProbeSet: batch ${index} has no targets (y), which this probe needs`);
        return fromValues(Float64Array.from(y, (v) => +(v !== env.ignoreIndex)), [n], { backend: env.backend });
      }),
      ids: (key, values, size) => own(`ids:${key}:${size}`, () =>
        fromValues(Int32Array.from(values, (v) => (v >= 0 && v < size ? v : size)), [values.length], { dtype: "i32", backend: env.backend })),
      tapped: (name) => self.taps.get(name),
      scalar: (key, i, t) => {
        if (t.size !== 1) throw new Error(`ProbeSet: scalar '${key}' [${i}] must have one element, got [${t.shape.join(", ")}]`);
        self.#record(key, i, t);
      },
      scalars: (key, t, start = 0) => self.#record(key, start, t),
      array: (key, i, t, combine, o = {}) => {
        if (env.mode !== "eval") return;
        self.arrays.push({ key, index: i, t: keep(t), combine, read: o.read ?? true });
      },
      persistent: env.persistent,
      canDefer: env.canDefer,
      memo: (key, make) => {
        let t = self.#memo.get(key);
        if (!t) self.#memo.set(key, (t = keep(make())));
        return t;
      },
    };
  }

  #record(key: string, start: number, t: Tensor): void {
    const slots = Array.from({ length: t.size }, (_, j) => slotOf(key, start + j));
    for (const g of this.scalars.values()) {
      if (g.slots.some((x) => slots.includes(x))) throw new Error(`ProbeSet: scalar '${slots[0]}' was recorded twice in one forward`);
    }
    this.scalars.set(slots[0], { t: keep(t), slots });
  }

  /** Disposes the forward's own device inputs (targets, masks, ids) and memoized tensors. */
  disposeInputs(): void {
    for (const t of [...this.#owned.values(), ...this.#memo.values()]) t.dispose();
    this.#owned.clear();
    this.#memo.clear();
    this.taps.clear();
  }
}
