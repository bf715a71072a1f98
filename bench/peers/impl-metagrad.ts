// metagrad itself as a "peer" in a child process of its own, so that all three implementations are
// timed by the same harness in fresh processes: one call, then rt.sync() (polite wait).
import * as mg from "../../src/node";
import type { Tensor } from "../../src/node";
import type { PeerCase } from "../lib/shapes";
import { inputs, MLP_LR, type PeerImpl, type Prepared } from "./common";
import { lookupOp } from "../lib/ops-lookup";

/**
 * One SGD step of the bench MLP on xs = [x, t, W1, b1, W2, b2] (loss = mean((relu(x·W1+b1)·W2+b2 − t)²)):
 * returns the loss (not yet read) and the inputs with updated parameters; the old ones are disposed.
 */
export function mlpSgdStep(xs: Tensor[]): { loss: Tensor; xs: Tensor[] } {
  const [x, t, W1, b1, W2, b2] = xs;
  const loss = mg.tidy(() => {
    const h = mg.relu(mg.add(mg.matmul(x, W1), b1));
    const d = mg.sub(mg.add(mg.matmul(h, W2), b2), t);
    const l = mg.mean(mg.mul(d, d));
    l.backward();
    return l;
  });
  const next = mg.tidy(() => mg.noGrad(() => xs.slice(2).map((p) => mg.sub(p, mg.mul(p.grad!, MLP_LR)))));
  for (const p of xs.slice(2)) {
    p.grad?.dispose();
    p.dispose();
  }
  return { loss, xs: [x, t, ...next.map((p) => p.requireGrad())] };
}

/** The metagrad implementation of the peer cases. */
export const metagradPeer: PeerImpl = {
  name: "metagrad",
  version: "",
  setup: async () => {
    const info = await mg.init({ backend: "webgpu" });
    return { adapter: info.adapter?.description };
  },
  prepare: async (c: PeerCase): Promise<Prepared> => {
    const rt = mg.gpuRuntime()!;
    let xs = inputs(c).map((x) => mg.fromValues(x.data, x.shape));
    let last: Tensor | null = null;
    const hold = (t: Tensor) => {
      last?.dispose();
      last = t;
    };
    if (c.kind !== "mlp") {
      let call: () => Tensor;
      if (c.kind === "matmul") call = () => mg.matmul(xs[0], xs[1]);
      else if (c.kind === "softmax") call = () => mg.softmax(xs[0], -1);
      else {
        const ln = lookupOp<(x: Tensor, w: Tensor, b: Tensor, eps?: number) => Tensor>("layerNorm");
        call = () => ln(xs[0], xs[1], xs[2], 1e-5);
      }
      return {
        run: async () => {
          hold(mg.noGrad(call));
          await rt.sync();
        },
        output: async () => {
          hold(mg.noGrad(call));
          return last!.data();
        },
        dispose: () => {
          last?.dispose();
          for (const x of xs) x.dispose();
        },
      };
    }
    for (const p of xs.slice(2)) p.requireGrad();
    const once = async (): Promise<number> => {
      const r = mlpSgdStep(xs);
      xs = r.xs;
      const loss = r.loss;
      const v = await loss.item(); // one submit + one readback per step
      loss.dispose();
      return v;
    };
    return {
      run: async () => {
        await once();
      },
      output: async () => [await once(), await once()],
      dispose: () => {
        for (const x of xs) x.dispose();
      },
    };
  },
};
