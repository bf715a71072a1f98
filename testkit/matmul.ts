// Shared by test/, bench/ and scripts/ (testkit): runs one matmul kernel variant directly on seeded inputs and computes the f64
// product it must match (shared by test/matmul-variants.test.ts, scripts/gpu-check.ts and the
// matmul bench's checks).
import { fromValues, zeros } from "../src/node";
import { matmulVariantKernel, type MatmulShape, type MatmulVariant, type MatmulVariantOptions } from "../src/shaders/matmul";
import { SplitMix32 } from "../src/tensor/random";
import type { WebGpuRuntime } from "../src/tensor/webgpu/runtime";

/** f64 op(A)·op(B) for the stored layouts of `p` (batched, transposes, shared B). */
export function matmulReference(p: MatmulShape, A: Float64Array, B: Float64Array): Float64Array {
  const C = new Float64Array(p.batch * p.M * p.N);
  for (let z = 0; z < p.batch; z++) {
    const ao = z * p.M * p.K, bo = p.bShared ? 0 : z * p.K * p.N;
    for (let m = 0; m < p.M; m++) {
      for (let n = 0; n < p.N; n++) {
        let s = 0;
        for (let k = 0; k < p.K; k++) {
          s += A[ao + (p.transA ? k * p.M + m : m * p.K + k)] * B[bo + (p.transB ? n * p.K + k : k * p.N + n)];
        }
        C[z * p.M * p.N + m * p.N + n] = s;
      }
    }
  }
  return C;
}

/**
 * Dispatches `variant` for problem `p` on seeded normal inputs and returns the GPU result beside
 * the f64 reference; null when the variant does not apply to the shape.
 */
export async function runMatmulVariant(
  rt: WebGpuRuntime, variant: MatmulVariant, p: MatmulShape, opts?: MatmulVariantOptions,
): Promise<{ got: Float64Array; want: Float64Array } | null> {
  const plan = matmulVariantKernel(variant, p, opts);
  if (!plan) return null;
  const g = new SplitMix32(p.M * 131 + p.N * 7 + p.K);
  const av = Float64Array.from({ length: p.batch * p.M * p.K }, () => Math.fround(g.normal())); // f32 values: both sides
  const bv = Float64Array.from({ length: (p.bShared ? 1 : p.batch) * p.K * p.N }, () => Math.fround(g.normal())); // see the same inputs
  const a = fromValues(av, [av.length], { backend: "webgpu" });
  const b = fromValues(bv, [bv.length], { backend: "webgpu" });
  const c = zeros([p.batch * p.M * p.N], { backend: "webgpu" });
  // Scratch comes NaN-filled, so a copy kernel that skipped elements cannot pass on stale data.
  const scratch = (bytes: number): GPUBuffer => {
    const buf = rt.scratch(bytes);
    rt.device.queue.writeBuffer(buf, 0, new Float32Array(bytes / 4).fill(NaN));
    return buf;
  };
  for (const d of plan.launches(a.storage.buffer, b.storage.buffer, c.storage.buffer, { scratch, uniform: (u) => rt.uniform(u) })) {
    rt.dispatch(d.kernel, d.buffers, d.grid);
  }
  const got = await c.data();
  for (const t of [a, b, c]) t.dispose();
  return { got, want: matmulReference(p, av, bv) };
}
