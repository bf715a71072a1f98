// Crash-safe file writes for checkpoints and results: write a sibling temp file, fsync it,
// rename it over the target (atomic on POSIX), fsync the directory. Node-only (node:fs).
// Not a lock: concurrent writers to one path each land atomically, last rename wins.

import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Write `data` to `path` atomically: readers see either the old file or the complete new one,
 * never a partial write. Creates parent directories. Temp name: `<path>.tmp-<pid>-<random>`,
 * removed on failure.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new Error(`writeFileAtomic: could not write ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is best-effort (unsupported on some platforms / file systems).
  }
}
