// Opt-in non-finite detection (like PyTorch's anomaly detection): when on, apply() checks every
// f32 output of every op, forward and backward, plus leaf inputs (parameters, data) and in-place
// writes, and the first NaN/Inf is reported with the op, its phase, the tensor and the step.
// Each backend checks its own way (Backend.checkFinite): cpu64 throws at the op; webgpu encodes a
// check kernel per tensor whose fault record rides along the next readback (the first failing
// check in encode order wins: the op where it started).
// Off by default: then apply() pays one boolean test.
import { fmt, numel, OpError, type Shape } from "./shape";
import type { Storage } from "./backend";

let enabled = false;
let context: string | null = null;
let backwardOf: string | null = null;

/** The error anomaly detection throws: names the op, its phase, the tensor and the step. */
export class AnomalyError extends OpError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "AnomalyError";
  }
}

/**
 * Turns non-finite detection on or off (default off). On, every op's f32 outputs (and leaf
 * inputs, and in-place writes) are checked for NaN/±Inf; the first one found is an
 * {@link AnomalyError}: at once on cpu64, at the next readback on webgpu. Costs one small check
 * kernel per tensor on webgpu (see `npm run bench -- --suite train`); nothing when off.
 */
export function setAnomalyDetection(on: boolean): void {
  enabled = on;
}

/** Whether non-finite detection is on. */
export function isAnomalyDetectionEnabled(): boolean {
  return enabled;
}

/** Runs `fn` with non-finite detection on (restoring the previous setting afterwards, also after async work). */
export function detectAnomaly<T>(fn: () => T): T {
  const was = enabled;
  enabled = true;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    enabled = was;
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => { enabled = was; }) as T;
  enabled = was;
  return result;
}

/**
 * Names where the work being encoded belongs (e.g. "step 17"), for anomaly messages; the Trainer
 * sets it for each step. `null` clears it.
 */
export function setAnomalyContext(label: string | null): void {
  context = label;
}

/** Runs a backward rule of `op` (autograd): ops it applies report "backward of op". */
export function inBackwardOf<T>(op: string, fn: () => T): T {
  const prev = backwardOf;
  backwardOf = op;
  try {
    return fn();
  } finally {
    backwardOf = prev;
  }
}

/** A tensor an op produced or read, to check. */
export interface Checked {
  s: Storage;
  shape: Shape;
  /** e.g. "output 0", "input 1 (parameter 'wte.weight')", "in-place input 0". */
  what: string;
}

function errorFor(op: string, phase: string, c: Omit<Checked, "s">, value: string, pos: number, where: string | null): AnomalyError {
  return new AnomalyError(op, `anomaly detection${where ? ` (${where})` : ""}: ${c.what} ${fmt(c.shape)} ` +
    `(${phase}) holds ${value} at index ${pos}, the first non-finite value seen; look at what feeds '${op}' ` +
    "(log, sqrt or div of out-of-domain values, the learning rate, the data)");
}

/** Storages already checked as op outputs (their later uses as inputs need no second check). */
const produced = new WeakSet<Storage>();

/** Whether an input of an op needs checking: not already checked as some op's output. */
export function needsCheck(s: Storage): boolean {
  return !produced.has(s);
}

/**
 * Checks `items` for non-finite values after op `op` ran (apply() calls this when detection is
 * on; inputs first, so a NaN parameter is named before the op's NaN output). `outputs` marks the
 * items as checked outputs.
 */
export function checkFinite(op: string, items: readonly Checked[], outputs = false): void {
  const phase = backwardOf ? `backward of ${backwardOf}` : "forward";
  for (const c of items) {
    if (c.s.dtype !== "f32" || numel(c.shape) === 0) continue;
    if (outputs) produced.add(c.s);
    const meta = { what: c.what, shape: c.shape };
    c.s.backend.checkFinite(c.s, `nonfinite:${op}:${phase}:${c.what}:${fmt(c.shape)}`,
      (value, index) => errorFor(op, phase, meta, value, index, context));
  }
}
