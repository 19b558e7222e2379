// BertClassifier with a tokenizer: predict, save with tokenizer files, reload, concurrent calls, atomic saves.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier, BertTokenizer } from '../src';

const WORDS = ['i', 'love', 'hate', 'this', 'that', 'movie', 'film', 'great', 'bad', '!', '.', 'it', 'was', '##s'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];
const TEXTS = ['I love this movie!', 'I hate that film.', 'It was great', 'bad bad bad films'];

function tinyConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    vocab_size: VOCAB.length,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 32,
    ...extra,
  };
}

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-classifier-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

async function makeModel(extra: Record<string, unknown> = {}, labels = ['negative', 'positive']): Promise<BertClassifier> {
  const tokenizer = BertTokenizer.fromVocab(VOCAB);
  return BertClassifier.fromConfig(tinyConfig({ initializer_range: 0.5, ...extra }), { labels, tokenizer, seed: 3 });
}

test('predict = tokenize + forward + softmax, with label names', async () => {
  const model = await makeModel();
  const predictions = await model.predict(TEXTS);
  expect(predictions).toHaveLength(TEXTS.length);
  const { logits } = await model.forward(await model.tokenizer!.encode(TEXTS));
  predictions.forEach((p, row) => {
    const [a, b] = [logits[row * 2], logits[row * 2 + 1]];
    const pPositive = 1 / (1 + Math.exp(a - b));
    expect(p.scores.positive).toBeCloseTo(pPositive, 6);
    expect(p.scores.negative + p.scores.positive).toBeCloseTo(1, 6);
    expect(p.label).toBe(pPositive > 0.5 ? 'positive' : 'negative');
    expect(p.score).toBe(Math.max(p.scores.negative, p.scores.positive));
  });
  // Batching does not change results: a batch of 1 pads nothing.
  const single = await model.predict(TEXTS, { batchSize: 1 });
  single.forEach((p, i) => expect(p.scores.positive).toBeCloseTo(predictions[i].scores.positive, 5));
  model.dispose();
});

test('multi-label predictions are sigmoids; regression returns the value', async () => {
  const multi = await makeModel({ problem_type: 'multi_label_classification' }, ['a', 'b', 'c']);
  const [p] = await multi.predict(['i love this']);
  const { logits } = await multi.forward(await multi.tokenizer!.encode(['i love this']));
  expect(p.scores.c).toBeCloseTo(1 / (1 + Math.exp(-logits[2])), 6);
  multi.dispose();
  const regression = await makeModel({ problem_type: 'regression' }, ['score']);
  const [r] = await regression.predict(['i love this']);
  const out = await regression.forward(await regression.tokenizer!.encode(['i love this']));
  expect(r.score).toBeCloseTo(out.logits[0], 6);
  regression.dispose();
});

test('save writes config, weights and tokenizer files; the directory reloads with identical predictions', async () => {
  const model = await makeModel();
  const dir = path.join(scratch, 'saved');
  await model.save(dir, { format: 'both' });
  const before = await model.predict(TEXTS);
  model.dispose();
  expect(fs.readdirSync(dir).sort()).toEqual([
    'config.json',
    'model.safetensors',
    'pytorch_model.bin',
    'special_tokens_map.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'vocab.txt',
  ]);
  const reloaded = await BertClassifier.fromPretrained(dir);
  expect(reloaded.loadReport).toEqual({ missing: [], unexpected: [], renamed: [], initialized: [] });
  expect(reloaded.labels).toEqual(['negative', 'positive']);
  const after = await reloaded.predict(TEXTS);
  after.forEach((p, i) => {
    expect(p.label).toBe(before[i].label);
    expect(p.score).toBe(before[i].score);
  });
  reloaded.dispose();
});

test('concurrent forward passes on one model all resolve with the same logits', async () => {
  const model = await makeModel();
  const enc = await model.tokenizer!.encode(TEXTS);
  const results = await Promise.all(Array.from({ length: 8 }, () => model.forward(enc)));
  results.forEach((r) => expect(Array.from(r.logits)).toEqual(Array.from(results[0].logits)));
  model.dispose();
});

test('a failed save names the path and leaves the previous file and no temporary behind', async () => {
  const model = await makeModel();
  const dir = path.join(scratch, 'blocked');
  fs.mkdirSync(path.join(dir, 'pytorch_model.bin'), { recursive: true }); // a directory where the file must go
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin', 'keep'), 'x');
  await expect(model.save(dir, { format: 'pytorch' })).rejects.toThrow(/pytorch_model\.bin/);
  expect(fs.readdirSync(dir)).toEqual(['pytorch_model.bin']);
  expect(fs.readFileSync(path.join(dir, 'pytorch_model.bin', 'keep'), 'utf8')).toBe('x');
  model.dispose();
});

test('predict without a tokenizer is a clear Error; bad predict options are RangeErrors', async () => {
  const model = await BertClassifier.fromConfig(tinyConfig());
  await expect(model.predict(['x'])).rejects.toThrow(/no tokenizer/);
  model.tokenizer = BertTokenizer.fromVocab(VOCAB);
  await expect(model.predict(['x'], { batchSize: 0 })).rejects.toThrow(RangeError);
  await expect(model.save('', {})).rejects.toThrow(TypeError);
  await expect(model.save(path.join(scratch, 'x'), { format: 'onnx' as never })).rejects.toThrow(/format must be/);
  model.dispose();
});
