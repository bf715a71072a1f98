// jax-js on its WebGPU backend (same Dawn adapter), driven by the peer child: jit-compiled
// softmax / layernorm / MLP step (its fusing compiler), eager matmul; completion is awaited with
// blockUntilReady through politeWait. jax-js arrays are reference-counted (`.ref` keeps one).
import type * as JAX from "@jax-js/jax";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { politeWait } from "../../src/tensor/webgpu/gpu-node";
import type { PeerCase } from "../lib/shapes";
import { inputs, MLP_LR, type PeerImpl, type Prepared } from "./common";

let jax: typeof JAX;
type Arr = JAX.Array;
type Params = { W1: Arr; b1: Arr; W2: Arr; b2: Arr };

/** The jax-js-webgpu peer. */
export const jaxPeer: PeerImpl = {
  name: "jax-js-webgpu",
  version: "",
  setup: async () => {
    jax = await import("@jax-js/jax");
    const devices = await jax.init();
    if (!devices.includes("webgpu")) throw new Error(`jax-js found no webgpu device (devices: ${devices.join(", ")})`);
    jax.defaultDevice("webgpu");
    const main = createRequire(import.meta.url).resolve("@jax-js/jax");
    jaxPeer.version = (JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8")) as { version: string }).version;
    return { devices, version: jaxPeer.version };
  },
  prepare: async (c: PeerCase): Promise<Prepared> => {
    const { numpy: np, nn } = jax;
    const xs = inputs(c).map((x) => np.array(x.data, { shape: x.shape }));
    let last: Arr | null = null;
    const hold = (a: Arr) => {
      last?.dispose();
      last = a;
    };
    if (c.kind !== "mlp") {
      let call: () => Arr;
      if (c.kind === "matmul") call = () => np.matmul(xs[0].ref, xs[1].ref);
      else if (c.kind === "softmax") {
        const f = jax.jit((x: Arr) => nn.softmax(x, -1));
        call = () => f(xs[0].ref);
      } else {
        const f = jax.jit((x: Arr, w: Arr, b: Arr) => nn.standardize(x, -1, { epsilon: 1e-5 }).mul(w).add(b));
        call = () => f(xs[0].ref, xs[1].ref, xs[2].ref);
      }
      return {
        run: async () => {
          const y = call();
          await politeWait(y.blockUntilReady());
          hold(y);
        },
        output: async () => {
          const y = call();
          hold(y);
          return politeWait(y.ref.data());
        },
        dispose: () => {
          last?.dispose();
          for (const x of xs) x.dispose();
        },
      };
    }
    const [x, t, W1, b1, W2, b2] = xs;
    let params: Params = { W1, b1, W2, b2 };
    const lossFn = (p: Params, xx: Arr, tt: Arr): Arr => {
      const h = nn.relu(np.matmul(xx, p.W1).add(p.b1));
      const y = np.matmul(h, p.W2).add(p.b2);
      return np.mean(np.square(y.sub(tt)));
    };
    const step = jax.jit((p: Params, xx: Arr, tt: Arr): [Arr, Params] => {
      const [loss, g] = jax.valueAndGrad(lossFn)(jax.tree.ref(p), xx, tt);
      const next = jax.tree.map((a: Arr, b: Arr) => a.sub(b.mul(MLP_LR)), p, g as Params);
      return [loss, next as Params];
    });
    const once = async (): Promise<number> => {
      const [loss, next] = step(params, x.ref, t.ref);
      params = next;
      const v = await politeWait(loss.data()); // a training loop reads its loss every step
      return v[0];
    };
    return {
      run: async () => {
        await once();
      },
      output: async () => [await once(), await once()],
      dispose: () => {
        jax.tree.dispose(params);
        x.dispose();
        t.dispose();
        step.dispose();
      },
    };
  },
};
