// Reading a weights file on its own (names, dtypes, shapes), without building a model: for inspection and tests.
import { native } from '../engine/native';

export interface TensorInfo {
  name: string;
  /** safetensors' dtype names: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL. */
  dtype: string;
  shape: number[];
  /** Sum of the values as float64, a cheap fingerprint. */
  checksum: number;
}

/** Lists the tensors of a model.safetensors or pytorch_model.bin file. Bad files reject with an Error naming the file. */
export async function readCheckpoint(file: string): Promise<TensorInfo[]> {
  if (typeof file !== 'string' || file === '') throw new TypeError('file must be a non-empty string');
  return native().readCheckpoint(file);
}
