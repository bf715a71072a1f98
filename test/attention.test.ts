// Causal attention beyond the registry cases: both kernel families are deterministic (same bits
// twice), the plain path dispatches no probability kernel, the variant choice per adapter, and
// the `subgroup` tiles the bench compares but the op does not run against cpu64.
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "../src/node";
import { fromValues, readAll, tidy, zeros, type Tensor } from "../src/node";
import { ATTENTION_ROW_STATS, attentionPlan, selectAttentionVariant, SUBGROUP_TILE, type AttentionPart } from "../src/shaders/attention";
import { captureDispatches } from "../src/tensor/webgpu/timing";
import { closeness, makeValues } from "../testkit/check";
import { gpu } from "./helpers/gpu";

beforeAll(async () => {
  await gpu();
});

const VARIANTS = ["subgroup", "tiled"] as const;

/** y, lse and dqkv of one forward + backward on fixed inputs, as raw f32 bits. */
async function run(variant: (typeof VARIANTS)[number], B: number, Tn: number, H: number, D: number): Promise<Uint32Array[]> {
  return tidy(async () => {
    const qkv = fromValues(makeValues({ shape: [B, Tn, 3 * H * D] }, 1), [B, Tn, 3 * H * D]);
    const dy = fromValues(makeValues({ shape: [B, Tn, H * D] }, 2), [B, Tn, H * D]);
    const { y, lse } = T.causalAttentionWithStats(qkv, H, { variant });
    const dq = T.causalAttentionBackward(dy, qkv, y, lse, H, { variant });
    return (await readAll([y, lse, dq])).map((a) => new Uint32Array(Float32Array.from(a).buffer));
  });
}

describe("causal attention", () => {
  for (const v of VARIANTS) {
    it(`${v}: forward and backward give the same bits twice`, async () => {
      const a = await run(v, 2, 75, 3, 16), b = await run(v, 2, 75, 3, 16);
      a.forEach((x, i) => expect(Buffer.from(b[i].buffer).equals(Buffer.from(x.buffer)), `output ${i}`).toBe(true));
    });
  }

  it("the plain path dispatches only the forward kernel; returnProbs adds the probability kernel", async () => {
    const rt = await gpu();
    const names = (f: () => void) => tidy(() => captureDispatches(rt, f).map((d) => d.kernel.name));
    const qkv = T.randn([2, 40, 3 * 16]);
    for (const v of VARIANTS) {
      const plain = names(() => T.causalAttention(qkv, 2, { variant: v }));
      expect(plain).toHaveLength(1);
      expect(plain[0]).not.toMatch(/probs/);
      const probs = names(() => T.causalAttentionWithStats(qkv, 2, { variant: v, returnProbs: true }));
      expect(probs).toEqual([plain[0], expect.stringMatching(/probs/)]);
    }
    qkv.dispose();
  });

  it("picks subgroup on software adapters with subgroups of ≥ 8, tiled otherwise", () => {
    expect(selectAttentionVariant({ isSoftware: true, subgroupMinSize: 8 })).toBe("subgroup");
    expect(selectAttentionVariant({ isSoftware: true, subgroupMinSize: 16 })).toBe("subgroup");
    expect(selectAttentionVariant({ isSoftware: true, subgroupMinSize: 4 })).toBe("tiled");
    expect(selectAttentionVariant({ isSoftware: true, subgroupMinSize: null })).toBe("tiled");
    expect(selectAttentionVariant({ isSoftware: false, subgroupMinSize: 32 })).toBe("tiled");
  });

  // The op runs the default tile; the bench also times the others, so they are checked here.
  for (const tile of ([8, 16, 32] as const).filter((t) => t !== SUBGROUP_TILE)) {
    for (const D of [8, 6]) {
      it(`subgroup tile ${tile}, D ${D}: forward and backward kernels match cpu64`, async () => {
        const rt = await gpu();
        const d = { B: 2, T: 45, H: 2, D }, C = d.H * D;
        const qv = makeValues({ shape: [d.B, d.T, 3 * C] }, 1), gv = makeValues({ shape: [d.B, d.T, C] }, 2);
        const want = await tidy(async () => {
          const qkv = fromValues(qv, [d.B, d.T, 3 * C], { backend: "cpu64" });
          const { y, lse } = T.causalAttentionWithStats(qkv, d.H);
          return readAll([y, lse, T.causalAttentionBackward(fromValues(gv, [d.B, d.T, C], { backend: "cpu64" }), qkv, y, lse, d.H)]);
        });
        const got = await tidy(async () => {
          const qkv = fromValues(qv, [d.B, d.T, 3 * C]), dy = fromValues(gv, [d.B, d.T, C]);
          const y = zeros([d.B, d.T, C]), lse = zeros([d.B, d.H, d.T]), dqkv = zeros([d.B, d.T, 3 * C]);
          const dvec = zeros([d.B * d.H * d.T * ATTENTION_ROW_STATS]);
          const go = (part: AttentionPart, ts: Tensor[]) => {
            const p = attentionPlan(part, "subgroup", d, { tile });
            rt.dispatch(p.k, [...ts.map((t) => t.storage.buffer), rt.uniform(p.uniform!)], p.grid);
          };
          go("forward", [qkv, y, lse]);
          go("dq", [qkv, dy, y, lse, dqkv, dvec]);
          go("dkv", [qkv, dy, dvec, dqkv]);
          return readAll([y, lse, dqkv]);
        });
        want.forEach((w, i) => expect(closeness(got[i], w, 1e-4, 1e-3).ratio, `output ${i}`).toBeLessThanOrEqual(1));
      });
    }
  }
});
