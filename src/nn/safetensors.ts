// In-memory safetensors codec: parseSafetensors(bytes) and serializeSafetensors(tensors, metadata).
// Layout: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}, __metadata__?},
// then the raw little-endian data. Every structural check throws an Error naming the source and
// the tensor. No Node built-ins (browser-safe); file I/O lives in safetensors-file.ts.

/** Supported dtypes. F16/BF16 decode to Float32Array; I64 decodes to numbers when safe. */
export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8';

/** Decoded tensor data. */
export type TensorData = Float64Array | Float32Array | Int32Array | Uint8Array | BigInt64Array;

/** A decoded tensor. */
export interface SafeTensor {
  dtype: Dtype;
  shape: number[];
  /** F64: Float64Array; F32/F16/BF16: Float32Array; I32: Int32Array; U8: Uint8Array;
   * I64: Float64Array when every value is a safe integer, otherwise BigInt64Array. */
  data: TensorData;
}

/** A tensor to write: values are converted to `dtype` (F16/BF16 round to nearest even). */
export interface TensorInput {
  dtype: Dtype;
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
}

/** Result of {@link parseSafetensors}. */
export interface ParsedSafetensors {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

const ITEM: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1 };
const MAX_HEADER = 100 * 1024 * 1024;
const LITTLE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function fail(source: string, msg: string): never {
  throw new Error(`safetensors ${source}: ${msg}`);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** f16 bit pattern to number. */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number to f16 bit pattern, round to nearest even (overflow gives ±Inf). */
export function numberToF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  const m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const ue = e - 127 + 15;
  if (ue >= 31) return sign | 0x7c00;
  if (ue <= 0) {
    if (ue < -10) return sign;
    const mm = m | 0x800000;
    const shift = 14 - ue;
    let r = mm >> shift;
    const rem = mm & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (ue << 10) | (m >> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++; // may carry into the exponent, which is correct
  return sign | r;
}

/** bf16 bit pattern to number. */
export function bf16ToNumber(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** number to bf16 bit pattern, round to nearest even. */
export function numberToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40; // quiet NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function decode(dtype: Dtype, raw: Uint8Array): TensorData {
  const buf = new Uint8Array(raw).buffer; // aligned copy (Buffer.slice would be a view)
  switch (dtype) {
    case 'F64': return new Float64Array(buf);
    case 'F32': return new Float32Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'U8': return new Uint8Array(buf);
    case 'F16': return Float32Array.from(new Uint16Array(buf), f16ToNumber);
    case 'BF16': return Float32Array.from(new Uint16Array(buf), bf16ToNumber);
    case 'I64': {
      const big = new BigInt64Array(buf);
      const lim = BigInt(Number.MAX_SAFE_INTEGER);
      for (const v of big) if (v > lim || v < -lim) return big;
      return Float64Array.from(big, (v) => Number(v));
    }
  }
}

/** Index of the first NaN/±Inf of decoded float data (-1 when all are finite; integer data: -1). */
export function firstNonFinite(data: TensorData): number {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return -1;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/** Any decoded tensor's values as a Float32Array (shares nothing; I64 values may round). */
export function toFloat32(t: SafeTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Iterable<number | bigint>, Number);
}

function isIntArray(x: unknown, n?: number): x is number[] {
  return Array.isArray(x) && (n === undefined || x.length === n) &&
    x.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
}

/** A validated header: where each tensor lies in the data section, and the string metadata. */
export interface SafetensorsHeader {
  /** Tensors in header order, with byte offsets relative to the data section. */
  entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[];
  metadata: Record<string, string>;
}

/**
 * Reads and bounds-checks the u64 header length from the first 8 bytes of a file of `fileBytes`
 * bytes, before anything larger is read or allocated.
 */
export function headerLength(first8: Uint8Array, fileBytes: number, source = '<memory>'): number {
  if (!LITTLE) fail(source, 'big-endian platforms are not supported');
  if (fileBytes < 8 || first8.length < 8) fail(source, `file is ${fileBytes} bytes, too short for the 8-byte header length`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = dv.getUint32(4, true) * 4294967296 + dv.getUint32(0, true);
  if (n < 2 || n > MAX_HEADER || n > fileBytes - 8) {
    fail(source, `header length ${n} is out of bounds (file is ${fileBytes} bytes, limit ${MAX_HEADER})`);
  }
  return n;
}

/**
 * Validates the JSON header `headerBytes` of a file whose data section holds `dataLen` bytes:
 * JSON validity, dtypes, shapes, offsets inside the data section matching shape × dtype size and
 * tiling it exactly (no gaps, overlaps or trailing bytes). Throws an Error naming the source and
 * the tensor; nothing is allocated beyond the header itself.
 */
export function parseHeader(headerBytes: Uint8Array, dataLen: number, source = '<memory>'): SafetensorsHeader {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(source, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(source, 'header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: SafetensorsHeader['entries'] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(source, '__metadata__ is not an object');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') fail(source, `__metadata__["${k}"] is not a string`);
        if (k === '__proto__') fail(source, '__metadata__ has a key "__proto__", which is not allowed');
        metadata[k] = s;
      }
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const where = `tensor "${name}"`;
    if (name === '__proto__') fail(source, `${where}: the name is not allowed`);
    if (typeof t !== 'object' || t === null || Array.isArray(t)) fail(source, `${where}: entry is not an object`);
    if (typeof t.dtype !== 'string' || !Object.hasOwn(ITEM, t.dtype)) fail(source, `${where}: unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!isIntArray(t.shape)) fail(source, `${where}: bad shape ${JSON.stringify(t.shape)}`);
    if (!isIntArray(t.data_offsets, 2)) fail(source, `${where}: bad data_offsets ${JSON.stringify(t.data_offsets)}`);
    const dtype = t.dtype as Dtype;
    const [begin, end] = t.data_offsets as [number, number];
    if (begin > end || end > dataLen) {
      fail(source, `${where}: data_offsets [${begin}, ${end}] lie outside the data section of ${dataLen} bytes`);
    }
    const want = numel(t.shape) * ITEM[dtype];
    if (end - begin !== want) {
      fail(source, `${where}: data_offsets span ${end - begin} bytes but ${dtype}[${t.shape.join(', ')}] needs ${want}`);
    }
    entries.push({ name, dtype, shape: t.shape, begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) {
      fail(source, `tensor "${e.name}": starts at byte ${e.begin} but the previous tensor ends at ${pos} (${e.begin > pos ? 'gap' : 'overlap'})`);
    }
    pos = e.end;
  }
  if (pos !== dataLen) fail(source, `tensors cover ${pos} bytes but the data section has ${dataLen} (trailing bytes or truncated header)`);
  return { entries, metadata };
}

/** Decodes the tensors of a validated header from its data section `data`. */
export function decodeTensors(h: SafetensorsHeader, data: Uint8Array): Record<string, SafeTensor> {
  const tensors: Record<string, SafeTensor> = {};
  for (const e of h.entries) tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: decode(e.dtype, data.subarray(e.begin, e.end)) };
  return tensors;
}

/**
 * Decode a safetensors byte buffer (e.g. the `arrayBuffer()` of a fetched file). `source` (a
 * file name, say) is used in error messages.
 * Checks header bounds, JSON validity, dtypes, shapes, that offsets lie in the data section,
 * match shape × dtype size, and tile it exactly (no gaps, overlaps or trailing bytes).
 */
export function parseSafetensors(input: Uint8Array | ArrayBuffer, source = '<memory>'): ParsedSafetensors {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const n = headerLength(bytes.subarray(0, 8), bytes.length, source);
  const h = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, source);
  return { tensors: decodeTensors(h, bytes.subarray(8 + n)), metadata: h.metadata };
}

function encodeInto(name: string, t: TensorInput, out: Uint8Array): void {
  const n = out.length / ITEM[t.dtype];
  const d = t.data;
  const get = (i: number): number => Number(d[i]);
  let view: ArrayLike<number> | BigInt64Array;
  switch (t.dtype) {
    case 'F64': view = new Float64Array(out.buffer, out.byteOffset, n); break;
    case 'F32': view = new Float32Array(out.buffer, out.byteOffset, n); break;
    case 'I32': view = new Int32Array(out.buffer, out.byteOffset, n); break;
    case 'U8': view = out; break;
    case 'I64': view = new BigInt64Array(out.buffer, out.byteOffset, n); break;
    default: view = new Uint16Array(out.buffer, out.byteOffset, n);
  }
  const conv = t.dtype === 'F16' ? numberToF16 : t.dtype === 'BF16' ? numberToBf16 : undefined;
  for (let i = 0; i < n; i++) {
    if (view instanceof BigInt64Array) {
      const v = d[i]!;
      if (typeof v === 'bigint') view[i] = v;
      else if (Number.isSafeInteger(v)) view[i] = BigInt(v);
      else throw new Error(`serializeSafetensors: tensor "${name}": I64 value ${v} at ${i} is not a safe integer`);
    } else {
      const v = get(i);
      if ((t.dtype === 'I32' && !(Number.isInteger(v) && v >= -2147483648 && v <= 2147483647)) ||
          (t.dtype === 'U8' && !(Number.isInteger(v) && v >= 0 && v <= 255))) {
        throw new Error(`serializeSafetensors: tensor "${name}": value ${v} at ${i} does not fit ${t.dtype}`);
      }
      (view as Float64Array)[i] = conv ? conv(v) : v;
    }
  }
}

/**
 * Encode tensors (and string metadata) as safetensors bytes. Tensors are laid out by
 * decreasing item size, then name, so every tensor is aligned to its item size; the header is
 * space-padded to a multiple of 8 bytes.
 */
export function serializeSafetensors(tensors: Record<string, TensorInput>, metadata?: Record<string, string>): Uint8Array {
  if (!LITTLE) throw new Error('serializeSafetensors: big-endian platforms are not supported');
  const names = Object.keys(tensors).sort((a, b) => ITEM[tensors[b]!.dtype] - ITEM[tensors[a]!.dtype] || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let off = 0;
  for (const name of names) {
    const t = tensors[name]!;
    if (name === '__metadata__') throw new Error('serializeSafetensors: "__metadata__" is reserved');
    if (!(t.dtype in ITEM)) throw new Error(`serializeSafetensors: tensor "${name}": unsupported dtype ${t.dtype}`);
    if (!isIntArray([...t.shape])) throw new Error(`serializeSafetensors: tensor "${name}": bad shape [${t.shape.join(', ')}]`);
    const count = numel(t.shape);
    if (t.data.length !== count) {
      throw new Error(`serializeSafetensors: tensor "${name}": shape [${t.shape.join(', ')}] has ${count} elements, data has ${t.data.length}`);
    }
    const size = count * ITEM[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [off, off + size] };
    off += size;
  }
  let json = JSON.stringify(header);
  let hb = new TextEncoder().encode(json);
  const pad = (8 - (hb.length % 8)) % 8;
  if (pad) hb = new TextEncoder().encode((json += ' '.repeat(pad)));
  const out = new Uint8Array(8 + hb.length + off);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, hb.length % 4294967296, true);
  dv.setUint32(4, Math.floor(hb.length / 4294967296), true);
  out.set(hb, 8);
  const base = 8 + hb.length;
  for (const name of names) {
    const [b, e] = (header[name] as { data_offsets: [number, number] }).data_offsets;
    encodeInto(name, tensors[name]!, out.subarray(base + b, base + e));
  }
  return out;
}
