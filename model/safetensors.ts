import { DeterministicError } from '../errors/deterministic';
// safetensors read/write: 8-byte LE header length, JSON header, raw little-endian tensor bytes.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Parses a safetensors buffer into float32 arrays (F32, F16 and BF16 are accepted); aligned F32 data are views into `buf`. */
export function parseSafetensors(buf: Uint8Array, file = 'safetensors'): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  if (buf.byteLength < 8) throw new DeterministicError(`${file}: too short to be a safetensors file (${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > buf.byteLength) throw new DeterministicError(`${file}: header length ${headerLen} exceeds the file size ${buf.byteLength} (truncated?)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(buf.subarray(8, 8 + headerLen)).toString('utf8'));
  } catch (e) {
    throw new DeterministicError(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + headerLen;
  const tensors: Record<string, NamedArray> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const width = DTYPE_BYTES[dtype];
    if (!width) throw new DeterministicError(`${file}: tensor '${name}' has dtype ${dtype}; expected F32, F16 or BF16`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = data_offsets;
    if (end - begin !== count * width || base + end > buf.byteLength) {
      throw new DeterministicError(`${file}: tensor '${name}' byte range [${begin}, ${end}) does not fit shape [${shape}] ${dtype} or the file (truncated?)`);
    }
    const start = buf.byteOffset + base + begin;
    if (dtype === 'F32' && start % 4 === 0) {
      tensors[name] = { shape, data: new Float32Array(buf.buffer, start, count) }; // a view, no copy (little-endian host)
      continue;
    }
    const data = new Float32Array(count);
    const dv = new DataView(buf.buffer, start, end - begin);
    if (dtype === 'F32') for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, true);
    else if (dtype === 'F16') for (let i = 0; i < count; i++) data[i] = f16ToF32(dv.getUint16(i * 2, true));
    else {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, dv.getUint16(i * 2, true) << 16, true);
        data[i] = tmp.getFloat32(0, true);
      }
    }
    tensors[name] = { shape, data };
  }
  return { tensors, metadata };
}

/** A float32 tensor whose values are read only when written (one tensor in memory at a time). */
export interface LazyArray {
  shape: number[];
  read: () => Float32Array;
}

/** The 8-byte length + JSON header of float32 tensors (in the given order), data aligned to 8 bytes. */
function headerBytes(tensors: [string, number[]][], metadata: Record<string, string>): { head: Buffer; dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align data to 8 bytes
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(head.length - 8), 0);
  head.write(json, 8, 'utf8');
  return { head, dataBytes: offset };
}

function checkedBytes(name: string, shape: number[], data: Float32Array): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new DeterministicError(`safetensors: tensor '${name}' has ${data.length} values for shape [${shape}]`);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength); // x86/arm little-endian hosts
}

/** Serialises float32 tensors (in the given key order) as a safetensors buffer. */
export function serializeSafetensors(tensors: Record<string, NamedArray>, metadata: Record<string, string> = {}): Buffer {
  const names = Object.keys(tensors);
  const { head, dataBytes } = headerBytes(names.map((n) => [n, tensors[n].shape]), metadata);
  const out = Buffer.alloc(head.length + dataBytes);
  head.copy(out, 0);
  let pos = head.length;
  for (const name of names) pos += checkedBytes(name, tensors[name].shape, tensors[name].data).copy(out, pos);
  return out;
}

/**
 * Writes the same bytes as serializeSafetensors straight to `file` (fsynced), reading one tensor at a time, so a
 * GPT-2-sized file never exists in memory whole. Returns its size and sha256.
 */
export function writeSafetensorsFile(file: string, tensors: Record<string, NamedArray | LazyArray>, metadata: Record<string, string> = {}): { bytes: number; sha256: string } {
  const names = Object.keys(tensors);
  const { head } = headerBytes(names.map((n) => [n, tensors[n].shape]), metadata);
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  const put = (b: Uint8Array) => {
    for (let off = 0; off < b.byteLength; ) off += fs.writeSync(fd, b, off, b.byteLength - off);
    hash.update(b);
    bytes += b.byteLength;
  };
  try {
    put(head);
    for (const name of names) {
      const t = tensors[name];
      put(checkedBytes(name, t.shape, 'read' in t ? t.read() : t.data));
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}
