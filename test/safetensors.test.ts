// Tests of the safetensors codec and atomic writes: round trip per dtype, half-precision
// rounding, metadata, alignment, and clear errors on corrupt headers, truncated files and bad
// offsets; writeFileAtomic leaves no temp files. Pure CPU; no GPU.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/nn/atomic-write';
import {
  bf16ToNumber, f16ToNumber, numberToBf16, numberToF16, parseSafetensors, serializeSafetensors, toFloat32, type TensorData, type TensorInput,
} from '../src/nn/safetensors';
import { readSafetensors, writeSafetensors } from '../src/nn/safetensors-file';

/** Decoded values as plain numbers, whatever the typed array. */
const nums = (d: TensorData): number[] => Array.from(d as Iterable<number | bigint>, Number);

const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Build a file from a hand-written header and data section. */
function rawFile(header: unknown, data: Uint8Array, headerLen?: number): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, headerLen ?? h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors round trip', () => {
  const tensors: Record<string, TensorInput> = {
    f64: { dtype: 'F64', shape: [2, 2], data: Float64Array.of(1, -2.5, Math.PI, 1e-300) },
    f32: { dtype: 'F32', shape: [3], data: Float32Array.of(0.1, -7, 3e38) },
    f16: { dtype: 'F16', shape: [5], data: [0, -1.5, 65504, 2 ** -24, Infinity] },
    bf16: { dtype: 'BF16', shape: [1, 3], data: [1, -0.5, 3.140625] },
    i64: { dtype: 'I64', shape: [3], data: [0, -5, Number.MAX_SAFE_INTEGER] },
    big: { dtype: 'I64', shape: [2], data: BigInt64Array.of(1n, 2n ** 62n) },
    i32: { dtype: 'I32', shape: [2], data: Int32Array.of(-2147483648, 7) },
    u8: { dtype: 'U8', shape: [3], data: Uint8Array.of(0, 255, 9) },
    scalar: { dtype: 'F32', shape: [], data: [42] },
    empty: { dtype: 'F32', shape: [0, 4], data: [] },
  };
  const bytes = serializeSafetensors(tensors, { format: 'pt', step: '12' });

  it('decodes every dtype', () => {
    const { tensors: t, metadata } = parseSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt', step: '12' });
    expect(Object.keys(t).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, inp] of Object.entries(tensors)) {
      expect(t[name]!.dtype).toBe(inp.dtype);
      expect(t[name]!.shape).toEqual([...inp.shape]);
    }
    expect(t.f64!.data).toEqual(tensors.f64!.data);
    expect(t.f32!.data).toEqual(tensors.f32!.data);
    expect(nums(t.f16!.data)).toEqual([0, -1.5, 65504, 2 ** -24, Infinity]);
    expect(t.f16!.data).toBeInstanceOf(Float32Array);
    expect(nums(t.bf16!.data)).toEqual([1, -0.5, 3.140625]);
    expect(t.i64!.data).toBeInstanceOf(Float64Array);
    expect(nums(t.i64!.data)).toEqual([0, -5, Number.MAX_SAFE_INTEGER]);
    expect(t.big!.data).toEqual(BigInt64Array.of(1n, 2n ** 62n));
    expect(t.i32!.data).toEqual(tensors.i32!.data);
    expect(t.u8!.data).toEqual(tensors.u8!.data);
    expect(nums(t.scalar!.data)).toEqual([42]);
    expect(t.empty!.data.length).toBe(0);
    expect(toFloat32(t.i32!)).toEqual(Float32Array.of(-2147483648, 7));
    expect(toFloat32(t.big!)[0]).toBe(1);
  });

  it('aligns the header and every tensor', () => {
    const n = new DataView(bytes.buffer).getUint32(0, true);
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; data_offsets: number[] }>;
    const item: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1 };
    for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') expect(v.data_offsets[0]! % item[v.dtype]!).toBe(0);
  });

  it('rounds half precision to nearest even', () => {
    for (const x of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 2 ** -24, 1024.5]) expect(f16ToNumber(numberToF16(x))).toBe(x === 1024.5 ? 1024 : x);
    expect(f16ToNumber(numberToF16(1 + 2 ** -11))).toBe(1); // tie -> even
    expect(f16ToNumber(numberToF16(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9); // tie -> even (up)
    expect(f16ToNumber(numberToF16(70000))).toBe(Infinity);
    expect(f16ToNumber(numberToF16(2 ** -26))).toBe(0);
    expect(Number.isNaN(f16ToNumber(numberToF16(NaN)))).toBe(true);
    expect(bf16ToNumber(numberToBf16(1 + 2 ** -8))).toBe(1); // tie -> even
    expect(bf16ToNumber(numberToBf16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(Number.isNaN(bf16ToNumber(numberToBf16(NaN)))).toBe(true);
  });

  it('reads and writes files', () => {
    const p = join(dir, 'sub', 'model.safetensors');
    writeSafetensors(p, { w: { dtype: 'F32', shape: [2], data: [1, 2] } }, { a: 'b' });
    const r = readSafetensors(p);
    expect(nums(r.tensors.w!.data)).toEqual([1, 2]);
    expect(r.metadata).toEqual({ a: 'b' });
    expect(readdirSync(join(dir, 'sub'))).toEqual(['model.safetensors']);
    expect(() => readSafetensors(join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors: cannot read/);
  });

  it('rejects bad inputs to the writer', () => {
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: [1] } })).toThrow(/"w".*3 elements, data has 1/);
    expect(() => serializeSafetensors({ w: { dtype: 'U8', shape: [1], data: [256] } })).toThrow(/does not fit U8/);
    expect(() => serializeSafetensors({ w: { dtype: 'I64', shape: [1], data: [2 ** 60] } })).toThrow(/not a safe integer/);
  });
});

describe('safetensors corruption errors', () => {
  const good = serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: [1, 2] }, b: { dtype: 'U8', shape: [3], data: [1, 2, 3] } });
  const f4 = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', good.subarray(0, 5), /too short/],
    ['header length past end', rawFile('{}', new Uint8Array(0), 999), /header length 999 is out of bounds/],
    ['not JSON', rawFile('{"a": ', new Uint8Array(0)), /not valid UTF-8 JSON/],
    ['not an object', rawFile('[1,2]', new Uint8Array(0)), /not a JSON object/],
    ['bad dtype', rawFile({ t: { dtype: 'Q7', shape: [1], data_offsets: [0, 4] } }, f4.subarray(0, 4)), /tensor "t": unsupported dtype "Q7"/],
    ['inherited name as dtype', rawFile({ t: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, f4.subarray(0, 4)), /tensor "t": unsupported dtype "toString"/],
    ['__proto__ tensor', rawFile('{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', f4.subarray(0, 4)), /tensor "__proto__": the name is not allowed/],
    ['__proto__ metadata', rawFile('{"__metadata__": {"__proto__": "x"}}', new Uint8Array(0)), /__metadata__ has a key "__proto__"/],
    ['bad shape', rawFile({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f4.subarray(0, 4)), /tensor "t": bad shape/],
    ['offsets outside', rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f4.subarray(0, 4)), /tensor "t": data_offsets \[0, 8\] lie outside the data section of 4 bytes/],
    ['size mismatch', rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, f4), /tensor "t": data_offsets span 8 bytes but F32\[1\] needs 4/],
    ['gap', rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f4), /tensor "t": starts at byte 4 .*gap/],
    ['overlap', rawFile({ s: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f4), /tensor "t".*overlap/],
    ['trailing bytes', rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f4), /cover 4 bytes but the data section has 8/],
    ['truncated file', good.subarray(0, good.length - 2), /tensor "b": data_offsets \[8, 11\] lie outside/],
    ['bad metadata', rawFile({ __metadata__: { k: 1 } }, new Uint8Array(0)), /__metadata__\["k"\] is not a string/],
  ];
  it.each(cases)('%s', (_, bytes, re) => {
    expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(re);
    expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(/^safetensors x\.safetensors: /);
  });

  it('names the file when reading from disk', () => {
    const p = join(dir, 'broken.safetensors');
    writeFileSync(p, good.subarray(0, good.length - 1));
    expect(() => readSafetensors(p)).toThrow(new RegExp(`${p.replace(/[.]/g, '\\.')}: tensor "b"`));
  });
});

describe('writeFileAtomic', () => {
  it('writes, overwrites, creates parents and leaves no temp files', () => {
    const p = join(dir, 'atomic', 'deep', 'result.json');
    writeFileAtomic(p, '{"a":1}');
    writeFileAtomic(p, new TextEncoder().encode('{"a":2}'));
    expect(readFileSync(p, 'utf8')).toBe('{"a":2}');
    expect(readdirSync(join(dir, 'atomic', 'deep'))).toEqual(['result.json']);
  });

  it('cleans up and names the path on failure', () => {
    const blocker = join(dir, 'file-not-dir');
    writeFileSync(blocker, 'x');
    expect(() => writeFileAtomic(join(blocker, 'child.bin'), 'y')).toThrow(/file-not-dir/);
    const target = join(dir, 'is-a-dir');
    writeFileAtomic(join(target, 'keep'), 'k'); // make `target` a non-empty directory
    expect(() => writeFileAtomic(target, 'z')).toThrow(/writeFileAtomic: could not write .*is-a-dir/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(existsSync(join(target, 'keep'))).toBe(true);
  });
});
