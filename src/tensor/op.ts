// The op definition, the op registry and the one dispatch path. apply() validates inputs,
// allocates outputs, has the inputs' backend run the op (cpu64: the f64 reference; webgpu: the
// WGSL kernels, encoded), and records the tape.
import { OpError, fmt, numel, type Shape } from "./shape";
import type { Meta, OpKernels, Storage } from "./backend";
import { isGradEnabled } from "./scope";
import { checkFinite, isAnomalyDetectionEnabled, needsCheck } from "./anomaly";
import { Node, Tensor, type GradCtx, type TapeOp } from "./tensor";

export type { Arg, Meta } from "./backend";
export type { GradCtx } from "./tensor";

/**
 * One op = one definition: shape rule, f64 reference, GPU kernel choice, backward rule and
 * what it saves for backward.
 */
export interface OpDef<A = Record<string, never>> extends OpKernels<A>, TapeOp<A> {
  /** Name used in errors, the registry and tests. */
  readonly name: string;
  /** Validates inputs (throwing OpError naming op and shapes) and returns output metas. */
  infer(inputs: readonly Meta[], attrs: A): Meta[];
  /** Gradients of the inputs from the gradients of the outputs (null = zero). Uses ops. */
  backward?(ctx: GradCtx<A>, dOutputs: readonly (Tensor | null)[]): (Tensor | null)[];
  /** What backward needs: input and output indices to keep alive. Default: all inputs. */
  readonly save?: { inputs?: readonly number[]; outputs?: readonly number[] };
  /** Output 0 is a view sharing input 0's storage (reshape, detach): no kernel runs. */
  readonly alias?: boolean;
  /** Output indices that never carry gradient (e.g. saved statistics, integer results). */
  readonly nondiff?: readonly number[];
  /** Input indices the op writes in place (AdamW's param and moments): anomaly detection checks them. */
  readonly inPlace?: readonly number[];
}

/** Every op ever defined, by name (the tests iterate over it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const REGISTRY = new Map<string, OpDef<any>>();

/** Declares an op and adds it to the registry. */
export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (REGISTRY.has(def.name)) throw new Error(`op '${def.name}' is defined twice`);
  REGISTRY.set(def.name, def);
  return def;
}

/**
 * The one dispatch path: runs `op` on `inputs` and returns its outputs. Checks that the inputs
 * are alive and on one backend, allocates outputs, executes, and records the tape when any
 * float input requires grad and grad mode is on.
 */
export function apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor[] {
  const backend = inputs[0]?.backend;
  for (const [i, t] of inputs.entries()) {
    if (!(t instanceof Tensor)) {
      throw new OpError(op.name, `input ${i} is not a Tensor (got ${typeof t}); wrap values with tensor()`);
    }
    if (t.isDisposed) {
      throw new OpError(op.name, `input ${i} (shape ${fmt(t.shape)}) was disposed; keep() it or ` +
        "create it outside the tidy() scope that disposed it");
    }
    if (t.backend !== backend) {
      throw new OpError(op.name, `inputs are on different backends (${backend?.name} and ` +
        `${t.backend.name}); move one with .to('${backend?.name}')`);
    }
  }
  if (!backend) throw new OpError(op.name, "needs at least one input tensor");
  if (backend.closed) throw new OpError(op.name, `input 0 (shape ${fmt(inputs[0].shape)}) is on the ${backend.name} backend, which ${backend.closed}`);
  const metas = op.infer(inputs, attrs);
  const limit = backend.maxBindingBytes;
  for (const t of inputs) checkLimit(op.name, t.shape, limit);
  for (const m of metas) checkLimit(op.name, m.shape, limit);

  let outStorages: Storage[];
  if (op.alias) {
    outStorages = [inputs[0].storage.retain()];
  } else {
    outStorages = metas.map((m) => backend.alloc(numel(m.shape), m.dtype));
    const inArgs = inputs.map((t) => ({ shape: t.shape, dtype: t.dtype, s: t.storage }));
    const outArgs = metas.map((m, i) => ({ shape: m.shape, dtype: m.dtype, s: outStorages[i] }));
    backend.run(op, inArgs, outArgs, attrs);
  }
  const outputs = metas.map((m, i) => Tensor._fromStorage(outStorages[i], m.shape, m.dtype));
  if (isAnomalyDetectionEnabled() && !op.alias) {
    try {
      checkAnomalies(op, inputs, outputs);
    } catch (e) {
      for (const t of outputs) t.dispose();
      throw e;
    }
  }

  const record = isGradEnabled() && op.backward !== undefined &&
    inputs.some((t) => t.requiresGrad);
  if (record) {
    const save = op.save ?? { inputs: inputs.map((_, i) => i) };
    const saved = {
      inputs: inputs.map((t, i) => (save.inputs?.includes(i) ? t.storage.retain() : null)),
      outputs: outputs.map((t, i) => (save.outputs?.includes(i) ? t.storage.retain() : null)),
    };
    const node = new Node(op, attrs, inputs, outputs, saved);
    outputs.forEach((t, i) => {
      if (t.dtype === "f32" && !op.nondiff?.includes(i)) {
        t.requiresGrad = true;
        t.node = node;
        node.refs++;
      }
    });
    if (node.refs === 0) node.unref();
  }
  return outputs;
}

/** Non-finite detection for one op application: unchecked inputs, in-place writes, then outputs. */
function checkAnomalies(op: OpDef<any>, inputs: readonly Tensor[], outputs: readonly Tensor[]): void {
  const label = (t: Tensor, i: number) => `input ${i}${t.name ? ` (parameter '${t.name}')` : ""}`;
  checkFinite(op.name, inputs.flatMap((t, i) => (op.inPlace?.includes(i) || !needsCheck(t.storage)
    ? [] : [{ s: t.storage, shape: t.shape, what: label(t, i) }])));
  checkFinite(op.name, (op.inPlace ?? []).map((i) => ({ s: inputs[i].storage, shape: inputs[i].shape, what: `${label(inputs[i], i)} written in place` })));
  checkFinite(op.name, outputs.map((t, k) => ({ s: t.storage, shape: t.shape, what: `output ${k}` })), true);
}

function checkLimit(op: string, shape: Shape, limit: number): void {
  const bytes = numel(shape) * 4;
  if (bytes > limit) {
    throw new OpError(op, `a tensor of shape ${fmt(shape)} needs ${bytes} bytes, over the adapter's ` +
      `maxStorageBufferBindingSize of ${limit}; use a smaller batch, context or width`);
  }
}

/** Applies a single-output op. */
export function apply1<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  return apply(op, inputs, attrs)[0];
}
