// The parser behind scripts/llvmpipe-asm.ts, on a hand-written llvmpipe-style disassembly.
import { describe, expect, it } from "vitest";
import { asmStats } from "../bench/lib/llvmpipe-asm";

const ASM = `sample:
     0:\tpushq\t%rbp
cs_co_variant:
     0:\tmovq\t%rdi, %rbx
     4:\tvxorps\t%xmm0, %xmm0, %xmm0
     8:\tvmovups\t(%rsi), %ymm1
     c:\tvmulps\t%ymm1, %ymm1, %ymm2
    10:\tvaddps\t%ymm2, %ymm0, %ymm0
    14:\tvmovups\t%ymm0, 32(%rsp)
    1a:\tcmpl\t%edi, %eax
    1c:\tjb\t-18
    1e:\tvmulps\t%ymm0, %ymm0, %ymm3
    22:\tjmp\t4
    24:\tretq
cs_co_variant.resume:
     0:\tretq
`;

describe("llvmpipe asm statistics", () => {
  it("counts the compute shader's instructions and finds the loop holding its multiplies", () => {
    const st = asmStats(ASM)!;
    expect(st.instructions).toBe(11);
    // The backward branch at 0x1c jumps to 0x1e - 18 = 0xc: five instructions from the vmulps to the jb.
    expect(st.loop).toEqual({ instructions: 5, mul: 1, add: 1, stack: 1, branches: 1 });
  });

  it("picks the smallest of the loops with the most multiplies", () => {
    // A second loop (0x1e..0x22, jumping back 6 to 0x1e) around the trailing multiply: one each, so the smaller wins.
    const st = asmStats(ASM.replace("22:\tjmp\t4", "22:\tjne\t-6"))!;
    expect(st.loop).toEqual({ instructions: 2, mul: 1, add: 0, stack: 0, branches: 1 });
  });

  it("reports the whole shader when no loop multiplies", () => {
    const st = asmStats(ASM.replace("c:\tvmulps", "c:\tvmovaps").replace("1e:\tvmulps", "1e:\tvmovaps"))!;
    expect(st.loop).toEqual({ instructions: 11, mul: 0, add: 1, stack: 1, branches: 1 });
  });

  it("returns null without a compute shader", () => {
    expect(asmStats("sample:\n     0:\tretq\n")).toBeNull();
  });
});
