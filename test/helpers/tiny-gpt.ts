// Test helper: the tiny GPT (2 layers, width 16, vocab 11, T 8) and deterministic batches shared
// by the training and probe tests, with its AdamW and a constant-rate Trainer.
import type { BackendName } from "../../src/node";
import { AdamW, GPT, Trainer, type GPTConfig, type LMBatch } from "../../src/nn/index";

/** The tiny model's configuration. */
export const TINY: GPTConfig = { nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8, vocabSize: 11 };

/** A fixed batch of B sequences of 8 tokens; `ignoreAt` puts the ignored target -1 at that position of every row. */
export function tinyBatch(B: number, offset = 0, ignoreAt = -1): LMBatch {
  const T = 8;
  const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3 + offset) % 11); // [B, T]
  const y = Int32Array.from({ length: B * T }, (_, i) => (i % T === ignoreAt ? -1 : (i * 5 + 1 + offset * 3) % 11)); // [B, T]
  return { B, T, x, y };
}

/** The tiny GPT with AdamW and a Trainer at a constant learning rate after one warm-up step. */
export function tinySetup(backend: BackendName, lr = 1e-2, seed = 5) {
  const model = new GPT(TINY, { backend, seed });
  const opt = AdamW.forModel(model, { lr });
  const trainer = new Trainer(model, opt, { schedule: { lr, warmup: 1, total: 1000, minLr: lr } });
  return { model, opt, trainer, dispose: () => (model.dispose(), opt.dispose()) };
}
