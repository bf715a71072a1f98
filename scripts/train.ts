// `npm run train -- [flags]`: trains a small GPT on seeds / SOTU / Moby-Dick / WikiText with
// AdamW, warm-up + cosine LR, clipping, periodic validation against the unigram baseline, and
// atomic safetensors checkpoints that --resume continues exactly: at evaluations, every 30 s of
// training (--autosave-seconds) and at once on SIGINT/SIGTERM, which print the resume command.
// Flags: --help.
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { init, setAnomalyDetection } from "../src/node";
import { AdamW, GPT, Trainer, loadCheckpoint, readCheckpointMeta, saveCheckpoint } from "../src/nn/node";
import { makeDataSource, type DataName } from "../src/data/sources";
import { Autosave, DEFAULT_AUTOSAVE_SECONDS, autosaveSeconds, handleInterrupts } from "../src/nn/autosave";

/** Every run setting; saved in checkpoints so that --resume needs no other flag. */
interface RunOptions {
  data: DataName;
  wikitextDir?: string;
  wikitextMaxBytes?: number;
  tokenizer?: string;
  layers: number;
  heads: number;
  width: number;
  context: number;
  batch: number;
  accum: number;
  steps: number;
  lr: number;
  minLr?: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  evalEvery: number;
  evalBatches: number;
  saveEvery: number;
  autosaveSeconds: number;
  out: string;
  backend: "webgpu" | "cpu64";
}

const DEFAULTS: RunOptions = {
  data: "seeds", layers: 2, heads: 2, width: 64, context: 64, batch: 16, accum: 1, steps: 400,
  lr: 3e-3, warmup: 20, weightDecay: 0.1, gradClip: 1, seed: 0, evalEvery: 100, evalBatches: 8,
  saveEvery: 0, autosaveSeconds: autosaveSeconds(DEFAULT_AUTOSAVE_SECONDS), out: "", backend: "webgpu",
};

/** The training loss of every step so far (kept in checkpoints, so a resumed run continues it). */
interface RunLog {
  losses: number[];
}

const HELP = `usage: npm run train -- [flags]
  --data seeds|sotu|moby-dick|wikitext   dataset (default seeds)
  --wikitext-dir DIR        folder with wiki.{train,valid}.tokens (for --data wikitext)
  --wikitext-max-bytes N    read at most N bytes of each WikiText file
  --tokenizer bytes|gpt2    tokenizer for text data (default bytes; gpt2 for wikitext)
  --layers N --heads N --width N --context N   model size (default 2, 2, 64, 64)
  --batch N --accum N       batch size and gradient-accumulation micro-batches (default 16, 1)
  --steps N                 optimizer steps in total (default 400)
  --lr X --min-lr X --warmup N   peak LR, final LR (default lr/10), warm-up steps (3e-3, -, 20)
  --weight-decay X --grad-clip X  AdamW decay on Linear weights, global-norm clip (0.1, 1)
  --seed N                  seed of init, data and shuffling (default 0)
  --eval-every N --eval-batches N   validation cadence and size (default 100, 8)
  --out FILE                checkpoint path (default checkpoints/<data>.safetensors)
  --save-every N            also checkpoint every N steps (default: only at eval and the end)
  --autosave-seconds X      checkpoint after every X s of training, so a kill loses at most that
                            (default 30, or $METAGRAD_AUTOSAVE_SECONDS; 0 = every step). SIGINT/SIGTERM
                            checkpoint at once and print the resume command
  --resume FILE             continue a checkpoint (its saved settings apply; flags given override)
  --stop-after N            stop (and checkpoint) after N steps of this invocation; --resume continues
  --detect-anomaly          check every op for NaN/Inf and stop at the first, naming op and step (slower)
  --backend webgpu|cpu64    (default webgpu)`;

const FLAGS = {
  data: "string", "wikitext-dir": "string", "wikitext-max-bytes": "string", tokenizer: "string",
  layers: "string", heads: "string", width: "string", context: "string", batch: "string", accum: "string",
  steps: "string", lr: "string", "min-lr": "string", warmup: "string", "weight-decay": "string",
  "grad-clip": "string", seed: "string", "eval-every": "string", "eval-batches": "string",
  "save-every": "string", "autosave-seconds": "string", out: "string", resume: "string", "stop-after": "string",
  "detect-anomaly": "boolean", backend: "string", help: "boolean",
} as const;

const camel = (s: string) => s.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

function parse(): { opts: Partial<RunOptions>; resume?: string; stopAfter: number; help: boolean; anomaly: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: Object.fromEntries(Object.entries(FLAGS).map(([k, type]) => [k, { type }])) as Record<string, { type: "string" | "boolean" }>,
      strict: true, allowPositionals: false,
    }));
  } catch (e) { // unknown option, missing value, stray argument: the usage, exit status 2
    console.error(`train: ${(e as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  const opts: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (k === "resume" || k === "help" || k === "stop-after" || k === "detect-anomaly" || v === undefined) continue;
    const key = camel(k);
    const strings = ["data", "wikitextDir", "tokenizer", "out", "backend"];
    if (strings.includes(key)) opts[key] = v;
    else {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`--${k} expects a number, got "${String(v)}"`);
      opts[key] = n;
    }
  }
  const stopAfter = values["stop-after"] === undefined ? Infinity : Number(values["stop-after"]);
  if (!(stopAfter > 0)) throw new Error(`--stop-after expects a positive number, got "${String(values["stop-after"])}"`);
  if (opts.autosaveSeconds !== undefined && !((opts.autosaveSeconds as number) >= 0)) {
    throw new Error(`--autosave-seconds expects a number of seconds >= 0, got "${String(values["autosave-seconds"])}"`);
  }
  return {
    opts: opts as Partial<RunOptions>, resume: values.resume as string | undefined, stopAfter, help: !!values.help,
    anomaly: !!values["detect-anomaly"],
  };
}

const fmtTime = (s: number) => {
  if (!Number.isFinite(s)) return "--:--";
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  return `${m}:${String(r).padStart(2, "0")}`;
};

async function main(): Promise<void> {
  const cli = parse();
  if (cli.help) return void console.log(HELP);
  const saved = cli.resume ? readCheckpointMeta(cli.resume) : null;
  const o: RunOptions = { ...DEFAULTS, ...(saved?.run as Partial<RunOptions> | null ?? {}), ...cli.opts };
  if (!["webgpu", "cpu64"].includes(o.backend)) throw new Error(`--backend must be webgpu or cpu64, got "${o.backend}"`);
  o.out ||= `checkpoints/${o.data}.safetensors`;
  const resumeCommand = `npm run train -- --resume ${o.out}`;
  // Until this run's first checkpoint exists, continuing it means starting it again.
  handleInterrupts(cli.resume || existsSync(o.out) ? resumeCommand : `npm run train -- ${process.argv.slice(2).join(" ")}`);
  setAnomalyDetection(cli.anomaly);
  const dev = await init({ backend: o.backend });
  const adapter = dev.adapter ? ` (${dev.adapter.description || dev.adapter.device})` : "";
  const data = await makeDataSource(o.data, {
    B: o.batch, T: o.context, seed: o.seed, valBatches: o.evalBatches, tokenizer: o.tokenizer,
    wikitextDir: o.wikitextDir, wikitextMaxBytes: o.wikitextMaxBytes,
  });
  const model = new GPT({
    nLayer: o.layers, nHead: o.heads, nEmbd: o.width, blockSize: o.context, vocabSize: data.vocabSize,
  }, { backend: o.backend, seed: o.seed });
  const opt = AdamW.forModel(model, { lr: o.lr, weightDecay: o.weightDecay });
  const trainer = new Trainer(model, opt, {
    schedule: { lr: o.lr, minLr: o.minLr, warmup: o.warmup, total: o.steps }, maxGradNorm: o.gradClip,
  });
  const log: RunLog = { losses: [] };
  if (cli.resume) {
    const meta = loadCheckpoint(cli.resume, model, opt);
    data.setState(meta.data);
    log.losses = ((meta.log as RunLog | null)?.losses ?? []).slice(0, meta.step);
    console.log(`resumed ${cli.resume} at step ${meta.step}`);
  }
  console.log(`data ${data.name}: vocab ${data.vocabSize}, ${data.trainTokens} train tokens, ` +
    `${data.val.length}x${o.batch}x${o.context} val; unigram baseline ${data.unigram.toFixed(4)} nats`);
  console.log(`model ${o.layers}L ${o.heads}H ${o.width}C T=${o.context}: ${model.numParameters()} params on ${o.backend}${adapter}`);

  const save = async () => saveCheckpoint(o.out, model, opt, { data: data.state(), run: o, log });
  const autosave = new Autosave({ save, everySeconds: o.autosaveSeconds, resumeCommand, log: (l) => console.log(l) });
  const tty = process.stdout.isTTY;
  const tokensPerStep = o.batch * o.context * o.accum;
  const t0 = performance.now();
  const first = trainer.step;
  let lastVal = NaN;
  const recent: number[] = []; // end times of the last 20 training steps (evaluation excluded)
  while (trainer.step < o.steps && trainer.step - first < cli.stopAfter) {
    const batches = Array.from({ length: o.accum }, () => data.nextTrain());
    const start = performance.now();
    const r = await trainer.trainStep(batches);
    log.losses[r.step] = r.loss;
    const done = trainer.step;
    if (recent.length === 0) recent.push(start);
    recent.push(performance.now());
    if (recent.length > 21) recent.shift();
    const msPerStep = (recent.at(-1)! - recent[0]) / (recent.length - 1);
    const line = `step ${done}/${o.steps} | loss ${r.loss.toFixed(4)} | lr ${r.lr.toExponential(2)} | ` +
      `norm ${r.gradNorm.toFixed(2)} | ${Math.round(tokensPerStep / (msPerStep / 1000))} tok/s | ` +
      `${msPerStep.toFixed(0)} ms/step | ETA ${fmtTime(((o.steps - done) * msPerStep) / 1000)}`;
    const evalNow = done % o.evalEvery === 0 || done === o.steps;
    if (tty) process.stdout.write(`\r${line}\x1b[K${evalNow ? "\n" : ""}`);
    else if (evalNow || done % 10 === 0 || done === first + 1) console.log(line);
    if (evalNow) {
      lastVal = await trainer.evaluate(data.val);
      console.log(`  val loss ${lastVal.toFixed(4)} (unigram ${data.unigram.toFixed(4)}) at step ${done}`);
      await save();
      autosave.saved();
    } else if (o.saveEvery > 0 && done % o.saveEvery === 0) {
      await save();
      autosave.saved();
    }
    await autosave.afterStep(); // the time budget, or a signal: checkpoint (and exit)
  }
  autosave.close();
  if (trainer.step < o.steps) {
    await save();
    console.log(`stopped at step ${trainer.step} of ${o.steps}; continue with --resume ${o.out}`);
    return;
  }
  console.log(`done: val loss ${Number.isNaN(lastVal) ? "n/a" : lastVal.toFixed(4)} vs unigram ` +
    `${data.unigram.toFixed(4)}; ${((performance.now() - t0) / 1000).toFixed(1)} s; checkpoint ${o.out}`);
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(`train: ${(e as Error).message}`);
  process.exit(1);
});
