// The --gpt2 path of `npm run exp` (P1 in E4 and E5), which needs a Hugging Face GPT-2 folder:
// built here at test time with the real vocabulary (50257, the CLI and P1 check it) but a tiny
// random model (1 layer, width 8), then the smoke configuration runs e4 and e5 with it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCli } from "../exp/cli";
import { readResult, seedDir } from "../exp/context";
import { runExperiments, type RunSummary } from "../exp/main";
import type { E4Seed } from "../exp/e4";
import type { E5Seed } from "../exp/e5";
import { writeSafetensors, type TensorInput } from "../src/nn/node";
import { allFinite } from "./helpers/finite";
import { gpu } from "./helpers/gpu";

const out = mkdtempSync(join(tmpdir(), "exp-gpt2-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const [V, C, L, H, P] = [50257, 8, 1, 2, 64];

/** A GPT-2 folder in Hugging Face's layout (config.json, model.safetensors with `transformer.` keys). */
function makeGpt2(dir: string): void {
  mkdirSync(dir, { recursive: true });
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const t: Record<string, TensorInput> = {};
  const put = (k: string, shape: number[], f: () => number) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(f);
    t[k] = { dtype: "F32", shape, data };
  };
  const w = () => 0.02 * rand();
  const one = () => 1, zero = () => 0;
  put("transformer.wte.weight", [V, C], w);
  put("transformer.wpe.weight", [P, C], w);
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}`;
    put(`${h}.ln_1.weight`, [C], one); put(`${h}.ln_1.bias`, [C], zero);
    put(`${h}.attn.c_attn.weight`, [C, 3 * C], w); put(`${h}.attn.c_attn.bias`, [3 * C], w);
    put(`${h}.attn.c_proj.weight`, [C, C], w); put(`${h}.attn.c_proj.bias`, [C], w);
    put(`${h}.ln_2.weight`, [C], one); put(`${h}.ln_2.bias`, [C], zero);
    put(`${h}.mlp.c_fc.weight`, [C, 4 * C], w); put(`${h}.mlp.c_fc.bias`, [4 * C], w);
    put(`${h}.mlp.c_proj.weight`, [4 * C, C], w); put(`${h}.mlp.c_proj.bias`, [C], w);
  }
  put("transformer.ln_f.weight", [C], one); put("transformer.ln_f.bias", [C], zero);
  writeSafetensors(join(dir, "model.safetensors"), t, { format: "pt" });
  writeFileSync(join(dir, "config.json"), JSON.stringify({
    architectures: ["GPT2LMHeadModel"], model_type: "gpt2", activation_function: "gelu_new",
    n_layer: L, n_head: H, n_embd: C, n_positions: P, n_ctx: P, vocab_size: V,
    layer_norm_epsilon: 1e-5, tie_word_embeddings: true, n_inner: null,
  }, null, 2));
}

let summary: RunSummary;
const lines: string[] = [];
beforeAll(async () => {
  await gpu();
  const dir = join(out, "gpt2");
  makeGpt2(dir);
  summary = await runExperiments(parseCli(["e4", "e5", "--config", "smoke", "--seeds", "1", "--gpt2", dir, "--out", join(out, "run")]), (l) => lines.push(l));
}, 180_000);

describe("npm run exp -- e4 e5 --config smoke --gpt2 <HF GPT-2 folder>", () => {
  it("computes E4 and E5 with P1 added", () => {
    expect(summary.computed).toEqual(["e4@0", "e5@0"]);
    expect(lines.some((l) => /^\[e4\] GPT-2 \(1L-8\): inner loss/.test(l))).toBe(true);
  });

  it("E4 JSON holds the P1 model's inner losses on the R1 text re-tokenized with GPT-2 BPE", () => {
    const j = readResult<E4Seed>(seedDir(join(out, "run"), 0), "E4")!;
    expect(j.gpt2).toBe(join(out, "gpt2"));
    const e4 = j.result;
    expect(e4.models.map((m) => m.kind)).toEqual(["R1", "R1", "P1"]);
    const p1 = e4.models[2];
    expect(p1).toMatchObject({ name: "GPT-2 (1L-8)", kind: "P1", nLayer: 1, nEmbd: 8, steps: 0, valLoss: null, untrained: null });
    expect(allFinite(p1.shuffled.mean) && Number.isFinite(p1.unigram)).toBe(true);
    expect(e4.models.slice(0, 2).every((m) => typeof m.valLoss === "number" && Number.isFinite(m.valLoss))).toBe(true);
    expect(p1.data).toMatch(/validation \(gpt2\)$/);
    expect(p1.params).toBeGreaterThan(V * C);
    expect(p1.layers).toEqual([0, 1]);
    expect(allFinite(p1.mean) && p1.mean.length === 2).toBe(true);
    expect(p1.samples.length).toBeGreaterThan(0);
    expect(allFinite(p1.samples)).toBe(true);
  });

  it("E5 JSON holds the P1 model's PCA panels and frequency correlations", () => {
    const e5 = readResult<E5Seed>(seedDir(join(out, "run"), 0), "E5")!.result;
    expect(e5.models.map((m) => m.kind)).toEqual(["R1", "S1", "P1"]);
    const p1 = e5.models[2];
    expect(p1.name).toBe("GPT-2 (1L-8)");
    expect(p1.panels.length).toBeGreaterThan(1);
    for (const p of p1.panels) expect(allFinite([p.pc1, p.pc2, p.norm, p.position, p.logFreq])).toBe(true);
    expect(allFinite(p1.rhoFreq)).toBe(true);
  });

  it("the report names the P1 model in E4 and E5", () => {
    const md = readFileSync(join(out, "run", "report.md"), "utf8");
    const sec = (id: string) => {
      const a = md.indexOf(`## ${id}: `);
      const b = md.indexOf("\n## ", a + 1);
      return md.slice(a, b < 0 ? undefined : b);
    };
    expect(sec("E4")).toContain("GPT-2 (1L-8)");
    expect(sec("E5")).toContain("GPT-2 (1L-8)");
    expect(md).not.toMatch(/NaN|undefined/);
  });
});
