// Pipeline creation, and parallel compilation for Mesa's software adapter (lavapipe).
// llvmpipe turns a compute pipeline into machine code when the pipeline first *runs* on the
// device's queue, not when it is created, so createComputePipelineAsync overlaps nothing there:
// a cold first training step compiled its ~50 kernels one after the other on one core (rowubo
// ~2 s, each attention kernel 0.8–1.9 s). A second device of the same adapter has a queue, and a
// compile thread, of its own, and Mesa's on-disk shader cache is shared by every device of the
// machine. So when a submit brings new kernels, the compile helper "runs" them in reverse order
// with an indirect dispatch of zero workgroups (llvmpipe compiles the pipeline and executes no
// invocation) while the main queue compiles them in order: every kernel the helper finishes
// first is a cache load (~30 ms) for the main queue, and the two meet in the middle. It relies
// on Mesa's disk cache (on by default; MESA_SHADER_CACHE_DISABLE turns it off, and then the
// helper is not created). The runtime creates a submit's pipelines while encoding it, before it
// submits: lavapipe creates a pipeline through its queue's context, so creating one waits while
// that device's queue compiles (1.6 s for a pipeline created 0.14 s into a 1.8 s compile; 37 ms
// on the other device). Submitting each new kernel at once, so that its compile would overlap
// the encoding of the rest, therefore overlaps nothing (bench/RESULTS.md, "First step").
// A process that exits while the helper still compiles crashed in Dawn's teardown (SIGSEGV in
// 9 of 20 cold runs), so the runtime destroys both devices on exit, which waits for the helper
// (WebGpuRuntime.destroy; shutdown() does the same politely).
import type { Kernel } from "../../shaders/wgsl";

/** A kernel's pipeline and the layout of its single bind group. */
export interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/**
 * Creates `kernel`'s pipeline on `device` with an explicit layout: binding i is the kernel's
 * i-th buffer (uniform, read-only storage or storage). The runtime, the compile helper and the
 * bench's GPU timer build pipelines here, so that they are the same pipeline to the driver (and
 * its shader cache).
 */
export function createPipeline(device: GPUDevice, kernel: Kernel): PipelineEntry {
  const layout = device.createBindGroupLayout({
    label: kernel.name,
    entries: kernel.bindings.map((k, binding) => ({
      binding,
      visibility: 0x4, // GPUShaderStage.COMPUTE
      buffer: { type: k === "uniform" ? "uniform" : k === "read" ? "read-only-storage" : "storage" },
    })),
  });
  const module = device.createShaderModule({ label: kernel.name, code: kernel.code });
  const pipeline = device.createComputePipeline({
    label: kernel.name,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: "main" },
  });
  return { pipeline, layout };
}

/** Bytes of each placeholder buffer: the largest uniform binding WebGPU allows by default. */
const PLACEHOLDER_BYTES = 65536;

/**
 * Compiles kernels on a second device so that the main device finds them in Mesa's shader cache
 * (see the file comment). It never touches the main device's buffers: every binding is a
 * placeholder of its own, and no invocation runs.
 */
export class CompileHelper {
  /** Kernels handed to the helper so far (by code). */
  readonly primed = new Set<string>();
  #placeholders: GPUBuffer[] = [];
  #zeroGrid: GPUBuffer;

  constructor(readonly device: GPUDevice) {
    // INDIRECT | COPY_DST, created zero-filled: the dispatch's workgroup count (0, 0, 0).
    this.#zeroGrid = device.createBuffer({ size: 12, usage: 0x0100 | 0x0008 });
  }

  /**
   * Submits a zero-workgroup dispatch of each kernel not primed before, last kernel first
   * (the main queue starts from the first). Errors stay on the helper device: a kernel it cannot
   * build is simply compiled by the main queue as usual.
   */
  prime(kernels: readonly Kernel[]): void {
    const todo = kernels.filter((k) => !this.primed.has(k.code));
    if (!todo.length) return;
    const d = this.device;
    d.pushErrorScope("validation");
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const k of todo.reverse()) {
      this.primed.add(k.code);
      const { pipeline, layout } = createPipeline(d, k);
      const bindGroup = d.createBindGroup({
        layout,
        entries: k.bindings.map((_, binding) => ({ binding, resource: { buffer: this.#placeholder(binding) } })),
      });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroupsIndirect(this.#zeroGrid, 0);
    }
    pass.end();
    d.queue.submit([enc.finish()]);
    void d.popErrorScope().catch(() => undefined);
  }

  /** A placeholder buffer per binding slot (one buffer may not be bound writable twice). */
  #placeholder(binding: number): GPUBuffer {
    return (this.#placeholders[binding] ??= this.device.createBuffer({
      size: PLACEHOLDER_BYTES,
      usage: 0x0080 | 0x0040, // STORAGE | UNIFORM
    }));
  }
}

/**
 * Whether a compile helper pays off: Mesa's llvmpipe (lavapipe) with its disk cache on. Other
 * adapters compile at pipeline creation, where the helper would only add work.
 */
export function wantsCompileHelper(description: string, env: Readonly<Record<string, string | undefined>>): boolean {
  return /llvmpipe|lavapipe/i.test(description) && !/^(1|true|yes)$/i.test(env.MESA_SHADER_CACHE_DISABLE ?? "");
}
