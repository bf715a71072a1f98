// The logit lens of a language model: its own final norm LN_f and unembedding W_U, so that any
// residual state h reads as logits LN_f(h) · W_Uᵀ. GPT publishes its lens (GPT.lens); probes
// that read the residual stream through it (D1, D2, D4) take any model's.
import type { Tensor } from "../tensor/index";

/**
 * The logit lens of a model: its own final norm LN_f and unembedding W_U [V, C], so that
 * logits = LN_f(h) · W_Uᵀ. `norm` must use detached parameters (no tape through the weights).
 */
export interface Lens {
  /** LN_f over the last axis: [..., C] → [..., C]. */
  norm(h: Tensor): Tensor;
  /** The live unembedding [V, C]; probes detach it before use. */
  readonly wU: Tensor;
  /** The token embedding E [V, C] for D3's ‖E[v]‖ (null when the model has none). */
  readonly embedding: Tensor | null;
}
