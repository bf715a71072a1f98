// What every experiment shares during a run: the settings and their fingerprint, the adapter and
// git commit, the JSON files (per seed in seed-<s>/eN.json, the summary over seeds in eN.json;
// written atomically; a per-seed file present with the same fingerprint = finished, so a rerun
// skips it) and progress lines with ETA. It runs no model itself.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../src/nn/atomic-write";
import type { ExperimentId } from "./report";
import type { ExpConfig } from "./config";

/** Settings of one seed's run that change its numbers (the fingerprint is a hash of these). */
export interface RunSettings {
  config: ExpConfig;
  /** The seed: task functions, data, initialisation and sampling. */
  seed: number;
  backend: "webgpu" | "cpu64";
  /** WikiText-103 folder (R2) or null. */
  data: string | null;
  /** GPT-2 folder (P1) or null. */
  gpt2: string | null;
}

/** Everything an experiment needs to know about one seed's run. */
export interface RunContext extends RunSettings {
  /** This seed's results folder (absolute), `<run folder>/seed-<seed>`. */
  out: string;
  /** Adapter in words, e.g. "llvmpipe (LLVM 19.1.7, 256 bits) (software)" or "cpu64 (f64 reference)". */
  adapter: string;
  /** `git rev-parse HEAD`, or "unknown". */
  commit: string;
  /** Fingerprint of the settings. */
  key: string;
  /** Prints one line of progress or news. */
  log(line: string): void;
}

/** The JSON file of one finished experiment: one seed's numbers, or the summary over seeds. */
export interface ExpJson<D = unknown> {
  id: ExperimentId;
  /** Format version of this file. */
  schema: 2;
  /** "seed": seed-<s>/eN.json; "summary": eN.json, the seeds combined with the verdict. */
  kind: "seed" | "summary";
  /** Fingerprint of the settings that produced it. */
  key: string;
  config: ExpConfig;
  /** The seeds it covers (one for a seed file). */
  seeds: number[];
  backend: string;
  adapter: string;
  commit: string;
  data: string | null;
  gpt2: string | null;
  createdAt: string;
  /** Wall time: a seed file's experiment including any shared training it started; a summary's sum over seeds. */
  wallSeconds: number;
  /** Every number the experiment plots or reports. */
  result: D;
}

/** Settings of a whole run over seeds (the summary files' fingerprint). */
export type RunSetSettings = Omit<RunSettings, "seed"> & { seeds: readonly number[] };

/** Fingerprint of one seed's settings, or of a run's over its seeds: a short sha256 of their canonical JSON. */
export function settingsKey(s: RunSettings | RunSetSettings): string {
  const which = "seeds" in s ? { seeds: [...s.seeds] } : { seed: s.seed };
  const canon = JSON.stringify({ config: s.config, ...which, backend: s.backend, data: s.data, gpt2: s.gpt2 });
  return createHash("sha256").update(canon).digest("hex").slice(0, 16);
}

/** The folder of one seed inside a run folder. */
export function seedDir(runOut: string, seed: number): string {
  return join(runOut, `seed-${seed}`);
}

/** The current git commit (`git rev-parse HEAD`), or "unknown" outside a repository. */
export function gitCommit(cwd = process.cwd()): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

/** Path of an experiment's JSON file. */
export function resultPath(out: string, id: ExperimentId): string {
  return join(out, `${id.toLowerCase()}.json`);
}

/** Reads an experiment's JSON file in `out`, or null when absent (a file that does not parse is an error). */
export function readResult<D>(out: string, id: ExperimentId): ExpJson<D> | null {
  const p = resultPath(out, id);
  if (!existsSync(p)) return null;
  let j: ExpJson<D>;
  try {
    j = JSON.parse(readFileSync(p, "utf8"), nullsInArraysToNaN) as ExpJson<D>;
  } catch (e) {
    throw new Error(`${p} is not valid JSON (${(e as Error).message}); delete it to recompute ${id}`);
  }
  if (j.schema !== 2 || j.id !== id) {
    throw new Error(`${p} is not a ${id} result file of this version (schema ${j.schema}, id ${j.id}); delete it to recompute`);
  }
  return j;
}

/** Whether an experiment is finished for these settings (its JSON present with the same key). */
export function isFinished(ctx: Pick<RunContext, "out" | "key">, id: ExperimentId): boolean {
  return readResult(ctx.out, id)?.key === ctx.key;
}

/** What a result file records about where it came from. */
export type ResultMeta = Pick<RunContext, "out" | "key" | "config" | "backend" | "adapter" | "commit" | "data" | "gpt2"> &
  ({ seed: number } | { seeds: readonly number[] });

/**
 * Wraps a result with the run's metadata and writes it atomically into `meta.out`: a seed file
 * when `meta` names one seed, a summary when it names the seeds. Returns the file's object.
 */
export function writeResult<D>(meta: ResultMeta, id: ExperimentId, result: D, wallSeconds: number): ExpJson<D> {
  const seeds = "seeds" in meta ? [...meta.seeds] : [meta.seed];
  const j: ExpJson<D> = {
    id, schema: 2, kind: "seeds" in meta ? "summary" : "seed", key: meta.key, config: meta.config, seeds, backend: meta.backend,
    adapter: meta.adapter, commit: meta.commit, data: meta.data, gpt2: meta.gpt2, createdAt: new Date().toISOString(), wallSeconds, result,
  };
  writeFileAtomic(resultPath(meta.out, id), `${JSON.stringify(j, roundFloats, 1)}\n`);
  return j;
}

/** JSON reviver: the nulls that non-finite numbers became inside arrays read back as NaN. */
function nullsInArraysToNaN(_k: string, v: unknown): unknown {
  return Array.isArray(v) && v.includes(null) ? v.map((x) => (x === null ? NaN : x)) : v;
}

/** JSON replacer: non-finite numbers become null; others keep 7 significant digits (f32 precision). */
function roundFloats(_k: string, v: unknown): unknown {
  if (typeof v !== "number") return v;
  if (!Number.isFinite(v)) return null;
  return Number.isInteger(v) ? v : Number(v.toPrecision(7));
}

/** Formats seconds as m:ss. */
export function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "--:--";
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return `${m}:${String(r).padStart(2, "0")}`;
}

/**
 * A progress line: `[label] 120/320 | loss 2.41 | 3.1 it/s | ETA 1:05`. On a terminal it redraws
 * in place; otherwise it prints at most every `everyS` seconds, plus the first and last update.
 */
export class Progress {
  readonly #t0 = performance.now();
  #last = -Infinity;
  #first = true;
  readonly #tty: boolean;

  readonly #start: number;
  readonly #write: (s: string) => void;
  readonly #everyS: number;

  /**
   * @param start units already done before this progress began (a resumed run), excluded from the rate
   * @param opts.write where lines go (default stdout); opts.tty forces the redraw mode
   */
  constructor(readonly label: string, readonly total: number, start = 0,
    opts: { write?: (s: string) => void; tty?: boolean; everyS?: number } = {}) {
    this.#start = start;
    this.#write = opts.write ?? ((s) => process.stdout.write(s));
    this.#tty = opts.tty ?? process.stdout.isTTY === true;
    this.#everyS = opts.everyS ?? 10;
  }

  /** Reports `done` of `total` units, with extra text (e.g. "loss 2.41"). */
  update(done: number, extra = ""): void {
    const el = (performance.now() - this.#t0) / 1000;
    const rate = (done - this.#start) / Math.max(el, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : NaN;
    const line = `[${this.label}] ${done}/${this.total}${extra ? ` | ${extra}` : ""} | ` +
      `${rate >= 1 ? rate.toFixed(1) : rate.toFixed(2)} it/s | ETA ${fmtDuration(eta)}`;
    const end = done >= this.total;
    if (this.#tty) this.#write(`\r${line}\x1b[K${end ? "\n" : ""}`);
    else if (end || this.#first || el - this.#last >= this.#everyS) {
      this.#write(`${line}\n`);
      this.#last = el;
    }
    this.#first = false;
  }

  /** Seconds since the progress started. */
  get elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }
}
