// Parses llvmpipe's GALLIVM_DEBUG=asm output (x86 disassembly of each compiled shader) into
// instruction counts; used by scripts/llvmpipe-asm.ts. Pure string processing.

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
  const lines = text.split("\n");
  const starts = lines.flatMap((l, i) => (l.startsWith("cs_co_variant:") ? [i] : []));
  if (!starts.length) return null;
  const ins: { at: number; op: string; arg: string }[] = [];
  for (const l of lines.slice(starts[starts.length - 1] + 1)) {
    if (/^\S.*:$/.test(l)) break; // next function
    const m = /^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(l);
    if (m) ins.push({ at: parseInt(m[1], 16), op: m[2], arg: m[3] });
  }
  const count = (seg: typeof ins) => ({
    instructions: seg.length,
    mul: seg.filter((x) => x.op === "vmulps").length,
    add: seg.filter((x) => x.op === "vaddps").length,
    stack: seg.filter((x) => x.arg.includes("(%rsp)")).length,
    branches: seg.filter((x) => /^j(?!mp)/.test(x.op)).length,
  });
  const all = count(ins);
  let best = all, bestMul = 0;
  ins.forEach((x, i) => {
    const d = Number(x.arg);
    if (!x.op.startsWith("j") || !Number.isInteger(d) || d >= 0) return;
    const target = (ins[i + 1]?.at ?? x.at + 2) + d;
    const seg = count(ins.filter((y) => y.at >= target && y.at <= x.at));
    if (seg.mul > bestMul || (seg.mul === bestMul && bestMul > 0 && seg.instructions < best.instructions)) {
      best = seg;
      bestMul = seg.mul;
    }
  });
  return { instructions: ins.length, loop: best };
}
