// Request coalescing (src/model/request-batcher.ts, BertClassifier's `batching` option and setRequestBatching):
// concurrent predict() calls share native forwards and get their own rows back, with the scores they get alone; the
// window and maxBatchSize decide the batches (counted, never timed); one caller's bad input rejects that caller only,
// a batch's error rejects the whole batch, and dispose() rejects what still waits.
import { BertClassifier, BertTokenizer } from '../src';
import type { NativeModelHandle } from '../src/engine/native';
import { FORWARD_COST_TOKENS, groupRowsByLength, runRowsByLength } from '../src/model/length-groups';
import { PaddedBatch, RequestBatcher, TokenRows, checkRows, concatRows, padRows, resolveRequestBatching } from '../src/model/request-batcher';
import { maxAbsDiff } from './helpers/fixtures';

const WORDS = ['i', 'this', 'that', 'movie', 'film', '!', '.', 'it', 'was', 'plot', 'love', 'hate', 'great', 'bad', 'fine', 'ok'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS, 'outside'];
const LABELS = ['neg', 'pos', 'mid'];
// Different lengths, so that a batch pads most of its rows.
const TEXTS = [
  'I love this movie!',
  'bad',
  'it was fine, the plot was ok. it was fine, the plot was ok. it was fine',
  'that film was great great great',
  'hate it',
  'ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok',
  'this',
  'the plot was bad and i hate that film',
];

/** `vocabSize`: below the tokenizer's, so that the word 'outside' is a token the model has no embedding for. */
function tinyModel(options: { vocabSize?: number; batching?: unknown } = {}): Promise<BertClassifier> {
  const config = {
    vocab_size: options.vocabSize ?? VOCAB.length,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    max_position_embeddings: 64,
    initializer_range: 0.2,
  };
  return BertClassifier.fromConfig(config, {
    labels: LABELS,
    tokenizer: BertTokenizer.fromVocab(VOCAB),
    seed: 3,
    batching: options.batching as never,
  });
}

/**
 * Counts the model's native forwards and their batch sizes (the addon's methods are read-only: a proxy wraps them).
 * With `gate`, every forward starts at once but settles only once the gate has resolved, so a test decides how long a
 * batch runs.
 */
function countForwards(model: BertClassifier, gate?: Promise<void>): { batchSizes: number[]; restore: () => void } {
  const holder = model as unknown as { handle: NativeModelHandle };
  const handle = holder.handle;
  const batchSizes: number[] = [];
  holder.handle = new Proxy(handle, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      if (key !== 'forward') return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: Parameters<NativeModelHandle['forward']>) => {
        batchSizes.push(args[3]);
        const result = handle.forward(...args);
        return gate ? result.then((value) => gate.then(() => value)) : result;
      };
    },
  });
  return { batchSizes, restore: () => (holder.handle = handle) };
}

function waitingRows(model: BertClassifier): number {
  const batcher = (model as unknown as { batcher: RequestBatcher | null }).batcher;
  return batcher ? batcher.waitingRows : 0;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const scoresOf = (p: { scores: Record<string, number> }): number[] => LABELS.map((l) => p.scores[l]);

describe('the batching option', () => {
  test('is off by default; true takes the defaults; objects are checked, naming the option', async () => {
    const model = await tinyModel();
    try {
      expect(model.requestBatching).toBeNull();
      model.setRequestBatching(true);
      expect(model.requestBatching).toEqual({ maxBatchSize: 32, maxWaitMs: 0 });
      model.setRequestBatching({ maxBatchSize: 4, maxWaitMs: 0 });
      expect(model.requestBatching).toEqual({ maxBatchSize: 4, maxWaitMs: 0 });
      model.setRequestBatching(null);
      expect(model.requestBatching).toBeNull();
      expect(() => model.setRequestBatching({ maxBatchSize: 0 })).toThrow(new RangeError('batching.maxBatchSize must be a positive integer, got 0'));
      expect(() => model.setRequestBatching({ maxBatchSize: 2.5 })).toThrow(RangeError);
      expect(() => model.setRequestBatching({ maxBatchSize: '8' as never })).toThrow(
        new TypeError('batching.maxBatchSize must be a positive integer, got "8"'),
      );
      expect(() => model.setRequestBatching({ maxWaitMs: -1 })).toThrow(/^batching\.maxWaitMs must be a finite number in \[0, 60000\], got -1$/);
      expect(() => model.setRequestBatching({ maxWaitMs: Infinity })).toThrow(RangeError);
      expect(() => model.setRequestBatching({ maxWaitMs: 'soon' as never })).toThrow(TypeError);
      expect(() => model.setRequestBatching({ maxBatch: 3 } as never)).toThrow(
        new TypeError('batching: unknown option "maxBatch" (known: maxBatchSize, maxWaitMs)'),
      );
      expect(() => model.setRequestBatching(7 as never)).toThrow(
        new TypeError('batching must be an object { maxBatchSize?, maxWaitMs? }, true or false, got 7'),
      );
      expect(model.requestBatching).toBeNull(); // a rejected setting changes nothing
    } finally {
      model.dispose();
    }
  });

  test('fromConfig / fromPretrained take it, and check it before loading anything', async () => {
    const model = await tinyModel({ batching: { maxBatchSize: 8 } });
    expect(model.requestBatching).toEqual({ maxBatchSize: 8, maxWaitMs: 0 });
    model.dispose();
    await expect(tinyModel({ batching: { maxWaitMs: -5 } })).rejects.toThrow(/batching\.maxWaitMs/);
    await expect(BertClassifier.fromPretrained('/nonexistent/model', { batching: { maxBatchSize: -1 } })).rejects.toThrow(
      new RangeError('batching.maxBatchSize must be a positive integer, got -1'),
    );
  });

  test('resolveRequestBatching: off for undefined, null and false', () => {
    expect(resolveRequestBatching(undefined)).toBeNull();
    expect(resolveRequestBatching(null)).toBeNull();
    expect(resolveRequestBatching(false)).toBeNull();
    expect(resolveRequestBatching({})).toEqual({ maxBatchSize: 32, maxWaitMs: 0 });
  });
});

describe('coalesced predict()', () => {
  let model: BertClassifier;
  let alone: number[][]; // each text's scores, predicted alone (no padding)
  beforeAll(async () => {
    model = await tinyModel();
    alone = [];
    for (const text of TEXTS) alone.push(scoresOf((await model.predict(text))[0]));
  });
  afterAll(() => model.dispose());
  afterEach(() => model.setRequestBatching(null));

  test('padding inside a batch changes no logit by more than 1e-5', async () => {
    const tokenizer = model.tokenizer!;
    const rows = await tokenizer.encode(TEXTS, null, { padding: false });
    const batched = await model.forward(await tokenizer.encode(TEXTS)); // padded to the longest
    expect(batched.shape).toEqual([TEXTS.length, LABELS.length]);
    for (let i = 0; i < TEXTS.length; i += 1) {
      const single = await model.forward({ inputIds: [rows.inputIds[i]], attentionMask: [rows.attentionMask[i]], tokenTypeIds: [rows.tokenTypeIds[i]] });
      const row = batched.logits.subarray(i * LABELS.length, (i + 1) * LABELS.length);
      expect(maxAbsDiff(row, Array.from(single.logits))).toBeLessThanOrEqual(1e-5);
    }
  });

  test('concurrent calls of different lengths share forwards by length and each gets its own scores (within 1e-5)', async () => {
    // A window longer than the test: the batch runs when its 8 rows are in (full), however slow tokenizing is here.
    model.setRequestBatching({ maxBatchSize: 8, maxWaitMs: 60_000 });
    const counter = countForwards(model);
    try {
      // Calls of one, two and three texts, in an order unlike the texts' own.
      const calls = [[5], [0, 3], [7], [1, 2, 6], [4]];
      const results = await Promise.all(calls.map((ids) => model.predict(ids.map((i) => TEXTS[i]))));
      results.forEach((predictions, c) => {
        expect(predictions).toHaveLength(calls[c].length);
        predictions.forEach((p, k) => {
          expect(maxAbsDiff(scoresOf(p), alone[calls[c][k]])).toBeLessThanOrEqual(1e-5);
          const best = scoresOf(p).indexOf(Math.max(...scoresOf(p)));
          expect(p.label).toBe(LABELS[best]);
        });
      });
      // The eight rows in forwards of similar lengths (groupRowsByLength), fewer than the five calls.
      const lengths = (
        await model.tokenizer!.encode(
          calls.flat().map((i) => TEXTS[i]),
          null,
          { padding: false },
        )
      ).inputIds.map((r) => r.length);
      const groups = groupRowsByLength(lengths, FORWARD_COST_TOKENS).map((g) => g.length);
      expect(counter.batchSizes).toEqual(groups);
      expect(groups.length).toBeLessThan(calls.length);
    } finally {
      counter.restore();
    }
  });

  test('many concurrent single-text calls: maxBatchSize bounds every forward, and every row is routed back', async () => {
    model.setRequestBatching({ maxBatchSize: 3, maxWaitMs: 20 });
    const counter = countForwards(model);
    try {
      const order = Array.from({ length: 20 }, (_, i) => (i * 5) % TEXTS.length);
      const results = await Promise.all(order.map((i) => model.predict(TEXTS[i])));
      results.forEach((predictions, k) => expect(maxAbsDiff(scoresOf(predictions[0]), alone[order[k]])).toBeLessThanOrEqual(1e-5));
      expect(counter.batchSizes.reduce((a, b) => a + b, 0)).toBe(20);
      expect(Math.max(...counter.batchSizes)).toBeLessThanOrEqual(3);
      expect(counter.batchSizes.length).toBeGreaterThanOrEqual(7); // ceil(20 / 3)
    } finally {
      counter.restore();
    }
  });

  test('a call of more texts than maxBatchSize runs in chunks of maxBatchSize, each by length', async () => {
    model.setRequestBatching({ maxBatchSize: 3, maxWaitMs: 0 });
    const counter = countForwards(model);
    try {
      const predictions = await model.predict(TEXTS);
      predictions.forEach((p, i) => expect(maxAbsDiff(scoresOf(p), alone[i])).toBeLessThanOrEqual(1e-5));
      // Chunks of 3, 3 and 2 texts, each in forwards of similar lengths.
      const lengths = (await model.tokenizer!.encode(TEXTS, null, { padding: false })).inputIds.map((r) => r.length);
      const chunks = [lengths.slice(0, 3), lengths.slice(3, 6), lengths.slice(6)];
      expect(counter.batchSizes).toEqual(chunks.flatMap((chunk) => groupRowsByLength(chunk, FORWARD_COST_TOKENS).map((g) => g.length)));
    } finally {
      counter.restore();
    }
  });

  test('without batching, one call of texts of different lengths runs them in forwards by length, in its own order', async () => {
    model.setRequestBatching(null);
    const counter = countForwards(model);
    try {
      const predictions = await model.predict(TEXTS);
      predictions.forEach((p, i) => expect(maxAbsDiff(scoresOf(p), alone[i])).toBeLessThanOrEqual(1e-5));
      const lengths = (await model.tokenizer!.encode(TEXTS, null, { padding: false })).inputIds.map((r) => r.length);
      const groups = groupRowsByLength(lengths, FORWARD_COST_TOKENS).map((g) => g.length);
      expect(counter.batchSizes).toEqual(groups);
      expect(groups.length).toBeGreaterThan(1); // these texts are 3 to 26 tokens: one padded forward would waste more
    } finally {
      counter.restore();
    }
  });

  test('one caller with a bad input is rejected alone; the others of its window are answered', async () => {
    // No embedding for 'outside'; the batch runs when the two good rows are in.
    const small = await tinyModel({ vocabSize: VOCAB.length - 1, batching: { maxBatchSize: 2, maxWaitMs: 60_000 } });
    const counter = countForwards(small);
    try {
      const results = await Promise.allSettled([
        small.predict(TEXTS[0]),
        small.predict(['fine', 'this film outside']), // a token id the model does not have
        small.predict([42 as never]), // not a string
        small.predict(TEXTS[3]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toEqual(
        new RangeError(`texts[1] token 3 has id ${VOCAB.length - 1}, outside the vocabulary [0, ${VOCAB.length - 1})`),
      );
      expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
      expect(counter.batchSizes).toEqual([2]);
    } finally {
      counter.restore();
      small.dispose();
    }
  });

  test("an error of the batch's forward reaches every caller of that batch, and the next batch runs", async () => {
    model.setRequestBatching({ maxBatchSize: 32, maxWaitMs: 200 });
    const calls = [model.predict(TEXTS[0]), model.predict(TEXTS[1]), model.predict([TEXTS[2], TEXTS[3]])];
    await until(() => waitingRows(model) === 4, 'the requests to join the batch');
    const owner = {};
    model.claimForTraining(owner); // the batch then runs while fit() holds the model: its forward rejects
    model.setRequestBatching(null); // runs the waiting batch now
    const results = await Promise.allSettled(calls);
    model.releaseFromTraining(owner);
    const reasons = results.map((r) => (r as PromiseRejectedResult).reason as Error & { code?: string });
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(reasons[0].code).toBe('ERR_MODEL_BUSY');
    expect(reasons[1]).toBe(reasons[0]); // the one error, to every caller
    expect(reasons[2]).toBe(reasons[0]);
    model.setRequestBatching({ maxBatchSize: 32, maxWaitMs: 0 });
    expect(maxAbsDiff(scoresOf((await model.predict(TEXTS[0]))[0]), alone[0])).toBeLessThanOrEqual(1e-5);
  });

  test('turning batching off runs the waiting batch at once', async () => {
    model.setRequestBatching({ maxBatchSize: 32, maxWaitMs: 60_000 });
    const pending = Promise.all([model.predict(TEXTS[1]), model.predict(TEXTS[2])]);
    await until(() => waitingRows(model) === 2, 'the requests to join the batch');
    model.setRequestBatching(null);
    const [a, b] = await pending;
    expect(maxAbsDiff(scoresOf(a[0]), alone[1])).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(scoresOf(b[0]), alone[2])).toBeLessThanOrEqual(1e-5);
  });
});

test('dispose() rejects the requests waiting for their batch; a batch already running finishes', async () => {
  const model = await tinyModel({ batching: { maxBatchSize: 2, maxWaitMs: 60_000 } });
  let release = (): void => undefined;
  const counter = countForwards(model, new Promise<void>((resolve) => (release = resolve)));
  const running = Promise.all([model.predict(TEXTS[0]), model.predict(TEXTS[1])]); // a full batch: its forward starts
  await until(() => counter.batchSizes.length === 1, 'the full batch to start');
  const waiting = model.predict(TEXTS[2]); // gathers behind the running batch, held at the gate
  await until(() => waitingRows(model) === 1, 'the request to wait');
  model.dispose();
  release();
  await expect(waiting).rejects.toMatchObject({ code: 'ERR_MODEL_DISPOSED' });
  const done = await running;
  expect(done.map((p) => p[0].label).every((l) => LABELS.includes(l))).toBe(true);
  await expect(model.predict(TEXTS[0])).rejects.toMatchObject({ code: 'ERR_MODEL_DISPOSED' });
  expect(() => model.setRequestBatching(true)).toThrow(expect.objectContaining({ code: 'ERR_MODEL_DISPOSED' }));
});

describe('RequestBatcher (a counting forward, fake timers)', () => {
  const row = (n: number, id = 7): TokenRows => ({
    inputIds: [Array.from({ length: n }, () => id)],
    attentionMask: [Array.from({ length: n }, () => 1)],
    tokenTypeIds: [Array.from({ length: n }, () => 0)],
  });
  /** A forward whose logits are, per row, [row's first id, its length]: what routing must hand back. */
  const fakeRun = (batches: PaddedBatch[]) => async (b: PaddedBatch) => {
    batches.push(b);
    const logits = new Float32Array(b.batchSize * 2);
    for (let r = 0; r < b.batchSize; r += 1) {
      logits[r * 2] = b.inputIds[r * b.sequenceLength];
      let length = 0;
      for (let j = 0; j < b.sequenceLength; j += 1) length += b.attentionMask[r * b.sequenceLength + j];
      logits[r * 2 + 1] = length;
    }
    return { logits, shape: [b.batchSize, 2] };
  };

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('a batch runs maxWaitMs after its first request, not before, with every request of the window', async () => {
    const batches: PaddedBatch[] = [];
    const batcher = new RequestBatcher({ maxBatchSize: 8, maxWaitMs: 5 }, fakeRun(batches), 0);
    const a = batcher.submit(row(3, 11));
    jest.advanceTimersByTime(2);
    const b = batcher.submit(row(6, 12));
    jest.advanceTimersByTime(2);
    expect(batches).toHaveLength(0);
    expect(batcher.waitingRows).toBe(2);
    jest.advanceTimersByTime(1); // 5 ms after the first request
    expect(batches).toHaveLength(1);
    expect(batches[0].batchSize).toBe(2);
    expect(batches[0].sequenceLength).toBe(6); // padded to the longest row
    expect(Array.from(batches[0].attentionMask.subarray(0, 6))).toEqual([1, 1, 1, 0, 0, 0]);
    expect(Array.from((await a).logits)).toEqual([11, 3]);
    expect(Array.from((await b).logits)).toEqual([12, 6]);
    // The next request opens a new window.
    const c = batcher.submit(row(2, 13));
    jest.advanceTimersByTime(4);
    expect(batches).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(batches).toHaveLength(2);
    expect(await c).toEqual({ logits: Float32Array.from([13, 2]), shape: [1, 2] });
  });

  test('a full batch runs at once; a request that does not fit closes the open batch and opens the next', async () => {
    const batches: PaddedBatch[] = [];
    const batcher = new RequestBatcher({ maxBatchSize: 4, maxWaitMs: 1000 }, fakeRun(batches), 0);
    const two = (id: number): TokenRows => ({ inputIds: [[id], [id + 100]], attentionMask: [[1], [1]], tokenTypeIds: [[0], [0]] });
    const first = [batcher.submit(two(1)), batcher.submit(row(1, 2))]; // 3 rows: waits
    expect(batches).toHaveLength(0);
    const third = batcher.submit(two(3)); // 3 + 2 > 4: the open batch runs, this one opens the next
    expect(batches.map((b) => b.batchSize)).toEqual([3]);
    const fourth = batcher.submit(two(4)); // 2 + 2 = 4: full, runs at once
    expect(batches.map((b) => b.batchSize)).toEqual([3, 4]);
    expect(Array.from((await first[0]).logits)).toEqual([1, 1, 101, 1]);
    expect(Array.from((await first[1]).logits)).toEqual([2, 1]);
    expect(Array.from((await third).logits)).toEqual([3, 1, 103, 1]);
    expect(Array.from((await fourth).logits)).toEqual([4, 1, 104, 1]);
    await expect(
      batcher.submit({ inputIds: [[1], [1], [1], [1], [1]], attentionMask: [[1], [1], [1], [1], [1]], tokenTypeIds: [[0], [0], [0], [0], [0]] }),
    ).rejects.toThrow('a request of 5 rows is larger than maxBatchSize (4)');
  });

  test('maxWaitMs 0: the requests of one turn of the event loop share a batch', async () => {
    jest.useRealTimers();
    const batches: PaddedBatch[] = [];
    const batcher = new RequestBatcher({ maxBatchSize: 8, maxWaitMs: 0 }, fakeRun(batches), 0);
    const same = [batcher.submit(row(1)), batcher.submit(row(2)), batcher.submit(row(3))];
    expect(batches).toHaveLength(0);
    await Promise.all(same);
    await batcher.submit(row(4));
    expect(batches.map((b) => b.batchSize)).toEqual([3, 1]);
  });

  test('a failing forward rejects every request of its batch with its error; close() rejects what waits', async () => {
    const failure = new Error('native failure');
    let calls = 0;
    const batcher = new RequestBatcher(
      { maxBatchSize: 8, maxWaitMs: 5 },
      () => {
        calls += 1;
        return Promise.reject(failure);
      },
      0,
    );
    const both = [batcher.submit(row(1)), batcher.submit(row(2))];
    jest.advanceTimersByTime(5);
    for (const p of both) await expect(p).rejects.toBe(failure);
    expect(calls).toBe(1);
    const throwing = new RequestBatcher(
      { maxBatchSize: 8, maxWaitMs: 5 },
      () => {
        throw failure; // a forward that throws before it returns a promise
      },
      0,
    );
    const p = throwing.submit(row(1));
    jest.advanceTimersByTime(5);
    await expect(p).rejects.toBe(failure);
    const waiting = batcher.submit(row(3));
    const closed = new Error('closed');
    batcher.close(closed);
    await expect(waiting).rejects.toBe(closed);
    await expect(batcher.submit(row(1))).rejects.toBe(closed);
    jest.advanceTimersByTime(10);
    expect(calls).toBe(1); // the closed batch never ran
  });

  test('rows of very different lengths run in separate forwards, each caller getting its own rows in its order', async () => {
    jest.useRealTimers();
    const batches: PaddedBatch[] = [];
    const batcher = new RequestBatcher({ maxBatchSize: 8, maxWaitMs: 0 }, fakeRun(batches), 0, 16);
    const mixed: TokenRows = {
      inputIds: [Array(50).fill(21), [22, 22]],
      attentionMask: [Array(50).fill(1), [1, 1]],
      tokenTypeIds: [Array(50).fill(0), [0, 0]],
    };
    const [a, b, c] = await Promise.all([batcher.submit(row(3, 11)), batcher.submit(mixed), batcher.submit(row(48, 13))]);
    // Lengths 2 and 3 together, 48 and 50 together: padding 3 to 50 would cost more than a forward.
    expect(batches.map((x) => [x.batchSize, x.sequenceLength])).toEqual([
      [2, 3],
      [2, 50],
    ]);
    expect(Array.from(a.logits)).toEqual([11, 3]);
    expect(Array.from(b.logits)).toEqual([21, 50, 22, 2]);
    expect(b.shape).toEqual([2, 2]);
    expect(Array.from(c.logits)).toEqual([13, 48]);
    // Weighing a forward above the padding keeps one forward.
    const one: PaddedBatch[] = [];
    const patient = new RequestBatcher({ maxBatchSize: 8, maxWaitMs: 0 }, fakeRun(one), 0, 1000);
    await Promise.all([patient.submit(row(3)), patient.submit(row(50))]);
    expect(one.map((x) => [x.batchSize, x.sequenceLength])).toEqual([[2, 50]]);
  });

  test('a call is answered when its own forward has run; a failing forward rejects only the calls with a row in it', async () => {
    jest.useRealTimers();
    const failure = new Error('group failure');
    const answered: string[] = [];
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const run = async (b: PaddedBatch) => {
      if (b.sequenceLength > 10) await slow; // the long rows' forward waits until the test releases it
      if (b.sequenceLength === 40) throw failure;
      return { logits: new Float32Array(b.batchSize * 2), shape: [b.batchSize, 2] };
    };
    const batcher = new RequestBatcher({ maxBatchSize: 8, maxWaitMs: 0 }, run, 0, 1);
    const short = batcher.submit(row(2)).then(() => answered.push('short'));
    const long = batcher.submit(row(40));
    const both: TokenRows = { inputIds: [[1, 1], Array(40).fill(1)], attentionMask: [[1, 1], Array(40).fill(1)], tokenTypeIds: [[0, 0], Array(40).fill(0)] };
    const spanning = batcher.submit(both);
    await short;
    expect(answered).toEqual(['short']); // before the long forward has run
    expect(batcher.waitingRows).toBe(0);
    release();
    await expect(long).rejects.toBe(failure);
    await expect(spanning).rejects.toBe(failure); // one of its rows was in the failing forward
  });

  test('runRowsByLength gives every row its own logits back, in the order of the rows', async () => {
    const ran: number[][] = [];
    const out = await runRowsByLength([30, 2, 31, 3], async (indices) => {
      ran.push(indices);
      return { logits: Float32Array.from(indices.flatMap((i) => [i, -i])), shape: [indices.length, 2] };
    });
    expect(ran).toEqual([
      [1, 3],
      [0, 2],
    ]);
    expect(Array.from(out.logits)).toEqual([0, -0, 1, -1, 2, -2, 3, -3]);
    expect(out.shape).toEqual([4, 2]);
    expect(await runRowsByLength([], () => Promise.reject(new Error('never')))).toEqual({ logits: new Float32Array(0), shape: [0, 0] });
  });

  test('groupRowsByLength finds the least cost: a forward weighed at C tokens plus its rows x its longest', () => {
    expect(groupRowsByLength([5, 5, 5], 0)).toEqual([[0, 1, 2]]); // one length: no padding, one forward
    expect(groupRowsByLength([40, 2, 41, 3], 16)).toEqual([
      [1, 3],
      [0, 2],
    ]);
    expect(groupRowsByLength([40, 2, 41, 3], 1000)).toEqual([[1, 3, 0, 2]]);
    expect(groupRowsByLength([], 16)).toEqual([]);
    // Against every way of cutting the sorted rows, on random lengths.
    const costOf = (lengths: number[], groups: number[][], c: number) => groups.reduce((t, g) => t + c + g.length * Math.max(...g.map((i) => lengths[i])), 0);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 40; trial += 1) {
      const n = 1 + Math.floor(random() * 9);
      const lengths = Array.from({ length: n }, () => 1 + Math.floor(random() * 64));
      const c = Math.floor(random() * 40);
      const groups = groupRowsByLength(lengths, c);
      expect(groups.flat().sort((x, y) => x - y)).toEqual(lengths.map((_, i) => i));
      const sorted = lengths.map((_, i) => i).sort((x, y) => lengths[x] - lengths[y] || x - y);
      let least = Infinity;
      for (let mask = 0; mask < 2 ** (n - 1); mask += 1) {
        const cut: number[][] = [[sorted[0]]];
        for (let i = 1; i < n; i += 1) {
          if (mask & (1 << (i - 1))) cut.push([sorted[i]]);
          else cut[cut.length - 1].push(sorted[i]);
        }
        least = Math.min(least, costOf(lengths, cut, c));
      }
      expect(costOf(lengths, groups, c)).toBe(least);
    }
  });

  test('padRows pads with the pad id, mask 0 and type 0; checkRows names the row', () => {
    const padded = padRows(concatRows([row(2, 9), { inputIds: [[5, 6, 7]], attentionMask: [[1, 1, 1]], tokenTypeIds: [[0, 1, 1]] }]), 4);
    expect(Array.from(padded.inputIds)).toEqual([9, 9, 4, 5, 6, 7]);
    expect(Array.from(padded.attentionMask)).toEqual([1, 1, 0, 1, 1, 1]);
    expect(Array.from(padded.tokenTypeIds)).toEqual([0, 0, 0, 0, 1, 1]);
    const limits = { vocabSize: 10, typeVocabSize: 2, maxSequenceLength: 4 };
    expect(() => checkRows(row(5), limits, 'texts', 3)).toThrow(new RangeError("texts[3] has 5 tokens, more than the model's longest sequence (4)"));
    expect(() => checkRows({ inputIds: [[1, 2]], attentionMask: [[1, 1]], tokenTypeIds: [[0, 2]] }, limits)).toThrow(
      new RangeError('texts[0] token 1 has type 2, outside [0, 2)'),
    );
    expect(() => checkRows({ inputIds: [[]], attentionMask: [[]], tokenTypeIds: [[]] }, limits)).toThrow(new RangeError('texts[0] has no tokens'));
    expect(() => checkRows(row(2, 3), limits)).not.toThrow();
  });
});
