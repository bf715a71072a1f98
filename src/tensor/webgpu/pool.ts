// GPU buffer pool. Released buffers wait in a pending list until the command encoder that used
// them is submitted, then become reusable (the runtime recycles a buffer at once when no encoder
// is open); free buffers are handed out oldest first, so after warm-up a repeated step creates no
// buffers and binds the same ones in the same order.

/** Counters exposed for tests and benches. */
export interface PoolStats {
  /** GPU buffers created since start (never decreases). */
  buffersCreated: number;
  /** Bytes held by live (acquired) buffers. */
  bytesInUse: number;
  /** Bytes held by free buffers waiting in the pool. */
  bytesCached: number;
  /** Bytes released but waiting for the current encoder to be submitted. */
  bytesPending: number;
}

const ALIGN = 256;

/** Rounds a byte size to the pool's bucket granularity. */
export function bucketBytes(bytes: number): number {
  return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
}

/** A size-and-usage keyed free list of GPU buffers with submit-deferred release. */
export class BufferPool {
  readonly stats: PoolStats = { buffersCreated: 0, bytesInUse: 0, bytesCached: 0, bytesPending: 0 };
  #free = new Map<string, GPUBuffer[]>();
  #pending: GPUBuffer[] = [];
  /** Each buffer's usage and creation order (free lists hand out the oldest first: see #addFree). */
  #meta = new WeakMap<GPUBuffer, { usage: number; serial: number }>();

  /** @param onTrim called after {@link trim} destroyed buffers (the runtime drops bind groups that held them). */
  constructor(private readonly device: GPUDevice, private readonly onTrim: () => void = () => {}) {}

  /** Takes a buffer of at least `bytes` with exactly `usage`, reusing a free one if possible. */
  acquire(bytes: number, usage: number, label?: string): GPUBuffer {
    const size = bucketBytes(bytes);
    const list = this.#free.get(`${usage}:${size}`);
    let buf = list?.pop();
    if (buf) {
      this.stats.bytesCached -= size;
    } else {
      buf = this.device.createBuffer({ size, usage, label });
      this.#meta.set(buf, { usage, serial: this.stats.buffersCreated++ });
    }
    this.stats.bytesInUse += size;
    return buf;
  }

  /** Marks a buffer free; it becomes reusable after the next `onSubmit()`. */
  release(buf: GPUBuffer): void {
    this.stats.bytesInUse -= buf.size;
    this.stats.bytesPending += buf.size;
    this.#pending.push(buf);
  }

  /** Returns a buffer straight to the free list: only for buffers no pending encoder uses. */
  recycle(buf: GPUBuffer): void {
    this.stats.bytesInUse -= buf.size;
    this.stats.bytesCached += buf.size;
    this.#addFree(buf);
  }

  /**
   * Files a buffer in its free list, which is kept newest first so that pop() hands out the
   * oldest: whatever order buffers were released in, a repeated step then gets the same buffers
   * for the same requests every time, and the runtime's cached bind groups for them stay valid.
   */
  #addFree(buf: GPUBuffer): void {
    const list = this.#freeList(buf), id = this.#meta.get(buf)!.serial;
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#meta.get(list[mid])!.serial > id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buf);
  }

  #freeList(buf: GPUBuffer): GPUBuffer[] {
    const key = `${this.#meta.get(buf)!.usage}:${buf.size}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, (list = []));
    return list;
  }

  /** Called right after the encoder that used the pending buffers was submitted. */
  onSubmit(): void {
    for (const buf of this.#pending) {
      this.#addFree(buf);
      this.stats.bytesPending -= buf.size;
      this.stats.bytesCached += buf.size;
    }
    this.#pending = [];
  }

  /** Destroys every cached free buffer (live buffers are untouched). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.stats.bytesCached = 0;
    this.onTrim();
  }
}
