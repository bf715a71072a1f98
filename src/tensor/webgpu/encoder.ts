// What an op's GPU implementation may do with the webgpu backend: encode dispatches of WGSL
// kernels, take uniforms and scratch valid for the open encoder, copy and clear buffers, and
// register device-side checks, plus the adapter facts kernel choices depend on. The runtime
// (runtime.ts) implements it; ops see only this.
import type { BufferBinding, Kernel } from "../../shaders/wgsl";

/** Adapter facts the library exposes (and records next to every bench or experiment number). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software rasterizer (lavapipe / SwiftShader): kernels choose CPU-friendly variants. */
  isSoftware: boolean;
  features: string[];
  limits: Record<string, number>;
  /** The smallest subgroup size when the device has the 'subgroups' feature, else null. */
  subgroupMinSize: number | null;
}

/**
 * Builds the error of a failed device-side check from its fault record: the offending element's
 * 32 bits (an i32 id, or an f32's bits) and its flat position.
 */
export type FaultReport = (bits: number, pos: number) => Error;

/** The encoding side of the webgpu backend, as ops see it (OpKernels.gpu). */
export interface KernelEncoder {
  /** The adapter's facts (kernel variants are chosen by `isSoftware`). */
  readonly info: AdapterInfo;
  /** Encodes one dispatch of `kernel` over `groups` workgroups with `buffers` bound in order. */
  dispatch(kernel: Kernel, buffers: readonly BufferBinding[], groups: readonly number[]): void;
  /** A uniform buffer holding `data`, valid for the current encoder. */
  uniform(data: Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Int32Array<ArrayBuffer>): GPUBuffer;
  /** Temporary storage valid for the current encoder only. */
  scratch(bytes: number): GPUBuffer;
  /** Encodes a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void;
  /** Encodes zero-filling of a buffer range. */
  clear(buf: GPUBuffer, offset?: number, bytes?: number): void;
  /** The fault record that device-side checks bind read-write. */
  readonly faultRecord: GPUBuffer;
  /** Registers how to report a failed device-side check, once per `key`; returns its site number. */
  faultSite(key: string, report: FaultReport): number;
}
