// Once-per-forward evaluation of stream probes (D1, D3) in training steps: the taps h^0..h^L are
// stashed as they fire and, when the forward ends (ProbeContext.canDefer), stacked into one
// [(L+1)·N, C] tensor shared by the probes, so each probe costs a few dispatches per step
// instead of a few per layer.
import { concat, fromValues, reshape, sqrt, sumSquares, type Tensor } from "../tensor/index";
import type { ProbeContext } from "./probe";

/**
 * Largest (L+1)·N·V logits tensor computed in one go (elements, 256 MiB of f32); beyond it, layer
 * by layer. A memory bound, not a tuned speed figure: it keeps the stacked lens logits of the
 * quick and paper configurations' training steps within a 1 GiB adapter budget; `npm run bench --
 * --suite probes`, case "S1 default" (D1+D3 every step), runs the stacked path.
 */
export const STACK_LIMIT = 1 << 26;

/** What a probe keeps from the taps of the current forward, in index order (tensors by default). */
export class Stash<T = Tensor> {
  #ctx: ProbeContext | null = null;
  #items: T[] = [];

  /** Keeps `item` (tensors by reference, no copy) at `index` for the forward of `ctx`. */
  put(ctx: ProbeContext, index: number, item: T): void {
    if (this.#ctx !== ctx) {
      this.#ctx = ctx;
      this.#items = [];
    }
    this.#items[index] = item;
  }

  /** The items kept for the forward of `ctx` (empty when none), and forgets them. */
  take(ctx: ProbeContext): T[] {
    const items = this.#ctx === ctx ? this.#items : [];
    this.#ctx = null;
    this.#items = [];
    return items;
  }
}

/** Whether a stream probe should stash its taps and compute at the forward's end. */
export const deferred = (ctx: ProbeContext): boolean => ctx.canDefer && !ctx.arrays;

/** The stream stacked as [(L+1)·N, C], made once per forward and shared under the taps' key. */
export function stacked(ctx: ProbeContext, taps: readonly string[], hs: readonly Tensor[]): Tensor {
  const C = hs[0].shape[hs[0].rank - 1];
  return ctx.memo(`stack:${taps.join(",")}:${hs.length}`, () => concat(hs.map((h) => reshape(h, [h.size / C, C])), 0));
}

/** Targets tiled `L` times as i32 [L·N] (the forward's own tensor when L = 1), for stacked rows. */
export function tiledTargets(ctx: ProbeContext, L: number): Tensor {
  if (L === 1) return ctx.targets();
  const y = ctx.batch.y!, t = new Int32Array(L * y.length);
  for (let l = 0; l < L; l++) t.set(y, l * y.length);
  return fromValues(t, [t.length], { dtype: "i32", backend: ctx.backend });
}

/** Euclidean norm of each row of w [n, C] → [n]. */
export const rowNorms = (w: Tensor): Tensor => sqrt(sumSquares(w, -1));
