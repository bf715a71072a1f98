// Shapes, strides, broadcasting and the library's error type. Pure functions, no backend.
// Shape letters used in comments across the library: B batch, T time, C channels, H heads,
// D head dim (C / H), V vocab, N = B·T rows, K reduction length, M/N matmul output dims.

import { stridesOf, type Shape } from "../shaders/wgsl";

// The shape vocabulary is shared with the kernel generators, which sit below the engine.
export { stridesOf };
export type { Shape };

/** An error raised when an op is called with bad input; the message names the op and shapes. */
export class OpError extends Error {
  /** Name of the op that rejected its input. */
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = "OpError";
    this.op = op;
  }
}

/** Formats a shape for error messages: `[2, 3]`. */
export function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Number of elements of a shape. */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** True when both shapes have the same rank and sizes. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of two shapes; throws an OpError naming `op` when they are incompatible. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new OpError(op, `shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast ` +
        `(dim ${i} from the right: ${da} vs ${db}); make them equal or 1`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides (in elements) for reading a tensor of shape `src` as if broadcast to `dst`:
 * broadcast dimensions get stride 0. `dst` must be a valid broadcast target of `src`.
 */
export function broadcastStrides(src: Shape, dst: Shape): number[] {
  const s = stridesOf(src);
  const out = new Array<number>(dst.length).fill(0);
  for (let i = 0; i < src.length; i++) {
    const j = dst.length - src.length + i;
    out[j] = src[i] === 1 && dst[j] !== 1 ? 0 : s[i];
  }
  return out;
}

/** Normalizes a possibly negative axis against `rank`; throws an OpError when out of range. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new OpError(op, `axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

/** Throws an OpError unless `shape` is a list of non-negative integers. */
export function checkShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new OpError(op, `invalid shape ${JSON.stringify(shape)}: use non-negative integers`);
  }
}
