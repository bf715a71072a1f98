// Corrupt files fail cleanly: 130+ generated (seeded) corruptions of a checkpoint and of a Hugging
// Face GPT-2 folder (truncations, flipped header bytes, huge or negative header lengths, offsets
// past the end, overlapping or misordered offsets, wrong dtypes and shapes, NaN weights, a flipped
// weight byte, a checkpoint of another model size, broken metadata) each give an Error naming the
// file and, where one is at fault, the tensor; the model is left untouched. None crashes, hangs or
// allocates beyond the file (a sparse multi-GB file with a bogus header is refused before it is
// read). Pure CPU (cpu64).
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdamW, GPT, Trainer, loadCheckpoint, loadGpt2, readSafetensors, saveCheckpoint, type GPTConfig } from "../src/nn/node";
import { parseSafetensors, serializeSafetensors, type TensorInput } from "../src/nn/safetensors";
import { SplitMix32 } from "../src/tensor/random";

const dir = mkdtempSync(join(tmpdir(), "corrupt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CFG: GPTConfig = { nLayer: 1, nHead: 1, nEmbd: 8, blockSize: 4, vocabSize: 5 };
const FIXTURE = join(__dirname, "fixtures", "gpt2-tiny");
let good: Uint8Array; // a checkpoint with AdamW moments after one step (F64: written on cpu64)
let other: string; // a checkpoint of a wider model
let headerLen: number;
let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
let names: string[]; // tensor names, in data order

async function trainedCheckpoint(cfg: GPTConfig, path: string): Promise<void> {
  const model = new GPT(cfg, { backend: "cpu64", seed: 1 }), opt = AdamW.forModel(model);
  const tr = new Trainer(model, opt, { schedule: { lr: 1e-2, warmup: 1, total: 4 } });
  await tr.trainStep([{ B: 1, T: 4, x: Int32Array.from([1, 2, 3, 4]), y: Int32Array.from([2, 3, 4, 0]) }]);
  await saveCheckpoint(path, model, opt, { data: { pos: 1 }, run: { note: "corrupt-files" }, log: { losses: [1] } });
  model.dispose();
  opt.dispose();
}

beforeAll(async () => {
  await trainedCheckpoint(CFG, join(dir, "good.safetensors"));
  good = new Uint8Array(readFileSync(join(dir, "good.safetensors"))); // a plain copy: Buffer.slice would be a view
  other = join(dir, "other.safetensors");
  await trainedCheckpoint({ ...CFG, nEmbd: 16 }, other);
  headerLen = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
  header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLen)));
  names = Object.keys(header).filter((k) => k !== "__metadata__")
    .sort((a, b) => (header[a] as { data_offsets: number[] }).data_offsets[0] - (header[b] as { data_offsets: number[] }).data_offsets[0]);
});

type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] };
const entry = (h: typeof header, n: string) => h[n] as Entry;
const clone = () => JSON.parse(JSON.stringify(header)) as typeof header;

/** A file from a header object and a data section (default: the good file's). */
function rebuild(h: unknown, data: Uint8Array = good.subarray(8 + headerLen)): Uint8Array {
  const hb = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(8 + hb.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(data, 8 + hb.length);
  return out;
}

let counter = 0;
function file(bytes: Uint8Array): string {
  const p = join(dir, `case-${counter++}.safetensors`);
  writeFileSync(p, bytes);
  return p;
}

/** A corruption: the file, the tensor the error must name (if one is at fault), and whether it may be benign. */
interface Case {
  label: string;
  path: string;
  tensor?: string;
  /** A flipped byte may land in JSON whitespace: then the file must load with identical contents. */
  mayBeBenign?: boolean;
}

const cases: Case[] = [];

/** Loads `path` into a fresh model + optimizer: the error message, or "" when it loaded. */
function load(path: string): { msg: string; error: unknown; touched: boolean } {
  const model = new GPT(CFG, { backend: "cpu64", seed: 7 }), opt = AdamW.forModel(model);
  const before = Float64Array.from(model.wte.weight.storage.f64);
  try {
    loadCheckpoint(path, model, opt);
    return { msg: "", error: null, touched: true };
  } catch (e) {
    const touched = model.wte.weight.storage.f64.some((v, i) => !Object.is(v, before[i])) || opt.stepCount !== 0;
    return { msg: (e as Error).message, error: e, touched };
  } finally {
    model.dispose();
    opt.dispose();
  }
}

describe("corrupt checkpoints fail cleanly", () => {
  beforeAll(() => {
    const g = new SplitMix32(31);
    const rnd = (n: number) => Math.floor(g.uniform() * n);
    const len = good.length, dataStart = 8 + headerLen;
    // Truncations: the edges of each part, and seeded cuts.
    for (const cut of [0, 3, 7, 8, 9, dataStart - 1, dataStart, dataStart + 1, len - 1, ...Array.from({ length: 16 }, () => rnd(len))]) {
      cases.push({ label: `truncated to ${cut} bytes`, path: file(good.subarray(0, cut)) });
    }
    // Header lengths: zero, tiny, off by one, past the file, huge, "negative" (top bit set).
    for (const n of [0n, 1n, BigInt(headerLen - 1), BigInt(headerLen + 1), BigInt(len), BigInt(len - 7), 2n ** 32n + 5n,
      2n ** 53n, 2n ** 63n + 9n, 2n ** 64n - 1n, BigInt(100 * 2 ** 20 + 1)]) {
      const b = good.slice();
      new DataView(b.buffer).setBigUint64(0, n, true);
      cases.push({ label: `header length ${n}`, path: file(b) });
    }
    // Flipped header bytes (seeded position and bit pattern).
    for (let i = 0; i < 40; i++) {
      const b = good.slice(), at = 8 + rnd(headerLen);
      b[at] ^= 1 + rnd(255);
      cases.push({ label: `header byte ${at} flipped`, path: file(b), mayBeBenign: true });
    }
    // Offsets: past the end, reversed, overlapping the previous tensor, swapped with another, a gap.
    for (let i = 0; i < 6; i++) {
      const k = 1 + rnd(names.length - 1), n = names[k], prev = names[k - 1];
      const dataLen = len - dataStart;
      // Some tensor's error: the tiling break may show at a neighbour. Two same-size tensors
      // swapped keep a valid layout: only the checksum sees them, and it names no tensor.
      const edit = (f: (h: typeof header) => void, what: string, tensor: string | null = "") => {
        const h = clone();
        f(h);
        cases.push({ label: `${what} (${n})`, path: file(rebuild(h)), tensor: tensor ?? undefined });
      };
      edit((h) => void (entry(h, n).data_offsets = [dataLen - 8, dataLen + 8 * entry(h, n).shape.reduce((a, b) => a * b, 1) - 8]), "offsets past the end");
      edit((h) => void (entry(h, n).data_offsets = [entry(h, n).data_offsets[1], entry(h, n).data_offsets[0]]), "offsets reversed");
      edit((h) => {
        const [b0, e0] = entry(h, n).data_offsets;
        entry(h, n).data_offsets = [b0 - 8, e0 - 8];
      }, "overlapping the previous tensor");
      const size = (m: string) => entry(header, m).data_offsets[1] - entry(header, m).data_offsets[0];
      edit((h) => {
        const a = entry(h, n).data_offsets;
        entry(h, n).data_offsets = entry(h, prev).data_offsets;
        entry(h, prev).data_offsets = a;
      }, `offsets swapped with ${prev}`, size(n) === size(prev) ? null : "");
      edit((h) => {
        for (const m of names.slice(k)) entry(h, m).data_offsets = entry(h, m).data_offsets.map((o) => o + 8) as [number, number];
      }, "a gap before it");
    }
    // Dtypes and shapes: an unknown dtype, an integer dtype of the same size, a half dtype;
    // a transposed shape, an extra unit dim, a shape of another size.
    const mats = names.filter((n) => entry(header, n).shape.length === 2 && entry(header, n).shape[0] !== entry(header, n).shape[1]);
    for (let i = 0; i < 4; i++) {
      const n = names[rnd(names.length)], m = mats[rnd(mats.length)];
      const edit = (t: string, f: (e: Entry) => void, what: string) => {
        const h = clone();
        f(entry(h, t));
        cases.push({ label: `${what} (${t})`, path: file(rebuild(h)), tensor: t });
      };
      edit(n, (e) => void (e.dtype = "F8"), "unknown dtype");
      edit(n, (e) => void (e.dtype = "I64"), "integer dtype");
      edit(n, (e) => void (e.dtype = "F32"), "half the bytes' dtype");
      edit(m, (e) => void e.shape.reverse(), "transposed shape");
      edit(n, (e) => void e.shape.push(1), "extra unit dim");
      edit(n, (e) => void (e.shape = [...e.shape, 2]), "shape of another size");
    }
    // NaN and Inf weights (a valid file otherwise), and a flipped weight byte (caught by the checksum).
    for (let i = 0; i < 5; i++) {
      const n = names[rnd(names.length)], e = entry(header, n), b = good.slice();
      const at = dataStart + e.data_offsets[0] + 8 * rnd((e.data_offsets[1] - e.data_offsets[0]) / 8);
      new DataView(b.buffer).setFloat64(at, [NaN, Infinity, -Infinity][i % 3], true);
      cases.push({ label: `non-finite weight (${n})`, path: file(b), tensor: n });
      const c = good.slice();
      c[at + rnd(8)] ^= 1 << rnd(8);
      cases.push({ label: `flipped weight byte (${n})`, path: file(c) });
    }
    // Metadata: not a checkpoint, a bad step, config JSON, checksum, a value changed.
    const md = (f: (m: Record<string, string>) => void, what: string) => {
      const h = clone();
      f(h.__metadata__ as Record<string, string>);
      cases.push({ label: what, path: file(rebuild(h)) });
    };
    md((m) => void delete m.format, "no format");
    md((m) => void (m.format = "pt"), "another format");
    md((m) => void (m.step = "-1"), "negative step");
    md((m) => void (m.config = "{"), "config not JSON");
    md((m) => void delete m.sha256, "no checksum");
    md((m) => void (m.sha256 = "0".repeat(64)), "wrong checksum");
    md((m) => void (m.run = JSON.stringify({ note: "corrupt-files", lr: 1 })), "run settings changed");
    md((m) => void (m.step = "2"), "step changed");
    cases.push({ label: "a checkpoint of another model size", path: other });
    cases.push({ label: "a directory", path: dir });
    cases.push({ label: "a missing file", path: join(dir, "nope.safetensors") });
  });

  it("generates at least 100 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
  });

  it("each fails with an Error naming the file (and the tensor at fault), leaving the model untouched", () => {
    let benign = 0;
    for (const c of cases) {
      const r = load(c.path);
      if (r.msg === "" && c.mayBeBenign) {
        // Only a flip that changed nothing the file means (JSON whitespace) may load.
        expect(readSafetensors(c.path), c.label).toEqual(readSafetensors(join(dir, "good.safetensors")));
        benign++;
        continue;
      }
      expect(r.error, c.label).toBeInstanceOf(Error);
      expect(r.msg, c.label).toContain(c.path);
      if (c.tensor) expect(r.msg, c.label).toContain(`tensor "${c.tensor}"`);
      if (c.tensor === "") expect(r.msg, c.label).toMatch(/tensor "/);
      expect(r.touched, c.label).toBe(false);
      expect(r.msg, c.label).not.toMatch(/RangeError|TypeError|undefined is not|Cannot read/);
    }
    expect(benign).toBeLessThan(5);
  });

  it("readSafetensors and parseSafetensors agree on every case", () => {
    for (const c of cases.filter((x) => !x.path.endsWith("nope.safetensors") && x.path !== dir)) {
      const bytes = readFileSync(c.path);
      let a = "", b = "";
      try {
        readSafetensors(c.path);
      } catch (e) {
        a = (e as Error).message;
      }
      try {
        parseSafetensors(bytes, c.path);
      } catch (e) {
        b = (e as Error).message;
      }
      expect(a, c.label).toBe(b);
    }
  });

  it("a sparse multi-GB file with a bogus header is refused before its data is read", () => {
    const rss0 = process.memoryUsage().rss;
    for (const [n, what] of [[3 * 2 ** 30, /header length 3221225472 is out of bounds/], [headerLen, /tensors cover \d+ bytes but the data section has/]] as const) {
      const p = join(dir, `sparse-${n}.safetensors`);
      const b = good.slice(0, n === headerLen ? 8 + headerLen : 8); // the good header, or only a bogus length
      new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
      writeFileSync(p, b);
      truncateSync(p, 4 * 2 ** 30); // 4 GiB, nothing stored
      const t0 = performance.now();
      let msg = "";
      try { readSafetensors(p); } catch (e) { msg = (e as Error).message; }
      expect(msg).toMatch(what);
      expect(performance.now() - t0).toBeLessThan(2000);
      rmSync(p);
    }
    expect(process.memoryUsage().rss - rss0).toBeLessThan(256 * 2 ** 20);
  });
});

describe("a corrupt Hugging Face GPT-2 folder fails cleanly", () => {
  const variants: [string, (d: string) => void, RegExp][] = [
    ["config.json not JSON", (d) => writeFileSync(join(d, "config.json"), "{"), /config\.json is not valid JSON/],
    ["n_embd changed", (d) => editConfig(d, { n_embd: 32 }), /model\.safetensors: tensor "wte\.weight" has shape \[64, 16\], but .*config\.json implies \[64, 32\]/],
    ["n_layer changed", (d) => editConfig(d, { n_layer: 3 }), /holds 2 layers \(h\.\*\), but .*config\.json says n_layer 3/],
    ["vocab_size huge", (d) => editConfig(d, { vocab_size: 2 ** 31 - 1 }), /tensor "wte\.weight" has shape \[64, 16\], but .*implies \[2147483647, 16\]/],
    ["n_inner not a multiple", (d) => editConfig(d, { n_inner: 50 }), /config\.json: GPT config: mlpRatio must be a positive integer/],
    ["weights truncated", (d) => truncateSync(join(d, "model.safetensors"), 40000), /safetensors .*model\.safetensors: .*lie outside the data section/],
    ["a NaN weight", (d) => editWeights(d, (t) => void (t["h.1.mlp.c_fc.weight"].data[3] = NaN)), /tensor "h\.1\.mlp\.c_fc\.weight" holds NaN at index 3/],
    ["an integer weight", (d) => editWeights(d, (t) => {
      const b = t["h.0.ln_1.bias"];
      t["h.0.ln_1.bias"] = { dtype: "I32", shape: b.shape, data: Int32Array.from(b.data, Math.round) };
    }), /tensor "h\.0\.ln_1\.bias" has dtype I32, expected a float/],
    ["a missing weight", (d) => editWeights(d, (t) => void delete t["h.0.attn.c_proj.weight"]), /tensor "(transformer\.)?h\.0\.attn\.c_proj\.weight" is missing/],
  ];
  for (const [label, edit, re] of variants) {
    it(label, async () => {
      const d = join(dir, `gpt2-${label.replace(/\W+/g, "-")}`);
      cpSync(FIXTURE, d, { recursive: true });
      edit(d);
      const err = await loadGpt2(d, { backend: "cpu64", tokenizer: false }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain(d);
    });
  }
});

function editConfig(d: string, patch: Record<string, unknown>): void {
  const p = join(d, "config.json");
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, "utf8")), ...patch }));
}

/** Rewrites the fixture's weights (keys without the `transformer.` prefix) after `f` edits them. */
function editWeights(d: string, f: (t: Record<string, TensorInput & { data: Float32Array | Int32Array }>) => void): void {
  const p = join(d, "model.safetensors");
  const { tensors, metadata } = readSafetensors(p);
  const t = Object.fromEntries(Object.entries(tensors).map(([k, v]) =>
    [k.replace(/^transformer\./, ""), { dtype: v.dtype, shape: v.shape, data: Float32Array.from(v.data as Float32Array) }]));
  f(t);
  writeFileSync(p, serializeSafetensors(t, metadata));
}
