// AdamW on the fused in-place update op, the warm-up + cosine learning-rate schedule, and global
// gradient-norm clipping computed on the GPU (the clip factor stays a tensor: no readback).
import {
  add, adamwUpdate, concat, div, full, maximum, neg, noGrad, reshape, sqrt, sum, sumSquares, type Tensor,
} from "../tensor/index";
import { Linear } from "./layers";
import type { Module } from "./module";

/** AdamW hyperparameters. */
export interface AdamWConfig {
  /** Peak learning rate (a step may override it, e.g. from a schedule). Default 3e-4. */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay, applied only to the parameters `decay` selects. Default 0.1. */
  weightDecay?: number;
}

/**
 * Names of the parameters that get weight decay by default: Linear weights and an untied
 * `lm_head.weight` (no LayerNorm, biases or embeddings).
 */
export function decayedParameterNames(model: Module): Set<string> {
  const out = new Set<string>();
  for (const [name, m] of model.namedModules()) {
    if (m instanceof Linear) out.add(name ? `${name}.weight` : "weight");
  }
  for (const name of model.namedParameters().keys()) if (/(^|\.)lm_head\.weight$/.test(name)) out.add(name);
  return out;
}

/** AdamW over named parameters; its moments m, v are persistent tensors (checkpointed by name). */
export class AdamW {
  readonly opts: Required<AdamWConfig>;
  /** Completed update steps (the bias-correction step is `stepCount + 1` during an update). */
  stepCount = 0;
  readonly params: Map<string, Tensor>;
  readonly m = new Map<string, Tensor>();
  readonly v = new Map<string, Tensor>();
  readonly decay: Set<string>;

  /**
   * @param params named parameters (e.g. `model.namedParameters()`)
   * @param decay names that get weight decay (default: all parameters of rank >= 2)
   */
  constructor(params: Map<string, Tensor>, opts: AdamWConfig = {}, decay?: Set<string>) {
    this.opts = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, ...opts };
    this.params = params;
    this.decay = decay ?? new Set([...params].filter(([, p]) => p.rank >= 2).map(([n]) => n));
    for (const [name, p] of params) {
      this.m.set(name, full(p.shape, 0, { backend: p.backend }).keep());
      this.v.set(name, full(p.shape, 0, { backend: p.backend }).keep());
    }
  }

  /** AdamW for a model with the default decay set ({@link decayedParameterNames}). */
  static forModel(model: Module, opts: AdamWConfig = {}): AdamW {
    return new AdamW(model.namedParameters(), opts, decayedParameterNames(model));
  }

  /**
   * One update of every parameter that has a gradient, in place. `gradScale` multiplies the
   * gradients first (a number, or a 1-element tensor such as a clip factor).
   */
  step(o: { lr?: number; gradScale?: number | Tensor } = {}): void {
    const t = this.stepCount + 1;
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const lr = o.lr ?? this.opts.lr;
    noGrad(() => {
      for (const [name, p] of this.params) {
        if (!p.grad) continue;
        adamwUpdate(p, p.grad, this.m.get(name)!, this.v.get(name)!, {
          lr, beta1, beta2, eps, step: t, gradScale: o.gradScale ?? 1,
          weightDecay: this.decay.has(name) ? weightDecay : 0,
        });
      }
    });
    this.stepCount = t;
  }

  /** Disposes the moment tensors. */
  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/** Learning-rate schedule: linear warm-up then cosine decay. */
export interface LrSchedule {
  /** Peak learning rate. */
  lr: number;
  /** Warm-up steps (lr rises linearly to the peak). */
  warmup: number;
  /** Step at which the cosine reaches minLr (and stays). */
  total: number;
  /** Final learning rate (default lr / 10). */
  minLr?: number;
}

/** The learning rate of (0-based) step `step`. */
export function lrAt(step: number, s: LrSchedule): number {
  const minLr = s.minLr ?? s.lr / 10;
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (step >= s.total) return minLr;
  const r = (step - s.warmup) / Math.max(1, s.total - s.warmup);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * r)) * (s.lr - minLr);
}

/**
 * Global gradient norm and clip factor, computed with ops (no readback):
 * norm = sqrt(Σ_p Σ g²), scale = min(1, maxNorm / (norm + 1e-6)), both 1-element tensors.
 */
export function clipFactor(params: Iterable<Tensor>, maxNorm: number): { norm: Tensor; scale: Tensor } {
  return noGrad(() => {
    // One Σg² per parameter, gathered into one vector (buffer copies on the GPU) and summed once,
    // rather than a chain of scalar adds: one dispatch instead of one per parameter.
    const sqs = [...params].flatMap((p) => (p.grad ? [reshape(sumSquares(p.grad), [1])] : [])); // P × [1]
    if (!sqs.length) throw new Error("clipFactor: no parameter has a gradient (call backward() first)");
    const norm = sqrt(sum(concat(sqs)));
    const ratio = div(maxNorm, add(norm, 1e-6));
    return { norm, scale: neg(maximum(neg(ratio), -1)) };
  });
}
