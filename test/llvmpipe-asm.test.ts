// The parser behind scripts/llvmpipe-asm.ts and scripts/llvmpipe-profile.ts, on a hand-written
// llvmpipe-style disassembly and synthetic perf samples.
import { describe, expect, it } from "vitest";
import { asmLoops, asmStats, profileShader, shaderBodies } from "../bench/lib/llvmpipe-asm";

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

describe("llvmpipe shader profile", () => {
  const body = shaderBodies(ASM)[0];

  it("parses every compute shader body and its loops", () => {
    expect(shaderBodies(ASM).map((b) => b.length)).toEqual([11]);
    expect(shaderBodies(`${ASM}\n${ASM}`)).toHaveLength(2);
    expect(body[3]).toEqual({ at: 0xc, op: "vmulps", arg: "%ymm1, %ymm1, %ymm2" });
    expect(asmLoops(body)).toEqual([{ from: 3, to: 7 }]); // jb -18 at 0x1c: back to 0x1e - 18 = 0xc
  });

  it("infers the load address from the samples and counts them per instruction", () => {
    const base = 0x7f12_3456_7000;
    // Samples over the loop (0xc vmulps 40, 0x10 vaddps 25, 0x14 vmovups 10, 0x1a cmpl 6, 0x1c jb 4),
    // 5 inside the 6-byte vmovups (0x17), and 30 elsewhere in the process (not in the shader).
    const at = (off: number, n: number) => Array<number>(n).fill(base + off);
    const ips = [
      ...at(0xc, 40), ...at(0x10, 25), ...at(0x14, 10), ...at(0x1a, 6), ...at(0x1c, 4), ...at(0x17, 5),
      ...Array.from({ length: 30 }, (_, i) => 0x5555_0000_0000 + 7 * i),
    ];
    const p = profileShader(body, ips)!;
    expect(p.base).toBe(base);
    expect(p.inside).toBe(90);
    expect(p.total).toBe(120);
    expect(p.counts.slice(3, 8)).toEqual([40, 25, 15, 6, 4]); // the 5 inside the vmovups count for it
    expect(p.aligned).toBe(85); // of the hottest addresses' samples, all but the 5 and the 30 strays
    expect(p.counts.reduce((a, b) => a + b, 0)).toBe(90);
  });

  it("returns null without samples or instructions", () => {
    expect(profileShader(body, [])).toBeNull();
    expect(profileShader([], [1, 2, 3])).toBeNull();
  });
});
