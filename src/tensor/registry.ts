// The op registry: every op defined with defineOp(), by name. It imports nothing at runtime so
// that op modules can register themselves whatever order the module graph evaluates in.
import type { OpDef } from "./op";

/** Every op ever defined, by name (the tests iterate over it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const REGISTRY = new Map<string, OpDef<any>>();

/** Declares an op and adds it to the registry. */
export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (REGISTRY.has(def.name)) throw new Error(`op '${def.name}' is defined twice`);
  REGISTRY.set(def.name, def);
  return def;
}
