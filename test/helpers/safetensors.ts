// A minimal safetensors reader for tests: the JSON header (u64 little-endian length, then JSON) and each
// tensor's raw bytes, so that weights can be compared value by value or byte by byte.
import * as fs from 'fs';

export interface RawTensor {
  dtype: string;
  shape: number[];
  /** The tensor's bytes exactly as stored (little-endian). */
  bytes: Buffer;
}

export interface SafetensorsContents {
  metadata: Record<string, string> | undefined;
  /** In the file's header order. */
  tensors: Map<string, RawTensor>;
}

export function readSafetensors(file: string): SafetensorsContents {
  const buf = fs.readFileSync(file);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const info = value as { dtype: string; shape: number[]; data_offsets: [number, number] };
    tensors.set(name, { dtype: info.dtype, shape: info.shape, bytes: buf.subarray(dataStart + info.data_offsets[0], dataStart + info.data_offsets[1]) });
  }
  return { metadata, tensors };
}

/** An F32 tensor's values. */
export function float32Values(tensor: RawTensor): Float32Array {
  if (tensor.dtype !== 'F32') throw new Error(`expected an F32 tensor, got ${tensor.dtype}`);
  const copy = Buffer.from(tensor.bytes); // aligned copy
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** Largest |a - b| over every tensor the reference has (names must all be present in `actual`). */
export function maxTensorDiff(actual: SafetensorsContents, reference: SafetensorsContents): { worst: number; name: string; missing: string[] } {
  let worst = 0;
  let worstName = '';
  const missing: string[] = [];
  for (const [name, ref] of reference.tensors) {
    const mine = actual.tensors.get(name);
    if (!mine) {
      missing.push(name);
      continue;
    }
    if (JSON.stringify(mine.shape) !== JSON.stringify(ref.shape))
      throw new Error(`${name}: shape ${JSON.stringify(mine.shape)} != ${JSON.stringify(ref.shape)}`);
    const a = float32Values(mine);
    const b = float32Values(ref);
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (!(d <= worst)) {
        worst = Number.isNaN(d) ? Infinity : d;
        worstName = name;
      }
    }
  }
  return { worst, name: worstName, missing };
}

/** Every tensor's raw bytes equal (bit-identical weights), and the same names in the same order. */
export function expectIdenticalWeights(fileA: string, fileB: string): void {
  const a = readSafetensors(fileA).tensors;
  const b = readSafetensors(fileB).tensors;
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [name, tensor] of a) {
    const other = b.get(name)!;
    expect(other.dtype).toBe(tensor.dtype);
    if (!tensor.bytes.equals(other.bytes)) throw new Error(`${name}: weights differ between ${fileA} and ${fileB}`);
  }
}
