// Bad input never crashes the process: each case is a clear Error (or TypeError/RangeError) naming what is wrong.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier, readCheckpoint } from '../src';
import { nativeConfig } from '../src/model/config';
import { native } from '../src/engine/native';
import { fixture } from './helpers/fixtures';
import { PYTHON } from './helpers/paths';

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-bad-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A copy of a fixture directory that a test may damage. */
function copyOf(name: string): string {
  const dest = fs.mkdtempSync(path.join(scratch, `${name}-`));
  fs.cpSync(fixture(name).path, dest, { recursive: true });
  return dest;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(config);
  fs.writeFileSync(file, JSON.stringify(config));
}

// safetensors: 8-byte little-endian header length, JSON header, data.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed header, edited freely by the cases
function readSafetensors(file: string): { header: Record<string, any>; data: Buffer } {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}
function writeSafetensors(file: string, header: Record<string, unknown>, data: Buffer): void {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([length, json, data]));
}

describe('model directories', () => {
  test('a nonexistent directory', async () => {
    await expect(BertClassifier.fromPretrained(path.join(scratch, 'nope'))).rejects.toThrow(/nope: model directory does not exist/);
  });
  test('a directory without config.json', async () => {
    const dir = copyOf('tiny-safetensors-f32');
    fs.rmSync(path.join(dir, 'config.json'));
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/config\.json: no config\.json in/);
  });
  test('malformed config.json', async () => {
    const dir = copyOf('tiny-safetensors-f32');
    fs.writeFileSync(path.join(dir, 'config.json'), '{"hidden_size": 32,');
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/config\.json: malformed JSON/);
  });
  test.each([
    ['model_type', 'gpt2', /model_type "gpt2" is not supported \(supported: bert, roberta, xlm-roberta, distilbert, electra\)/],
    ['position_embedding_type', 'relative_key', /"position_embedding_type" "relative_key" is not supported/],
    ['hidden_act', 'gelu_10', /"hidden_act" "gelu_10" is not supported/],
    ['num_attention_heads', 5, /"hidden_size" \(32\) is not a multiple of "num_attention_heads" \(5\)/],
    ['hidden_size', -1, /"hidden_size" must be a positive integer, got -1/],
  ])('config.json with %s = %p', async (field, value, message) => {
    const dir = copyOf('tiny-safetensors-f32');
    editConfig(dir, (c) => {
      c[field] = value;
    });
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(message);
  });
  test('no weights file', async () => {
    const dir = copyOf('tiny-safetensors-f32');
    fs.rmSync(path.join(dir, 'model.safetensors'));
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/no weights file \(looked for model\.safetensors/);
  });
  test('a shard index that points outside the directory', async () => {
    const dir = copyOf('odd-sharded-safetensors');
    const index = path.join(dir, 'model.safetensors.index.json');
    const json = JSON.parse(fs.readFileSync(index, 'utf8'));
    const first = Object.keys(json.weight_map)[0];
    json.weight_map[first] = '../../etc/passwd';
    fs.writeFileSync(index, JSON.stringify(json));
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/must be a file name in the same directory/);
  });
  test('bad options are TypeError/RangeError naming the option', async () => {
    const dir = fixture('tiny-safetensors-f32').path;
    await expect(BertClassifier.fromPretrained(dir, { numLabels: 0 })).rejects.toThrow(RangeError);
    await expect(BertClassifier.fromPretrained(dir, { seed: -1 })).rejects.toThrow(/seed must be/);
    await expect(BertClassifier.fromPretrained(dir, { ignoreMismatchedSizes: 'yes' as unknown as boolean })).rejects.toThrow(TypeError);
    await expect(BertClassifier.fromPretrained(42 as unknown as string)).rejects.toThrow(/dir must be a non-empty string/);
  });
});

describe('weights files', () => {
  test('a truncated pytorch_model.bin (zip)', async () => {
    const dir = copyOf('odd-bin-f32');
    const file = path.join(dir, 'pytorch_model.bin');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/pytorch_model\.bin/);
  });
  test('a legacy (pre-1.6, non-zip) torch.save file: a clear Error saying how to re-save it', async () => {
    const dir = copyOf('odd-bin-f32');
    const file = path.join(dir, 'pytorch_model.bin');
    execFileSync(PYTHON, [
      '-c',
      `import torch; sd = torch.load(${JSON.stringify(file)}); torch.save(sd, ${JSON.stringify(file)}, _use_new_zipfile_serialization=False)`,
    ]);
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/pytorch_model\.bin.*legacy.*re-save/s);
  });
  test('a truncated model.safetensors', async () => {
    const dir = copyOf('tiny-safetensors-f32');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/model\.safetensors/);
  });
  test('a safetensors header length past the end of the file', async () => {
    const dir = copyOf('tiny-safetensors-f32');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(BigInt(bytes.length), 0);
    fs.writeFileSync(file, bytes);
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/model\.safetensors/);
  });
  test('overlapping safetensors offsets', async () => {
    const dir = copyOf('tiny-safetensors-f32');
    const file = path.join(dir, 'model.safetensors');
    const { header, data } = readSafetensors(file);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    // The second tensor now starts 4 bytes inside the first.
    const second = header[names[1]];
    second.data_offsets = [second.data_offsets[0] - 4, second.data_offsets[1] - 4];
    writeSafetensors(file, header, data);
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/model\.safetensors/);
  });
  type TensorEntry = { dtype: string; shape: number[] };
  test.each([
    [
      'dtype',
      (t: TensorEntry) => {
        t.dtype = 'F16';
      },
    ],
    [
      'shape',
      (t: TensorEntry) => {
        t.shape = [t.shape[0] + 1, ...t.shape.slice(1)];
      },
    ],
  ])('safetensors %s inconsistent with the bytes', async (_what, edit) => {
    const dir = copyOf('tiny-safetensors-f32');
    const file = path.join(dir, 'model.safetensors');
    const { header, data } = readSafetensors(file);
    edit(header['bert.embeddings.word_embeddings.weight']);
    writeSafetensors(file, header, data);
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/model\.safetensors.*bert\.embeddings\.word_embeddings\.weight/s);
  });
  test('a checkpoint tensor of the wrong shape names the key and both shapes', async () => {
    const dir = copyOf('tiny-safetensors-f32');
    editConfig(dir, (c) => {
      c.intermediate_size = 38;
    });
    await expect(BertClassifier.fromPretrained(dir)).rejects.toThrow(/intermediate\.dense\.weight' has shape \[37, 32\], the model expects \[38, 32\]/);
  });

  describe('pickles that call forbidden globals are refused and their payload never runs', () => {
    const marker = () => path.join(scratch, 'payload-ran');
    let evil: string;
    beforeAll(() => {
      evil = path.join(scratch, 'evil');
      execFileSync(PYTHON, [path.join(__dirname, 'fixtures', 'malicious_pickles.py'), evil, marker()]);
    });
    test.each([
      ['os-system', 'os.system'],
      ['posix-system', 'posix.system'],
      ['builtins-eval', 'builtins.eval'],
      ['subprocess-popen', 'subprocess.Popen'],
      ['nested-os-system', 'os.system'],
    ])('%s', async (name, global) => {
      const dir = copyOf('odd-bin-f32');
      fs.copyFileSync(path.join(evil, `${name}.bin`), path.join(dir, 'pytorch_model.bin'));
      const rejection = BertClassifier.fromPretrained(dir);
      await expect(rejection).rejects.toThrow(new RegExp(`pytorch_model\\.bin.*disallowed global '${global.replace('.', '\\.')}'`, 's'));
      expect(fs.existsSync(marker())).toBe(false);
    });
    test("control: the same payload does run under Python's own unpickler", () => {
      const control = path.join(scratch, 'control');
      const controlMarker = path.join(scratch, 'control-ran');
      execFileSync(PYTHON, [path.join(__dirname, 'fixtures', 'malicious_pickles.py'), control, controlMarker]);
      execFileSync(PYTHON, [
        '-c',
        `import pickle, zipfile; pickle.loads(zipfile.ZipFile(${JSON.stringify(path.join(control, 'os-system.bin'))}).read('archive/data.pkl'))`,
      ]);
      expect(fs.existsSync(controlMarker)).toBe(true);
    });
  });

  test('readCheckpoint on a file that does not exist', async () => {
    await expect(readCheckpoint(path.join(scratch, 'missing.safetensors'))).rejects.toThrow(/missing\.safetensors/);
  });
});

describe('forward inputs', () => {
  let model: BertClassifier;
  beforeAll(async () => {
    model = await BertClassifier.fromPretrained(fixture('tiny-safetensors-f32').path);
  });
  afterAll(() => model.dispose());

  test.each([
    ['an id at vocab_size', { inputIds: [[1, 99]] }, RangeError, /inputIds\[0\]\[1\] = 99 is outside the vocabulary \[0, 99\)/],
    ['a negative id', { inputIds: [[1, -3, 2]] }, RangeError, /inputIds\[0\]\[1\] = -3 is outside the vocabulary/],
    [
      'ragged rows',
      {
        inputIds: [
          [1, 2, 3],
          [1, 2],
        ],
      },
      RangeError,
      /inputIds\[1\] has length 2, expected 3/,
    ],
    ['a mask of the wrong shape', { inputIds: [[1, 2, 3]], attentionMask: [[1, 1]] }, RangeError, /attentionMask has shape \[1, 2\], expected \[1, 3\]/],
    ['a mask value of 2', { inputIds: [[1, 2]], attentionMask: [[1, 2]] }, RangeError, /attentionMask\[0\]\[1\] = 2/],
    ['a token type at type_vocab_size', { inputIds: [[1, 2]], tokenTypeIds: [[0, 2]] }, RangeError, /tokenTypeIds\[0\]\[1\] = 2 is outside/],
    [
      'a sequence longer than max_position_embeddings',
      { inputIds: [new Array(65).fill(1)] },
      RangeError,
      /sequence length 65, longer than max_position_embeddings \(64\)/,
    ],
    ['an empty batch', { inputIds: [] }, RangeError, /empty batch/],
    ['a non-integer id', { inputIds: [[1, 2.5]] }, TypeError, /inputIds\[0\]\[1\] must be an integer/],
    [
      'a typed array whose length does not match its shape',
      { inputIds: { data: new Int32Array(5), shape: [2, 3] } },
      RangeError,
      /has 5 elements, shape \[2, 3\] needs 6/,
    ],
  ])('%s', async (_name, inputs, type, message) => {
    const call = model.forward(inputs as never);
    await expect(call).rejects.toThrow(type);
    await expect(model.forward(inputs as never)).rejects.toThrow(message);
  });

  test('typed arrays with a shape give the same logits as nested arrays', async () => {
    const rows = [
      [2, 5, 7, 3],
      [2, 8, 3, 0],
    ];
    const nested = await model.forward({
      inputIds: rows,
      attentionMask: [
        [1, 1, 1, 1],
        [1, 1, 1, 0],
      ],
    });
    const typed = await model.forward({
      inputIds: { data: Int32Array.from(rows.flat()), shape: [2, 4] },
      attentionMask: { data: new Uint8Array([1, 1, 1, 1, 1, 1, 1, 0]), shape: [2, 4] },
    });
    expect(Array.from(typed.logits)).toEqual(Array.from(nested.logits));
  });

  test('the native boundary itself rejects bad arguments with TypeError/RangeError', async () => {
    // Errors made by the addon come from Node's realm, not jest's, so check the name rather than instanceof.
    const thrown = (call: () => unknown): Error => {
      try {
        call();
      } catch (err) {
        return err as Error;
      }
      throw new Error('expected a throw');
    };
    const expectError = (call: () => unknown, name: string, message: RegExp): void => {
      const err = thrown(call);
      expect(err.name).toBe(name);
      expect(err.message).toMatch(message);
    };
    const NativeModel = native().NativeModel;
    expectError(() => new NativeModel(null as unknown as object), 'TypeError', /config must be an object/);
    expectError(() => new NativeModel({}), 'TypeError', /config\.vocab_size must be a number/);
    expectError(() => new NativeModel({ ...nativeConfig(model.config), num_attention_heads: 5 }), 'RangeError', /not a multiple of/);
    const handle = new NativeModel(nativeConfig(model.config));
    expectError(() => handle.forward(new Int32Array(2), null, null, 1, 2, false), 'Error', /no weights yet/);
    await handle.load([], false, 1);
    expectError(() => handle.forward(new Float32Array(2) as unknown as Int32Array, null, null, 1, 2, false), 'TypeError', /inputIds must be an Int32Array/);
    expectError(() => handle.forward(new Int32Array(2), null, null, 1, 3, false), 'RangeError', /inputIds has 2 elements, expected 3/);
    expectError(() => handle.forward(Int32Array.of(1, 500), null, null, 1, 2, false), 'RangeError', /inputIds\[0\]\[1\] = 500 is outside \[0, 99\)/);
    expectError(() => handle.forward(Int32Array.of(1, 2), null, null, 1, 65, false), 'RangeError', /sequenceLength must be in \[1, 64\]/);
    expectError(() => handle.saveWeights(scratch, 'onnx' as never, 1), 'RangeError', /format must be/);
    expectError(() => handle.load([], false, 1), 'Error', /load\(\) may be called once/);
    handle.dispose();
  });
});

test('a disposed model rejects every call with a clear Error', async () => {
  const model = await BertClassifier.fromPretrained(fixture('tiny-safetensors-f32').path);
  model.dispose();
  expect(model.disposed).toBe(true);
  await expect(model.forward({ inputIds: [[1, 2]] })).rejects.toThrow(/disposed/);
  await expect(model.save(path.join(scratch, 'disposed'))).rejects.toThrow(/disposed/);
  expect(() => model.parameters()).toThrow(/disposed/);
  model.dispose(); // twice is harmless
});

test('dispose while a forward pass runs: the pass completes, later calls reject', async () => {
  const model = await BertClassifier.fromPretrained(fixture('tiny-safetensors-f32').path);
  const running = model.forward({ inputIds: [[2, 5, 7, 3]] });
  model.dispose();
  await expect(running).resolves.toHaveProperty('logits');
  await expect(model.forward({ inputIds: [[2, 5]] })).rejects.toThrow(/disposed/);
});

describe('errors carry a code that callers branch on (native/common/error_code.h, the addon`s errorCodes)', () => {
  const codes = native().errorCodes;

  test('errorCodes is frozen and lists each code once', () => {
    expect(Object.isFrozen(codes)).toBe(true);
    expect(codes.MODEL_BUSY).toBe('ERR_MODEL_BUSY');
    expect(codes.NON_FINITE_LOSS).toBe('ERR_NON_FINITE_LOSS');
    expect(new Set(Object.values(codes)).size).toBe(Object.keys(codes).length);
  });

  test('a disposed model: ERR_MODEL_DISPOSED, from the JS side and from the addon', async () => {
    const model = await BertClassifier.fromPretrained(fixture('tiny-safetensors-f32').path);
    const handle = (model as unknown as { handle: { forward: (...args: unknown[]) => Promise<unknown> } }).handle;
    model.dispose();
    await expect(model.forward({ inputIds: [[1, 2]] })).rejects.toMatchObject({ code: codes.MODEL_DISPOSED });
    await expect(Promise.resolve().then(() => handle.forward(Int32Array.of(1, 2), null, null, 1, 2, false))).rejects.toMatchObject({
      code: codes.MODEL_DISPOSED,
    });
  });

  test('a damaged weights file: ERR_BAD_CHECKPOINT naming the file', async () => {
    const file = path.join(scratch, 'garbage.safetensors');
    fs.writeFileSync(file, Buffer.from('not a safetensors file at all'));
    await expect(readCheckpoint(file)).rejects.toMatchObject({ code: codes.BAD_CHECKPOINT, message: expect.stringContaining('garbage.safetensors') });
  });

  test('a model claimed by a fit: ERR_MODEL_BUSY', async () => {
    const model = await BertClassifier.fromPretrained(fixture('tiny-safetensors-f32').path);
    const owner = {};
    model.claimForTraining(owner);
    try {
      await expect(model.forward({ inputIds: [[1, 2]] })).rejects.toMatchObject({ code: codes.MODEL_BUSY });
      expect(() => model.claimForTraining({})).toThrow(expect.objectContaining({ code: codes.MODEL_BUSY }));
    } finally {
      model.releaseFromTraining(owner);
      model.dispose();
    }
  });
});
