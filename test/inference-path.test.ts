// The inference path (native/model/bert_attention.h uses_inference_path): forward, predict and evaluation on the CPU in
// fp32 run attention on the packed kernel where head_dim is a multiple of 16 (native/model/cpu_attention.h), else
// LibTorch's fused CPU attention (scaled_dot_product_attention with the additive padding mask), and compute the last
// layer for the first position only. Its numbers must be the exact path's (the training path's kernels,
// which test/parity.test.ts holds to transformers') within 1e-5, on padded batches with a row that is all padding,
// with token types, for every output forward() gives; test/parity.test.ts checks it against transformers itself.
import { BertClassifier, BertTokenizer } from '../src';
import { native } from '../src/engine/native';
import { maxAbsDiff } from './helpers/fixtures';

const WORDS = ['i', 'this', 'that', 'movie', 'film', '!', '.', 'it', 'was', 'plot', 'love', 'hate', 'great', 'bad', 'fine', 'ok'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];
const TEXTS = ['I love this movie!', 'bad', 'it was fine, the plot was ok. it was fine, the plot was ok', 'that film was great', 'hate it'];
const PAIRS = ['ok', 'the plot was bad', 'great', 'i', 'this film'];
const TOLERANCE = 1e-5; // as test/parity.test.ts holds us to transformers (measured: about 1e-6 with these large weights)

afterEach(() => native().setInferencePath(true));

async function model(extra: Record<string, unknown> = {}): Promise<BertClassifier> {
  const config = {
    vocab_size: VOCAB.length,
    hidden_size: 48,
    num_hidden_layers: 3,
    num_attention_heads: 4, // head_dim 12: not a power of two
    intermediate_size: 96,
    max_position_embeddings: 64,
    initializer_range: 0.2,
    ...extra,
  };
  return BertClassifier.fromConfig(config, { labels: ['a', 'b', 'c'], tokenizer: BertTokenizer.fromVocab(VOCAB), seed: 11 });
}

/** Pairs padded to the longest, then a row that is all padding. */
async function paddedBatch(m: BertClassifier): Promise<{ inputIds: number[][]; attentionMask: number[][]; tokenTypeIds: number[][] }> {
  const batch = await m.tokenizer!.encode(TEXTS, PAIRS);
  const width = batch.inputIds[0].length;
  return {
    inputIds: [...batch.inputIds, new Array<number>(width).fill(0)],
    attentionMask: [...batch.attentionMask, new Array<number>(width).fill(0)],
    tokenTypeIds: [...batch.tokenTypeIds, new Array<number>(width).fill(0)],
  };
}

async function bothPaths<T>(fn: () => Promise<T>): Promise<{ inference: T; exact: T }> {
  native().setInferencePath(true);
  const inference = await fn();
  native().setInferencePath(false);
  const exact = await fn();
  native().setInferencePath(true);
  return { inference, exact };
}

describe.each([
  ['gelu', {}],
  ['gelu_new, 1 layer', { hidden_act: 'gelu_new', num_hidden_layers: 1 }],
  // head_dim 16 and 32: attention runs on the packed kernel (native/model/cpu_attention.h), not SDPA
  ['head_dim 16', { hidden_size: 64, intermediate_size: 128 }],
  ['head_dim 32', { hidden_size: 64, num_attention_heads: 2, intermediate_size: 128 }],
])('inference path against the exact path (%s)', (_name, extra) => {
  let m: BertClassifier;
  beforeAll(async () => {
    m = await model(extra);
  });
  afterAll(() => m.dispose());

  test('logits of a padded batch, a row of all padding included', async () => {
    const batch = await paddedBatch(m);
    const { inference, exact } = await bothPaths(() => m.forward(batch));
    expect(inference.shape).toEqual([TEXTS.length + 1, 3]);
    expect(Array.from(inference.logits).every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(inference.logits, Array.from(exact.logits))).toBeLessThanOrEqual(TOLERANCE);
  });

  test('pooled output and every position of the last hidden state', async () => {
    const batch = await paddedBatch(m);
    const { inference, exact } = await bothPaths(() => m.forward({ ...batch, outputHiddenStates: true }));
    expect(maxAbsDiff(inference.logits, Array.from(exact.logits))).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(inference.pooledOutput!, Array.from(exact.pooledOutput!))).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(inference.lastHiddenState!, Array.from(exact.lastHiddenState!))).toBeLessThanOrEqual(TOLERANCE);
  });

  test('no attention mask, and a mask of ones, give the same logits (nothing is masked)', async () => {
    const batch = await m.tokenizer!.encode(['it was fine', 'bad plot']); // rows of one length: no padding
    const ones = batch.attentionMask.map((row) => row.map(() => 1));
    const withMask = await m.forward({ inputIds: batch.inputIds, attentionMask: ones, tokenTypeIds: batch.tokenTypeIds });
    const without = await m.forward({ inputIds: batch.inputIds, tokenTypeIds: batch.tokenTypeIds });
    expect(Array.from(withMask.logits)).toEqual(Array.from(without.logits));
    const { exact } = await bothPaths(() => m.forward({ inputIds: batch.inputIds }));
    const inference = await m.forward({ inputIds: batch.inputIds });
    expect(maxAbsDiff(inference.logits, Array.from(exact.logits))).toBeLessThanOrEqual(TOLERANCE);
  });

  test('a batch of many rows (the products split by rows over the threads, a partial strip at the end)', async () => {
    // 23 rows of 41 positions: 943 rows of activations, more than the threads' row blocks, and not a multiple of 6.
    const texts = Array.from({ length: 23 }, (_, i) => Array.from({ length: 5 + ((i * 7) % 34) }, (_, j) => WORDS[(i + j) % WORDS.length]).join(' '));
    const batch = await m.tokenizer!.encode(texts);
    expect(batch.inputIds.length * batch.inputIds[0].length).toBeGreaterThan(600);
    const { inference, exact } = await bothPaths(() => m.forward({ ...batch, outputHiddenStates: true }));
    expect(maxAbsDiff(inference.logits, Array.from(exact.logits))).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(inference.lastHiddenState!, Array.from(exact.lastHiddenState!))).toBeLessThanOrEqual(TOLERANCE);
  });

  test('predict() on texts of several lengths, in chunks', async () => {
    const { inference, exact } = await bothPaths(() => m.predict([...TEXTS, ...TEXTS.slice(0, 2)], { batchSize: 3 }));
    expect(inference.map((p) => p.label)).toEqual(exact.map((p) => p.label));
    inference.forEach((p, i) => expect(maxAbsDiff(Object.values(p.scores), Object.values(exact[i].scores))).toBeLessThanOrEqual(TOLERANCE));
  });
});
