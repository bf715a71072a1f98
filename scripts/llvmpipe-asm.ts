// Shows what Mesa's llvmpipe (the lavapipe software adapter) compiles our WGSL into: it reruns
// itself with GALLIVM_DEBUG=asm, compiles and dispatches each shader once, and counts the x86
// instructions of every compute shader (and of its hottest loop). This is how bench/RESULTS.md's
// "What llvmpipe does with these kernels" was measured. Needs the lavapipe adapter.
//   npx tsx scripts/llvmpipe-asm.ts            # load probes + the matmul variants at 1024³
//   npx tsx scripts/llvmpipe-asm.ts --dump DIR # also write each shader's assembly to DIR
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { init } from "../src/node";
import { runToFile } from "../bench/lib/child";
import { asmStats } from "../bench/lib/llvmpipe-asm";
import { matmulVariantKernel, ROWUBO_SUBGROUP, type MatmulKernelPlan, type MatmulShape } from "../src/shaders/matmul";
import { gpuRuntime } from "../src/tensor/webgpu/device";
import type { BindingKind } from "../src/shaders/wgsl";

const MARK = "@@llvmpipe-asm shader ";

/** One shader to compile: WGSL with buffer bindings 0..n-1 of these kinds, then an optional texture. */
interface Probe {
  name: string;
  code: string;
  bindings: readonly BindingKind[];
  texture?: boolean;
}

/** A probe shader: `body` runs in main() with `s` (vec4f) accumulated and stored to C[gid.x]. */
function loadProbe(name: string, body: string): Probe {
  return {
    name, bindings: ["read", "rw", "uniform"], texture: true,
    code: `
@group(0) @binding(0) var<storage, read> A: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(2) var<uniform> U: array<vec4f, 1024>;
@group(0) @binding(3) var T: texture_2d<f32>;
var<workgroup> W: array<vec4f, 1024>;
@compute @workgroup_size(16)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  var s = vec4f(0.0);
  ${body}
  // Keeps every binding alive whatever the body uses (never true: C is zero-filled).
  if (C[0].x == 12345.0) { s += textureLoad(T, vec2u(0u, 0u), 0) + W[gid.x] + A[0] + U[0]; }
  C[gid.x] = s;
}`,
  };
}

function probes(): Probe[] {
  const p: MatmulShape = { M: 1024, N: 1024, K: 1024, batch: 1, transA: false, transB: false, bShared: true };
  const mm = (label: string, plan: MatmulKernelPlan | null): Probe[] => {
    const k = plan?.kernels.at(-1); // a product kernel (after rowubo's copy of A)
    return k ? [{ name: label, code: k.code, bindings: k.bindings }] : [];
  };
  return [
    loadProbe("baseline (no extra load)", ""),
    loadProbe("vec4 load, constant index", "s = A[5u];"),
    loadProbe("vec4 load, workgroup_id index", "s = A[wid.y * 64u + 3u];"),
    loadProbe("vec4 load, global_invocation_id index", "s = A[gid.x];"),
    loadProbe("loop: 1 storage load", "for (var k = 0u; k < 64u; k++) { s += A[gid.x + k]; }"),
    loadProbe("loop: 2 storage loads", "for (var k = 0u; k < 64u; k++) { s += A[gid.x + k]; s += A[gid.x + k + 100u]; }"),
    loadProbe("loop: 1 workgroup-memory load", "for (var k = 0u; k < 64u; k++) { s += W[gid.x + k]; }"),
    loadProbe("loop: 2 workgroup-memory loads", "for (var k = 0u; k < 64u; k++) { s += W[gid.x + k]; s += W[gid.x + k + 100u]; }"),
    loadProbe("loop: 1 uniform-buffer load", "for (var k = 0u; k < 64u; k++) { s += U[gid.x + k]; }"),
    loadProbe("loop: 2 uniform-buffer loads", "for (var k = 0u; k < 64u; k++) { s += U[gid.x + k]; s += U[gid.x + k + 100u]; }"),
    loadProbe("loop: 1 textureLoad (calls a sampler function)", "for (var k = 0u; k < 64u; k++) { s += textureLoad(T, vec2u(gid.x, k), 0); }"),
    ...mm("matmul 1024³ rowubo r32 sg (selected with subgroups)", matmulVariantKernel("rowubo", p, ROWUBO_SUBGROUP)),
    ...mm("matmul 1024³ rowubo r16 sg", matmulVariantKernel("rowubo", p, { ...ROWUBO_SUBGROUP, rows: 16 })),
    ...mm("matmul 1024³ rowubo r16 (without subgroups)", matmulVariantKernel("rowubo", p)),
    ...mm("matmul 1024³ rowubo r8", matmulVariantKernel("rowubo", p, { rows: 8 })),
    ...mm("matmul 1024³ rowbcast r8 wg16", matmulVariantKernel("rowbcast", p)),
    ...mm("matmul 1024³ rowbcast r4 wg16", matmulVariantKernel("rowbcast", p, { rows: 4, wg: 16 })),
    ...mm("matmul 1024³ rb4x4", matmulVariantKernel("rb4x4", p)),
  ];
}

/** Child: compile and dispatch every probe once, writing a marker to stderr before each. */
async function child(): Promise<void> {
  await init({ backend: "webgpu" });
  const d = gpuRuntime()!.device;
  const tex = d.createTexture({ size: [64, 64], format: "rgba32float", usage: GPUTextureUsage.TEXTURE_BINDING });
  for (const pr of probes()) {
    process.stderr.write(`\n${MARK}${pr.name}\n`);
    const pipeline = d.createComputePipeline({ layout: "auto", compute: { module: d.createShaderModule({ code: pr.code }), entryPoint: "main" } });
    const bufs = pr.bindings.map(() => d.createBuffer({ size: 1 << 22, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM }));
    // A uniform binding gets the largest window WebGPU allows by default (64 KiB).
    const entries: GPUBindGroupEntry[] = bufs.map((buffer, binding) =>
      ({ binding, resource: pr.bindings[binding] === "uniform" ? { buffer, size: 65536 } : { buffer } }));
    if (pr.texture) entries.push({ binding: pr.bindings.length, resource: tex.createView() });
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    pass.dispatchWorkgroups(1);
    pass.end();
    d.queue.submit([enc.finish()]);
    await d.queue.onSubmittedWorkDone(); // llvmpipe compiles the shader at its first dispatch
    for (const b of bufs) b.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dump: { type: "string" } } });
  const self = fileURLToPath(import.meta.url);
  const run = runToFile(process.execPath, [...process.execArgv, self],
    { ...process.env, LLVMPIPE_ASM_CHILD: "1", GALLIVM_DEBUG: "asm", MESA_SHADER_CACHE_DISABLE: "true" });
  if (run.status !== 0) throw new Error(`llvmpipe-asm: the compile child failed:\n${run.output.slice(-2000)}`);
  const parts = run.output.split(MARK).slice(1);
  if (!parts.some((p) => p.includes("cs_co_variant:"))) {
    throw new Error("llvmpipe-asm: no llvmpipe assembly in the output: is the adapter lavapipe, and does this Mesa honour GALLIVM_DEBUG=asm?");
  }
  if (values.dump) mkdirSync(values.dump, { recursive: true });
  console.log("| shader | instructions | hot loop | vmulps | vaddps | stack refs | cond. branches |\n| --- | --- | --- | --- | --- | --- | --- |");
  for (const part of parts) {
    const name = part.slice(0, part.indexOf("\n"));
    const st = asmStats(part);
    if (values.dump) writeFileSync(join(values.dump, `${name.replace(/[^a-z0-9]+/gi, "_")}.s`), part);
    if (!st) { console.log(`| ${name} | (no compute shader found) | | | | | |`); continue; }
    const l = st.loop;
    console.log(`| ${name} | ${st.instructions} | ${l.instructions} | ${l.mul} | ${l.add} | ${l.stack} | ${l.branches} |`);
  }
}

if (process.env.LLVMPIPE_ASM_CHILD) await child();
else await main();
process.exit(0);
