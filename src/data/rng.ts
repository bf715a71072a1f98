// Deterministic PRNGs on the host: xoshiro128** (Rng, seeded through a splitmix32-style hash) for
// data generation, shuffling and batching, whose state is four u32 words so it checkpoints as
// plain JSON; and mulberry32, the small stream the probes and experiments draw from. Pure
// TypeScript, no Node or GPU dependency.
// Not a cryptographic generator, and not the source of randomness for GPU kernels.

/** Serializable generator state: four unsigned 32-bit words, not all zero. */
export type RngState = [number, number, number, number];

/** 32-bit finalizer (murmur3 fmix32): a bijection that spreads every input bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Hash a list of integers (each taken modulo 2^53, split into two 32-bit halves) into one u32.
 * Used to derive independent generator seeds from (seed, stream, ...) tuples.
 */
export function hashInts(...xs: number[]): number {
  let h = 0x243f6a88;
  for (const x of xs) {
    if (!Number.isInteger(x)) throw new Error(`hashInts: expected integers, got ${x}`);
    const lo = x >>> 0;
    const hi = Math.floor(x / 4294967296) >>> 0;
    h = fmix32((h ^ lo) + 0x9e3779b9);
    h = fmix32((h ^ hi) + 0x7f4a7c15);
  }
  return h;
}

/**
 * xoshiro128** generator. `new Rng(seed, stream)` gives a stream fully determined by the two
 * integers; different streams of one seed are statistically independent.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /**
   * @param seed any integer (safe-integer range)
   * @param stream optional sub-stream index, so one seed can feed several independent generators
   */
  constructor(seed: number, stream = 0) {
    let x = hashInts(seed, stream);
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return fmix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next unsigned 32-bit integer in [0, 2^32). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits (two 32-bit draws). */
  uniform(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). Requires 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] inclusive. */
  intRange(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Rng.intRange: empty range [${lo}, ${hi}]`);
    return lo + this.int(hi - lo + 1);
  }

  /** Standard normal draw (Box-Muller; no cached second value, so state() is complete). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<A extends { length: number; [i: number]: number }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n); // [n]
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** Snapshot of the generator state (plain JSON-serializable array). */
  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Restore a state produced by {@link Rng.state}. */
  setState(s: readonly number[]): void {
    if (s.length !== 4 || s.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
      throw new Error(`Rng.setState: expected four u32 words, got ${JSON.stringify(s)}`);
    }
    if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) throw new Error('Rng.setState: all-zero state');
    [this.s0, this.s1, this.s2, this.s3] = [s[0]!, s[1]!, s[2]!, s[3]!];
  }

  /** An independent copy with the same state. */
  clone(): Rng {
    const r = new Rng(0);
    r.setState(this.state());
    return r;
  }
}

/** mulberry32: a tiny deterministic 32-bit PRNG; the same seed always yields the same stream. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
