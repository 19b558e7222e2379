// Reads the F32 tensors of a model.safetensors file into Float32Arrays, for the ONNX export. The format: an 8-byte
// little-endian header length, a JSON header { name: { dtype, shape, data_offsets: [begin, end] } } (plus an optional
// __metadata__), then the raw little-endian data. npm has no maintained safetensors reader, so this is a small one,
// checked as the reference implementation checks a file; every problem is an Error naming the file.
import { promises as fs } from 'fs';

export interface Float32Tensor {
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The header may not be larger than this (the reference implementation's limit, 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function isHeaderEntry(value: unknown): value is HeaderEntry {
  if (value === null || typeof value !== 'object') return false;
  const entry = value as Record<string, unknown>;
  const isIndex = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  return (
    typeof entry.dtype === 'string' &&
    Array.isArray(entry.shape) &&
    entry.shape.every(isIndex) &&
    Array.isArray(entry.data_offsets) &&
    entry.data_offsets.length === 2 &&
    entry.data_offsets.every(isIndex)
  );
}

function parseHeader(file: string, bytes: Buffer): { entries: Map<string, HeaderEntry>; dataStart: number } {
  if (bytes.length < 8) throw new Error(`${file}: not a safetensors file (${bytes.length} bytes, shorter than its 8-byte header length)`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.length) {
    throw new Error(`${file}: safetensors header length ${headerLength} does not fit the file (${bytes.length} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (err) {
    throw new Error(`${file}: the safetensors header is not JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error(`${file}: the safetensors header is not a JSON object`);
  const entries = new Map<string, HeaderEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!isHeaderEntry(value)) throw new Error(`${file}: tensor ${name} has no valid dtype, shape and data_offsets in the header`);
    entries.set(name, value);
  }
  return { entries, dataStart: 8 + headerLength };
}

/** Every tensor of `file` by name; each must be F32 (what BertClassifier.save writes). */
export async function readFloat32Safetensors(file: string): Promise<Map<string, Float32Tensor>> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
  const { entries, dataStart } = parseHeader(file, bytes);
  const tensors = new Map<string, Float32Tensor>();
  for (const [name, entry] of entries) {
    if (entry.dtype !== 'F32') throw new Error(`${file}: tensor ${name} is ${entry.dtype}; the ONNX export reads F32 weights`);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4 || dataStart + end > bytes.length) {
      throw new Error(`${file}: tensor ${name} has data_offsets [${begin}, ${end}], not ${count * 4} bytes inside the file`);
    }
    // A copy: the tensor's offset in the file need not be a multiple of 4, which a Float32Array view requires.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { shape: entry.shape, data });
  }
  return tensors;
}
