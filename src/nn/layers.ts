// Basic layers: Linear (x @ W + b with W stored [in, out], GPT-2's Conv1D layout), Embedding
// (row lookup) and LayerNorm (fused op). Attention, MLP and blocks live in transformer.ts.
import {
  embedding, full, layerNorm, matmul, randn, type Backend, type BackendName, type Tensor,
} from "../tensor/index";
import { Module } from "./module";

/** Where and how a layer initializes its weights. */
export interface ParamInitOptions {
  /** Backend of the parameters, an object or a name (default: the current default backend). */
  backend?: Backend | BackendName;
  /** Seed of the weight draw (same seed, same values on both backends). */
  seed?: number;
  /** Standard deviation of the normal weight init (default 0.02; 0 gives zeros, e.g. before loading). */
  std?: number;
}

/** A parameter-shaped tensor drawn N(0, std²) with `o.seed` (zeros when std is 0). */
export function initNormal(shape: number[], o: ParamInitOptions): Tensor {
  const std = o.std ?? 0.02;
  return std === 0
    ? full(shape, 0, { backend: o.backend })
    : randn(shape, { seed: o.seed ?? 0, std, backend: o.backend });
}

/** Affine map y = x @ W + b over the last axis; W is [inFeatures, outFeatures]. */
export class Linear extends Module {
  /** [in, out] */
  readonly weight: Tensor;
  /** [out], or null without bias. */
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: ParamInitOptions & { bias?: boolean } = {}) {
    super();
    this.weight = this.param("weight", initNormal([inFeatures, outFeatures], opts));
    this.bias = opts.bias === false ? null : this.param("bias", full([outFeatures], 0, { backend: opts.backend }));
  }

  /** [..., in] → [..., out] (the bias added in the product's kernel where it can be: {@link matmul}) */
  forward(x: Tensor): Tensor {
    return matmul(x, this.weight, { bias: this.bias ?? undefined });
  }
}

/** Lookup table: integer ids → rows of a [num, dim] weight. */
export class Embedding extends Module {
  /** [num, dim] */
  readonly weight: Tensor;

  constructor(readonly num: number, readonly dim: number, opts: ParamInitOptions = {}) {
    super();
    this.weight = this.param("weight", initNormal([num, dim], opts));
  }

  /** idx i32 [...] → [..., dim] */
  forward(idx: Tensor): Tensor {
    return embedding(idx, this.weight);
  }
}

/** Layer normalization over the last axis with learned scale and shift (init 1 and 0). */
export class LayerNorm extends Module {
  /** [dim] */
  readonly weight: Tensor;
  /** [dim] */
  readonly bias: Tensor;

  constructor(readonly dim: number, readonly eps = 1e-5, opts: { backend?: Backend | BackendName } = {}) {
    super();
    this.weight = this.param("weight", full([dim], 1, { backend: opts.backend }));
    this.bias = this.param("bias", full([dim], 0, { backend: opts.backend }));
  }

  /** [..., dim] → [..., dim] */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
