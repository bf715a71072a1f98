// Where a WGSL kernel spends its time on Mesa's llvmpipe (the lavapipe software adapter): runs a
// command under `perf record` with GALLIVM_DEBUG=asm (llvmpipe prints the x86 code of every
// shader it compiles; the shader cache is disabled so it compiles them in this process), then
// maps the samples onto one shader's instructions and prints the share of each loop and the
// hottest instructions. llvmpipe's JIT code has no symbols, so the shader's load address is
// inferred from where the samples fall (bench/lib/llvmpipe-asm.ts, `profileShader`). This is how
// bench/RESULTS.md's profile of the attention forward was taken. Needs lavapipe and `perf`.
//   npx tsx scripts/llvmpipe-profile.ts [--shader N] [--out FILE] -- <command> [args...]
// --shader N picks the N-th largest compute shader of the run (0, the default: the largest);
// --out writes the whole shader's listing with a sample count on each instruction.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runToFile } from "../bench/lib/child";
import { asmCounts, asmLoops, profileShader, shaderBodies } from "../bench/lib/llvmpipe-asm";

const USAGE = "usage: npx tsx scripts/llvmpipe-profile.ts [--shader N] [--out FILE] -- <command> [args...]";
const { values, positionals } = parseArgs({
  options: { shader: { type: "string", default: "0" }, out: { type: "string" }, help: { type: "boolean" } },
  allowPositionals: true,
});
if (values.help || !positionals.length) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
if (spawnSync("perf", ["--version"]).status !== 0) {
  console.error("llvmpipe-profile: `perf` is not installed or cannot run here (Debian: apt-get install linux-perf)");
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "llvmpipe-profile-"));
try {
  const data = join(dir, "perf.data");
  const { status, output } = runToFile("perf", ["record", "-F", "1999", "-o", data, "--", ...positionals],
    { ...process.env, GALLIVM_DEBUG: "asm", MESA_SHADER_CACHE_DISABLE: "true" });
  if (status !== 0) throw new Error(`llvmpipe-profile: the command failed (status ${status}):\n${output.slice(-2000)}`);
  const bodies = shaderBodies(output).sort((a, b) => b.length - a.length);
  if (!bodies.length) {
    throw new Error("llvmpipe-profile: no llvmpipe assembly in the command's output: is the adapter lavapipe, and does this Mesa honour GALLIVM_DEBUG=asm?");
  }
  const pick = Number(values.shader);
  if (!Number.isInteger(pick) || pick < 0) throw new Error(`llvmpipe-profile: --shader takes a shader's rank by size (0, 1, ...), not "${values.shader}"\n${USAGE}`);
  const ins = bodies[pick];
  if (!ins) throw new Error(`llvmpipe-profile: --shader ${pick}, but the run compiled ${bodies.length} compute shaders`);
  const script = spawnSync("perf", ["script", "-i", data, "-F", "ip,dso"], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (script.status !== 0) throw new Error(`llvmpipe-profile: perf script failed:\n${script.stderr.slice(-2000)}`);
  // Samples in code no file backs: JIT code (llvmpipe's shaders, and V8's, which perf attributes
  // to node's perf-PID.map or to [unknown]); samples in libraries and the kernel are left out.
  const ips = script.stdout.split("\n").flatMap((l) => {
    const m = /^\s*([0-9a-f]+)\s+\((.*)\)\s*$/.exec(l);
    return m && (/perf-\d+\.map$/.test(m[2]) || m[2] === "[unknown]" || m[2].startsWith("[JIT]")) ? [parseInt(m[1], 16)] : [];
  });
  const p = profileShader(ins, ips);
  if (!p) throw new Error("llvmpipe-profile: perf recorded no sample in JIT code (did the shader run long enough?)");
  if (p.aligned < 0.5 * p.hot) {
    console.warn("llvmpipe-profile: fewer than half of the hottest addresses fall on this shader's instructions: its listing may be " +
      "incomplete or another shader is the hot one (try --shader 1, or run again)");
  }
  const pct = (n: number) => `${((100 * n) / p.inside).toFixed(1)} %`;
  console.log(`shader ${pick} of ${bodies.length} (by size): ${ins.length} instructions; ${p.inside} of ${p.total} samples in JIT code inside it ` +
    `(${((100 * p.inside) / p.total).toFixed(0)} %); ${((100 * p.aligned) / p.hot).toFixed(0)} % of the hottest addresses on instruction starts`);
  const sum = (from: number, to: number) => p.counts.slice(from, to + 1).reduce((s, n) => s + n, 0);
  console.log("\nloops with ≥ 1 % of the samples, by position (an outer loop counts its inner ones too):");
  const seen = new Set<string>();
  for (const { from, to } of asmLoops(ins).sort((a, b) => a.from - b.from || b.to - a.to)) {
    const n = sum(from, to);
    const key = `${from}-${to}`;
    if (seen.has(key) || n < 0.01 * p.inside) continue; // loops under 1 % are left out
    seen.add(key);
    const c = asmCounts(ins.slice(from, to + 1));
    console.log(`  ${from}–${to} (${c.instructions} instructions, ${c.mul} vmulps, ${c.add} vaddps): ${pct(n)}`);
  }
  console.log("\nhottest instructions:");
  const top = p.counts.map((n, i) => ({ n, i })).sort((a, b) => b.n - a.n).slice(0, 15);
  for (const { n, i } of top) console.log(`  ${pct(n).padStart(7)}  #${i}  ${ins[i].op} ${ins[i].arg}`);
  if (values.out) {
    writeFileSync(values.out, ins.map((x, i) => `${String(p.counts[i]).padStart(6)} ${String(i).padStart(6)} ${x.at.toString(16).padStart(6)}: ${x.op}\t${x.arg}`).join("\n") + "\n");
    console.log(`\nannotated listing: ${values.out}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
