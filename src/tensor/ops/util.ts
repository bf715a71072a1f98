// Helpers shared by op definitions: input checks, scalar operands and gradient reduction.
import { OpError, fmt, numel, type Shape } from "../shape";
import type { Arg, Meta } from "../op";
import type { KernelEncoder } from "../webgpu/encoder";
import { checkKernel, checkUniform } from "../../shaders/checks";
import type { Kernel } from "../../shaders/wgsl";
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

/**
 * Dispatches a kernel plan whose shape-generic form takes its sizes from a uniform (`uniform`,
 * bound after `buffers`) and whose baked form has none (binary ops, reductions, attention).
 */
export function dispatchPlan(
  rt: KernelEncoder, p: { k: Kernel; grid: readonly number[]; uniform?: Uint32Array<ArrayBuffer> | null }, buffers: readonly GPUBuffer[],
): void {
  rt.dispatch(p.k, p.uniform ? [...buffers, rt.uniform(p.uniform)] : buffers, p.grid);
}

/** Turns a number operand into a 0-d tensor on `like`'s backend (caller disposes it). */
export function asTensor(x: TensorLike, like: Tensor): { t: Tensor; temp: boolean } {
  if (x instanceof Tensor) return { t: x, temp: false };
  return { t: full([], x, { backend: like.backend }), temp: true };
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

/**
 * The first id of `ids` outside [0, V) and other than `ignore` (or not an integer), as
 * [value, position], or null when all are in range. The host side of the id checks.
 */
export function firstBadId(ids: ArrayLike<number>, V: number, ignore: number | null = null): [number, number] | null {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (v === ignore) continue;
    if (!Number.isInteger(v) || v < 0 || v >= V) return [v, i];
  }
  return null;
}

/**
 * Encodes a device-side check of the i32 ids `ids` (webgpu): when one lies outside [0, V) and is
 * not `ignore`, the next readback throws `report(value, position)` for the first such id, the
 * error cpu64 throws at once. No extra readback or sync: the fault record rides with the next one.
 * `key` names the op and whatever else `report` depends on (one fault site per key).
 */
export function checkIdsOnDevice(
  rt: KernelEncoder, key: string, ids: Arg, V: number, ignore: number | null,
  report: (value: number, pos: number) => Error,
): void {
  const n = numel(ids.shape);
  if (n === 0) return;
  const site = rt.faultSite(`ids:${key}:${V}:${ignore}`, (bits, pos) => report(bits | 0, pos));
  rt.dispatch(checkKernel("ids"), [ids.s.buffer, rt.faultRecord, rt.uniform(checkUniform({ n, site, V, ignore }))], [1]);
}
