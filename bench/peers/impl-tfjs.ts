// TensorFlow.js on its WebGPU backend (same Dawn adapter), driven by the peer child. Completion
// is awaited with queue.onSubmittedWorkDone after tfjs submits its queue, through politeWait.
import type * as TF from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { politeWait } from "../../src/tensor/webgpu/gpu-node";
import type { PeerCase } from "../lib/shapes";
import { inputs, MLP_LR, type PeerImpl, type Prepared } from "./common";

let tf: typeof TF;

async function done(): Promise<void> {
  const be = tf.backend() as unknown as WebGPUBackend;
  be.endComputePassEncoder();
  // tfjs keeps its encoder private; submitting with none open would throw.
  if ((be as unknown as { commandEncoder: GPUCommandEncoder | null }).commandEncoder) be.submitQueue();
  await politeWait(be.queue.onSubmittedWorkDone());
}

/** The tfjs-webgpu peer. */
export const tfjsPeer: PeerImpl = {
  name: "tfjs-webgpu",
  version: "",
  setup: async () => {
    tf = await import("@tensorflow/tfjs");
    await import("@tensorflow/tfjs-backend-webgpu");
    if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') returned false");
    await tf.ready();
    tfjsPeer.version = tf.version.tfjs;
    return { backend: tf.getBackend(), version: tf.version.tfjs };
  },
  prepare: async (c: PeerCase): Promise<Prepared> => {
    const xs = inputs(c).map((x) => tf.tensor(x.data, x.shape));
    const out: { t: TF.Tensor | null } = { t: null };
    const keep = (t: TF.Tensor) => {
      out.t?.dispose();
      out.t = t;
    };
    let step: () => TF.Tensor;
    if (c.kind === "matmul") step = () => tf.matMul(xs[0], xs[1]);
    else if (c.kind === "softmax") step = () => tf.softmax(xs[0], -1);
    else if (c.kind === "layernorm") {
      step = () => tf.tidy(() => {
        const { mean, variance } = tf.moments(xs[0], -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(xs[0], mean), tf.rsqrt(tf.add(variance, 1e-5))), xs[1]), xs[2]);
      });
    } else {
      const [x, t] = xs;
      const vars = xs.slice(2).map((p) => tf.variable(p));
      const opt = tf.train.sgd(MLP_LR);
      step = () => opt.minimize(() => {
        const h = tf.relu(tf.add(tf.matMul(x, vars[0]), vars[1]));
        const y = tf.add(tf.matMul(h, vars[2]), vars[3]);
        return tf.mean(tf.square(tf.sub(y, t)));
      }, true) as TF.Scalar;
    }
    return {
      run: c.kind === "mlp"
        ? async () => { // a training loop reads its loss every step
          const l = step();
          await politeWait(l.data());
          l.dispose();
        }
        : async () => {
          keep(step());
          await done();
        },
      output: async () => {
        if (c.kind !== "mlp") {
          keep(step());
          return politeWait(out.t!.data());
        }
        const l1 = step(), l2 = step();
        const r = [...(await politeWait(l1.data())), ...(await politeWait(l2.data()))];
        l1.dispose();
        l2.dispose();
        return r;
      },
      dispose: () => {
        out.t?.dispose();
        for (const x of xs) x.dispose();
        tf.disposeVariables();
      },
    };
  },
};
