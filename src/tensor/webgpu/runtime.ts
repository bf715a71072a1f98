// The webgpu backend: device, pipeline cache, one open command encoder per step, dispatch,
// submit and batched readback. Ops encode here; nothing submits until flush() or a read.
import { checkKernel, checkUniform } from "../../shaders/checks";
import type { BufferBinding, Kernel } from "../../shaders/wgsl";
import type { Arg, Backend, DType, OpKernels } from "../backend";
import { Storage } from "../backend";
import type { AdapterInfo, FaultReport, KernelEncoder } from "./encoder";
import { createPipeline, type CompileHelper, type PipelineEntry } from "./pipelines";
import { BufferPool } from "./pool";

export type { AdapterInfo, FaultReport } from "./encoder";

/** The bind-group resource for a {@link BufferBinding}. */
export function bufferResource(b: BufferBinding): GPUBufferBinding {
  return "buffer" in b ? b : { buffer: b };
}

/** Bind-group entries binding `buffers` to bindings 0, 1, ... in order. */
export function bindEntries(buffers: readonly BufferBinding[]): GPUBindGroupEntry[] {
  return buffers.map((b, binding) => ({ binding, resource: bufferResource(b) }));
}

/** Counters for dispatch overhead and memory. */
export interface RuntimeStats {
  dispatches: number;
  submits: number;
  readbacks: number;
  pipelines: number;
  /** Bind groups created (a dispatch whose buffers were bound the same way before reuses one). */
  bindGroups: number;
}

const STORAGE_USAGE = GPUBufferUsage_STORAGE();

function GPUBufferUsage_STORAGE(): number {
  // STORAGE | UNIFORM | COPY_SRC | COPY_DST, spelled as numbers so this module loads before
  // WebGPU globals. UNIFORM lets a kernel bind pool storage as uniform windows (matmul rowubo
  // reads its scratch copy of A that way); one usage for tensors and scratch lets them share buffers.
  return 0x0080 | 0x0040 | 0x0004 | 0x0008;
}
const UNIFORM_USAGE = 0x0040 | 0x0008; // UNIFORM | COPY_DST
/**
 * Bind groups kept for reuse (cleared when full). A training step binds the same pool buffers in
 * the same order every step, and creating a bind group is the largest host cost of a dispatch
 * through Dawn's Node bindings (~28 µs of a ~50 µs dispatch on the 2-core VM; bench/RESULTS.md,
 * "Host encode"), so a steady step finds all of its ~1,400 (GPT-2 small) here.
 */
const BIND_GROUP_CACHE = 8192;
const FAULT_BYTES = 16;
const STAGING_USAGE = 0x0001 | 0x0008; // MAP_READ | COPY_DST

/** Waits for a GPU promise. Node installs a polite waiter (see gpu-node.ts); browsers just await. */
export type Waiter = <T>(p: Promise<T>) => Promise<T>;

/** The WebGPU runtime: owns the device, the pool, the pipeline cache and the open encoder. */
export class WebGpuRuntime implements Backend, KernelEncoder {
  readonly name = "webgpu" as const;
  readonly precision = "f32" as const;
  readonly pool: BufferPool;
  readonly stats: RuntimeStats = { dispatches: 0, submits: 0, readbacks: 0, pipelines: 0, bindGroups: 0 };
  #pipelines = new Map<string, PipelineEntry>();
  /** Bind groups by layout and bound buffer ranges (see BIND_GROUP_CACHE). */
  #bindGroups = new Map<string, GPUBindGroup>();
  /** Small integer ids of layouts and buffers, for the bind-group keys. */
  #ids = new WeakMap<object, number>();
  #nextId = 1;
  /** Kernels whose pipelines were created since the last submit (the compile helper's work). */
  #fresh: Kernel[] = [];
  /** Uniform buffers written for the open encoder, by content (see uniform()). */
  #uniforms = new Map<string, GPUBuffer>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #errors: string[] = [];
  #lastKernel = "(none)";
  #lost: string | null = null;
  /** Set by destroy(): the message every later use of this runtime throws. */
  #destroyed: string | null = null;
  /** The device fault record [site, value bits, position, 0] (created with the first fault site). */
  #faults: GPUBuffer | null = null;
  #sites: FaultReport[] = [];
  #siteKeys = new Map<string, number>();

  constructor(
    readonly device: GPUDevice,
    readonly info: AdapterInfo,
    readonly wait: Waiter,
    /** Compiles new kernels in parallel on a second device (software adapter only; see pipelines.ts). */
    readonly compileHelper: CompileHelper | null = null,
  ) {
    // Destroyed buffers must not stay bound in cached bind groups.
    this.pool = new BufferPool(device, () => this.#bindGroups.clear());
    device.addEventListener("uncapturederror", (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.#errors.push(`GPU error after kernel '${this.#lastKernel}': ${firstLine(e.message)}`);
    });
    void device.lost.then((l) => {
      this.#lost ??= `GPU device lost (${l.reason}): ${l.message}`;
    });
  }

  // ---- Backend interface -------------------------------------------------------------------

  alloc(numel: number, dtype: DType): Storage {
    this.#usable();
    const buf = this.pool.acquire(Math.max(4, numel * 4), STORAGE_USAGE);
    return new Storage(this, numel, dtype, buf);
  }

  upload(s: Storage, values: ArrayLike<number>): void {
    this.#usable();
    const arr = s.dtype === "i32" ? Int32Array.from(values) : Float32Array.from(values);
    if (arr.byteLength > 0) this.device.queue.writeBuffer(s.buffer, 0, arr);
  }

  release(s: Storage): void {
    // With no encoder open, every command that used the buffer has been submitted, and later
    // writes and commands run after them on the queue: it is free now. Otherwise it waits for the
    // submit (an upload, which runs before the open encoder's commands, could overwrite it).
    if (this.#encoder) this.pool.release(s.buffer);
    else this.pool.recycle(s.buffer);
  }

  /** The adapter's maxStorageBufferBindingSize. */
  get maxBindingBytes(): number {
    return this.info.limits.maxStorageBufferBindingSize;
  }

  /** Encodes the op's kernels into the open encoder (nothing runs until flush() or a read). */
  run<A>(op: OpKernels<A>, inputs: readonly Arg[], outputs: readonly Arg[], attrs: A): void {
    op.gpu(this, inputs, outputs, attrs);
  }

  /** Encodes a check kernel whose fault record the next readback reports (see readMany). */
  checkFinite(s: Storage, key: string, report: (value: string, index: number) => Error): void {
    const site = this.faultSite(key, (bits, pos) => report(nonFinite(bits), pos));
    const prm = this.uniform(checkUniform({ n: s.numel, site }));
    this.dispatch(checkKernel("nonfinite"), [s.buffer, this.faultRecord, prm], [1]);
  }

  /**
   * Reads storages back in one staging copy. The device fault record rides along in the same
   * copy: when a device-side check failed since the last readback, this throws its error (after
   * clearing the record) instead of returning values.
   */
  async readMany(ss: readonly Storage[]): Promise<Float64Array[]> {
    this.#usable();
    this.#endPass();
    const offsets: number[] = [];
    let total = 0;
    for (const s of ss) {
      offsets.push(total);
      total += Math.max(4, s.numel * 4);
    }
    const faultAt = total;
    if (this.#faults) total += FAULT_BYTES;
    const staging = this.pool.acquire(total, STAGING_USAGE, "staging");
    const enc = this.#enc();
    ss.forEach((s, i) => {
      if (s.numel > 0) enc.copyBufferToBuffer(s.buffer, 0, staging, offsets[i], s.numel * 4);
    });
    if (this.#faults) enc.copyBufferToBuffer(this.#faults, 0, staging, faultAt, FAULT_BYTES);
    this.flush();
    this.stats.readbacks++;
    await this.wait(staging.mapAsync(1 /* GPUMapMode.READ */, 0, staging.size));
    this.throwIfErrors();
    const raw = staging.getMappedRange();
    const out = ss.map((s, i) => {
      const view = s.dtype === "i32"
        ? new Int32Array(raw, offsets[i], s.numel)
        : new Float32Array(raw, offsets[i], s.numel);
      return Float64Array.from(view);
    });
    const fault = this.#faults ? Array.from(new Uint32Array(raw, faultAt, 3)) : [0];
    staging.unmap();
    this.pool.recycle(staging); // its copy was submitted and has completed
    if (fault[0] !== 0) {
      this.device.queue.writeBuffer(this.#faults!, 0, new Uint32Array(FAULT_BYTES / 4));
      const report = this.#sites[fault[0] - 1];
      throw report ? report(fault[1], fault[2]) : new Error(`device check ${fault[0]} failed (unknown site)`);
    }
    return out;
  }

  // ---- Device-side checks --------------------------------------------------------------------

  /**
   * The fault record [site, value bits, position, 0] that device-side checks bind read-write: the
   * first failing check (in encode order) fills it, and the next {@link readMany} reports it.
   */
  get faultRecord(): GPUBuffer {
    return (this.#faults ??= this.device.createBuffer({
      size: FAULT_BYTES, usage: 0x0080 | 0x0004 | 0x0008, label: "fault record", // STORAGE | COPY_SRC | COPY_DST
    }));
  }

  /**
   * Registers how to report a failed device-side check, once per `key` (e.g. op and vocabulary
   * size); returns its site number (≥ 1), which the check kernel writes into the fault record.
   */
  faultSite(key: string, report: FaultReport): number {
    let site = this.#siteKeys.get(key);
    if (site === undefined) {
      this.#sites.push(report);
      site = this.#sites.length;
      this.#siteKeys.set(key, site);
    }
    return site;
  }

  // ---- Encoding ----------------------------------------------------------------------------

  /** Encodes one dispatch of `kernel` over `groups` workgroups with `buffers` bound in order. */
  dispatch(kernel: Kernel, buffers: readonly BufferBinding[], groups: readonly number[]): void {
    if (this.#lost) throw new Error(this.#lost);
    const { pipeline, layout } = this.#pipeline(kernel);
    const [x, y = 1, z = 1] = groups;
    if (x * y * z === 0) return;
    const max = this.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    if (x > max || y > max || z > max) {
      throw new Error(`kernel '${kernel.name}': grid [${x}, ${y}, ${z}] exceeds ${max} per dimension`);
    }
    const bindGroup = this.#bindGroup(layout, buffers);
    const pass = this.#passEnc();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.#lastKernel = kernel.name;
    this.stats.dispatches++;
  }

  /**
   * A uniform buffer holding `data`, valid for the current encoder (returned to the pool at
   * submit). Equal contents within one encoder share one buffer (AdamW's hyperparameters, for
   * instance, are the same for every parameter of a step).
   */
  uniform(data: Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Int32Array<ArrayBuffer>): GPUBuffer {
    const key = new Uint32Array(data.buffer, data.byteOffset, data.length).join(",");
    const hit = this.#uniforms.get(key);
    if (hit) return hit;
    const buf = this.pool.acquire(data.byteLength, UNIFORM_USAGE, "uniform");
    this.device.queue.writeBuffer(buf, 0, data);
    this.pool.release(buf);
    this.#uniforms.set(key, buf);
    return buf;
  }

  /** Temporary storage valid for the current encoder only (returned to the pool at submit). */
  scratch(bytes: number): GPUBuffer {
    const buf = this.pool.acquire(Math.max(4, bytes), STORAGE_USAGE, "scratch");
    this.pool.release(buf);
    return buf;
  }

  /** Encodes a buffer-to-buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.#endPass();
    this.#enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Encodes zero-filling of a buffer range (ends the open compute pass). */
  clear(buf: GPUBuffer, offset = 0, bytes?: number): void {
    this.#endPass();
    this.#enc().clearBuffer(buf, offset, bytes);
  }

  /** Submits everything encoded so far; released buffers become reusable. */
  flush(): void {
    this.#endPass();
    if (this.#fresh.length) {
      // Two or more new kernels: the helper compiles them from the last while this queue runs from the first.
      if (this.compileHelper && this.#fresh.length > 1) this.compileHelper.prime(this.#fresh);
      this.#fresh = [];
    }
    if (this.#encoder) {
      this.device.queue.submit([this.#encoder.finish()]);
      this.#encoder = null;
      this.stats.submits++;
    }
    this.#uniforms.clear(); // their buffers go back to the pool now
    this.pool.onSubmit();
  }

  /**
   * Destroys the compile helper's device, then this one. Dawn waits for a device's queue to go
   * idle before it destroys it, so this blocks until the helper has finished compiling: a
   * process that exited while the helper still compiled crashed in Dawn's teardown (SIGSEGV
   * after its work was done, in 9 of 20 cold runs; 0 of 22 with this). The Node entry calls it
   * on process exit; {@link shutdown} waits for the queues politely first. Work encoded and not
   * flushed is dropped; any later use of this runtime, or of a tensor on it, throws.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = "was shut down (shutdown() or process exit); call `await init()` again and recreate " +
      "the tensors made before it";
    this.#lost = `webgpu: the runtime ${this.#destroyed}`;
    this.#pass = null;
    this.#encoder = null;
    this.compileHelper?.device.destroy();
    this.device.destroy();
  }

  /** Why this runtime can no longer be used, as a clause ("was shut down …"), or null. */
  get closed(): string | null {
    return this.#destroyed;
  }

  /** Throws when destroy() has run. */
  #usable(): void {
    if (this.#destroyed) throw new Error(`webgpu: the runtime ${this.#destroyed}`);
  }

  /** Submits and waits until the GPU has finished all work. */
  async sync(): Promise<void> {
    this.flush();
    await this.wait(this.device.queue.onSubmittedWorkDone());
    this.throwIfErrors();
  }

  /** Compiles `kernel` now (normally done lazily at first dispatch) and reports compile errors. */
  async compile(kernel: Kernel): Promise<void> {
    this.#pipeline(kernel);
    await this.wait(this.device.queue.onSubmittedWorkDone());
    await new Promise((r) => setTimeout(r, 0));
    this.throwIfErrors();
  }

  /** Throws the first recorded GPU validation error, naming the kernel; clears the list. */
  throwIfErrors(): void {
    if (this.#lost) throw new Error(this.#lost);
    if (this.#errors.length) {
      const msg = this.#errors.join("\n");
      this.#errors = [];
      throw new Error(msg);
    }
  }

  #pipeline(kernel: Kernel): PipelineEntry {
    const hit = this.#pipelines.get(kernel.code);
    if (hit) return hit;
    const d = this.device;
    d.pushErrorScope("validation");
    const entry = createPipeline(d, kernel);
    void d.popErrorScope().then((err) => {
      if (err) this.#errors.push(`kernel '${kernel.name}' failed to compile: ${firstLine(err.message)}`);
    });
    this.#pipelines.set(kernel.code, entry);
    this.#fresh.push(kernel);
    this.stats.pipelines++;
    return entry;
  }

  #id(o: object): number {
    let id = this.#ids.get(o);
    if (id === undefined) this.#ids.set(o, (id = this.#nextId++));
    return id;
  }

  /** The bind group of `buffers` in order under `layout`: cached, or created and cached. */
  #bindGroup(layout: GPUBindGroupLayout, buffers: readonly BufferBinding[]): GPUBindGroup {
    let key = String(this.#id(layout));
    for (const b of buffers) key += "buffer" in b ? `,${this.#id(b.buffer)}@${b.offset ?? 0}+${b.size ?? "*"}` : `,${this.#id(b)}`;
    let group = this.#bindGroups.get(key);
    if (!group) {
      if (this.#bindGroups.size >= BIND_GROUP_CACHE) this.#bindGroups.clear();
      group = this.device.createBindGroup({ layout, entries: bindEntries(buffers) });
      this.#bindGroups.set(key, group);
      this.stats.bindGroups++;
    }
    return group;
  }

  #enc(): GPUCommandEncoder {
    this.#usable();
    return (this.#encoder ??= this.device.createCommandEncoder());
  }

  #passEnc(): GPUComputePassEncoder {
    return (this.#pass ??= this.#enc().beginComputePass());
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }
}

/** Names the non-finite f32 whose bits a failed check recorded. */
function nonFinite(bits: number): string {
  return (bits & 0x7fffff) !== 0 ? "NaN" : bits >>> 31 ? "-Inf" : "+Inf";
}

function firstLine(msg: string): string {
  const lines = msg.split("\n").filter((l) => l.trim());
  return lines.slice(0, 3).join(" | ");
}

/** Collects adapter facts into a plain object. */
export function describeAdapter(adapter: GPUAdapter): AdapterInfo {
  const i = adapter.info;
  const limits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) limits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase();
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    isSoftware: /llvmpipe|lavapipe|swiftshader|software|cpu/.test(text),
    features: [...adapter.features].map(String).sort(),
    limits,
    subgroupMinSize: adapter.features.has("subgroups") ? (i as GPUAdapterInfo & { subgroupMinSize?: number }).subgroupMinSize ?? null : null,
  };
}

/** The limits we request at their adapter maximum and record. */
export const LIMIT_NAMES = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupStorageSize",
  "maxStorageBuffersPerShaderStage",
] as const;
