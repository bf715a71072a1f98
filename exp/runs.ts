// The training runs the experiments share, trained once per seed folder: one S1 model with
// snapshots at several epochs (E1, E2, E3, E5, E6), the R1 models of several sizes (E4; the first
// also serves E5, E6) and, with --data, the R2 WikiText models (E4). Memoized per run.
import { gptOf, s1StepsPerEpoch } from "./config";
import type { RunContext } from "./context";
import { r1Ids, r2Ids, s1Source, s1Task, textSource } from "./data";
import { ensureTrained, type TrainedRun } from "./train-run";

/** Lazily trained shared runs of one experiment run. */
export class SharedRuns {
  #s1?: Promise<TrainedRun>;
  #r1?: Promise<TrainedRun[]>;
  #r2?: Promise<TrainedRun[]>;

  constructor(readonly ctx: RunContext) {}

  /** The S1 run: snapshots at cfg.s1.snapshotEpochs. */
  s1(): Promise<TrainedRun> {
    this.#s1 ??= (async () => {
      const { ctx } = this;
      const s = ctx.config.s1;
      const per = s1StepsPerEpoch(s);
      const task = s1Task(ctx.config, ctx.seed);
      return ensureTrained(ctx, {
        id: "s1", model: gptOf(s.model, task.vocabSize, s.T), train: s.train, steps: s.epochs * per,
        snapshots: s.snapshotEpochs.map((e) => e * per), stepsPerEpoch: per,
        dataKey: `seeds T=${s.T} nTrain=${s.nTrain} nVal=${s.nVal}`,
      }, () => s1Source(ctx.config, ctx.seed));
    })();
    return this.#s1;
  }

  /** The R1 runs, one per model size, trained in order. */
  r1(): Promise<TrainedRun[]> {
    this.#r1 ??= (async () => {
      const { ctx } = this;
      const r = ctx.config.r1;
      const ids = r1Ids(ctx.config, ctx.seed);
      const out: TrainedRun[] = [];
      for (const m of r.models) {
        out.push(await ensureTrained(ctx, {
          id: `r1-${m.name}`, model: gptOf(m, ids.tokenizer.vocabSize, r.T), train: r.train, steps: r.steps,
          snapshots: r.snapshotSteps, dataKey: `${ids.name} T=${r.T}`,
        }, () => textSource(ids, r.T, r.train.batch, ctx.seed)));
      }
      return out;
    })();
    return this.#r1;
  }

  /** The R2 runs (empty without --data). */
  r2(): Promise<TrainedRun[]> {
    this.#r2 ??= (async () => {
      const { ctx } = this;
      if (!ctx.data) return [];
      const r = ctx.config.r2;
      const ids = await r2Ids(ctx.config, ctx.data);
      const out: TrainedRun[] = [];
      for (const m of r.models) {
        out.push(await ensureTrained(ctx, {
          id: `r2-${m.name}`, model: gptOf(m, ids.tokenizer.vocabSize, r.T), train: r.train, steps: r.steps,
          snapshots: [], dataKey: `${ids.name} T=${r.T} maxBytes=${r.maxBytes} dir=${ctx.data}`,
        }, () => textSource(ids, r.T, r.train.batch, ctx.seed)));
      }
      return out;
    })();
    return this.#r2;
  }
}
