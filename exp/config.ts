// The sizes of the experiments: `smoke` (CI, seconds), `quick` (a CPU-only machine with the
// software Vulkan adapter, minutes) and `paper` (a GPT-2-small-sized study for a real GPU), each
// run over several seeds; and the `tiny` budget, which keeps a configuration's architecture but
// cuts every training run and probe pass to a few steps and sequences (so the paper
// configuration's code paths can be exercised on any machine). Only numbers live here; the
// training runs are in train-run.ts and the experiments in e1..e6.
import type { GPTConfig } from "../src/nn/index";

/** Names of the built-in configurations. */
export type ConfigName = "smoke" | "quick" | "paper";

/** Architecture of one trained model (vocabulary and context come from its data). */
export interface ModelSize {
  /** Short name used in file names and legends, e.g. "2L-48" ("2L-48u" when untied). */
  name: string;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** A separate unembedding W_U instead of W_U = E (shows ℓ⁰ without the tied-embedding artefact). */
  untied?: boolean;
}

/** Optimizer and schedule of a training run. */
export interface TrainSettings {
  batch: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
  /** Save the resumable state every this many steps (and at every snapshot). */
  saveEvery: number;
}

/** The S1 seeds task and the one model trained on it (shared by E1, E2, E3, E5, E6). */
export interface S1Settings {
  /** Sequence length T (also the model's context). */
  T: number;
  nTrain: number;
  nVal: number;
  model: ModelSize;
  train: TrainSettings;
  epochs: number;
  /** Epochs after which weights are kept (0 = the untrained model, the D2 control). */
  snapshotEpochs: number[];
}

/** R1 (bundled corpus, byte tokenizer): several model sizes (E4), the first also for E5/E6. */
export interface R1Settings {
  corpus: "sotu" | "moby-dick";
  T: number;
  steps: number;
  train: TrainSettings;
  models: ModelSize[];
  /** Steps at which weights are kept besides 0 and the last (E6 "over training"). */
  snapshotSteps: number[];
}

/** R2 (WikiText-103 from --data, GPT-2 tokenizer): one model trained on a prefix of the files. */
export interface R2Settings {
  T: number;
  steps: number;
  /** Bytes read from the start of each WikiText file. */
  maxBytes: number;
  train: TrainSettings;
  models: ModelSize[];
}

/** How much each probe pass looks at. */
export interface ProbeSettings {
  /** Sequences per probe pass (S1: whole sequences; text: windows of T). */
  seqs: number;
  /** Sequences per forward. */
  batch: number;
  /** D6: positions sampled per split, k-means restarts and iterations. */
  clusterPositions: number;
  kmeansRestarts: number;
  kmeansIters: number;
  /** E5: points in each PCA scatter. */
  pcaPoints: number;
  /** E4: per-sample dots drawn per layer and model. */
  samplesShown: number;
  /** D4: top-k eigen-directions whose energy share is reported. */
  topK: number[];
  /** D4: the k that E6's headline and verdict use (one of topK). */
  judgeK: number;
  /** D5: query positions per sequence (0 = every query with enough history) and the history a query needs. */
  d5Queries: number;
  d5MinHistory: number;
  /** P1 (pretrained GPT-2): context length and windows evaluated. */
  p1T: number;
  p1Seqs: number;
}

/** How much of a configuration runs: all of it, or a few steps and sequences of it. */
export type Budget = "full" | "tiny";

/** One complete configuration. */
export interface ExpConfig {
  name: ConfigName;
  /** "tiny" when {@link tinyBudget} cut it down. */
  budget: Budget;
  /** Seeds run by default (each seed: task functions, data, initialisation, sampling). */
  seeds: number;
  s1: S1Settings;
  r1: R1Settings;
  r2: R2Settings;
  probes: ProbeSettings;
}

const tiny = (name: string, nLayer: number, nHead: number, nEmbd: number, untied = false): ModelSize =>
  (untied ? { name, nLayer, nHead, nEmbd, untied } : { name, nLayer, nHead, nEmbd });

const SMOKE: ExpConfig = {
  name: "smoke",
  budget: "full",
  seeds: 2,
  s1: {
    T: 32, nTrain: 64, nVal: 32, model: tiny("2L-16", 2, 2, 16), epochs: 2, snapshotEpochs: [0, 1, 2],
    train: { batch: 16, lr: 1e-2, warmup: 2, weightDecay: 0.1, gradClip: 1, saveEvery: 4 },
  },
  r1: {
    corpus: "sotu", T: 32, steps: 6, snapshotSteps: [3], models: [tiny("2L-16", 2, 2, 16), tiny("2L-16u", 2, 2, 16, true)],
    train: { batch: 8, lr: 1e-2, warmup: 2, weightDecay: 0.1, gradClip: 1, saveEvery: 4 },
  },
  r2: {
    T: 32, steps: 4, maxBytes: 200_000, models: [tiny("1L-16", 1, 2, 16)],
    train: { batch: 4, lr: 1e-2, warmup: 1, weightDecay: 0.1, gradClip: 1, saveEvery: 4 },
  },
  probes: {
    seqs: 16, batch: 8, clusterPositions: 96, kmeansRestarts: 2, kmeansIters: 10, pcaPoints: 64, samplesShown: 16,
    topK: [1, 4], judgeK: 4, d5Queries: 0, d5MinHistory: 20, p1T: 32, p1Seqs: 4,
  },
};

const QUICK: ExpConfig = {
  name: "quick",
  budget: "full",
  seeds: 3,
  s1: {
    T: 64, nTrain: 2048, nVal: 256, model: tiny("3L-64", 3, 4, 64), epochs: 5, snapshotEpochs: [0, 1, 2, 3, 4, 5],
    train: { batch: 32, lr: 1e-2, warmup: 20, weightDecay: 0.1, gradClip: 1, saveEvery: 50 },
  },
  r1: {
    corpus: "sotu", T: 64, steps: 150, snapshotSteps: [50, 100],
    models: [tiny("3L-48", 3, 4, 48), tiny("2L-48", 2, 4, 48), tiny("4L-32", 4, 4, 32), tiny("3L-48u", 3, 4, 48, true)],
    train: { batch: 16, lr: 3e-3, warmup: 15, weightDecay: 0.1, gradClip: 1, saveEvery: 50 },
  },
  r2: {
    T: 64, steps: 200, maxBytes: 20_000_000, models: [tiny("3L-64", 3, 4, 64)],
    train: { batch: 16, lr: 6e-3, warmup: 20, weightDecay: 0.1, gradClip: 1, saveEvery: 50 },
  },
  probes: {
    seqs: 64, batch: 16, clusterPositions: 512, kmeansRestarts: 2, kmeansIters: 20, pcaPoints: 600, samplesShown: 48,
    topK: [1, 4, 16], judgeK: 4, d5Queries: 0, d5MinHistory: 20, p1T: 128, p1Seqs: 16,
  },
};

const PAPER: ExpConfig = {
  name: "paper",
  budget: "full",
  seeds: 3,
  s1: {
    T: 256, nTrain: 8192, nVal: 512, model: tiny("12L-768", 12, 12, 768), epochs: 20,
    snapshotEpochs: [0, 1, 2, 3, 4, 6, 8, 10, 12, 14, 16, 18, 20],
    train: { batch: 32, lr: 6e-4, warmup: 200, weightDecay: 0.1, gradClip: 1, saveEvery: 500 },
  },
  r1: {
    corpus: "sotu", T: 256, steps: 6000, snapshotSteps: [500, 1000, 2000, 4000],
    models: [tiny("6L-512", 6, 8, 512), tiny("12L-768", 12, 12, 768), tiny("4L-256", 4, 4, 256), tiny("6L-512u", 6, 8, 512, true)],
    train: { batch: 32, lr: 6e-4, warmup: 200, weightDecay: 0.1, gradClip: 1, saveEvery: 500 },
  },
  r2: {
    T: 512, steps: 20000, maxBytes: 600_000_000, models: [tiny("12L-768", 12, 12, 768)],
    train: { batch: 16, lr: 6e-4, warmup: 500, weightDecay: 0.1, gradClip: 1, saveEvery: 1000 },
  },
  probes: {
    seqs: 256, batch: 16, clusterPositions: 8192, kmeansRestarts: 5, kmeansIters: 100, pcaPoints: 3000,
    samplesShown: 200, topK: [1, 8, 64], judgeK: 8, d5Queries: 16, d5MinHistory: 20, p1T: 512, p1Seqs: 64,
  },
};

/** The built-in configurations by name. */
export const CONFIGS: Readonly<Record<ConfigName, ExpConfig>> = { smoke: SMOKE, quick: QUICK, paper: PAPER };

/**
 * The tiny budget of a configuration: the same architectures, context lengths and code paths, but
 * every training run cut to two steps of batch 1 (S1: one epoch of two sequences), snapshots at
 * the start and end only, and probe passes over one sequence (D5: two). Its numbers mean nothing; its
 * timings extrapolate (see main.ts).
 */
export function tinyBudget(c: ExpConfig): ExpConfig {
  const train = (t: TrainSettings): TrainSettings => ({ ...t, batch: 1, warmup: 1, saveEvery: 1 });
  return {
    ...c, budget: "tiny",
    s1: { ...c.s1, nTrain: 2, nVal: 2, epochs: 1, snapshotEpochs: [0, 1], train: train(c.s1.train) },
    r1: { ...c.r1, steps: 2, snapshotSteps: [], train: train(c.r1.train) },
    r2: { ...c.r2, steps: 2, maxBytes: Math.min(c.r2.maxBytes, 200_000), train: train(c.r2.train) },
    probes: {
      ...c.probes, seqs: 1, batch: 1, clusterPositions: Math.min(c.probes.clusterPositions, 64), kmeansRestarts: 1,
      kmeansIters: 3, pcaPoints: Math.min(c.probes.pcaPoints, 64), samplesShown: 2, d5Queries: 4, p1Seqs: 2,
    },
  };
}

/** Steps per epoch of the S1 run (every training sequence once per epoch). */
export function s1StepsPerEpoch(s: S1Settings): number {
  return Math.floor(s.nTrain / s.train.batch);
}

/** The GPT config of a model size on a vocabulary and context. */
export function gptOf(m: ModelSize, vocabSize: number, T: number): GPTConfig {
  const c: GPTConfig = { nLayer: m.nLayer, nHead: m.nHead, nEmbd: m.nEmbd, blockSize: T, vocabSize };
  return m.untied ? { ...c, tiedUnembedding: false } : c;
}
