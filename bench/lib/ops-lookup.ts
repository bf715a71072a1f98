// Looks ops up by name at run time, so a suite can bench ops that other people are still
// adding (it reports "not available" instead of failing to compile when one is missing).
import * as ops from "../../src/tensor/ops/index";

/** Whether the ops module exports a function `name`. */
export function hasOp(name: string): boolean {
  return typeof (ops as Record<string, unknown>)[name] === "function";
}

/** The op function `name` with the signature the caller expects; throws when it is missing. */
export function lookupOp<F>(name: string): F {
  const f = (ops as Record<string, unknown>)[name];
  if (typeof f !== "function") throw new Error(`op '${name}' is not available in src/tensor/ops (not committed yet?)`);
  return f as F;
}
