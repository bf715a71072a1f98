// Node file I/O for safetensors: read and validate a file header first (its length against the
// file size, then every tensor's offsets), and only then read the data section, so a corrupt or
// hostile file never causes an allocation larger than what it validly holds; write
// serializeSafetensors' bytes with writeFileAtomic. Node-only (node:fs); browsers use
// safetensors.ts directly. Not a checkpoint format: which tensors and metadata to save is the
// caller's business.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomic-write';
import {
  decodeTensors, headerLength, parseHeader, serializeSafetensors, type ParsedSafetensors, type TensorInput,
} from './safetensors';

/** Reads exactly `n` bytes at `pos` of an open file. */
function readAt(fd: number, n: number, pos: number): Uint8Array {
  const buf = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = readSync(fd, buf, off, n - off, pos + off);
    if (got === 0) throw new Error(`the file ended after ${pos + off} bytes while reading ${n} at ${pos}`);
    off += got;
  }
  return buf;
}

/**
 * Read and validate a .safetensors file; errors name the file and the offending tensor. The
 * header length is checked against the file size and the header against the data section
 * before the data is read.
 */
export function readSafetensors(path: string): ParsedSafetensors {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`safetensors ${path}: cannot read file (${(e as Error).message})`, { cause: e });
  }
  try {
    const io = <T>(what: string, f: () => T): T => {
      try {
        return f();
      } catch (e) {
        throw new Error(`safetensors ${path}: cannot read ${what} (${(e as Error).message})`, { cause: e });
      }
    };
    const size = io('its size', () => fstatSync(fd).size);
    const n = headerLength(size >= 8 ? io('the header length', () => readAt(fd, 8, 0)) : new Uint8Array(0), size, path);
    const header = parseHeader(io('the header', () => readAt(fd, n, 8)), size - 8 - n, path);
    const data = io('the data', () => readAt(fd, size - 8 - n, 8 + n));
    return { tensors: decodeTensors(header, data), metadata: header.metadata };
  } finally {
    closeSync(fd);
  }
}

/** Write tensors and string metadata to `path` atomically (temp file, fsync, rename). */
export function writeSafetensors(path: string, tensors: Record<string, TensorInput>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
