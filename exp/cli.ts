// Command line of `npm run exp`: which experiments, which configuration, where results go, and
// the optional real-data (WikiText-103) and pretrained-model (GPT-2) folders. Parsing is strict
// (node:util parseArgs): unknown options, bad values and missing folders are errors that say why.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { wikiTextPath } from "../src/data/text";
import { CONFIGS, type ConfigName } from "./config";

/** Experiment ids as written on the command line. */
export const EXPERIMENT_IDS = ["e1", "e2", "e3", "e4", "e5", "e6"] as const;
/** One experiment id. */
export type ExpId = (typeof EXPERIMENT_IDS)[number];

/** The parsed command line. */
export interface CliOptions {
  experiments: ExpId[];
  config: ConfigName;
  backend: "webgpu" | "cpu64";
  seed: number;
  /** Output folder (absolute). */
  out: string;
  /** WikiText-103 folder (R2), absolute, or null. */
  data: string | null;
  /** Hugging Face GPT-2 folder (P1), absolute, or null. */
  gpt2: string | null;
  help: boolean;
}

/** A usage error: the message is meant for the user as is. */
export class CliError extends Error {
  override name = "CliError";
}

/** The --help text. */
export const HELP = `usage: npm run exp -- [e1 … e6] [options]

Reproduces the experiments of "A Meta-Learning Perspective on Transformers for Causal Language
Modeling" (see docs/PROTOCOL.md). With no experiment named, runs all six.

  --config smoke|quick|paper  sizes: smoke (CI, seconds), quick (the default: sized for a CPU
                              with the software Vulkan adapter), paper (GPT-2-small sized, for a
                              real GPU)
  --backend webgpu|cpu64      compute backend (default webgpu; cpu64 is the slow f64 reference)
  --seed N                    one integer seed for data, init and sampling (default 0)
  --out DIR                   results folder (default results/<config>[-cpu64][-seed<N>][+wikitext][+gpt2])
  --data DIR                  WikiText-103 folder (wiki.{train,valid}.tokens or .raw): adds R2 to E4
  --gpt2 DIR                  Hugging Face GPT-2 folder (config.json + model.safetensors): adds P1
                              to E4 and E5 (on WikiText when --data is given, else on the R1 text)
  --help                      this text

An interrupted run resumes: finished experiments (their JSON present with the same settings) are
skipped and training runs continue from their last checkpoint. The report (report.md and
report.html in the results folder) is rebuilt from every finished experiment at the end.`;

function int(flag: string, v: string): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new CliError(`--${flag} expects an integer, got "${v}"`);
  return n;
}

function folder(flag: string, v: string): string {
  const p = resolve(v);
  if (!existsSync(p)) throw new CliError(`--${flag} ${v}: no such folder (${p})`);
  if (!statSync(p).isDirectory()) throw new CliError(`--${flag} ${v}: not a folder (${p})`);
  return p;
}

/** The default results folder of a configuration. */
export function defaultOut(o: Pick<CliOptions, "config" | "backend" | "seed" | "data" | "gpt2">, cwd = process.cwd()): string {
  let name = o.config as string;
  if (o.backend !== "webgpu") name += `-${o.backend}`;
  if (o.seed !== 0) name += `-seed${o.seed}`;
  if (o.data) name += "+wikitext";
  if (o.gpt2) name += "+gpt2";
  return resolve(cwd, "results", name);
}

/** Parses `argv` (without node and script). Throws {@link CliError} on any problem. */
export function parseCli(argv: string[], cwd = process.cwd()): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string" }, backend: { type: "string" }, seed: { type: "string" }, out: { type: "string" },
        data: { type: "string" }, gpt2: { type: "string" }, help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    const m = /'([^']+)'/.exec(err.message);
    if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new CliError(`unknown option ${m?.[1] ?? ""} (see --help)`);
    if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new CliError(`${err.message.split(/\.\s/)[0]} (see --help)`);
    throw new CliError(err.message);
  }
  const { values: v, positionals } = parsed;
  const help = v.help === true;
  const experiments: ExpId[] = [];
  for (const p of positionals) {
    const id = p.toLowerCase();
    if (id === "all") experiments.push(...EXPERIMENT_IDS);
    else if ((EXPERIMENT_IDS as readonly string[]).includes(id)) experiments.push(id as ExpId);
    else throw new CliError(`unknown experiment "${p}" (expected ${EXPERIMENT_IDS.join(", ")} or all)`);
  }
  const config = (v.config ?? "quick") as ConfigName;
  if (!(config in CONFIGS)) throw new CliError(`--config must be one of ${Object.keys(CONFIGS).join(", ")}, got "${config}"`);
  const backend = (v.backend ?? "webgpu") as CliOptions["backend"];
  if (backend !== "webgpu" && backend !== "cpu64") throw new CliError(`--backend must be webgpu or cpu64, got "${backend}"`);
  const seed = v.seed === undefined ? 0 : int("seed", v.seed);
  if (seed < 0) throw new CliError(`--seed must be ≥ 0, got ${seed}`);
  const data = v.data === undefined ? null : folder("data", v.data);
  if (data) {
    for (const split of ["train", "valid"] as const) {
      try {
        wikiTextPath(data, split);
      } catch (e) {
        throw new CliError(`--data ${v.data}: ${(e as Error).message}`);
      }
    }
  }
  const gpt2 = v.gpt2 === undefined ? null : folder("gpt2", v.gpt2);
  if (gpt2) {
    const missing = ["config.json", "model.safetensors"].filter((f) => !existsSync(join(gpt2, f)));
    if (missing.length) {
      throw new CliError(`--gpt2 ${v.gpt2}: missing ${missing.join(" and ")} (a local Hugging Face GPT-2 folder; ` +
        "nothing is downloaded)");
    }
    let vocab: unknown;
    try {
      vocab = (JSON.parse(readFileSync(join(gpt2, "config.json"), "utf8")) as { vocab_size?: unknown }).vocab_size;
    } catch (e) {
      throw new CliError(`--gpt2 ${v.gpt2}: config.json is not valid JSON (${(e as Error).message})`);
    }
    if (!(typeof vocab === "number" && vocab >= 50257)) {
      throw new CliError(`--gpt2 ${v.gpt2}: vocab_size is ${String(vocab)}; P1 reads text with the GPT-2 BPE, which needs 50257 tokens`);
    }
  }
  const o = { config, backend, seed, data, gpt2 };
  const out = v.out === undefined ? defaultOut(o, cwd) : resolve(cwd, v.out);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new CliError(`--out ${v.out}: exists and is not a folder`);
  const unique = [...new Set(experiments.length ? experiments : EXPERIMENT_IDS)].sort() as ExpId[];
  return { experiments: unique, ...o, out, help };
}
