// The data pipeline in front of the native step: the bounded prefetch queue (order, bound, errors, close), length-
// grouped batching (transformers' LengthGroupedSampler; reproducible; less padding), and the Trainer with both:
// prefetch on/off and grouping give exact, resumable runs and report dataWaitFraction / paddingFraction.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BatchPrefetcher } from '../src/data/batch-prefetch';
import { BertClassifier, BertTokenizer } from '../src';
import { Dataset } from '../src/data/dataset';
import { groupingPays, lengthGroupedOrder, megaBatchSize, paddingFraction } from '../src/data/length-grouping';
import { Trainer } from '../src/train/trainer';
import { fixturePath } from './helpers/fixtures';
import { readSafetensors } from './helpers/safetensors';
import { seededRandom } from './helpers/training-data';
import { batchesOf, epochOrder } from '../src/data/epoch-order';
import { EvaluateEvent, StepEvent } from '../src/train/events';
import { TrainerOptions } from '../src/train/trainer-options';

const TINY = fixturePath('tiny-safetensors-f32');
const WORDS = Array.from({ length: 90 }, (_, i) => `w${i}`);
const tokenizer = BertTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS], {}, { maxLength: 48 });

/** Texts of very different lengths (1..40 words), label learnable from the first word. */
function textExamples(count: number, seed: number): { text: string; label: number }[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(random() ** 2 * 40);
    const words = Array.from({ length: n }, () => Math.floor(random() * WORDS.length));
    return { text: words.map((w) => WORDS[w]).join(' '), label: words[0] % 2 };
  });
}

async function tinyModel(): Promise<BertClassifier> {
  const model = await BertClassifier.fromPretrained(TINY);
  model.tokenizer = tokenizer;
  return model;
}

function stepLosses(history: (StepEvent | EvaluateEvent)[]): [number, number][] {
  return history.filter((e): e is StepEvent => e.type === 'step').map((e) => [e.step, e.loss]);
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-pipeline-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('BatchPrefetcher', () => {
  /** A source that records how far it has been pulled, with a settable failure. */
  function source(count: number, failAt = -1): { iterator: AsyncGenerator<number>; pulled: () => number; closed: () => boolean } {
    let pulled = 0;
    let closed = false;
    async function* generate(): AsyncGenerator<number> {
      try {
        for (let i = 0; i < count; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          if (i === failAt) throw new Error(`examples[${i}] is broken`);
          pulled = i + 1;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    return { iterator: generate(), pulled: () => pulled, closed: () => closed };
  }
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
  /** Until `done()` holds (at most 5 s): the producer's pace depends on the machine's load, not on a fixed wait. */
  const until = async (done: () => boolean): Promise<void> => {
    for (const deadline = Date.now() + 5000; !done() && Date.now() < deadline;) await settle();
  };

  it('delivers items in order and produces at most `capacity` ahead of the consumer', async () => {
    const s = source(10);
    const queue = new BatchPrefetcher(s.iterator, 3);
    await until(() => s.pulled() >= 3);
    await settle(); // and then no further
    expect(s.pulled()).toBe(3);
    const seen: number[] = [];
    for (let item = await queue.next(); !item.done; item = await queue.next()) {
      seen.push(item.value);
      await settle();
      expect(s.pulled()).toBeLessThanOrEqual(Math.min(10, seen.length + 3));
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await queue.next()).done).toBe(true);
  });

  it('capacity 0 produces only on demand', async () => {
    const s = source(5);
    const queue = new BatchPrefetcher(s.iterator, 0);
    await settle();
    expect(s.pulled()).toBe(0);
    expect((await queue.next()).value).toBe(0);
    await settle();
    expect(s.pulled()).toBe(1);
  });

  it('an error reaches the consumer after the items before it, and again on later calls', async () => {
    const queue = new BatchPrefetcher(source(10, 2).iterator, 4);
    expect((await queue.next()).value).toBe(0);
    expect((await queue.next()).value).toBe(1);
    await expect(queue.next()).rejects.toThrow('examples[2] is broken');
    await expect(queue.next()).rejects.toThrow('examples[2] is broken');
  });

  it('close() stops the producer and runs its cleanup', async () => {
    const s = source(100);
    const queue = new BatchPrefetcher(s.iterator, 2);
    await queue.next();
    await queue.close();
    expect(s.closed()).toBe(true);
    expect(s.pulled()).toBeLessThanOrEqual(4);
    await expect(queue.next()).rejects.toThrow(/closed/);
  });
});

describe('length grouping (transformers LengthGroupedSampler)', () => {
  const random = seededRandom(3);
  const lengths = Array.from({ length: 1000 }, () => 1 + Math.floor(random() * 200));

  it("mega-batches of transformers' size, each sorted longest first, the longest example leading", () => {
    expect(megaBatchSize(1000, 4)).toBe(200); // 4 * min(1000 // 16, 50)
    expect(megaBatchSize(100, 8)).toBe(24); // 8 * (100 // 32)
    expect(megaBatchSize(10, 8)).toBe(8); // at least one batch
    const permutation = epochOrder(1000, 5, 0, true);
    const order = lengthGroupedOrder(lengths, 4, permutation);
    expect([...order].sort((a, b) => a - b)).toEqual(permutation.map((_, i) => i));
    expect(lengths[order[0]]).toBe(Math.max(...lengths));
    for (let m = 0; m < 5; m++) {
      const mega = order.slice(m * 200, (m + 1) * 200);
      // Each mega-batch holds the same examples as that slice of the permutation (one swap aside), in length order.
      const rest = mega.slice(1).map((i) => lengths[i]);
      expect(rest).toEqual([...rest].sort((a, b) => b - a));
    }
    expect(lengthGroupedOrder(lengths, 4, permutation)).toEqual(order);
    expect(lengthGroupedOrder(lengths, 4, epochOrder(1000, 5, 1, true))).not.toEqual(order);
  });

  it('cuts padding', () => {
    const plain = paddingFraction(batchesOf(epochOrder(1000, 5, 0, true), 8), lengths);
    const grouped = paddingFraction(batchesOf(lengthGroupedOrder(lengths, 8, epochOrder(1000, 5, 0, true)), 8), lengths);
    expect(plain).toBeGreaterThan(0.3);
    expect(grouped).toBeLessThan(0.05);
  });
});

describe('Trainer data pipeline', () => {
  const train = Dataset.fromArray(textExamples(48, 2));
  const options = (extra: TrainerOptions = {}): TrainerOptions => ({ epochs: 2, batchSize: 4, learningRate: 2e-3, seed: 4, ...extra });

  async function run(extra: TrainerOptions, fitOptions: Parameters<Trainer['fit']>[1] = {}) {
    const model = await tinyModel();
    const events: StepEvent[] = [];
    const trainer = new Trainer(model, options(extra));
    trainer.on('step', (e) => events.push(e));
    const result = await trainer.fit(train, fitOptions);
    const weights = path.join(dir, `w-${Math.random().toString(36).slice(2)}`);
    await model.save(weights);
    model.dispose();
    return { result, events, weights: path.join(weights, 'model.safetensors') };
  }

  it('options are checked', async () => {
    const model = await tinyModel();
    expect(() => new Trainer(model, { prefetchBatches: -1 })).toThrow(RangeError);
    expect(() => new Trainer(model, { groupByLength: 1 as unknown as boolean })).toThrow(/groupByLength/);
    // Length grouping is decided from the data by default ('auto') wherever the order is shuffled, off with shuffle: false.
    expect(new Trainer(model).options).toMatchObject({ prefetchBatches: 4, shuffle: true, groupByLength: 'auto' });
    expect(new Trainer(model, { shuffle: false }).options).toMatchObject({ groupByLength: false });
    expect(new Trainer(model, { shuffle: false, groupByLength: true }).options).toMatchObject({ groupByLength: true });
    expect(new Trainer(model, { groupByLength: false }).options).toMatchObject({ shuffle: true, groupByLength: false });
    expect(() => new Trainer(model, { groupByLength: 'yes' as unknown as boolean })).toThrow(/groupByLength must be true, false or 'auto'/);
    model.dispose();
  });

  it('prefetching changes nothing but timing; dataWaitFraction and paddingFraction are reported', async () => {
    const on = await run({ prefetchBatches: 4, groupByLength: false });
    const off = await run({ prefetchBatches: 0, groupByLength: false });
    expect(stepLosses(on.result.history)).toEqual(stepLosses(off.result.history));
    expect(fs.readFileSync(on.weights).equals(fs.readFileSync(off.weights))).toBe(true);
    for (const r of [on, off]) {
      expect(r.result.metrics.dataWaitFraction).toBeGreaterThanOrEqual(0);
      expect(r.result.metrics.dataWaitFraction).toBeLessThan(1);
      expect(r.result.metrics.paddingFraction).toBeGreaterThan(0.2);
      for (const e of r.events) expect(e.dataWaitFraction).toBeGreaterThanOrEqual(0);
    }
  });

  it("groupByLength 'auto' groups where plain batches would be more than 20% padding, and only there", async () => {
    // textExamples(48, 2): long-tailed lengths, plain batches well over 20% padding (see the prefetch test): grouped.
    const auto = await run({ outputDir: path.join(dir, 'auto'), saveSteps: 5 });
    const grouped = await run({ groupByLength: true });
    expect(stepLosses(auto.result.history)).toEqual(stepLosses(grouped.result.history));
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'auto', 'checkpoint-5', 'trainer_state.json'), 'utf8'));
    expect(state.bert_trainer.dataPosition.groupByLength).toBe(true);
    // Every example the same length: no padding to save, so 'auto' keeps the plain order.
    const even = Dataset.fromArray(Array.from({ length: 24 }, (_, i) => ({ inputIds: [2, 5 + (i % 7), 6, 3], label: i % 2 })));
    const fitEven = async (extra: TrainerOptions) => {
      const model = await tinyModel();
      const result = await new Trainer(model, options(extra)).fit(even);
      model.dispose();
      return stepLosses(result.history);
    };
    expect(await fitEven({})).toEqual(await fitEven({ groupByLength: false }));
    expect(groupingPays(Int32Array.from([4, 4, 4, 4]), 2, [0, 1, 2, 3])).toBe(false);
    expect(groupingPays(Int32Array.from([10, 1, 10, 1]), 2, [0, 1, 2, 3])).toBe(true); // 45% padding
    expect(groupingPays(Int32Array.from([10, 8, 10, 8]), 2, [0, 1, 2, 3])).toBe(false); // 10%
  });

  it('groupByLength: less padding, reproducible, and a resumed run is bit-identical', async () => {
    const plain = await run({ groupByLength: false });
    const outputDir = path.join(dir, 'grouped');
    const grouped = await run({ groupByLength: true, outputDir, saveSteps: 5, gradientAccumulationSteps: 2 });
    expect(grouped.result.metrics.paddingFraction).toBeLessThan(plain.result.metrics.paddingFraction / 2);
    const again = await run({ groupByLength: true, gradientAccumulationSteps: 2 });
    expect(stepLosses(again.result.history)).toEqual(stepLosses(grouped.result.history));

    const state = JSON.parse(fs.readFileSync(path.join(outputDir, 'checkpoint-5', 'trainer_state.json'), 'utf8'));
    expect(state.bert_trainer.dataPosition).toEqual({ epoch: 0, batch: 10, seed: 4, shuffle: true, groupByLength: true });
    const resumed = await run(
      { groupByLength: true, outputDir: path.join(dir, 'grouped-resumed'), saveSteps: 5, gradientAccumulationSteps: 2 },
      { resumeFrom: path.join(outputDir, 'checkpoint-5') },
    );
    expect(stepLosses(resumed.result.history)).toEqual(stepLosses(grouped.result.history));
    const a = readSafetensors(grouped.weights).tensors;
    const b = readSafetensors(resumed.weights).tensors;
    for (const [name, t] of a) expect(t.bytes.equals(b.get(name)!.bytes)).toBe(true);
    // The default ('auto', grouping this data) resumes it too; an explicit groupByLength: false cannot.
    const byDefault = await run(
      { outputDir: path.join(dir, 'grouped-default'), saveSteps: 5, gradientAccumulationSteps: 2 },
      { resumeFrom: path.join(outputDir, 'checkpoint-5') },
    );
    expect(stepLosses(byDefault.result.history)).toEqual(stepLosses(grouped.result.history));
    await expect(
      run(
        { groupByLength: false, outputDir: path.join(dir, 'ungrouped'), saveSteps: 5, gradientAccumulationSteps: 2 },
        { resumeFrom: path.join(outputDir, 'checkpoint-5') },
      ),
    ).rejects.toThrow(/groupByLength true, but this run has false/);
  });

  it('groupByLength on a stream: mega-batches of the shuffled stream, resumable mid-mega-batch', async () => {
    const file = path.join(dir, 'grouped.jsonl');
    fs.writeFileSync(
      file,
      textExamples(70, 8)
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const fitStream = async (outputDir: string, resumeFrom?: string) => {
      const model = await tinyModel();
      const trainer = new Trainer(model, { epochs: 2, batchSize: 2, learningRate: 2e-3, seed: 1, groupByLength: true, outputDir, saveSteps: 7 });
      const result = await trainer.fit(Dataset.streamJsonl(file, { shuffleBuffer: 20 }), resumeFrom ? { resumeFrom } : {});
      model.dispose();
      return result;
    };
    // 70 examples, batch 2: mega-batches of 2 * (70 // 8) = 16 examples (8 batches); step 7 is inside the first.
    const full = await fitStream(path.join(dir, 'sg-A'));
    const plainModel = await tinyModel();
    const plain = await new Trainer(plainModel, { epochs: 2, batchSize: 2, seed: 1, groupByLength: false }).fit(
      Dataset.streamJsonl(file, { shuffleBuffer: 20 }),
    );
    plainModel.dispose();
    expect(full.metrics.paddingFraction).toBeLessThan(plain.metrics.paddingFraction);
    for (const step of [7, 14]) {
      const resumed = await fitStream(path.join(dir, `sg-B${step}`), path.join(dir, 'sg-A', `checkpoint-${step}`));
      expect(stepLosses(resumed.history)).toEqual(stepLosses(full.history));
    }
  });
});
