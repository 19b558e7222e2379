// Model inputs as users give them (nested number arrays, or a typed array with its shape) turned into the
// flat Int32Arrays the native side takes. Every problem is a TypeError/RangeError naming the argument and the
// position, so nothing malformed reaches LibTorch.

/** A [batch, sequence] matrix given flat, row-major. */
export interface MatrixInput {
  data: Int32Array | Uint32Array | Int16Array | Uint16Array | Uint8Array | Int8Array | ArrayLike<number>;
  shape: readonly [number, number] | readonly number[];
}

export type IdMatrix = number[][] | MatrixInput;

export interface ForwardInputs {
  inputIds: IdMatrix;
  attentionMask?: IdMatrix;
  tokenTypeIds?: IdMatrix;
}

export interface FlatInputs {
  inputIds: Int32Array;
  attentionMask: Int32Array | null;
  tokenTypeIds: Int32Array | null;
  batchSize: number;
  sequenceLength: number;
}

export interface InputLimits {
  vocabSize: number;
  typeVocabSize: number;
  maxPositionEmbeddings: number;
}

function flatten(value: IdMatrix, name: string): { data: Int32Array; batch: number; seq: number } {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new RangeError(`${name} is an empty batch (at least one row is needed)`);
    const seq = Array.isArray(value[0]) ? value[0].length : -1;
    const data = new Int32Array(value.length * Math.max(seq, 0));
    value.forEach((row, i) => {
      if (!Array.isArray(row)) throw new TypeError(`${name}[${i}] must be an array of integers`);
      if (row.length !== seq) {
        throw new RangeError(`${name}[${i}] has length ${row.length}, expected ${seq} like ${name}[0] (rows must be padded to one length)`);
      }
      row.forEach((v, j) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw new TypeError(`${name}[${i}][${j}] must be an integer, got ${String(v)}`);
        }
        data[i * seq + j] = v;
      });
    });
    if (seq === 0) throw new RangeError(`${name} has empty rows (sequence length 0)`);
    return { data, batch: value.length, seq };
  }
  if (value === null || typeof value !== 'object' || !('data' in value) || !('shape' in value)) {
    throw new TypeError(`${name} must be number[][] or { data, shape: [batch, sequence] }`);
  }
  const { data, shape } = value;
  if (!Array.isArray(shape) && !(shape && typeof (shape as ArrayLike<number>).length === 'number')) {
    throw new TypeError(`${name}.shape must be [batch, sequence]`);
  }
  if (shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`${name}.shape must be two non-negative integers [batch, sequence], got [${Array.from(shape).join(', ')}]`);
  }
  const [batch, seq] = shape as [number, number];
  if (batch === 0) throw new RangeError(`${name} is an empty batch (shape [0, ${seq}])`);
  if (seq === 0) throw new RangeError(`${name} has sequence length 0`);
  if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number') {
    throw new TypeError(`${name}.data must be a typed array or an array of integers`);
  }
  if (data.length !== batch * seq) {
    throw new RangeError(`${name}.data has ${data.length} elements, shape [${batch}, ${seq}] needs ${batch * seq}`);
  }
  // An Int32Array holds integers already: used as it is (the native side reads it once, when forward() is called).
  if (data instanceof Int32Array) return { data, batch, seq };
  const out = new Int32Array(batch * seq);
  for (let k = 0; k < out.length; k += 1) {
    const v = data[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new TypeError(`${name}[${Math.floor(k / seq)}][${k % seq}] must be an integer, got ${String(v)}`);
    }
    out[k] = v;
  }
  return { data: out, batch, seq };
}

function checkRange(data: Int32Array, seq: number, name: string, limit: number, what: string): void {
  for (let k = 0; k < data.length; k += 1) {
    if (data[k] < 0 || data[k] >= limit) {
      throw new RangeError(`${name}[${Math.floor(k / seq)}][${k % seq}] = ${data[k]} is outside ${what} [0, ${limit})`);
    }
  }
}

export function flattenInputs(inputs: ForwardInputs, limits: InputLimits): FlatInputs {
  if (inputs === null || typeof inputs !== 'object') throw new TypeError('inputs must be an object { inputIds, attentionMask?, tokenTypeIds? }');
  if (inputs.inputIds === undefined) throw new TypeError('inputIds is required');
  const ids = flatten(inputs.inputIds, 'inputIds');
  if (ids.seq > limits.maxPositionEmbeddings) {
    throw new RangeError(`inputIds has sequence length ${ids.seq}, longer than max_position_embeddings (${limits.maxPositionEmbeddings})`);
  }
  checkRange(ids.data, ids.seq, 'inputIds', limits.vocabSize, 'the vocabulary');
  const companion = (value: IdMatrix | undefined, name: string, limit: number, what: string): Int32Array | null => {
    if (value === undefined || value === null) return null;
    const flat = flatten(value, name);
    if (flat.batch !== ids.batch || flat.seq !== ids.seq) {
      throw new RangeError(`${name} has shape [${flat.batch}, ${flat.seq}], expected [${ids.batch}, ${ids.seq}] like inputIds`);
    }
    checkRange(flat.data, flat.seq, name, limit, what);
    return flat.data;
  };
  return {
    inputIds: ids.data,
    attentionMask: companion(inputs.attentionMask, 'attentionMask', 2, 'the mask values'),
    tokenTypeIds: companion(inputs.tokenTypeIds, 'tokenTypeIds', limits.typeVocabSize, 'the token types'),
    batchSize: ids.batch,
    sequenceLength: ids.seq,
  };
}
