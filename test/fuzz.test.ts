// Mutation fuzzing of the two weights readers through the public API: every damaged file must either load
// or reject with an Error. A crash (abort, segfault) fails the run because it takes jest's process with it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readCheckpoint } from '../src';
import { mulberry32 as rng } from '../src/util/random';
import { fixture } from './helpers/fixtures';

const MUTATIONS = 2000;

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x2e /* STOP */, 0x28 /* MARK */, 0x63 /* GLOBAL */, 0x52 /* REDUCE */, 0x71, 0x68];

/** One random mutation; `hot` is the byte range most worth damaging (the header, the pickle). */
function mutate(original: Buffer, random: () => number, hot: [number, number]): Buffer {
  const bytes = Buffer.from(original);
  const pick = (): number => {
    if (random() < 0.7) return hot[0] + Math.floor(random() * (hot[1] - hot[0]));
    return Math.floor(random() * bytes.length);
  };
  const kind = Math.floor(random() * 7);
  const rounds = 1 + Math.floor(random() * 4);
  switch (kind) {
    case 0: // flip bits
      for (let r = 0; r < rounds; r += 1) bytes[pick()] ^= 1 << Math.floor(random() * 8);
      return bytes;
    case 1: // interesting byte values
      for (let r = 0; r < rounds; r += 1) bytes[pick()] = INTERESTING[Math.floor(random() * INTERESTING.length)];
      return bytes;
    case 2: {
      // a 32-bit length or offset set to an extreme
      const at = Math.min(pick(), bytes.length - 4);
      bytes.writeUInt32LE([0xffffffff, 0x7fffffff, 0x80000000, 0, 1, bytes.length][Math.floor(random() * 6)] >>> 0, at);
      return bytes;
    }
    case 3: // truncate
      return bytes.subarray(0, pick());
    case 4: {
      // delete a run
      const at = pick();
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + Math.floor(random() * 16))]);
    }
    case 5: {
      // duplicate a run
      const at = pick();
      const run = bytes.subarray(at, at + 1 + Math.floor(random() * 32));
      return Buffer.concat([bytes.subarray(0, at), run, bytes.subarray(at)]);
    }
    default: {
      // random bytes
      for (let r = 0; r < rounds * 4; r += 1) bytes[pick()] = Math.floor(random() * 256);
      return bytes;
    }
  }
}

async function fuzz(original: Buffer, file: string, hot: [number, number], seed: number): Promise<{ loaded: number; rejected: number }> {
  const random = rng(seed);
  let loaded = 0;
  let rejected = 0;
  for (let i = 0; i < MUTATIONS; i += 1) {
    fs.writeFileSync(file, mutate(original, random, hot));
    try {
      const tensors = await readCheckpoint(file);
      expect(Array.isArray(tensors)).toBe(true);
      loaded += 1;
    } catch (err) {
      // The addon's Errors come from Node's realm, not jest's: check the brand, not instanceof.
      const isError = Object.prototype.toString.call(err) === '[object Error]' && (err as Error).message.length > 0;
      if (!isError) throw new Error(`mutation ${i}: rejected with a non-Error ${String(err)}`);
      rejected += 1;
    }
  }
  return { loaded, rejected };
}

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-fuzz-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

test(`${MUTATIONS} mutations of a model.safetensors: each loads or is an Error`, async () => {
  const original = fs.readFileSync(path.join(fixture('tiny-safetensors-f32').path, 'model.safetensors'));
  const headerEnd = 8 + Number(original.readBigUInt64LE(0));
  const result = await fuzz(original, path.join(scratch, 'model.safetensors'), [0, headerEnd], 1);
  expect(result.loaded + result.rejected).toBe(MUTATIONS);
  expect(result.rejected).toBeGreaterThan(MUTATIONS / 4); // the mutations do reach the validation
});

test(`${MUTATIONS} mutations of a pytorch_model.bin: each loads or is an Error`, async () => {
  const original = fs.readFileSync(path.join(fixture('odd-bin-plain-dict').path, 'pytorch_model.bin'));
  // The pickle sits after its local file header; aim most mutations at it and at the zip directory.
  const pickleStart = original.indexOf(Buffer.from([0x80, 0x02]));
  const pickleEnd = original.indexOf(Buffer.from('.PK'), pickleStart) + 1 || original.length;
  const result = await fuzz(original, path.join(scratch, 'pytorch_model.bin'), [Math.max(0, pickleStart - 64), pickleEnd], 2);
  expect(result.loaded + result.rejected).toBe(MUTATIONS);
  expect(result.rejected).toBeGreaterThan(MUTATIONS / 4);
});
