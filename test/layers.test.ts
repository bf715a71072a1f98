// The structure is checked, not described: dependency-cruiser runs the import rules of
// .dependency-cruiser.cjs (layers import downward only, no circles, type imports included) over
// the whole repository, a planted tree shows the rules catch a circle and an upward import, and
// git grep finds no code above the backends that branches on a backend's name or reaches past
// the Backend interface.
import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./helpers/proc";

const CRUISER = join(REPO, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
const FOLDERS = ["src", "exp", "bench", "scripts", "examples", "testkit", "test"];

interface Violation { rule: { name: string }; from: string; to: string }
interface CruiseResult {
  summary: { violations: Violation[]; totalCruised: number; totalDependenciesCruised: number };
}

/** Runs dependency-cruiser in `cwd` over `folders` with the repository's rules; JSON result. */
function cruise(cwd: string, folders: string[]): CruiseResult {
  const out = execFileSync(process.execPath, [CRUISER, "--config", join(REPO, ".dependency-cruiser.cjs"),
    "--output-type", "json", ...folders], { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(out) as CruiseResult;
}

describe("layers", () => {
  test("every import follows the rules of .dependency-cruiser.cjs: downward only, no circles", () => {
    const r = cruise(REPO, FOLDERS);
    const lines = r.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    expect(lines).toEqual([]);
    expect(r.summary.totalCruised).toBeGreaterThan(200); // the whole tree was read, not an empty match
    expect(r.summary.totalDependenciesCruised).toBeGreaterThan(800);
  });

  test("the rules catch a circle and an import that runs up (a planted tree)", () => {
    const dir = mkdtempSync(join(tmpdir(), "metagrad-layers-"));
    try {
      const put = (file: string, text: string) => {
        mkdirSync(join(dir, file, ".."), { recursive: true });
        writeFileSync(join(dir, file), text);
      };
      copyFileSync(join(REPO, "tsconfig.json"), join(dir, "tsconfig.json"));
      put("src/shaders/k.ts", 'import type { T } from "../tensor/t";\nexport type K = T;\n');
      put("src/tensor/t.ts", 'import type { K } from "../shaders/k";\nexport interface T { k?: K }\n');
      put("src/nn/m.ts", 'import { p } from "../probes/p";\nexport const m = p;\n');
      put("src/probes/p.ts", "export const p = 1;\n");
      const names = cruise(dir, ["src"]).summary.violations.map((v) => `${v.rule.name} ${v.from}`).sort();
      expect(names).toEqual([
        "nn-below-probes src/nn/m.ts",
        "no-circular src/shaders/k.ts", // one report per circle
        "shaders-import-nothing src/shaders/k.ts",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("no code above the backends branches on a backend's name or reaches past the Backend interface", () => {
    // Code lines of src outside the backends (tensor/webgpu, tensor/cpu) and the interface's own
    // file (backend.ts, which declares BackendName); comments are skipped. A backend's name may
    // appear in a message (`${backend.name}`) and be accepted from users (init, TensorOptions),
    // never compared, passed on, or used to pick a backend; casts to a backend type are banned.
    const grep = execFileSync("git", ["grep", "-n", "-E",
      String.raw`[!=]==\s*["'](webgpu|cpu64)["']|["'](webgpu|cpu64)["']\s*[!=]==|backend\??\.name\b[^}]|\bWebGpuRuntime\b|\bcpu64\b[^"'-]|as Backend\b|flush\?\.`,
      "--", "src", ":!src/tensor/webgpu", ":!src/tensor/cpu", ":!src/tensor/backend.ts"],
    { cwd: REPO, encoding: "utf8" }).toString();
    const code = grep.split("\n").filter((l) => l && !/^[^:]+:\d+:\s*(\/\/|\*|\/\*)/.test(l));
    expect(code).toEqual([]);
  }, 60_000);
});
