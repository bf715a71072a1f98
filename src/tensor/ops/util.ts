// Helpers shared by op definitions: input checks, scalar operands and gradient reduction.
import { OpError, fmt, type Shape } from "../shape";
import type { Meta } from "../op";
import { Tensor, full, type TensorLike } from "../tensor";

/** Throws unless every input is f32. */
export function requireFloat(op: string, inputs: readonly Meta[]): void {
  inputs.forEach((m, i) => {
    if (m.dtype !== "f32") throw new OpError(op, `input ${i} ${fmt(m.shape)} must be f32, got ${m.dtype}`);
  });
}

/** Throws unless `m` has the given rank. */
export function requireRank(op: string, m: Meta, rank: number, what = "input"): void {
  if (m.shape.length !== rank) {
    throw new OpError(op, `${what} must have rank ${rank}, got shape ${fmt(m.shape)}`);
  }
}

/** Turns a number operand into a 0-d tensor on `like`'s backend (caller disposes it). */
export function asTensor(x: TensorLike, like: Tensor): { t: Tensor; temp: boolean } {
  if (x instanceof Tensor) return { t: x, temp: false };
  return { t: full([], x, { backend: like.backend.name }), temp: true };
}

/** Lists the axes along which `from` was broadcast to reach `to` (aligned from the right). */
export function broadcastAxes(from: Shape, to: Shape): number[] {
  const axes: number[] = [];
  for (let d = 0; d < to.length; d++) {
    const sd = d - (to.length - from.length);
    if (sd < 0 || (from[sd] === 1 && to[d] !== 1)) axes.push(d);
  }
  return axes;
}
