// Training checkpoints as safetensors: weights (`model.*`), AdamW moments (`adam_m.*`, `adam_v.*`),
// and JSON metadata (format, config, step, optimizer settings, data-source state, run settings,
// run log, and a sha256 of all of it), written atomically. Loading validates everything (the
// checksum included, so a flipped bit anywhere is an error, never a silently different run)
// before touching any tensor. Node-only (node:fs, node:crypto).
import { createHash } from "node:crypto";
import { readAll, type Tensor } from "../tensor/index";
import type { GPT, GPTConfig } from "./gpt";
import { setValues } from "./module";
import type { AdamW, AdamWConfig } from "./optim";
import { firstNonFinite, type ParsedSafetensors, type SafeTensor, type TensorInput } from "./safetensors";
import { readSafetensors, writeSafetensors } from "./safetensors-file";

/** The value of `__metadata__.format` in every checkpoint this module writes (/2: with `sha256`). */
export const CHECKPOINT_FORMAT = "metagrad-gpt-checkpoint/2";
/** Formats this module reads: /1 (no checksum) and the current one. */
const FORMATS = new Set(["metagrad-gpt-checkpoint/1", CHECKPOINT_FORMAT]);

/** A tensor as the checksum sees it: its header fields and its little-endian bytes. */
interface Hashed {
  name: string;
  dtype: string;
  shape: readonly number[];
  bytes: Uint8Array;
}

/** sha256 over the metadata (sans `sha256`, keys sorted) and every tensor (by name: dtype, shape, bytes). */
function checksum(metadata: Record<string, string>, tensors: Hashed[]): string {
  const h = createHash("sha256");
  const md = Object.keys(metadata).filter((k) => k !== "sha256").sort().map((k) => [k, metadata[k]]);
  h.update(JSON.stringify(md));
  for (const t of [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    h.update(JSON.stringify([t.name, t.dtype, t.shape]));
    h.update(t.bytes);
  }
  return h.digest("hex");
}

const bytesOf = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Everything a checkpoint holds besides tensors. */
export interface CheckpointMeta {
  format: string;
  /** Completed optimizer steps. */
  step: number;
  config: Required<GPTConfig>;
  /** AdamW settings, or null when no optimizer state was saved. */
  optimizer: Required<AdamWConfig> | null;
  /** Data-source position (batcher / RNG state), as given at save time. */
  data: unknown;
  /** Run settings (e.g. CLI options), as given at save time. */
  run: unknown;
  /** The run's record so far (e.g. the loss of every step), as given at save time; null when absent. */
  log: unknown;
}

/** Extra state to store with a checkpoint. */
export interface CheckpointExtra {
  data?: unknown;
  run?: unknown;
  /** The run's record so far (JSON), e.g. `{ losses }`, so that a resumed run continues it. */
  log?: unknown;
}

/**
 * Saves model weights, optimizer moments (when `optimizer` is given) and metadata to `path`
 * (temp file + fsync + rename). All tensors come back in one readback. cpu64 tensors are stored
 * as F64 and webgpu tensors as F32, so a reload is bit-exact on the same backend.
 */
export async function saveCheckpoint(path: string, model: GPT, optimizer: AdamW | null, extra: CheckpointExtra = {}): Promise<void> {
  const entries: [string, Tensor][] = [];
  for (const [n, p] of model.namedParameters()) {
    entries.push([`model.${n}`, p]);
    if (optimizer) {
      const m = optimizer.m.get(n), v = optimizer.v.get(n);
      if (!m || !v) throw new Error(`saveCheckpoint ${path}: the optimizer has no state for parameter "${n}"`);
      entries.push([`adam_m.${n}`, m], [`adam_v.${n}`, v]);
    }
  }
  const vals = await readAll(entries.map(([, t]) => t));
  const dtype = model.backend.precision === "f64" ? "F64" : "F32";
  const tensors: Record<string, TensorInput> = {};
  entries.forEach(([name, t], i) => {
    tensors[name] = { dtype, shape: t.shape, data: vals[i] };
  });
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    step: String(optimizer?.stepCount ?? 0),
    config: JSON.stringify(model.config),
    optimizer: JSON.stringify(optimizer?.opts ?? null),
    data: JSON.stringify(extra.data ?? null),
    run: JSON.stringify(extra.run ?? null),
    log: JSON.stringify(extra.log ?? null),
  };
  const typed = (v: Float64Array) => (dtype === "F64" ? v : Float32Array.from(v));
  meta.sha256 = checksum(meta, entries.map(([name, t], i) => ({ name, dtype, shape: t.shape, bytes: bytesOf(typed(vals[i])) })));
  writeSafetensors(path, tensors, meta);
}

/**
 * Verifies a checkpoint's checksum (required from format /2 on). Runs after the structural checks,
 * whose errors say more; it catches what they cannot (a flipped digit in a value or a weight).
 */
function verify(path: string, file: ParsedSafetensors): void {
  const md = file.metadata;
  if (md.format === CHECKPOINT_FORMAT && md.sha256 === undefined) {
    throw new Error(`checkpoint ${path}: __metadata__.sha256 is missing; the file is corrupt`);
  }
  if (md.sha256 !== undefined) {
    const hashed: Hashed[] = [];
    for (const [name, t] of Object.entries(file.tensors)) {
      if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) {
        throw new Error(`checkpoint ${path}: tensor "${name}" has dtype ${t.dtype}, expected F32 or F64`);
      }
      hashed.push({ name, dtype: t.dtype, shape: t.shape, bytes: bytesOf(t.data) });
    }
    if (checksum(md, hashed) !== md.sha256) {
      throw new Error(`checkpoint ${path}: its contents do not match its sha256: the file is corrupt (a bad copy or ` +
        "disk); use another checkpoint (e.g. an earlier snapshot)");
    }
  }
}

function parseMeta(path: string, md: Record<string, string>): CheckpointMeta {
  if (!FORMATS.has(md.format)) {
    throw new Error(`checkpoint ${path}: __metadata__.format is ${JSON.stringify(md.format)}, expected ` +
      `"${CHECKPOINT_FORMAT}" (not a checkpoint written by saveCheckpoint)`);
  }
  const json = (key: string): unknown => {
    if (md[key] === undefined) throw new Error(`checkpoint ${path}: __metadata__.${key} is missing`);
    try {
      return JSON.parse(md[key]);
    } catch (e) {
      throw new Error(`checkpoint ${path}: __metadata__.${key} is not valid JSON (${(e as Error).message})`);
    }
  };
  const step = Number(md.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`checkpoint ${path}: __metadata__.step is ${JSON.stringify(md.step)}, not a step count`);
  const config = json("config");
  if (typeof config !== "object" || config === null) throw new Error(`checkpoint ${path}: __metadata__.config is not an object`);
  return {
    format: md.format, step, config: config as Required<GPTConfig>,
    optimizer: json("optimizer") as Required<AdamWConfig> | null, data: json("data"), run: json("run"),
    log: md.log === undefined ? null : json("log"), // absent in checkpoints written before it existed
  };
}

/** Reads only the metadata of a checkpoint (e.g. its config, to build the model before loading). */
export function readCheckpointMeta(path: string): CheckpointMeta {
  const file = readSafetensors(path);
  const meta = parseMeta(path, file.metadata);
  verify(path, file);
  return meta;
}

/**
 * Loads a checkpoint into `model` (and `optimizer`, restoring its moments and step count).
 * Every check runs first — format, config equality, each tensor present with the right shape and
 * dtype and finite values, no unknown tensors, then the checksum — and any failure throws an error
 * naming the file and the tensor or config key;
 * nothing is modified unless all checks pass. Returns the metadata.
 */
export function loadCheckpoint(path: string, model: GPT, optimizer?: AdamW | null): CheckpointMeta {
  const file = readSafetensors(path);
  const { tensors, metadata } = file;
  const meta = parseMeta(path, metadata);
  const keys = new Set([...Object.keys(meta.config), ...Object.keys(model.config)]) as Set<keyof GPTConfig>;
  const diffs = [...keys].filter((k) => meta.config[k] !== model.config[k])
    .map((k) => `${k}: checkpoint ${JSON.stringify(meta.config[k])} vs model ${JSON.stringify(model.config[k])}`);
  if (diffs.length) throw new Error(`checkpoint ${path}: config differs from the model (${diffs.join("; ")})`);

  const plan: [Tensor, SafeTensor][] = [];
  const want = new Set<string>();
  const problems: string[] = [];
  const expect = (name: string, t: Tensor): void => {
    want.add(name);
    const s = tensors[name];
    if (!s) return void problems.push(`tensor "${name}" is missing`);
    if (s.shape.join() !== t.shape.join()) {
      return void problems.push(`tensor "${name}" has shape [${s.shape.join(", ")}], the model needs [${t.shape.join(", ")}]`);
    }
    if (!(s.data instanceof Float32Array || s.data instanceof Float64Array)) {
      return void problems.push(`tensor "${name}" has dtype ${s.dtype}, expected F32 or F64`);
    }
    const bad = firstNonFinite(s.data);
    if (bad >= 0) return void problems.push(`tensor "${name}" holds ${s.data[bad]} at index ${bad} (a diverged run?)`);
    plan.push([t, s]);
  };
  for (const [n, p] of model.namedParameters()) {
    expect(`model.${n}`, p);
    if (optimizer) {
      expect(`adam_m.${n}`, optimizer.m.get(n)!);
      expect(`adam_v.${n}`, optimizer.v.get(n)!);
    }
  }
  if (optimizer && !meta.optimizer) problems.push("it holds no optimizer state (saved without an optimizer)");
  const optimizerNames = /^adam_[mv]\./;
  for (const name of Object.keys(tensors)) {
    if (!want.has(name) && !(optimizer == null && optimizerNames.test(name))) problems.push(`unexpected tensor "${name}"`);
  }
  if (problems.length) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
    throw new Error(`checkpoint ${path}: ${problems.slice(0, 5).join("; ")}${more}; nothing was loaded`);
  }
  verify(path, file);
  for (const [t, s] of plan) setValues(t, s.data as Float32Array | Float64Array);
  if (optimizer) optimizer.stepCount = meta.step;
  return meta;
}
