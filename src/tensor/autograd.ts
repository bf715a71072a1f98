// Reverse-mode autodiff over the tape that apply() records: a topological sort from the output,
// then each op's backward rule in reverse order. Backward rules are ordinary ops (run without grad).
import { OpError, fmt, sameShape } from "./shape";
import type { Storage } from "./backend";
import { Tensor, full, type Node } from "./tensor";
import { keep, noGrad } from "./scope";
import { inBackwardOf } from "./anomaly";
import { add } from "./ops/core";

function topoOrder(root: Node): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>([root]);
  const stack: [Node, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const up = node.inputs[i].node;
      if (up && node.inputs[i].requiresGrad && !seen.has(up)) {
        seen.add(up);
        stack.push([up, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse(); // root first
}

const isTensor = (x: Tensor | null | undefined): x is Tensor => x instanceof Tensor;
const alias = (g: Tensor): Tensor => Tensor._fromStorage(g.storage.retain(), g.shape, g.dtype);

function accumulate(t: Tensor, g: Tensor): void {
  const old = t.grad;
  t.grad = keep(old ? add(old, g) : g);
  if (old) {
    old.dispose();
    g.dispose();
  }
}

/** Validates a backward call (shared by backward() and grad()). */
function checkRoot(op: string, root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) {
    throw new OpError(op, `the tensor ${fmt(root.shape)} does not require grad: no input ` +
      "that requires grad reached it (was it computed under noGrad() or from detached tensors?)");
  }
  if (!grad && root.size !== 1) {
    throw new OpError(op, `the output has shape ${fmt(root.shape)}; pass a gradient of that ` +
      "shape or reduce it to a scalar first (e.g. .sum())");
  }
  if (grad && !sameShape(grad.shape, root.shape)) {
    throw new OpError(op, `gradient shape ${fmt(grad.shape)} does not match output ${fmt(root.shape)}`);
  }
}

/**
 * The reverse sweep: runs every backward rule from `root` and hands each leaf gradient to
 * `sink` (which takes ownership). Intermediates marked retainGrad() get `.grad` set.
 */
function sweep(root: Tensor, grad: Tensor | undefined, retainGraph: boolean, sink: (t: Tensor, g: Tensor) => void): void {
  noGrad(() => {
    const seed = grad ?? full(root.shape, 1, { backend: root.backend });
    if (!root.node) {
      sink(root, grad ? alias(seed) : seed);
      return;
    }
    const order = topoOrder(root.node);
    const grads = new Map<Tensor, Tensor>([[root, seed]]);
    for (const node of order) {
      if (node.freed) {
        throw new OpError("backward", `the tape through '${node.op.name}' was freed by an earlier ` +
          "backward(); pass { retainGraph: true } to the first call to backward twice");
      }
      const dOut = node.outputs.map((o) => grads.get(o) ?? null);
      if (dOut.every((g) => g === null)) continue;
      const view = (s: Storage | null, t: Tensor): Tensor | null =>
        s ? Tensor._fromStorage(s.retain(), t.shape, t.dtype) : null;
      const inputs = node.inputs.map((t, i) => view(node.saved.inputs[i], t));
      const outputs = node.outputs.map((t, i) => view(node.saved.outputs[i], t));
      const needs = node.inputs.map((t) => t.requiresGrad && t.dtype === "f32");
      const dIn = inBackwardOf(node.op.name, () =>
        node.op.backward!({ attrs: node.attrs, inputs, outputs, needs, shapes: node.inputs.map((t) => t.shape) }, dOut));
      // Every stored gradient gets its own view, so rules may return dOut itself or one tensor
      // for several inputs; everything the rule produced or consumed is disposed below.
      const trash = new Set<Tensor>([...inputs, ...outputs, ...dOut, ...dIn].filter(isTensor));
      trash.delete(grad as Tensor);
      node.outputs.forEach((o, i) => {
        grads.delete(o);
        if (dOut[i] && o.retainsGrad) accumulate(o, alias(dOut[i]!));
      });
      node.inputs.forEach((t, i) => {
        const g = dIn[i];
        if (!g || !needs[i]) return;
        if (!sameShape(g.shape, t.shape)) {
          throw new OpError("backward", `the rule of '${node.op.name}' returned a gradient of shape ` +
            `${fmt(g.shape)} for input ${i} of shape ${fmt(t.shape)}`);
        }
        if (!t.node) return sink(t, alias(g));
        const prev = grads.get(t);
        grads.set(t, prev ? add(prev, g) : alias(g));
        prev?.dispose();
      });
      for (const x of trash) x.dispose();
    }
    for (const g of grads.values()) if (g !== grad) g.dispose();
    if (!retainGraph) for (const node of order) node.free();
  });
}

/**
 * Computes gradients of `root` with respect to every leaf that requires grad, accumulating
 * into their `.grad`. `grad` defaults to 1 for a one-element root. The tape is freed afterwards
 * unless `retainGraph` is set.
 */
export function backward(root: Tensor, grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
  checkRoot("backward", root, grad);
  sweep(root, grad, opts.retainGraph ?? false, accumulate);
}

/**
 * Functional gradient: returns d(root)/d(x) for each leaf in `wrt` (zeros-free: null when
 * `root` does not depend on it) without touching any `.grad` field, e.g. the inner gradient of a
 * probe taken from a detached leaf while parameters keep their training gradients.
 */
export function grad(root: Tensor, wrt: readonly Tensor[], opts: { gradOutput?: Tensor; retainGraph?: boolean } = {}): (Tensor | null)[] {
  checkRoot("grad", root, opts.gradOutput);
  for (const t of wrt) {
    if (t.node) throw new OpError("grad", `wrt tensors must be leaves (use .detach().requireGrad()), got a result of '${t.node.op.name}'`);
  }
  const out = new Map<Tensor, Tensor>();
  sweep(root, opts.gradOutput, opts.retainGraph ?? false, (t, g) => {
    if (!wrt.includes(t)) return g.dispose();
    const prev = out.get(t);
    out.set(t, prev ? add(prev, g) : g);
    if (prev) {
      prev.dispose();
      g.dispose();
    }
  });
  return wrt.map((t) => out.get(t) ?? null);
}
