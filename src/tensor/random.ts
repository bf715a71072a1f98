// Seeded random numbers generated on the host in f64, so rand/randn give the same values on
// both backends (rounded to f32 on webgpu). A small counter-based generator, not crypto.

/**
 * A SplitMix-style 32-bit generator: the i-th draw hashes the Weyl sequence value
 * seed·0x9e3779b1 + i·0x85ebca6b with a two-round xor-shift-multiply finalizer, so it is
 * deterministic for (seed, index) and can be positioned by its counter. (It was called SplitMix32,
 * which it is not; the numbers are unchanged.)
 */
export class SplitMix32 {
  #counter = 0;
  constructor(readonly seed: number) {}
  /** Uniform in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    let z = (Math.imul(this.seed | 0, 0x9e3779b1) + Math.imul(++this.#counter, 0x85ebca6b)) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    z ^= z >>> 15;
    return (z >>> 0) / 4294967296;
  }
  /** Standard normal via Box-Muller. */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Position of the generator (for checkpoints). */
  get counter(): number {
    return this.#counter;
  }
  set counter(c: number) {
    this.#counter = c;
  }
}
