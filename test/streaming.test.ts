// Streaming datasets: the seeded shuffle buffer (order determinism, skip), the record count, training from a stream
// (same result as in memory with shuffle off), resuming mid-epoch at the recorded position (bit-identical), bad rows
// met mid-stream, and evaluation of a stream.
import { StreamingDataset, bufferShuffle } from '../src/data/streaming-dataset'; // first: the dataset <-> stream import cycle must load either way
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier, BertTokenizer } from '../src';
import { Dataset } from '../src/data/dataset';
import { Trainer } from '../src/train/trainer';
import { fixturePath } from './helpers/fixtures';
import { readSafetensors } from './helpers/safetensors';
import { seededRandom } from './helpers/training-data';
import { Example } from '../src/data/example';
import { epochRandom } from '../src/util/random';
import { EvaluateEvent, StepEvent } from '../src/train/events';
import { TrainerOptions } from '../src/train/trainer-options';

const TINY = fixturePath('tiny-safetensors-f32'); // vocab 99, 2 labels, dropout 0.1
const WORDS = Array.from({ length: 90 }, (_, i) => `w${i}`);
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];
const tokenizer = BertTokenizer.fromVocab(VOCAB, {}, { maxLength: 32 });

/** Texts of 2..20 words whose label is learnable (the first word's parity). */
function textExamples(count: number, seed: number): { text: string; label: string }[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const words = Array.from({ length: 2 + Math.floor(random() * 19) }, () => Math.floor(random() * WORDS.length));
    return { text: words.map((w) => WORDS[w]).join(' '), label: words[0] % 2 === 0 ? 'LABEL_0' : 'LABEL_1' };
  });
}

let dir: string;
let file: string;
const ROWS = textExamples(37, 5);
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-stream-'));
  file = path.join(dir, 'train.jsonl');
  fs.writeFileSync(file, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

async function tinyModel(): Promise<BertClassifier> {
  const model = await BertClassifier.fromPretrained(TINY);
  model.tokenizer = tokenizer;
  return model;
}

function stepLosses(history: (StepEvent | EvaluateEvent)[]): [number, number][] {
  return history.filter((e): e is StepEvent => e.type === 'step').map((e) => [e.step, e.loss]);
}

function expectSameWeights(fileA: string, fileB: string): void {
  const a = readSafetensors(fileA).tensors;
  const b = readSafetensors(fileB).tensors;
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [name, tensor] of a) if (!tensor.bytes.equals(b.get(name)!.bytes)) throw new Error(`${name} differs`);
}

describe('order', () => {
  it('iterates in file order; epochs shuffle through a seeded buffer: same (seed, epoch) same order, each example once', async () => {
    const stream = Dataset.streamJsonl(file, { shuffleBuffer: 8 });
    expect(stream).toBeInstanceOf(StreamingDataset);
    expect(await collect(stream)).toEqual(ROWS);
    const order = async (seed: number, epoch: number, skip = 0): Promise<number[]> =>
      (await collect(stream.epoch({ seed, epoch, shuffle: true, skip }))).map((e) => e.index);
    const a = await order(3, 0);
    expect(await order(3, 0)).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(ROWS.map((_, i) => i));
    expect(a).not.toEqual(ROWS.map((_, i) => i));
    expect(await order(3, 1)).not.toEqual(a);
    expect(await order(4, 0)).not.toEqual(a);
    // Skipping (resume) lands on the same order.
    expect(await order(3, 0, 10)).toEqual(a.slice(10));
    // Lines are reported with the examples.
    const first = (await collect(stream.epoch({ seed: 3, epoch: 0, shuffle: false })))[4];
    expect(first).toEqual({ example: ROWS[4], index: 4, line: 5 });
  });

  it('the buffer shuffle holds at most `size` items and is a permutation', async () => {
    let live = 0;
    let most = 0;
    async function* source(): AsyncGenerator<number> {
      for (let i = 0; i < 100; i++) {
        live += 1;
        most = Math.max(most, live);
        yield i;
      }
    }
    const out: number[] = [];
    for await (const v of bufferShuffle(source(), 10, epochRandom(1, 0))) {
      live -= 1;
      out.push(v);
    }
    expect(most).toBeLessThanOrEqual(11);
    expect([...out].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('count() scans the file once; `length` skips the scan and caps the epoch', async () => {
    const stream = Dataset.streamJsonl(file);
    expect(stream.length).toBeUndefined();
    expect(await stream.count()).toBe(37);
    expect(stream.length).toBe(37);
    const capped = Dataset.streamJsonl(file, { length: 10 });
    expect(capped.length).toBe(10);
    expect(await collect(capped)).toHaveLength(10);
    expect(() => Dataset.streamJsonl(file, { shuffleBuffer: 0 })).toThrow(/shuffleBuffer/);
    expect(() => Dataset.streamJsonl(file, { buffer: 3 } as never)).toThrow(/unknown option "buffer"/);
  });
});

describe('training from a stream', () => {
  const options = (outputDir?: string, extra: TrainerOptions = {}): TrainerOptions => ({
    epochs: 2,
    batchSize: 4,
    gradientAccumulationSteps: 2,
    learningRate: 2e-3,
    seed: 9,
    ...(outputDir ? { outputDir, saveSteps: 3 } : {}),
    ...extra,
  });

  it('with shuffle off, a stream trains exactly like the same file in memory', async () => {
    const fit = async (data: Dataset | StreamingDataset): Promise<{ losses: [number, number][]; weights: string }> => {
      const model = await tinyModel();
      const result = await new Trainer(model, options(undefined, { shuffle: false })).fit(data);
      const out = path.join(dir, `same-${data instanceof Dataset ? 'memory' : 'stream'}`);
      await model.save(out);
      model.dispose();
      return { losses: stepLosses(result.history), weights: path.join(out, 'model.safetensors') };
    };
    const memory = await fit(await Dataset.fromJsonl(file));
    const streamed = await fit(Dataset.streamJsonl(file));
    expect(streamed.losses).toHaveLength(10); // 37 examples / 4 = 10 batches / 2 = 5 steps per epoch
    expect(streamed.losses).toEqual(memory.losses);
    expectSameWeights(memory.weights, streamed.weights);
  });

  it('resuming mid-epoch skips the consumed examples: identical losses and bit-identical weights', async () => {
    const full = path.join(dir, 'resume-A');
    const model = await tinyModel();
    const result = await new Trainer(model, options(full)).fit(Dataset.streamJsonl(file, { shuffleBuffer: 16 }));
    await model.save(path.join(full, 'final'));
    model.dispose();
    const losses = stepLosses(result.history);
    expect(losses).toHaveLength(10);

    // Step 3 is mid-epoch 0: 3 steps x 2 batches x 4 examples consumed.
    const state = JSON.parse(fs.readFileSync(path.join(full, 'checkpoint-3', 'trainer_state.json'), 'utf8'));
    expect(state.bert_trainer.dataPosition).toEqual({ epoch: 0, batch: 6, seed: 9, shuffle: true, examples: 24, shuffleBuffer: 16 }); // 'auto' leaves a stream ungrouped
    expect(state.bert_trainer.numExamples).toBe(37);

    for (const step of [3, 6]) {
      const resumedDir = path.join(dir, `resume-B${step}`);
      const again = await tinyModel();
      const resumed = await new Trainer(again, options(resumedDir)).fit(Dataset.streamJsonl(file, { shuffleBuffer: 16 }), {
        resumeFrom: path.join(full, `checkpoint-${step}`),
      });
      await again.save(path.join(resumedDir, 'final'));
      again.dispose();
      expect(stepLosses(resumed.history).filter(([s]) => s > step)).toEqual(losses.filter(([s]) => s > step));
      expectSameWeights(path.join(full, 'final', 'model.safetensors'), path.join(resumedDir, 'final', 'model.safetensors'));
    }

    const other = await tinyModel();
    await expect(
      new Trainer(other, options(path.join(dir, 'x'))).fit(Dataset.streamJsonl(file, { shuffleBuffer: 8 }), { resumeFrom: path.join(full, 'checkpoint-3') }),
    ).rejects.toThrow(/shuffleBuffer 16, but this run has 8/);
    await expect(
      new Trainer(other, options(path.join(dir, 'x'))).fit(await Dataset.fromJsonl(file), { resumeFrom: path.join(full, 'checkpoint-3') }),
    ).rejects.toThrow(/a streaming dataset true, but this run has false/);
    other.dispose();
  });

  it('a bad row met mid-stream rejects fit naming the file and line; a label unknown to the model names the example', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    const rows: string[] = ROWS.slice(0, 12).map((r) => JSON.stringify(r));
    rows[9] = '{"text": "w1 w2", "label": ';
    fs.writeFileSync(bad, rows.join('\n'));
    const model = await tinyModel();
    const stepsSeen: number[] = [];
    const trainer = new Trainer(model, { epochs: 1, batchSize: 2, shuffle: false, prefetchBatches: 1 });
    trainer.on('step', (e) => stepsSeen.push(e.step));
    await expect(trainer.fit(Dataset.streamJsonl(bad))).rejects.toThrow(`train: ${bad}: line 10: broken JSON`);
    expect(stepsSeen).toEqual([1, 2, 3, 4]); // the batches before the bad row trained
    const lenient = Dataset.streamJsonl(bad, { onBadRow: 'skip' });
    const skipping = await new Trainer(model, { epochs: 1, batchSize: 1, shuffle: false }).fit(lenient);
    expect(skipping.metrics.steps).toBe(11); // 11 examples of the 12 lines counted: a step short of the plan
    expect(lenient.skipped).toEqual({ count: 1, examples: [{ line: 10, reason: expect.stringMatching(/^broken JSON/) }] });
    const unknown = path.join(dir, 'unknown.jsonl');
    fs.writeFileSync(unknown, [...ROWS.slice(0, 5), { text: 'w3', label: 'surprise' }].map((r) => JSON.stringify(r)).join('\n'));
    await expect(new Trainer(model, { epochs: 1, batchSize: 3, shuffle: false }).fit(Dataset.streamJsonl(unknown))).rejects.toThrow(
      `train: examples[5] (${unknown}: line 6).label "surprise" is not a label of this model`,
    );
    model.dispose();
  });

  it('evaluate() reads a stream in file order, like the same examples in memory', async () => {
    const model = await tinyModel();
    const trainer = new Trainer(model, { evalBatchSize: 5 });
    const fromStream = await trainer.evaluate(Dataset.streamJsonl(file));
    const inMemory = await trainer.evaluate(ROWS as Example[]);
    expect(fromStream.numExamples).toBe(37);
    expect(fromStream.loss).toBe(inMemory.loss);
    expect(fromStream.confusionMatrix).toEqual(inMemory.confusionMatrix);
    model.dispose();
  });
});

describe('CSV streams', () => {
  it('stream the same examples as fromCsv, quoted newlines included, and count them', async () => {
    const csv = path.join(dir, 'train.csv');
    const quote = (t: string): string => `"${t.replace(/"/g, '""')}"`;
    fs.writeFileSync(csv, `text,label\n${ROWS.map((r, i) => `${quote(i % 5 === 0 ? `${r.text}\n"said", he` : r.text)},${r.label}`).join('\n')}\n`);
    const stream = Dataset.streamCsv(csv);
    const inMemory = await Dataset.fromCsv(csv);
    expect(await collect(stream)).toEqual(inMemory.toArray());
    expect(await stream.count()).toBe(37);
    const lines = (await collect(stream.epoch({ seed: 0, epoch: 0, shuffle: false }))).map((e) => e.line);
    expect(lines.slice(0, 3)).toEqual([2, 4, 5]);
  });
});
