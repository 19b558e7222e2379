import { Dataset, inferProblemType } from '../src/data/dataset';
import { BertTokenizer } from '../src/tokenizer/tokenizer';
import { EncodeContext, encodeBatch } from '../src/data/encode';
import { Example } from '../src/data/example';
import { batchesOf, epochOrder } from '../src/data/epoch-order';

// ids:           0        1        2        3        4         5        6        7       8      9        10       11
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', 'good', 'bad', 'movie', 'great', 'the'];
const tokenizer = BertTokenizer.fromVocab(VOCAB);
const LABEL2ID = { neg: 0, pos: 1, neutral: 2 };

function ctx(overrides: Partial<EncodeContext> = {}): EncodeContext {
  return {
    tokenizer,
    padTokenId: 0,
    problemType: 'single_label_classification',
    numLabels: 3,
    label2id: LABEL2ID,
    requireLabels: true,
    ...overrides,
  };
}

function rows(data: Int32Array, seq: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < data.length; start += seq) out.push(Array.from(data.subarray(start, start + seq)));
  return out;
}

describe('Dataset.fromArray', () => {
  it('holds validated copies, iterates, and reports labeled examples', () => {
    const source: Example[] = [{ text: 'hello', label: 1 }, { inputIds: [2, 5, 3] }, { text: 'a', textPair: 'b', label: 'pos' }];
    const ds = Dataset.fromArray(source);
    expect(ds.length).toBe(3);
    expect(ds.labeledCount).toBe(2);
    expect(ds.get(0)).toEqual({ text: 'hello', label: 1 });
    expect([...ds]).toEqual(source);
    (source[1] as { inputIds: number[] }).inputIds.push(99); // the dataset keeps its own copy
    expect(ds.get(1)).toEqual({ inputIds: [2, 5, 3] });
    expect(() => (ds.get(1) as { inputIds: number[] }).inputIds.push(1)).toThrow(TypeError); // frozen
    expect(() => ds.get(3)).toThrow(/index 3 is outside the dataset \[0, 3\)/);
  });

  it('drops unknown fields and treats a null label as no label', () => {
    const ds = Dataset.fromArray([{ text: 'x', label: null, idx: 4 } as unknown as Example]);
    expect(ds.get(0)).toEqual({ text: 'x' });
    expect(ds.labeledCount).toBe(0);
  });

  it('slice, filter, select, map and shuffle', () => {
    const ds = Dataset.fromArray([0, 1, 2, 3, 4, 5].map((i) => ({ text: `t${i}`, label: i % 3 })));
    expect(
      ds
        .slice(1, 3)
        .toArray()
        .map((e) => (e as { text: string }).text),
    ).toEqual(['t1', 't2']);
    expect(ds.filter((e) => e.label === 0).length).toBe(2);
    expect(
      ds
        .select([5, 0])
        .toArray()
        .map((e) => e.label),
    ).toEqual([2, 0]);
    expect(ds.map((e) => ({ ...e, label: 'pos' })).get(3).label).toBe('pos');
    const order = epochOrder(6, 7, 0, true);
    expect(ds.shuffle(7).toArray()).toEqual(order.map((i) => ds.get(i)));
    expect(() => ds.map(() => ({ text: 3 }) as unknown as Example)).toThrow('examples[0].text must be a string');
    expect(() => ds.select([6])).toThrow(/indices\[0\] = 6 is outside the dataset/);
  });

  it.each<[unknown, string | RegExp]>([
    [{ text: 3 }, 'examples[1].text must be a string, got number 3'],
    [{ text: 'a', textPair: 5 }, 'examples[1].textPair must be a string'],
    [{ sentence: 'a' }, /examples\[1\] must have a text \(string\) or inputIds \(token ids\); it has "sentence"/],
    [{ text: 'a', inputIds: [1] }, 'examples[1] has both text and inputIds'],
    ['hello', /examples\[1\] must be an object/],
    [null, /examples\[1\] must be an object/],
    [{ inputIds: 'abc' }, 'examples[1].inputIds must be an array of token ids'],
    [{ inputIds: [1, 2.5] }, 'examples[1].inputIds[1] must be a token id'],
    [{ inputIds: [1, -1] }, 'examples[1].inputIds[1] must be a token id'],
    [{ inputIds: [] }, 'examples[1].inputIds is empty'],
    [{ inputIds: [1, 2], attentionMask: [1] }, 'examples[1].attentionMask has 1 values but examples[1].inputIds has 2'],
    [{ inputIds: [1, 2], attentionMask: [1, 2] }, 'examples[1].attentionMask[1] must be 0 or 1'],
    [{ inputIds: [1, 2], tokenTypeIds: [0, 0, 1] }, 'examples[1].tokenTypeIds has 3 values but examples[1].inputIds has 2'],
    [{ text: 'a', label: { id: 1 } }, /examples\[1\]\.label must be a class id, a label name, or an array/],
    [{ text: 'a', label: true }, /examples\[1\]\.label must be/],
    [{ text: 'a', label: NaN }, 'examples[1].label must be a finite number'],
    [{ text: 'a', label: [1, 'pos'] }, 'examples[1].label[1] must be a number like examples[1].label[0]'],
    [{ text: 'a', label: [[1]] }, 'examples[1].label[0] must be a number or a label name'],
  ])('rejects %j with a TypeError/RangeError naming the index', (bad, message) => {
    let error: unknown;
    try {
      Dataset.fromArray([{ text: 'ok' }, bad as Example]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
    expect(() => Dataset.fromArray([{ text: 'ok' }, bad as Example])).toThrow(message);
  });

  it('rejects a non-array', () => {
    expect(() => Dataset.fromArray('x' as unknown as Example[])).toThrow(TypeError);
  });
});

describe('encodeBatch: inputs', () => {
  it('tokenizes texts and pads to the longest row of the batch, as the tokenizer does', async () => {
    const ds = Dataset.fromArray([
      { text: 'hello world', label: 0 },
      { text: 'the great movie xyz', label: 1 },
      { text: 'good', label: 2 },
    ]);
    const b = await encodeBatch(ds, [0, 1, 2], ctx());
    expect(b.batchSize).toBe(3);
    expect(b.sequenceLength).toBe(6);
    expect(rows(b.inputIds, 6)).toEqual([
      [2, 5, 6, 3, 0, 0],
      [2, 11, 10, 9, 1, 3],
      [2, 7, 3, 0, 0, 0],
    ]);
    expect(rows(b.attentionMask, 6)).toEqual([
      [1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0],
    ]);
    expect(Array.from(b.tokenTypeIds)).toEqual(new Array(18).fill(0));
    expect(b.realTokens).toBe(13);
    expect(b.indices).toEqual([0, 1, 2]);
    expect(b.inputIds).toBeInstanceOf(Int32Array);

    const reference = await tokenizer.encode(['hello world', 'the great movie xyz', 'good']);
    expect(rows(b.inputIds, 6)).toEqual(reference.inputIds);
    expect(rows(b.attentionMask, 6)).toEqual(reference.attentionMask);
    expect(rows(b.tokenTypeIds, 6)).toEqual(reference.tokenTypeIds);
  });

  it('pads only to the longest row of THIS batch (dynamic padding), rows in the order of indices', async () => {
    const ds = Dataset.fromArray([{ text: 'hello world the great movie' }, { text: 'good' }, { text: 'bad movie' }]);
    const b = await encodeBatch(ds, [2, 1], ctx({ requireLabels: false }));
    expect(b.sequenceLength).toBe(4);
    expect(rows(b.inputIds, 4)).toEqual([
      [2, 8, 9, 3],
      [2, 7, 3, 0],
    ]);
    expect(b.indices).toEqual([2, 1]);
    expect(b.labels).toBeNull();
  });

  it('text pairs get token type 1 on the second segment; pairs and single texts mix in a batch', async () => {
    const ds = Dataset.fromArray([{ text: 'hello', textPair: 'world' }, { text: 'good', textPair: 'bad movie' }, { text: 'the' }]);
    const b = await encodeBatch(ds, [0, 1, 2], ctx({ requireLabels: false }));
    expect(rows(b.inputIds, 6)).toEqual([
      [2, 5, 3, 6, 3, 0],
      [2, 7, 3, 8, 9, 3],
      [2, 11, 3, 0, 0, 0],
    ]);
    expect(rows(b.tokenTypeIds, 6)).toEqual([
      [0, 0, 0, 1, 1, 0],
      [0, 0, 0, 1, 1, 1],
      [0, 0, 0, 0, 0, 0],
    ]);
    expect(rows(b.attentionMask, 6)[0]).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it('truncates texts to maxLength (special tokens included)', async () => {
    const ds = Dataset.fromArray([{ text: 'hello world the great movie' }, { text: 'good', textPair: 'the great movie' }]);
    const b = await encodeBatch(ds, [0, 1], ctx({ requireLabels: false, maxLength: 5 }));
    expect(b.sequenceLength).toBe(5);
    expect(rows(b.inputIds, 5)).toEqual([
      [2, 5, 6, 11, 3],
      [2, 7, 3, 11, 3],
    ]);
  });

  it('pads pre-tokenized rows with the pad id, mask 0 and token type 0, keeping given masks and types', async () => {
    const ds = Dataset.fromArray([{ inputIds: [2, 5, 3] }, { inputIds: [2, 5, 3, 6, 3], attentionMask: [1, 1, 1, 1, 0], tokenTypeIds: [0, 0, 0, 1, 1] }]);
    const b = await encodeBatch(ds, [0, 1], ctx({ tokenizer: undefined, padTokenId: 7, requireLabels: false }));
    expect(rows(b.inputIds, 5)).toEqual([
      [2, 5, 3, 7, 7],
      [2, 5, 3, 6, 3],
    ]);
    expect(rows(b.attentionMask, 5)).toEqual([
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 0],
    ]);
    expect(rows(b.tokenTypeIds, 5)).toEqual([
      [0, 0, 0, 0, 0],
      [0, 0, 0, 1, 1],
    ]);
    expect(b.realTokens).toBe(7);
  });

  it("mixes pre-tokenized and text examples, padding with the tokenizer's pad id", async () => {
    const ds = Dataset.fromArray([{ inputIds: [2, 5, 6, 11, 10, 9, 3] }, { text: 'good' }]);
    const b = await encodeBatch(ds, [0, 1], ctx({ padTokenId: 9, requireLabels: false }));
    expect(rows(b.inputIds, 7)).toEqual([
      [2, 5, 6, 11, 10, 9, 3],
      [2, 7, 3, 0, 0, 0, 0],
    ]);
  });

  it('a text example without a tokenizer is an error saying the model has no tokenizer', async () => {
    const ds = Dataset.fromArray([{ inputIds: [2, 3] }, { text: 'hello' }]);
    await expect(encodeBatch(ds, [0, 1], ctx({ tokenizer: undefined, requireLabels: false }))).rejects.toThrow(
      'examples[1] is text, but the model has no tokenizer',
    );
  });

  it('pre-tokenized rows longer than maxLength are an error naming the index and the limit', async () => {
    const ds = Dataset.fromArray([{ inputIds: [2, 3] }, { inputIds: [2, 5, 6, 5, 6, 3] }]);
    await expect(encodeBatch(ds, [0, 1], ctx({ tokenizer: undefined, maxLength: 4, requireLabels: false }))).rejects.toThrow(
      'examples[1].inputIds has 6 tokens, more than maxLength (4)',
    );
    // without ctx.maxLength, the tokenizer's maxLength is the limit
    const small = BertTokenizer.fromVocab(VOCAB, {}, { maxLength: 5 });
    await expect(encodeBatch(ds, [1], ctx({ tokenizer: small, requireLabels: false }))).rejects.toThrow(/more than maxLength \(5\)/);
    // no limit at all without either
    await expect(encodeBatch(ds, [1], ctx({ tokenizer: undefined, requireLabels: false }))).resolves.toMatchObject({ sequenceLength: 6 });
  });

  it('rejects bad indices and context', async () => {
    const ds = Dataset.fromArray([{ text: 'hello', label: 0 }]);
    await expect(encodeBatch(ds, [], ctx())).rejects.toThrow(/indices is empty/);
    await expect(encodeBatch(ds, [1], ctx())).rejects.toThrow(/indices\[0\] = 1 is outside the dataset \[0, 1\)/);
    await expect(encodeBatch(ds, [0], ctx({ numLabels: 0 }))).rejects.toThrow(/numLabels/);
    await expect(encodeBatch(ds, [0], ctx({ problemType: 'ranking' as never }))).rejects.toThrow(/problemType/);
    await expect(encodeBatch([{ text: 'x' }] as unknown as Dataset, [0], ctx())).rejects.toThrow(/Dataset/);
  });
});

describe('encodeBatch: labels', () => {
  it('single-label: ids and names (via label2id) to Int32Array', async () => {
    const ds = Dataset.fromArray([
      { text: 'hello', label: 2 },
      { text: 'hello', label: 'pos' },
      { text: 'hello', label: 'neg' },
    ]);
    const b = await encodeBatch(ds, [0, 1, 2], ctx());
    expect(b.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(b.labels!)).toEqual([2, 1, 0]);
  });

  it('single-label errors name the index', async () => {
    const ds = Dataset.fromArray([
      { text: 'a', label: 0 },
      { text: 'b', label: 'great' },
      { text: 'c', label: 3 },
      { text: 'd', label: 1.5 },
      { text: 'e', label: [0, 1, 0] },
      { text: 'f' },
      { text: 'g', label: 'constructor' },
    ]);
    await expect(encodeBatch(ds, [0, 1], ctx())).rejects.toThrow(
      'examples[1].label "great" is not a label of this model (known labels: "neg", "pos", "neutral")',
    );
    await expect(encodeBatch(ds, [2], ctx())).rejects.toThrow('examples[2].label = 3 is outside the class ids [0, 3)');
    await expect(encodeBatch(ds, [3], ctx())).rejects.toThrow(TypeError);
    await expect(encodeBatch(ds, [3], ctx())).rejects.toThrow(/examples\[3\]\.label must be an integer class id/);
    await expect(encodeBatch(ds, [4], ctx())).rejects.toThrow(TypeError);
    await expect(encodeBatch(ds, [4], ctx())).rejects.toThrow(/examples\[4\]\.label is an array, but single_label_classification/);
    await expect(encodeBatch(ds, [0, 5], ctx())).rejects.toThrow('examples[5] has no label');
    await expect(encodeBatch(ds, [6], ctx())).rejects.toThrow(/examples\[6\]\.label "constructor" is not a label/);
  });

  it('requireLabels false: null without labels, an error when only some examples have one', async () => {
    const ds = Dataset.fromArray([{ text: 'a' }, { text: 'b', label: 1 }, { text: 'c', label: 0 }]);
    expect((await encodeBatch(ds, [0], ctx({ requireLabels: false }))).labels).toBeNull();
    expect(Array.from((await encodeBatch(ds, [1, 2], ctx({ requireLabels: false }))).labels!)).toEqual([1, 0]);
    await expect(encodeBatch(ds, [0, 1], ctx({ requireLabels: false }))).rejects.toThrow('examples[0] has no label but examples[1] has one');
  });

  it('multi-label: arrays of numbers or of label names to a multi-hot Float32Array [B * L]', async () => {
    const ds = Dataset.fromArray([
      { text: 'a', label: [1, 0, 1] },
      { text: 'b', label: ['pos', 'neutral'] },
      { text: 'c', label: [0.25, 0.5, 0] },
      { text: 'd', label: [] },
    ]);
    const b = await encodeBatch(ds, [0, 1, 2, 3], ctx({ problemType: 'multi_label_classification' }));
    expect(b.labels).toBeInstanceOf(Float32Array);
    expect(Array.from(b.labels!)).toEqual([1, 0, 1, 0, 1, 1, 0.25, 0.5, 0, 0, 0, 0]);
  });

  it('multi-label errors name the index', async () => {
    const mc = ctx({ problemType: 'multi_label_classification' });
    const ds = Dataset.fromArray([
      { text: 'a', label: [1, 0] },
      { text: 'b', label: ['pos', 'meh'] },
      { text: 'c', label: 1 },
      { text: 'd', label: [0, 2, 0] },
    ]);
    await expect(encodeBatch(ds, [0], mc)).rejects.toThrow('examples[0].label has 2 values, expected 3');
    await expect(encodeBatch(ds, [1], mc)).rejects.toThrow(
      /examples\[1\]\.label name "meh" is not a label of this model \(known labels: "neg", "pos", "neutral"\)/,
    );
    await expect(encodeBatch(ds, [2], mc)).rejects.toThrow(TypeError);
    await expect(encodeBatch(ds, [2], mc)).rejects.toThrow(/examples\[2\]\.label must be an array for multi_label_classification/);
    await expect(encodeBatch(ds, [3], mc)).rejects.toThrow('examples[3].label[1] = 2 must be in [0, 1]');
  });

  it('regression: numbers (one output) or arrays (several outputs) to Float32Array', async () => {
    const ds = Dataset.fromArray([
      { text: 'a', label: 0.1 },
      { text: 'b', label: [-2.5] },
    ]);
    const b = await encodeBatch(ds, [0, 1], ctx({ problemType: 'regression', numLabels: 1 }));
    expect(b.labels).toBeInstanceOf(Float32Array);
    expect(Array.from(b.labels!)).toEqual([Math.fround(0.1), -2.5]);

    const multi = Dataset.fromArray([
      { text: 'a', label: [1, 2] },
      { text: 'b', label: [3, 4] },
    ]);
    const m = await encodeBatch(multi, [1, 0], ctx({ problemType: 'regression', numLabels: 2 }));
    expect(Array.from(m.labels!)).toEqual([3, 4, 1, 2]);
  });

  it('regression errors name the index', async () => {
    const ds = Dataset.fromArray([
      { text: 'a', label: 'pos' },
      { text: 'b', label: 1 },
      { text: 'c', label: [1, 2, 3] },
    ]);
    await expect(encodeBatch(ds, [0], ctx({ problemType: 'regression', numLabels: 1 }))).rejects.toThrow(TypeError);
    await expect(encodeBatch(ds, [0], ctx({ problemType: 'regression', numLabels: 1 }))).rejects.toThrow(
      /examples\[0\]\.label must be a number for regression/,
    );
    await expect(encodeBatch(ds, [1], ctx({ problemType: 'regression', numLabels: 2 }))).rejects.toThrow(
      /examples\[1\]\.label is one number, but this regression model has 2 outputs/,
    );
    await expect(encodeBatch(ds, [2], ctx({ problemType: 'regression', numLabels: 2 }))).rejects.toThrow('examples[2].label has 3 values, expected 2');
  });
});

describe('inferProblemType', () => {
  it("follows transformers' rule", () => {
    expect(inferProblemType(Dataset.fromArray([{ text: 'a', label: 0.5 }]), 1)).toBe('regression');
    expect(
      inferProblemType(
        Dataset.fromArray([
          { text: 'a', label: 1 },
          { text: 'b', label: 'neg' },
        ]),
        3,
      ),
    ).toBe('single_label_classification');
    expect(inferProblemType(Dataset.fromArray([{ text: 'a' }, { text: 'b', label: [0, 1] }]), 2)).toBe('multi_label_classification');
    expect(inferProblemType(Dataset.fromArray([{ text: 'b', label: ['pos'] }]), 3)).toBe('multi_label_classification');
    expect(inferProblemType(Dataset.fromArray([{ text: 'a' }]), 2)).toBe('single_label_classification');
    expect(() => inferProblemType(Dataset.fromArray([]), 0)).toThrow(/numLabels/);
  });
});

describe('epochOrder and batchesOf', () => {
  it('is the identity without shuffling', () => {
    expect(epochOrder(5, 42, 3, false)).toEqual([0, 1, 2, 3, 4]);
    expect(epochOrder(0, 42, 0, true)).toEqual([]);
  });

  it('is a deterministic permutation for (seed, epoch), different across epochs and seeds', () => {
    const a = epochOrder(100, 42, 0, true);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(epochOrder(100, 42, 0, true)).toEqual(a);
    expect(epochOrder(100, 42, 1, true)).not.toEqual(a);
    expect(epochOrder(100, 43, 0, true)).not.toEqual(a);
    expect(epochOrder(100, 42 + 2 ** 32, 0, true)).not.toEqual(a); // the high bits of the seed count
    expect(a).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('is the same in every process (pinned values)', () => {
    expect(epochOrder(10, 42, 0, true)).toEqual(PINNED_42_0);
    expect(epochOrder(10, 42, 1, true)).toEqual(PINNED_42_1);
  });

  it('rejects bad arguments', () => {
    expect(() => epochOrder(-1, 0, 0, true)).toThrow(/length/);
    expect(() => epochOrder(3, 1.5, 0, true)).toThrow(/seed/);
    expect(() => epochOrder(3, 0, -1, true)).toThrow(/epoch/);
  });

  it('batchesOf keeps the last partial batch', () => {
    expect(batchesOf([4, 2, 0, 1, 3], 2)).toEqual([[4, 2], [0, 1], [3]]);
    expect(batchesOf([1, 2], 5)).toEqual([[1, 2]]);
    expect(batchesOf([], 3)).toEqual([]);
    expect(() => batchesOf([1], 0)).toThrow(/batchSize must be a positive integer/);
  });
});

const PINNED_42_0 = [9, 3, 4, 1, 5, 8, 2, 0, 6, 7];
const PINNED_42_1 = [7, 5, 9, 8, 1, 4, 6, 0, 2, 3];
