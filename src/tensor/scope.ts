// Memory scopes and the grad mode switch. tidy() disposes every tensor created inside it except
// what it returns or what was kept; noGrad() stops tape recording.
import type { Tensor } from "./tensor";

const scopes: Set<Tensor>[] = [];
let noGradDepth = 0;

/** Registers a freshly created tensor with the innermost scope (internal). */
export function track(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a tensor from every open scope so that no scope disposes it. Returns the tensor. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

type Returned = Tensor | Tensor[] | Record<string, unknown> | unknown;

function collect(v: Returned, out: Set<Tensor>, Cls: Function): void {
  if (v instanceof Cls) out.add(v as Tensor);
  else if (Array.isArray(v)) for (const x of v) collect(x, out, Cls);
  else if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collect(x, out, Cls);
  }
}

let TensorClass: Function = class {};
/** Lets the scope module recognize tensors without an import cycle (internal). */
export function registerTensorClass(cls: Function): void {
  TensorClass = cls;
}

function closeScope(scope: Set<Tensor>, result: unknown): void {
  const idx = scopes.lastIndexOf(scope);
  if (idx >= 0) scopes.splice(idx, 1);
  const survivors = new Set<Tensor>();
  collect(result, survivors, TensorClass);
  for (const t of scope) if (!survivors.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of survivors) if (!t.isDisposed) parent.add(t);
}

/**
 * Runs `fn` in a memory scope: tensors created inside are disposed when it returns, except the
 * tensors in its result (a tensor, or arrays/plain objects of them) and those passed to keep().
 * Works with async functions too (the scope closes when the promise settles).
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => (closeScope(scope, v), v),
      (e) => {
        closeScope(scope, undefined);
        throw e;
      },
    ) as T;
  }
  closeScope(scope, result);
  return result;
}

/** Runs `fn` with tape recording off: results have no grad history. */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    noGradDepth--;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => noGradDepth--) as T;
  }
  noGradDepth--;
  return result;
}

/** True while recording is on (outside noGrad). */
export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}
