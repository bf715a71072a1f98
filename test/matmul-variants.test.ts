// Every matmul kernel variant (rb4x4, rowbcast at each tuning, tiled) against an f64 reference
// on small shapes with each transpose flag, batched and shared B, aligned and ragged sizes; rowubo
// also with windows small enough to split a product into several dispatches and K into chunks.
import { describe, expect, test, beforeAll } from "vitest";
import {
  matmulKernel, matmulVariantKernel, ROWUBO_DEFAULT, ROWUBO_SUBGROUP, rowuboOptionsFor, selectMatmulVariant,
  type MatmulShape, type MatmulVariant,
} from "../src/shaders/matmul";
import type { RowbcastOptions } from "../src/shaders/matmul-rowbcast";
import { gpu } from "./helpers/gpu";
import { add, matmul, randn, zeros } from "../src/node";
import { runMatmulVariant } from "../testkit/matmul";
import { relativeBound, relativeError } from "../testkit/tolerance";

/** Within the matmul op's bound (testkit/tolerance.ts) for the operand shapes of `p`. */
function expectNear(got: Float64Array, want: Float64Array, p: MatmulShape, what: string): void {
  const a = p.batch > 1 ? [p.batch, p.M, p.K] : [p.M, p.K];
  const b = p.bShared ? [p.K, p.N] : [p.batch, p.K, p.N];
  expect(relativeError(got, want), what).toBeLessThanOrEqual(relativeBound("matmul", [a, b]));
}

const VARIANTS: [MatmulVariant, RowbcastOptions | undefined][] = [
  ["rb4x4", undefined], ["tiled", undefined],
  ["rowbcast", { rows: 8, wg: 16 }], ["rowbcast", { rows: 4, wg: 16 }], ["rowbcast", { rows: 4, wg: 8 }],
];
const SHAPES: [number, number, number, number, boolean][] = [
  [20, 24, 12, 2, false], [36, 8, 16, 1, true], [5, 7, 3, 2, false], [70, 68, 20, 1, true], [8, 72, 4, 3, true],
];

const fmtShape = (s: number[]) => `[${s.join(",")}]`;

describe("matmul variants vs f64", () => {
  beforeAll(async () => {
    await gpu();
  });
  for (const [variant, opts] of VARIANTS) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        test(`${variant}${opts ? ` rows ${opts.rows} wg ${opts.wg}` : ""} tA=${transA} tB=${transB}`, async () => {
          const rt = await gpu();
          let ran = 0;
          for (const [M, N, K, batch, shared] of SHAPES) {
            const p: MatmulShape = { M, N, K, batch, transA, transB, bShared: shared && !transA };
            const r = await runMatmulVariant(rt, variant, p, opts);
            if (!r) continue;
            expectNear(r.got, r.want, p, JSON.stringify(p));
            ran++;
          }
          expect(ran).toBeGreaterThan(0);
        });
      }
    }
  }

  // rowubo with small windows, so that a dispatch spans several windows, a product several
  // dispatches, the last dispatch leaves windows unused, and K runs in several chunks:
  // [M, N, K, batch, rows, windowBytes, K chunks, product dispatches].
  const UBO_CASES: [number, number, number, number, number, number, number, number][] = [
    [96, 40, 32, 1, 8, 1024, 1, 4], [80, 40, 32, 1, 8, 1024, 1, 4], [80, 40, 32, 1, 16, 2048, 1, 2],
    [40, 40, 32, 2, 8, 1024, 1, 4], [64, 72, 64, 1, 8, 65536, 1, 1],
    [48, 40, 64, 1, 8, 1024, 2, 4], [32, 40, 96, 1, 8, 1024, 3, 6], [40, 40, 64, 2, 8, 1024, 2, 8],
  ];
  for (const [transA, transB, broadcast] of [false, true].flatMap((a) => [false, true].flatMap((b) => [[a, b, false], [a, b, true]]))) {
    {
      test(`rowubo windows, dispatches and K chunks tA=${transA} tB=${transB}${broadcast ? " subgroup broadcast" : ""}`, async () => {
        const rt = await gpu();
        if (broadcast) expect(rt.info.subgroupMinSize, "the adapter has no subgroups of ≥ 8 lanes").toBeGreaterThanOrEqual(8);
        let ran = 0;
        for (const [M, N, K, batch, rows, windowBytes, , dispatches] of UBO_CASES) {
          const p: MatmulShape = { M, N, K, batch, transA, transB, bShared: true };
          const opts = { rows, wg: 16, windows: 3, windowBytes, broadcast };
          const plan = matmulVariantKernel("rowubo", p, opts);
          // A transposed A cannot stack batches (a transposed B chunks like any other).
          if (transA && batch > 1) {
            expect(plan, JSON.stringify(p)).toBeNull();
            continue;
          }
          expect(plan, JSON.stringify(p)).not.toBeNull();
          const fake = {} as GPUBuffer;
          const ds = plan!.launches(fake, fake, fake, { scratch: () => fake, uniform: () => fake });
          expect(ds[0].kernel).toBe(plan!.kernels[0]); // the copy of A first
          // A transposed B is copied to [K, N] next, so the product is the same pipeline for every transpose.
          const copies = transB ? 2 : 1;
          expect(ds.length - copies, JSON.stringify(p)).toBe(dispatches);
          expect(plan!.kernels.length).toBe(copies + 1); // the copies and the product (later chunks add to C by a uniform flag)
          expect(plan!.kernels.at(-1)!.name).not.toMatch(/tB/);
          const { got, want } = (await runMatmulVariant(rt, "rowubo", p, opts))!;
          expectNear(got, want, p, `${JSON.stringify(p)} rows ${rows}`);
          ran++;
        }
        expect(ran).toBeGreaterThanOrEqual(transA ? 6 : 8);
      });
    }
  }

  test("rowubo at its defaults (16 rows, 4 windows of 64 KiB) over four dispatches, batched and transposed B", async () => {
    const rt = await gpu();
    for (const [M, batch, transB] of [[256, 1, false], [128, 2, true]] as const) {
      const p: MatmulShape = { M, N: 8, K: 1024, batch, transA: false, transB, bShared: true };
      const plan = matmulVariantKernel("rowubo", p)!;
      const fake = {} as GPUBuffer;
      const ds = plan.launches(fake, fake, fake, { scratch: () => fake, uniform: () => fake });
      const copies = transB ? 2 : 1; // the copy of A (and of Bᵀ), then the product
      expect(ds.map((d) => d.kernel)).toEqual([...plan.kernels.slice(0, copies), ...Array(4).fill(plan.kernels[copies])]);
      expect(ds.slice(copies).map((d) => d.grid)).toEqual(Array(4).fill([4, 1, 1])); // 64 rows (4 windows of 16) = 4 blocks of 16
      const { got, want } = (await runMatmulVariant(rt, "rowubo", p))!;
      expectNear(got, want, p, JSON.stringify(p));
    }
  });

  test("rowubo with subgroups: A's loads shared by broadcast, lanes past N not stored, bit-identical to the plain kernel", async () => {
    const rt = await gpu();
    const sub = rt.info.subgroupMinSize;
    expect(sub, "the adapter has no subgroups of ≥ 8 lanes").toBeGreaterThanOrEqual(8);
    // N = 36: 9 vec4 columns, so 7 of a workgroup's 16 lanes only load; K = 3072 runs as 3 chunks of 1024.
    for (const [M, K, transA, transB, rows] of [[64, 3072, false, true, 16], [96, 256, true, false, 16], [64, 1536, false, false, 32]] as const) {
      const p: MatmulShape = { M, N: 36, K, batch: 1, transA, transB, bShared: true };
      const opts = { ...rowuboOptionsFor(p, { isSoftware: true, subgroupMinSize: sub })!, rows };
      expect(opts.broadcast).toBe(true);
      expect(matmulVariantKernel("rowubo", p, opts)!.kernels.at(-1)!.code).toMatch(/^enable subgroups;/);
      const { got, want } = (await runMatmulVariant(rt, "rowubo", p, opts))!;
      expectNear(got, want, p, `${JSON.stringify(p)} rows ${rows}`);
      expect(got).toEqual((await runMatmulVariant(rt, "rowubo", p, { ...ROWUBO_DEFAULT, rows }))!.got); // same rows, same chunks
    }
    // Without subgroups (or with 4 lanes): the plain kernel; broadcast needs rows and workgroup in 8s.
    const q: MatmulShape = { M: 64, N: 36, K: 256, batch: 1, transA: false, transB: false, bShared: true };
    expect(rowuboOptionsFor(q, { isSoftware: true, subgroupMinSize: 8 })).toBe(ROWUBO_SUBGROUP);
    // 32 rows where they fit, else 16: M not a multiple of 32, or K deeper than 16 chunks of 512.
    expect(ROWUBO_SUBGROUP.rows).toBe(32);
    expect(rowuboOptionsFor({ ...q, M: 48 }, { isSoftware: true, subgroupMinSize: 8 })).toEqual({ ...ROWUBO_SUBGROUP, rows: 16 });
    expect(rowuboOptionsFor({ ...q, K: 16384 }, { isSoftware: true, subgroupMinSize: 8 })).toEqual({ ...ROWUBO_SUBGROUP, rows: 16 });
    expect(rowuboOptionsFor({ ...q, K: 8192 }, { isSoftware: true, subgroupMinSize: 8 })).toBe(ROWUBO_SUBGROUP);
    expect(rowuboOptionsFor(q, { isSoftware: true })).toBe(ROWUBO_DEFAULT);
    expect(rowuboOptionsFor(q, { isSoftware: true, subgroupMinSize: 4 })).toBe(ROWUBO_DEFAULT);
    expect(matmulVariantKernel("rowubo", q, { rows: 12, broadcast: true })).toBeNull();
    expect(matmulVariantKernel("rowubo", q, { rows: 16, wg: 4, broadcast: true })).toBeNull();
  });

  test("rowubo with an N that is not a multiple of 4: B copied with zero columns, C stored as scalars, the rb4x4 kernel's bits", async () => {
    const rt = await gpu();
    const sub = rt.info.subgroupMinSize ?? 0;
    // [M, N, K, batch, rows, windowBytes, K chunks, product dispatches]: 65 is the seeds task's
    // vocabulary (the tied head X·Wteᵀ and the logit lens); small windows split the product.
    const cases: [number, number, number, number, number, number, number, number][] = [
      [64, 65, 128, 1, 16, 65536, 1, 1], [128, 1, 32, 1, 16, 2048, 1, 2], [128, 7, 64, 2, 8, 4096, 1, 4],
      [64, 38, 96, 1, 8, 1024, 3, 6], [256, 65, 64, 1, 16, 8192, 1, 2],
    ];
    let ran = 0;
    for (const [M, N, K, batch, rows, windowBytes, chunks, dispatches] of cases) {
      for (const [transA, transB, broadcast] of [[false, true, false], [false, false, true], [true, true, true], [true, false, false]] as const) {
        if (transA && batch > 1) continue;
        if (broadcast && sub < 8) continue;
        const p: MatmulShape = { M, N, K, batch, transA, transB, bShared: true };
        const opts = { rows, wg: 16, windows: 4, windowBytes, broadcast };
        const plan = matmulVariantKernel("rowubo", p, opts);
        const what = `${JSON.stringify(p)} ${JSON.stringify(opts)}`;
        expect(plan, what).not.toBeNull();
        const fake = {} as GPUBuffer;
        const ds = plan!.launches(fake, fake, fake, { scratch: () => fake, uniform: () => fake });
        expect(ds.length, what).toBe(2 + dispatches); // the copies of A and B, then the products
        expect(plan!.kernels.map((k) => k.name).slice(1), what).toEqual([
          `matmul_rowubo_packB_rN${transB ? "_tB" : ""}`, `matmul_rowubo${rows}_wg16_u4${broadcast ? "_sg" : ""}_rN`]);
        const { got, want } = (await runMatmulVariant(rt, "rowubo", p, opts))!;
        expectNear(got, want, p, what);
        // One K chunk adds the products k by k, as the bounds-checked rb4x4 kernel does.
        if (chunks === 1) expect(got, what).toEqual((await runMatmulVariant(rt, "rb4x4", p))!.got);
        ran++;
      }
    }
    expect(ran).toBeGreaterThanOrEqual(sub >= 8 ? 17 : 9);
    // Selected on software adapters for the seeds task's head and lens at B16 T256 (one shape
    // pipeline for every M), not for a K that is not a multiple of 4 (backward's dX = dZ·Wte).
    const adapter = { isSoftware: true, subgroupMinSize: sub };
    expect(selectMatmulVariant({ M: 4096, N: 65, K: 128, batch: 1, transA: false, transB: true, bShared: false }, adapter)).toBe("rowubo");
    expect(selectMatmulVariant({ M: 4096, N: 128, K: 65, batch: 1, transA: false, transB: false, bShared: false }, adapter)).toBe("rb4x4");
    // Workgroups of 8 lanes where they leave fewer lanes past N's last vec4 column.
    const wgFor = (N: number) => rowuboOptionsFor({ M: 4096, N, K: 128, batch: 1, transA: false, transB: true, bShared: true }, adapter)!.wg;
    expect([65, 96, 36, 128, 132].map(wgFor)).toEqual([8, 8, 16, 16, 8]);
  });

  test("rowubo at its defaults with K in two chunks of 1024 (64 KiB windows), transposed A", async () => {
    const rt = await gpu();
    const p: MatmulShape = { M: 32, N: 8, K: 2048, batch: 1, transA: true, transB: false, bShared: true };
    const plan = matmulVariantKernel("rowubo", p)!;
    const fake = {} as GPUBuffer;
    const ds = plan.launches(fake, fake, fake, { scratch: () => fake, uniform: () => fake });
    expect(ds.map((d) => d.kernel)).toEqual([plan.kernels[0], plan.kernels[1], plan.kernels[1]]); // copy, first chunk, second chunk adding to C
    expect(ds[2].buffers[4]).toBe(fake); // B bound whole (after the 4 windows): each chunk reads it from its K offset
    const { got, want } = (await runMatmulVariant(rt, "rowubo", p))!;
    expectNear(got, want, p, JSON.stringify(p));
  });

  test("rowubo with A in place: no copy of A where K is one chunk and A is at least one window long, the packed kernel's bits", async () => {
    const rt = await gpu();
    expect(rt.info.subgroupMinSize, "the adapter has no subgroups of ≥ 8 lanes").toBeGreaterThanOrEqual(8);
    const sized = (bytes: number) => ({ size: bytes }) as GPUBuffer;
    const env = { scratch: () => sized(1 << 20), uniform: () => sized(64) };
    // [M, N, K, batch, transA, transB, rows, windowBytes, in place]: windows of 8 rows × 32 columns
    // fill 1 KiB exactly; at K = 24 (768 bytes of 8 rows) the windows that would end past A's end
    // are bound earlier, with their rows shifted; K = 64 needs two chunks, an A smaller than a
    // window and a transposed A must be copied.
    const cases: [number, number, number, number, boolean, boolean, number, number, boolean][] = [
      [96, 40, 32, 1, false, false, 8, 1024, true], [96, 40, 32, 1, false, true, 8, 1024, true],
      [40, 40, 32, 2, false, false, 8, 1024, true], [64, 72, 128, 1, false, false, 16, 65536, false],
      [256, 40, 64, 1, false, true, 16, 65536, true], [48, 40, 64, 1, false, false, 8, 1024, false],
      [96, 40, 24, 1, false, false, 8, 1024, true], [104, 40, 24, 1, false, true, 8, 1024, true],
      [8, 40, 24, 1, false, false, 8, 1024, false], [96, 40, 32, 1, true, false, 8, 1024, false],
    ];
    for (const [M, N, K, batch, transA, transB, rows, windowBytes, inPlace] of cases) {
      const p: MatmulShape = { M, N, K, batch, transA, transB, bShared: true };
      const opts = { rows, wg: 16, windows: 3, windowBytes, broadcast: true };
      const what = JSON.stringify(p);
      const plan = matmulVariantKernel("rowubo", p, { ...opts, inPlaceA: true })!;
      const ds = plan.launches(sized(batch * M * K * 4), sized(K * N * 4), sized(batch * M * N * 4), env);
      expect(ds.some((d) => d.kernel === plan.kernels[0]), what).toBe(!inPlace); // the copy of A runs only when needed
      const packed = (await runMatmulVariant(rt, "rowubo", p, opts))!;
      const got = (await runMatmulVariant(rt, "rowubo", p, { ...opts, inPlaceA: true }))!.got;
      expectNear(got, packed.want, p, what);
      expect(got, what).toEqual(packed.got); // the same loads in the same order, from another layout
    }
    expect(ROWUBO_SUBGROUP.inPlaceA).toBe(true);
    expect(ROWUBO_DEFAULT.inPlaceA).toBeFalsy();
  });

  test("a bias through the op: added in rowubo's store (one dispatch fewer, the same bits as add after matmul), or by the add kernel elsewhere", async () => {
    const rt = await gpu();
    // [a, b, transB, fused]: rowubo's store in one chunk and after two K chunks; N = 65 (no
    // vec4 store) and a small product (rowbcast) add it after the product.
    const cases: [number[], number[], boolean, boolean][] = [
      [[2, 256, 512], [512, 512], false, true], [[256, 2048], [2048, 128], false, true],
      [[4096, 128], [65, 128], true, false], [[16, 32], [32, 24], false, false],
    ];
    for (const [as, bs, transB, fused] of cases) {
      const N = transB ? bs[0] : bs[1];
      const a = randn(as, { seed: 1, backend: "webgpu" }), b = randn(bs, { seed: 2, backend: "webgpu" });
      const bias = randn([N], { seed: 3, backend: "webgpu" });
      const plain = matmul(a, b, { transB });
      const sep = add(plain, bias);
      await sep.data();
      const before = rt.stats.dispatches;
      const y = matmul(a, b, { transB, bias });
      const fusedDispatches = rt.stats.dispatches - before;
      const got = await y.data();
      const want = await sep.data();
      const differ = got.findIndex((v, i) => !Object.is(v, want[i])); // not toEqual: its diff of 2^18 numbers takes minutes
      expect(differ, `${fmtShape(as)}·${fmtShape(bs)}: first differing element (${got[differ]} vs ${want[differ]})`).toBe(-1);
      // The separate path: the product's dispatches, then one add.
      const b0 = rt.stats.dispatches;
      matmul(a, b, { transB }).dispose();
      const productDispatches = rt.stats.dispatches - b0;
      expect(fusedDispatches, `${fmtShape(as)}·${fmtShape(bs)}`).toBe(fused ? productDispatches : productDispatches + 1);
      for (const t of [a, b, bias, plain, sep, y]) t.dispose();
    }
    // K = 0: the product is zeros, so every row is the bias.
    const bias = randn([4], { seed: 4, backend: "webgpu" });
    const empty = matmul(zeros([3, 0], { backend: "webgpu" }), zeros([0, 4], { backend: "webgpu" }), { bias });
    const bv = await bias.data();
    expect(await empty.data()).toEqual(Float64Array.from({ length: 12 }, (_, i) => bv[i % 4]));
    expect(() => matmul(zeros([4, 8]), zeros([8, 6]), { bias: zeros([8]) })).toThrow(/matmul: bias \[8\] does not match the product's N = 6 .*pass a bias of shape \[6\]/);
  });

  test("rowubo declines what it cannot run", () => {
    const p = (M: number, N: number, K: number, o: Partial<MatmulShape> = {}): MatmulShape =>
      ({ M, N, K, batch: 1, transA: false, transB: false, bShared: true, ...o });
    expect(matmulVariantKernel("rowubo", p(64, 64, 64, { transA: true, batch: 2, bShared: false }))).toBeNull();
    expect(matmulVariantKernel("rowubo", p(64, 64, 64, { batch: 2, bShared: false }))).toBeNull();
    expect(matmulVariantKernel("rowubo", p(60, 64, 64))).toBeNull(); // rows not a multiple of the 16 rows chosen at K = 64
    expect(matmulVariantKernel("rowubo", p(64, 64, 62))).toBeNull(); // K not a multiple of 4
    expect(matmulVariantKernel("rowubo", p(64, 64, 1028))).toBeNull(); // K = 4·257: 257 chunks
    expect(matmulVariantKernel("rowubo", p(64, 64, 2048, { transB: true }))).not.toBeNull(); // a transposed B in two chunks runs
  });

  test("selection: rowubo, then rowbcast on software adapters when they fit, tiled on large GPU outputs", () => {
    const p = (M: number, N: number, K: number): MatmulShape =>
      ({ M, N, K, batch: 1, transA: false, transB: false, bShared: true });
    expect(selectMatmulVariant(p(256, 512, 512), { isSoftware: true })).toBe("rowubo");
    expect(selectMatmulVariant(p(64, 64, 64), { isSoftware: true })).toBe("rowbcast"); // 2^18 multiply-adds: below rowubo's floor
    expect(selectMatmulVariant(p(512, 512, 512), { isSoftware: true })).toBe("rowubo");
    expect(selectMatmulVariant(p(1020, 1024, 1024), { isSoftware: true })).toBe("rowbcast");
    expect(selectMatmulVariant(p(5, 7, 3), { isSoftware: true })).toBe("rb4x4");
    // Backward's dW = Aᵀ·dY over B·T rows: K = 4096 runs as 4 chunks; so does backward's dX = dY·Wᵀ at K = 4C.
    expect(selectMatmulVariant({ ...p(256, 1024, 4096), transA: true }, { isSoftware: true })).toBe("rowubo");
    expect(selectMatmulVariant({ ...p(256, 1024, 2048), transB: true }, { isSoftware: true })).toBe("rowubo");
    // With subgroups the same shapes, run by the broadcast kernel.
    const sg = { isSoftware: true, subgroupMinSize: 8 };
    expect(selectMatmulVariant(p(512, 512, 512), sg)).toBe("rowubo");
    expect(selectMatmulVariant(p(1020, 1024, 1024), sg)).toBe("rowbcast");
    expect(matmulKernel(p(1024, 512, 512), sg).kernels.at(-1)!.name).toBe("matmul_rowubo32_wg16_u4_sg");
    expect(matmulKernel(p(1008, 512, 512), sg).kernels.at(-1)!.name).toBe("matmul_rowubo16_wg16_u4_sg"); // M = 16·63: not in 32s
    expect(matmulKernel(p(1024, 512, 512), { isSoftware: true }).kernels.at(-1)!.name).toBe("matmul_rowubo16_wg16_u4");
    expect(selectMatmulVariant(p(1024, 1024, 64), { isSoftware: false })).toBe("tiled");
    expect(selectMatmulVariant(p(64, 64, 64), { isSoftware: false })).toBe("rb4x4");
  });

  test("plans are reused per shape and adapter class", () => {
    const p = (M: number, o: Partial<MatmulShape> = {}): MatmulShape =>
      ({ M, N: 512, K: 512, batch: 1, transA: false, transB: false, bShared: true, ...o });
    const sw = { isSoftware: true }, hw = { isSoftware: false };
    expect(matmulKernel(p(512), sw)).toBe(matmulKernel(p(512), sw));
    expect(matmulKernel(p(512), sw).variant).toBe("rowubo");
    expect(matmulKernel(p(512), hw).variant).toBe("tiled");
    expect(matmulKernel(p(512, { transA: true }), sw)).not.toBe(matmulKernel(p(512), sw));
    expect(matmulKernel(p(256), sw)).not.toBe(matmulKernel(p(512), sw));
  });
});
