// Copy roofline: copyBufferToBuffer (a memcpy inside the driver) vs WGSL copy kernels (f32 one per
// invocation, vec4 one per invocation, vec4 four per invocation) on 64 MiB, counted as read + write.
import type { Kernel } from "../../src/shaders/wgsl";
import { kernel } from "../../src/shaders/wgsl";
import { record, type Suite } from "../lib/context";
import { compare, gpuTimer, measure, rt } from "../lib/harness";

function copyKernel(type: "f32" | "vec4f", perInv: number, wg: number, n: number): { k: Kernel; grid: number[] } {
  const items = type === "vec4f" ? n / 4 : n;
  const inv = items / perInv;
  const body = [...Array(perInv).keys()].map((j) => `Y[i * ${perInv}u + ${j}u] = X[i * ${perInv}u + ${j}u];`).join(" ");
  const k = kernel(`copy_${type}_x${perInv}_wg${wg}`, [
    { name: "X", kind: "read", type }, { name: "Y", kind: "rw", type },
  ], `
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${wg}u;
  if (i >= ${inv}u) { return; }
  ${body}
}`);
  const groups = Math.ceil(inv / wg);
  const y = Math.ceil(groups / 65535);
  return { k, grid: [Math.ceil(groups / y), y] };
}

/** The copy roofline suite. */
export const copySuite: Suite = {
  name: "copy",
  describe: "bandwidth roofline: copyBufferToBuffer vs WGSL f32 / vec4 / vec4x4 copy kernels (64 MiB)",
  run: async (ctx) => {
    const r = rt(), d = r.device;
    const bytes = (ctx.quick ? 16 : 64) << 20, n = bytes / 4;
    const usage = 0x0080 | 0x0004 | 0x0008;
    const src = d.createBuffer({ size: bytes, usage }), dst = d.createBuffer({ size: bytes, usage });
    const probe = Float32Array.from({ length: 4096 }, (_, i) => i * 0.5);
    for (let off = 0; off < bytes; off += probe.byteLength) d.queue.writeBuffer(src, off, probe);
    const verify = async (): Promise<{ maxErr: number; ok: boolean }> => {
      const st = d.createBuffer({ size: probe.byteLength, usage: 0x0001 | 0x0008 });
      const enc = d.createCommandEncoder();
      enc.copyBufferToBuffer(dst, bytes - probe.byteLength, st, 0, probe.byteLength);
      d.queue.submit([enc.finish()]);
      await r.wait(st.mapAsync(1));
      const got = new Float32Array(st.getMappedRange().slice(0));
      st.destroy();
      return compare(got, probe, 0, 0);
    };
    const reps = 4;
    // copyBufferToBuffer: wall clock around submit + completion (no compute pass to timestamp).
    const once = async () => {
      const enc = d.createCommandEncoder();
      for (let i = 0; i < reps; i++) enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
      const t0 = performance.now();
      d.queue.submit([enc.finish()]);
      await r.wait(d.queue.onSubmittedWorkDone());
      return (performance.now() - t0) / reps;
    };
    await d.queue.onSubmittedWorkDone();
    await once();
    const check = await verify();
    const stats = await measure("copyBufferToBuffer", once, ctx.budget);
    record(ctx, {
      suite: "copy", name: "copyBufferToBuffer", shape: `${bytes >> 20} MiB`, impl: "metagrad", timing: "wall",
      ms: stats, gbps: (2 * bytes) / stats.median / 1e6, check: { shape: "last 16 KiB", ...check },
    });
    const tm = gpuTimer();
    for (const [type, per, wg] of [["f32", 1, 256], ["vec4f", 1, 256], ["vec4f", 4, 64], ["vec4f", 4, 256]] as const) {
      const { k, grid } = copyKernel(type, per, wg, n);
      d.queue.writeBuffer(dst, bytes - probe.byteLength, new Float32Array(probe.length));
      const ds = [{ kernel: k, buffers: [src, dst], grid }];
      const compileMs = await tm.compile(ds);
      await tm.time(ds, 1);
      const c = await verify();
      let source = "timestamp";
      const st = await measure(k.name, async () => {
        const t = await tm.time(ds, reps);
        source = t.source;
        return t.ms;
      }, ctx.budget);
      record(ctx, {
        suite: "copy", name: "WGSL copy", shape: `${bytes >> 20} MiB`, impl: "metagrad", variant: `${type} x${per} wg${wg}`,
        timing: source, ms: st, gbps: (2 * bytes) / st.median / 1e6, check: { shape: "last 16 KiB", ...c }, firstRunMs: compileMs,
      });
    }
    src.destroy();
    dst.destroy();
  },
};
