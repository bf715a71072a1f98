// Tests of the `npm run exp` command line (exp/cli.ts, exp/run.ts): defaults and the default
// results folder, experiment selection, and clear errors for unknown options, bad values and
// missing or incomplete --data / --gpt2 folders (also through the real entry point: exit 2).
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CliError, defaultOut, parseCli } from "../exp/cli";

const tmp = mkdtempSync(join(tmpdir(), "exp-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("parseCli", () => {
  it("defaults: all six experiments, quick, full budget, webgpu, seeds 0, 1, 2, results/quick", () => {
    const o = parseCli([], tmp);
    expect(o.experiments).toEqual(["e1", "e2", "e3", "e4", "e5", "e6"]);
    expect(o).toMatchObject({ config: "quick", budget: "full", backend: "webgpu", seed: 0, seeds: [0, 1, 2], data: null, gpt2: null, help: false });
    expect(o.out).toBe(join(tmp, "results", "quick"));
    expect(parseCli(["--config", "smoke"], tmp).seeds).toEqual([0, 1]);
  });

  it("selects experiments (case-insensitive, deduplicated, sorted) and options", () => {
    const o = parseCli(["E3", "e2", "e3", "--config", "smoke", "--backend", "cpu64", "--seed", "7", "--seeds", "3", "--budget", "tiny", "--out", "r/x"], tmp);
    expect(o.experiments).toEqual(["e2", "e3"]);
    expect(o).toMatchObject({ config: "smoke", budget: "tiny", backend: "cpu64", seed: 7, seeds: [7, 8, 9], out: join(tmp, "r/x") });
  });

  it("names the default folder after the settings that change the numbers", () => {
    expect(defaultOut({ config: "paper", budget: "tiny", backend: "cpu64", seed: 3, seeds: [3], data: "/w", gpt2: "/g" }, "/r"))
      .toBe("/r/results/paper-tiny-cpu64-seed3-seeds1+wikitext+gpt2");
    expect(defaultOut({ config: "quick", budget: "full", backend: "webgpu", seed: 0, seeds: [0, 1, 2], data: null, gpt2: null }, "/r"))
      .toBe("/r/results/quick");
  });

  const bad: [string[], RegExp][] = [
    [["--bogus"], /unknown option --bogus/],
    [["--seed", "x"], /--seed expects an integer, got "x"/],
    [["--seed", "1.5"], /--seed expects an integer/],
    [["--config", "huge"], /--config must be one of smoke, quick, paper, got "huge"/],
    [["--seeds", "0"], /--seeds must be between 1 and 100, got 0/],
    [["--seeds", "two"], /--seeds expects an integer, got "two"/],
    [["--budget", "huge"], /--budget must be full or tiny, got "huge"/],
    [["--backend", "cuda"], /--backend must be webgpu or cpu64/],
    [["e7"], /unknown experiment "e7"/],
    [["--data", "/definitely/not/here"], /--data \/definitely\/not\/here: no such folder/],
    [["--gpt2", "/definitely/not/here"], /--gpt2 \/definitely\/not\/here: no such folder/],
    [["--out"], /--out/],
  ];
  for (const [argv, msg] of bad) {
    it(`rejects ${argv.join(" ")}`, () => {
      expect(() => parseCli(argv, tmp)).toThrow(CliError);
      expect(() => parseCli(argv, tmp)).toThrow(msg);
    });
  }

  it("checks that --data holds WikiText's files and --gpt2 a Hugging Face GPT-2", () => {
    const wiki = join(tmp, "wiki");
    mkdirSync(wiki);
    expect(() => parseCli(["--data", wiki], tmp)).toThrow(/wiki\.train\.tokens/);
    writeFileSync(join(wiki, "wiki.train.tokens"), " = A = \n");
    writeFileSync(join(wiki, "wiki.valid.tokens"), " = B = \n");
    expect(parseCli(["--data", wiki], tmp).data).toBe(wiki);
    const g = join(tmp, "gpt2");
    mkdirSync(g);
    writeFileSync(join(g, "config.json"), "{}");
    expect(() => parseCli(["--gpt2", g], tmp)).toThrow(/missing model\.safetensors/);
    expect(() => parseCli(["--gpt2", "test/fixtures/gpt2-tiny"], process.cwd()))
      .toThrow(/vocab_size is 64; P1 reads text with the GPT-2 BPE, which needs 50257 tokens/);
    writeFileSync(join(g, "model.safetensors"), "");
    writeFileSync(join(g, "config.json"), JSON.stringify({ vocab_size: 50257 }));
    expect(parseCli(["--gpt2", g], tmp).gpt2).toBe(g);
    const f = join(tmp, "file");
    writeFileSync(f, "");
    expect(() => parseCli(["--data", f], tmp)).toThrow(/not a folder/);
  });
});

describe("exp/run.ts", () => {
  const run = promisify(execFile);
  it("exits with status 2 and a one-line message on a usage error; --help prints the usage", async () => {
    const err = await run("npx", ["tsx", "exp/run.ts", "--nope"]).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(2);
    expect(err?.stderr.split("\n")[0]).toBe("exp: unknown option --nope (see --help)");
    expect(err?.stderr).toContain("usage: npm run exp");
    const help = await run("npx", ["tsx", "exp/run.ts", "--help"]);
    expect(help.stdout).toMatch(/usage: npm run exp/);
    expect(help.stdout).toMatch(/--config smoke\|quick\|paper/);
  });
});
