// Parquet datasets (Dataset.fromParquet, Dataset.streamParquet) on files pyarrow writes at test time: every codec,
// several row groups, dictionary-encoded and plain strings, an all-null column, integer and ClassLabel labels (the
// 🤗 datasets features metadata), multi-label lists; bad files and rows as Errors naming the file, row group, row and
// column, or skipped and counted; the stream giving fromParquet's examples; and a Trainer fitting one epoch on a
// streamed Parquet file exactly as on the same rows in memory.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier, BertTokenizer } from '../src';
import { Dataset } from '../src/data/dataset';
import { StreamingDataset } from '../src/data/streaming-dataset';
import { Trainer } from '../src/train/trainer';
import { StepEvent } from '../src/train/events';
import { fixturePath } from './helpers/fixtures';
import { ParquetFixtures, ParquetRow, writeParquetFixtures } from './helpers/parquet-fixtures';
import { readSafetensors } from './helpers/safetensors';
import { seededRandom } from './helpers/training-data';

const WORDS = Array.from({ length: 90 }, (_, i) => `w${i}`);
const TINY = fixturePath('tiny-safetensors-f32'); // vocab 99, 2 labels

/** 37 rows of 2..20 words; the label (LABEL_1 first) follows the first word's parity, so a tiny model can learn it. */
function rows(count: number, seed: number): ParquetRow[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: 2 + Math.floor(random() * 19) }, () => Math.floor(random() * WORDS.length));
    if (i === 0) words[0] = 1;
    return { text: words.map((w) => WORDS[w]).join(' '), pair: `pair ${i}`, label: words[0] % 2 === 0 ? 'LABEL_0' : 'LABEL_1' };
  });
}

const ROWS = rows(37, 11);
let dir: string;
let fx: ParquetFixtures;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-parquet-'));
  fx = writeParquetFixtures(ROWS, dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** What a promise rejects with (an Error saying it resolved, when it does). */
const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => new Error('resolved'),
    (err: Error) => err,
  );

const expected = ROWS.map((r) => ({ text: r.text, label: r.label }));

describe('fromParquet', () => {
  it.each(['snappy', 'zstd', 'gzip', 'brotli', 'none'])(
    'reads a %s file of several row groups (dictionary-encoded strings, an all-null column)',
    async (codec) => {
      const ds = await Dataset.fromParquet(fx.file(codec));
      expect(ds.toArray()).toEqual(expected);
      expect(ds.labelNames).toEqual(['LABEL_0', 'LABEL_1']);
      expect(ds.skipped).toEqual({ count: 0, examples: [] });
    },
  );

  it('an integer label column holds class ids; labelType name reads them as names; limit stops early', async () => {
    const ids = ROWS.map((r) => fx.labelNames.indexOf(r.label));
    expect((await Dataset.fromParquet(fx.file('plain-int'))).toArray()).toEqual(ROWS.map((r, i) => ({ text: r.text, label: ids[i] })));
    const named = await Dataset.fromParquet(fx.file('plain-int'), { labelType: 'name' });
    expect(named.toArray().map((e) => e.label)).toEqual(ids.map(String));
    expect((await Dataset.fromParquet(fx.file('plain-int'), { limit: 12 })).length).toBe(12);
  });

  it("a ClassLabel's names are the labels, in id order; ids map to them; -1 is no label; labelType id keeps the ids", async () => {
    expect(fx.classLabelNames).toEqual(['LABEL_1', 'LABEL_0']); // first appearance: not sorted
    const ds = await Dataset.fromParquet(fx.file('classlabel'), { textPairColumn: 'pair', requireLabels: false });
    expect(ds.labelNames).toEqual(fx.classLabelNames);
    expect(ds.toArray()).toEqual(ROWS.map((r, i) => (i === 5 ? { text: r.text, textPair: r.pair } : { text: r.text, textPair: r.pair, label: r.label })));
    const ids = await Dataset.fromParquet(fx.file('classlabel'), { labelType: 'id', requireLabels: false });
    expect(ids.get(1).label).toBe(fx.classLabelNames.indexOf(ROWS[1].label));
    expect(ids.labelNames).toEqual(fx.classLabelNames);
    await expect(Dataset.fromParquet(fx.file('classlabel'))).rejects.toThrow(`${fx.file('classlabel')}: row group 0, row 5: no label in column "label"`);
  });

  it('a list of ClassLabel ids is a multi-label label of names', async () => {
    const ds = await Dataset.fromParquet(fx.file('multilabel'), { labelColumn: 'labels' });
    const [a, b] = fx.classLabelNames;
    expect(ds.get(0).label).toEqual(ROWS[0].label === a ? [a, b] : [b, a]);
    expect(ds.labelNames).toEqual(fx.classLabelNames);
  });

  it('checks its options like the other readers (no CSV-only options)', async () => {
    await expect(Dataset.fromParquet(fx.file('snappy'), { delimiter: ';' } as never)).rejects.toThrow(/unknown option "delimiter"/);
    await expect(Dataset.fromParquet(fx.file('snappy'), { limit: 0 })).rejects.toThrow(RangeError);
    await expect(Dataset.fromParquet('' as string)).rejects.toThrow(TypeError);
  });
});

describe('bad Parquet input', () => {
  it('a damaged footer or a missing magic number is an Error naming the file', async () => {
    expect((await failure(Dataset.fromParquet(fx.file('corrupt-footer')))).message).toMatch(
      new RegExp(`^${fx.file('corrupt-footer')}: not a Parquet file, or its footer is damaged`),
    );
    expect((await failure(Dataset.fromParquet(fx.file('no-magic')))).message).toMatch(new RegExp(`^${fx.file('no-magic')}: not a Parquet file`));
    expect((await failure(Dataset.fromParquet(path.join(dir, 'rows.json')))).message).toMatch(/rows\.json: not a Parquet file/);
    expect((await failure(Dataset.fromParquet(path.join(dir, 'absent.parquet')))).message).toMatch(/absent\.parquet: cannot open/);
  });

  it('a damaged data page is an Error naming the file, the row group and the column, even with onBadRow skip', async () => {
    const message = `${fx.file('corrupt-page')}: row group 1, column "text": cannot be read`;
    expect((await failure(Dataset.fromParquet(fx.file('corrupt-page')))).message).toContain(message);
    expect((await failure(Dataset.fromParquet(fx.file('corrupt-page'), { onBadRow: 'skip' }))).message).toContain(message);
  });

  it('a missing column or a text column of numbers is an Error naming the file and the column, even with onBadRow skip', async () => {
    const file = fx.file('snappy');
    expect((await failure(Dataset.fromParquet(file, { textColumn: 'review', onBadRow: 'skip' }))).message).toBe(
      `${file}: no column "review" (columns: text, label, note)`,
    );
    expect((await failure(Dataset.fromParquet(file, { labelColumn: 'sentiment' }))).message).toBe(
      `${file}: no column "sentiment" (columns: text, label, note)`,
    );
    expect((await Dataset.fromParquet(file, { labelColumn: 'sentiment', requireLabels: false })).labeledCount).toBe(0);
    expect((await failure(Dataset.fromParquet(fx.file('int-text'), { onBadRow: 'skip' }))).message).toBe(
      `${fx.file('int-text')}: column "text" holds INT64 values, not strings: a text column must be a string column`,
    );
  });

  it("a null text or label is an Error naming the file, row group, row and column; onBadRow 'skip' skips and counts them", async () => {
    const file = fx.file('nulls');
    expect((await failure(Dataset.fromParquet(file))).message).toBe(`${file}: row group 0, row 3: no text in column "text" (null)`);
    const ds = await Dataset.fromParquet(file, { onBadRow: 'skip' });
    expect(ds.length).toBe(35);
    expect(ds.skipped).toEqual({
      count: 2,
      examples: [
        { rowGroup: 0, row: 3, reason: 'no text in column "text" (null)' },
        { rowGroup: 1, row: 9, reason: 'no label in column "label"' },
      ],
    });
  });

  it('a ClassLabel id outside its names names the row and the column', async () => {
    expect((await failure(Dataset.fromParquet(fx.file('bad-id')))).message).toBe(
      `${fx.file('bad-id')}: row group 0, row 2: column "label": class id 7 is outside its ClassLabel's 2 names (ids 0..1)`,
    );
  });
});

describe('streamParquet', () => {
  it.each(['snappy', 'zstd', 'plain-int', 'nulls'])('streams the examples fromParquet reads (%s)', async (name) => {
    const stream = Dataset.streamParquet(fx.file(name), { onBadRow: 'skip' });
    expect(stream).toBeInstanceOf(StreamingDataset);
    const inMemory = await Dataset.fromParquet(fx.file(name), { onBadRow: 'skip' });
    expect(await collect(stream)).toEqual(inMemory.toArray());
    expect(stream.skipped).toEqual(inMemory.skipped);
  });

  it('counts from the footer, reads the ClassLabel names, reports positions, and shuffles each epoch through the seeded buffer', async () => {
    const stream = Dataset.streamParquet(fx.file('classlabel'), { shuffleBuffer: 8, requireLabels: false });
    expect(stream.format).toBe('parquet');
    expect(await stream.count()).toBe(37);
    expect(await stream.labelNames()).toEqual(fx.classLabelNames);
    expect(await Dataset.streamParquet(fx.file('snappy')).labelNames()).toBeUndefined();
    const inOrder = await collect(stream.epoch({ seed: 1, epoch: 0, shuffle: false }));
    expect(inOrder[9]).toEqual({ example: { text: ROWS[9].text, label: ROWS[9].label }, index: 9, rowGroup: 1, row: 9 });
    const order = async (epoch: number): Promise<number[]> => (await collect(stream.epoch({ seed: 3, epoch, shuffle: true }))).map((e) => e.index);
    const first = await order(0);
    expect(await order(0)).toEqual(first);
    expect([...first].sort((a, b) => a - b)).toEqual(ROWS.map((_, i) => i));
    expect(await order(1)).not.toEqual(first);
    expect(await Dataset.streamParquet(fx.file('snappy'), { limit: 5 }).count()).toBe(5);
    expect(() => Dataset.streamParquet(fx.file('snappy'), { header: false } as never)).toThrow(/unknown option "header"/);
  });

  it('a bad row met mid-stream rejects the pass naming the file, row group, row and column', async () => {
    await expect(collect(Dataset.streamParquet(fx.file('nulls')))).rejects.toThrow(`${fx.file('nulls')}: row group 0, row 3: no text in column "text" (null)`);
  });
});

describe('training from a Parquet stream', () => {
  it('one epoch on a streamed Parquet file trains exactly like the same rows in memory', async () => {
    const tokenizer = BertTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS], {}, { maxLength: 32 });
    const fit = async (data: Dataset | StreamingDataset, name: string): Promise<{ losses: number[]; weights: string }> => {
      const model = await BertClassifier.fromPretrained(TINY);
      model.tokenizer = tokenizer;
      const result = await new Trainer(model, { epochs: 1, batchSize: 4, learningRate: 2e-3, seed: 9, shuffle: false }).fit(data);
      const out = path.join(dir, `fit-${name}`);
      await model.save(out);
      model.dispose();
      return { losses: result.history.filter((e): e is StepEvent => e.type === 'step').map((e) => e.loss), weights: path.join(out, 'model.safetensors') };
    };
    const memory = await fit(Dataset.fromArray(expected), 'memory');
    const streamed = await fit(Dataset.streamParquet(fx.file('zstd')), 'stream');
    expect(streamed.losses).toHaveLength(10); // 37 examples / 4 = 10 steps
    expect(streamed.losses).toEqual(memory.losses);
    const a = readSafetensors(memory.weights).tensors;
    const b = readSafetensors(streamed.weights).tensors;
    for (const [name, tensor] of a) expect(tensor.bytes.equals(b.get(name)!.bytes)).toBe(true);
  });
});
