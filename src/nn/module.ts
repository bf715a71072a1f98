// The Module base class: named parameters (dotted paths, recursive), train/eval mode, and tap
// points through which probes observe intermediate tensors. Not a layer library (see layers.ts).
import { keep, type Tensor } from "../tensor/index";

/** A plain tap callback: receives each tap point's full dotted name and tensor. */
export type TapFn = (name: string, x: Tensor) => void;

/**
 * What a module calls at its tap points. `tap` sees the very tensor of the forward pass (no copy):
 * it must not modify or dispose it, and anything it computes should run under noGrad() so losses
 * and gradients stay bit-identical with and without the hook.
 */
export interface TapHook {
  /** Called at every tap point with its full dotted name, e.g. `blocks.0.mid`. */
  tap(name: string, x: Tensor): void;
  /**
   * Whether the on-request tap `name` (full dotted name) should be computed: a tap that costs
   * work the forward does not do otherwise, such as a GPT's attention probabilities
   * `blocks.{l}.attn_probs` [B, H, T, T]. Ordinary taps always fire. Default: none is wanted.
   */
  wants?(name: string): boolean;
}

/** A neural-network module: owns parameters and child modules under dotted names. */
export abstract class Module {
  /** Training mode flag (switched by train()/eval(); no layer here behaves differently yet). */
  training = true;
  #params = new Map<string, Tensor>();
  #children = new Map<string, Module>();
  #path = "";
  #hook: TapHook | null = null;

  /** This module's dotted path from the root ("" for the root). */
  get path(): string {
    return this.#path;
  }

  /** Registers a parameter: names it, marks it as requiring grad and protects it from tidy(). */
  protected param(name: string, t: Tensor): Tensor {
    if (this.#params.has(name) || this.#children.has(name)) throw new Error(`module: '${name}' is registered twice`);
    t.requireGrad(true);
    keep(t);
    this.#params.set(name, t);
    t.name = this.#full(name);
    return t;
  }

  /** Registers a child module under `name` (its parameters become `name.*`). */
  protected child<M extends Module>(name: string, m: M): M {
    if (this.#params.has(name) || this.#children.has(name)) throw new Error(`module: '${name}' is registered twice`);
    this.#children.set(name, m);
    m.#setPath(this.#full(name));
    m.#setHook(this.#hook);
    return m;
  }

  #full(name: string): string {
    return this.#path ? `${this.#path}.${name}` : name;
  }

  #setPath(p: string): void {
    this.#path = p;
    for (const [n, t] of this.#params) t.name = this.#full(n);
    for (const [n, c] of this.#children) c.#setPath(this.#full(n));
  }

  #setHook(h: TapHook | null): void {
    this.#hook = h;
    for (const c of this.#children.values()) c.#setHook(h);
  }

  /** All parameters with dotted names relative to this module, in registration order. */
  namedParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const walk = (m: Module, prefix: string): void => {
      for (const [n, t] of m.#params) out.set(prefix + n, t);
      for (const [n, c] of m.#children) walk(c, `${prefix}${n}.`);
    };
    walk(this, "");
    return out;
  }

  /** All parameters, in registration order. */
  parameters(): Tensor[] {
    return [...this.namedParameters().values()];
  }

  /** This module and all descendants with dotted names relative to this module ("" = itself). */
  namedModules(): Map<string, Module> {
    const out = new Map<string, Module>();
    const walk = (m: Module, name: string): void => {
      out.set(name, m);
      for (const [n, c] of m.#children) walk(c, name ? `${name}.${n}` : n);
    };
    walk(this, "");
    return out;
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    let n = 0;
    for (const t of this.parameters()) n += t.size;
    return n;
  }

  /** Sets training mode on this module and its descendants. */
  train(flag = true): this {
    for (const m of this.namedModules().values()) m.training = flag;
    return this;
  }

  /** Sets evaluation mode (train(false)). */
  eval(): this {
    return this.train(false);
  }

  /**
   * Installs (or with null removes) the tap hook on this module and all descendants. A plain
   * function is wrapped as `{ tap: fn }`.
   */
  setTapHook(hook: TapHook | TapFn | null): void {
    this.#setHook(typeof hook === "function" ? { tap: hook } : hook);
  }

  /** The installed tap hook, if any. */
  get tapHook(): TapHook | null {
    return this.#hook;
  }

  /** A tap point: identity on `x`; the hook (if any) sees it under `path.name`. */
  protected tap(name: string, x: Tensor): Tensor {
    this.#hook?.tap(this.#full(name), x);
    return x;
  }

  /** Whether the hook asks for the on-request tap `name` (see {@link TapHook.wants}). */
  protected wants(name: string): boolean {
    return this.#hook?.wants?.(this.#full(name)) ?? false;
  }

  /** Drops every parameter's gradient (disposing it). */
  zeroGrad(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
    }
  }

  /** Disposes all parameters and their gradients; the module is unusable afterwards. */
  dispose(): void {
    this.zeroGrad();
    for (const t of this.parameters()) t.dispose();
  }
}

/**
 * Overwrites a tensor's values in place (e.g. loading weights into a parameter). Work encoded so
 * far is submitted first (Backend.flush) so it still sees the old values.
 */
export function setValues(t: Tensor, values: ArrayLike<number>): void {
  if (values.length !== t.size) {
    throw new Error(`setValues: ${values.length} values for tensor ${t.name ?? ""} of ${t.size} elements`);
  }
  t.backend.flush();
  t.backend.upload(t.storage, values);
}
