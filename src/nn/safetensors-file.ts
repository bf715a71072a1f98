// Node file I/O for safetensors: read a file into parseSafetensors, write serializeSafetensors'
// bytes with writeFileAtomic. Node-only (node:fs); browsers use safetensors.ts directly.
// Not a checkpoint format: which tensors and metadata to save is the caller's business.

import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-write';
import { parseSafetensors, serializeSafetensors, type ParsedSafetensors, type TensorInput } from './safetensors';

/** Read and validate a .safetensors file; errors name the file and the offending tensor. */
export function readSafetensors(path: string): ParsedSafetensors {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`safetensors ${path}: cannot read file (${(e as Error).message})`, { cause: e });
  }
  return parseSafetensors(bytes, path);
}

/** Write tensors and string metadata to `path` atomically (temp file, fsync, rename). */
export function writeSafetensors(path: string, tensors: Record<string, TensorInput>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
