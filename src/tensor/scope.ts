// Memory scopes and the grad mode switch. tidy() disposes every tensor created inside it except
// what it returns or what was kept; noGrad() stops tape recording. Scopes hold anything that
// can be disposed (every Tensor registers itself with track() when it is made); this module
// imports nothing, so the Tensor class can use it.

/** What a scope can hold: an object that can be disposed (a Tensor). */
export interface Scoped {
  /** Releases the object's memory. */
  dispose(): void;
  /** True after dispose(). */
  readonly isDisposed: boolean;
}

const scopes: Set<Scoped>[] = [];
/** Every object ever tracked: what a scope's result may hand to the parent scope. */
const tracked = new WeakSet<Scoped>();
let noGradDepth = 0;

/** Registers a freshly created tensor with the innermost scope (internal). */
export function track(t: Scoped): void {
  tracked.add(t);
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a tensor from every open scope so that no scope disposes it. Returns the tensor. */
export function keep<T extends Scoped>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** The tracked objects in a scope's result: itself, or inside arrays and plain objects. */
function collect(v: unknown, out: Set<Scoped>): void {
  if (v && typeof v === "object" && tracked.has(v as Scoped)) out.add(v as Scoped);
  else if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collect(x, out);
  }
}

function closeScope(scope: Set<Scoped>, result: unknown): void {
  const idx = scopes.lastIndexOf(scope);
  if (idx >= 0) scopes.splice(idx, 1);
  const survivors = new Set<Scoped>();
  collect(result, survivors);
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
  const scope = new Set<Scoped>();
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
