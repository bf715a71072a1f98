// Parses llvmpipe's GALLIVM_DEBUG=asm output (x86 disassembly of each compiled shader) into
// instruction counts (scripts/llvmpipe-asm.ts) and maps `perf` samples onto a shader's
// instructions (scripts/llvmpipe-profile.ts). Pure string and number processing.

/** One disassembled instruction: byte offset in its function, mnemonic, operands. */
export interface AsmInstr {
  at: number;
  op: string;
  arg: string;
}

/** The instructions of every `cs_co_variant` function (a compute shader's body) in the text, in order. */
export function shaderBodies(text: string): AsmInstr[][] {
  const lines = text.split("\n");
  const out: AsmInstr[][] = [];
  let cur: AsmInstr[] | null = null;
  for (const l of lines) {
    if (/^\S.*:$/.test(l)) { // a function header
      cur = l === "cs_co_variant:" ? [] : null;
      if (cur) out.push(cur);
      continue;
    }
    const m = cur && /^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(l);
    if (m) cur!.push({ at: parseInt(m[1], 16), op: m[2], arg: m[3] });
  }
  return out;
}

/**
 * The loops of a body as instruction index ranges [from, to], one per backward branch (`jcc -N`
 * as llvmpipe's disassembler prints it: N bytes back from the next instruction).
 */
export function asmLoops(ins: readonly AsmInstr[]): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  ins.forEach((x, i) => {
    const d = Number(x.arg);
    if (!x.op.startsWith("j") || !Number.isInteger(d) || d >= 0) return;
    const target = (ins[i + 1]?.at ?? x.at + 2) + d;
    const from = ins.findIndex((y) => y.at >= target);
    if (from >= 0 && from <= i) out.push({ from, to: i });
  });
  return out;
}

/** `perf` samples of a process mapped onto one shader body. */
export interface ShaderProfile {
  /** The address the body was loaded at (inferred). */
  base: number;
  /** Samples per instruction of the body (index as in the body). */
  counts: number[];
  /** Samples inside the body, and of all the samples given. */
  inside: number;
  total: number;
  /** Of the `hot` most frequent addresses, how many (weighted by samples) fell on an instruction start at `base`. */
  aligned: number;
  hot: number;
}

/**
 * Maps sampled instruction addresses onto a body. JIT code has no symbols, so the load address is
 * inferred: for each of the hottest addresses and each instruction offset, the base that would
 * put that address on that instruction is scored by how many of the hottest addresses then also
 * fall on instruction starts; the best base wins (so the hottest samples always land in the body;
 * `aligned` says how well the rest fit). Returns null without instructions or samples.
 */
export function profileShader(ins: readonly AsmInstr[], ips: readonly number[], hotCount = 300): ShaderProfile | null {
  if (!ins.length || !ips.length) return null;
  const freq = new Map<number, number>();
  for (const a of ips) freq.set(a, (freq.get(a) ?? 0) + 1);
  const hot = [...freq].sort((x, y) => y[1] - x[1]).slice(0, hotCount);
  const hotTotal = hot.reduce((s, [, n]) => s + n, 0);
  const offsets = new Set(ins.map((x) => x.at));
  let best = { base: 0, aligned: -1 };
  for (const [a0] of hot.slice(0, 20)) {
    for (const off of offsets) {
      const base = a0 - off;
      let aligned = 0;
      for (const [a, n] of hot) if (offsets.has(a - base)) aligned += n;
      if (aligned > best.aligned) best = { base, aligned };
    }
    if (best.aligned >= 0.9 * hotTotal) break; // the other hot addresses are this shader's too
  }
  const counts = new Array<number>(ins.length).fill(0);
  const end = ins[ins.length - 1].at;
  let inside = 0;
  for (const a of ips) {
    const off = a - best.base;
    if (off < 0 || off > end) continue;
    let lo = 0, hi = ins.length - 1; // the last instruction starting at or before off
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ins[mid].at <= off) lo = mid; else hi = mid - 1;
    }
    counts[lo]++;
    inside++;
  }
  return { base: best.base, counts, inside, total: ips.length, aligned: best.aligned, hot: hotTotal };
}

/** Instructions, float multiplies and adds, stack references and conditional branches of a stretch of code. */
export function asmCounts(seg: readonly AsmInstr[]): AsmStats["loop"] {
  return {
    instructions: seg.length,
    mul: seg.filter((x) => x.op === "vmulps").length,
    add: seg.filter((x) => x.op === "vaddps").length,
    stack: seg.filter((x) => x.arg.includes("(%rsp)")).length,
    branches: seg.filter((x) => /^j(?!mp)/.test(x.op)).length,
  };
}

/** Instruction statistics of one compiled compute shader. */
export interface AsmStats {
  instructions: number;
  /**
   * The hot loop: of the loops holding the most float multiplies, the smallest (one K loop even
   * when a shader has several copies of it); the whole shader when no loop multiplies.
   */
  loop: { instructions: number; mul: number; add: number; stack: number; branches: number };
}

/**
 * Parses llvmpipe's GALLIVM_DEBUG=asm output for one shader: the last `cs_co_variant` function
 * (the compute shader body), its instruction count, and the hot loop found from backward
 * branches (`jcc -N` as printed by llvmpipe's disassembler).
 */
export function asmStats(text: string): AsmStats | null {
  const ins = shaderBodies(text).at(-1);
  if (!ins) return null;
  let best = asmCounts(ins), bestMul = 0;
  for (const { from, to } of asmLoops(ins)) {
    const seg = asmCounts(ins.slice(from, to + 1));
    if (seg.mul > bestMul || (seg.mul === bestMul && bestMul > 0 && seg.instructions < best.instructions)) {
      best = seg;
      bestMul = seg.mul;
    }
  }
  return { instructions: ins.length, loop: best };
}
