/**
 * onnxruntime-node checks its tensors' data with `instanceof Float32Array`, and its native binding makes them in
 * Node's own context, which jest's default per-file context does not share: this file runs in one context.
 * @jest-environment jest-environment-node-single-context
 */
// BertClassifier.exportOnnx, checked by what loads the folder: onnxruntime-node gives forward()'s logits (padded
// batches, every activation, each problem type), transformers.js' text-classification pipeline gives predict()'s
// labels and scores, the int8 model keeps the agreement the README states, and bad input is an Error naming it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { env, pipeline } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';

import { BertClassifier, BertTokenizer, Dataset, Trainer } from '../src';
import type { BatchEncoding } from '../src';
import { resolveConfig } from '../src/model/config';
import { exportOnnx } from '../src/model/onnx/export-onnx';
import { GraphBuilder, TensorType } from '../src/model/onnx/graph-builder';
import { int8MatMul } from '../src/model/onnx/quantize';
import { maxAbsDiff } from './helpers/fixtures';

const CUES = { neg: ['hate', 'bad', 'awful'], pos: ['love', 'great'], mid: ['fine', 'ok'] };
const FILLER = ['i', 'this', 'that', 'movie', 'film', '!', '.', 'it', 'was', 'plot'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...FILLER, ...Object.values(CUES).flat(), '##s'];
const LABELS = ['neg', 'pos', 'mid'];
const TEXTS = ['I love this movie!', 'I hate that film.', 'It was great', 'bad bad bad films, this was awful and the plot was bad', 'ok'];
const PAIRS = ['fine', 'the plot was awful', 'love it', 'i', 'great film'];

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-onnx-'));
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${scratch}${path.sep}`;
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function tinyModel(extra: Record<string, unknown> = {}, labels = LABELS): Promise<BertClassifier> {
  const config = {
    vocab_size: VOCAB.length,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    max_position_embeddings: 64,
    initializer_range: 0.2,
    ...extra,
  };
  return BertClassifier.fromConfig(config, { labels, tokenizer: BertTokenizer.fromVocab(VOCAB), seed: 3 });
}

function int64(rows: number[][]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
}

async function onnxLogits(session: ort.InferenceSession, batch: BatchEncoding): Promise<Float32Array> {
  const out = await session.run({ input_ids: int64(batch.inputIds), attention_mask: int64(batch.attentionMask), token_type_ids: int64(batch.tokenTypeIds) });
  return out.logits.data as Float32Array;
}

/** Text pairs padded to the longest (token types 0 and 1, rows of different lengths), plus a row that is all padding. */
async function paddedBatch(model: BertClassifier): Promise<BatchEncoding> {
  const batch = await model.tokenizer!.encode(TEXTS, PAIRS);
  const width = batch.inputIds[0].length;
  expect(batch.attentionMask.some((row) => row.includes(0))).toBe(true); // some rows are padded
  return {
    inputIds: [...batch.inputIds, new Array<number>(width).fill(0)],
    attentionMask: [...batch.attentionMask, new Array<number>(width).fill(0)],
    tokenTypeIds: [...batch.tokenTypeIds, new Array<number>(width).fill(0)],
  };
}

function argmaxes(logits: ArrayLike<number>, labels: number): number[] {
  return Array.from({ length: logits.length / labels }, (_, row) => {
    let best = 0;
    for (let j = 1; j < labels; j += 1) if (logits[row * labels + j] > logits[row * labels + best]) best = j;
    return best;
  });
}

function softmaxRows(logits: ArrayLike<number>, labels: number): number[] {
  const out: number[] = [];
  for (let row = 0; row < logits.length / labels; row += 1) {
    const z = Array.from({ length: labels }, (_, j) => logits[row * labels + j]);
    const exps = z.map((v) => Math.exp(v - Math.max(...z)));
    const sum = exps.reduce((a, b) => a + b, 0);
    out.push(...exps.map((e) => e / sum));
  }
  return out;
}

describe('onnx/model.onnx in onnxruntime-node', () => {
  test('the folder is config.json, the tokenizer files as save() writes them, and onnx/; the graph takes int64 [batch_size, sequence_length]', async () => {
    const model = await tinyModel();
    const dir = path.join(scratch, 'layout');
    const written = await model.exportOnnx(dir, { quantize: 'int8' });
    const saved = path.join(scratch, 'layout-saved');
    await model.save(saved);
    model.dispose();

    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
    expect(fs.readdirSync(path.join(dir, 'onnx')).sort()).toEqual(['model.onnx', 'model_quantized.onnx']);
    expect([...written].sort()).toEqual(
      ['config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt'].map(
        (f) => path.resolve(dir, f),
      ),
    );
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      expect(fs.readFileSync(path.join(dir, file), 'utf8')).toBe(fs.readFileSync(path.join(saved, file), 'utf8'));
    }

    for (const file of ['model.onnx', 'model_quantized.onnx']) {
      const session = await ort.InferenceSession.create(path.join(dir, 'onnx', file));
      const axes = ['batch_size', 'sequence_length'];
      expect(session.inputMetadata).toEqual(
        ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, isTensor: true, type: 'int64', shape: axes })),
      );
      expect(session.outputMetadata).toEqual([{ name: 'logits', isTensor: true, type: 'float32', shape: ['batch_size', 3] }]);
      await session.release();
    }
  });

  test.each(['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'tanh'])(
    'hidden_act %s: logits within 1e-4 of forward() on padded batches of varied sizes and lengths',
    async (hiddenAct) => {
      const model = await tinyModel({ hidden_act: hiddenAct });
      const dir = path.join(scratch, `act-${hiddenAct}`);
      await model.exportOnnx(dir);
      const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'));
      const batches = [await paddedBatch(model), await model.tokenizer!.encode(['it was ok']), await model.tokenizer!.encode(TEXTS.slice(1, 4))];
      for (const batch of batches) {
        const expected = (await model.forward(batch)).logits;
        const actual = await onnxLogits(session, batch);
        expect(actual).toHaveLength(batch.inputIds.length * 3);
        expect(actual.every(Number.isFinite)).toBe(true); // the all-padding row too
        expect(maxAbsDiff(actual, Array.from(expected))).toBeLessThanOrEqual(1e-4);
      }
      await session.release();
      model.dispose();
    },
  );

  test.each([
    ['multi_label_classification', ['a', 'b', 'c', 'd']],
    ['regression', ['score']],
  ])('a %s model exports its logits', async (problemType, labels) => {
    const model = await tinyModel({ problem_type: problemType }, labels);
    const dir = path.join(scratch, problemType);
    await model.exportOnnx(dir);
    const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'));
    expect(session.outputMetadata).toEqual([{ name: 'logits', isTensor: true, type: 'float32', shape: ['batch_size', labels.length] }]);
    const batch = await paddedBatch(model);
    expect(maxAbsDiff(await onnxLogits(session, batch), Array.from((await model.forward(batch)).logits))).toBeLessThanOrEqual(1e-4);
    await session.release();
    model.dispose();
  });
});

describe("transformers.js' text-classification pipeline on the exported folder", () => {
  test("returns predict()'s labels and scores within 1e-4", async () => {
    const model = await tinyModel();
    await model.exportOnnx(path.join(scratch, 'pipeline'));
    const ours = await model.predict(TEXTS);
    model.dispose();

    const classify = await pipeline('text-classification', 'pipeline', { dtype: 'fp32' });
    const top = (await classify(TEXTS)) as unknown as { label: string; score: number }[];
    const all = (await classify(TEXTS, { top_k: null })) as unknown as { label: string; score: number }[][];
    await classify.dispose();

    expect(top.map((t) => t.label)).toEqual(ours.map((p) => p.label));
    top.forEach((t, i) => expect(Math.abs(t.score - ours[i].score)).toBeLessThanOrEqual(1e-4));
    all.forEach((scores, i) => {
      expect(scores.map((s) => s.label).sort()).toEqual([...LABELS].sort());
      for (const s of scores) expect(Math.abs(s.score - ours[i].scores[s.label])).toBeLessThanOrEqual(1e-4);
    });
  });
});

describe('int8: onnx/model_quantized.onnx', () => {
  test('one quantized product is within 2% relative RMS of the float product, also 32 wide (no int16 saturation)', async () => {
    const [inFeatures, outFeatures, rows] = [32, 16, 40];
    let state = 11;
    const random = (): number => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    const weight = { shape: [outFeatures, inFeatures], data: Float32Array.from({ length: outFeatures * inFeatures }, () => random() * 0.1) };
    const x = Float32Array.from({ length: rows * inFeatures }, () => random() * 3);
    const graph = new GraphBuilder('product');
    graph.output(int8MatMul()(graph, graph.input('x', TensorType.FLOAT, ['rows', inFeatures]), weight, 'w'), 'y', TensorType.FLOAT, ['rows', outFeatures]);
    const session = await ort.InferenceSession.create(graph.encode({ opsetVersion: 17, producerName: 'test', producerVersion: '0' }));
    const y = (await session.run({ x: new ort.Tensor('float32', x, [rows, inFeatures]) })).y.data as Float32Array;
    let error = 0;
    let norm = 0;
    for (let r = 0; r < rows; r += 1) {
      for (let o = 0; o < outFeatures; o += 1) {
        let exact = 0;
        for (let i = 0; i < inFeatures; i += 1) exact += x[r * inFeatures + i] * weight.data[o * inFeatures + i];
        error += (y[r * outFeatures + o] - exact) ** 2;
        norm += exact ** 2;
      }
    }
    expect(Math.sqrt(error / norm)).toBeLessThanOrEqual(0.02); // measured 0.009; int8 weights × uint8 saturate to ~0.1 on AVX2
    await session.release();
  });

  test('a briefly trained tiny model: argmax agreement >= 0.95, |logit diff| <= 0.15, |probability diff| <= 0.1 on 96 held-out texts', async () => {
    let state = 5;
    const random = (): number => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
    const examples = (count: number): { text: string; label: string }[] =>
      Array.from({ length: count }, (_, i) => {
        const label = LABELS[i % 3] as keyof typeof CUES;
        const words = Array.from({ length: 2 + Math.floor(random() * 14) }, () => (random() < 0.3 ? pick(CUES[label]) : pick(FILLER)));
        return { text: words.join(' '), label };
      });
    const model = await tinyModel({ initializer_range: 0.02 });
    await new Trainer(model, { epochs: 6, batchSize: 16, learningRate: 3e-3, seed: 1 }).fit(Dataset.fromArray(examples(192)));
    const dir = path.join(scratch, 'quantized');
    await model.exportOnnx(dir, { quantize: 'int8' });
    const texts = examples(96).map((e) => e.text);
    const batch = await model.tokenizer!.encode(texts);
    const expected = (await model.forward(batch)).logits;
    const ours = await model.predict(texts);
    model.dispose();

    const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model_quantized.onnx'));
    const quantized = await onnxLogits(session, batch);
    await session.release();
    const agreement = argmaxes(quantized, 3).filter((label, row) => label === argmaxes(expected, 3)[row]).length / texts.length;
    expect(agreement).toBeGreaterThanOrEqual(0.95); // measured 1.0
    expect(maxAbsDiff(quantized, Array.from(expected))).toBeLessThanOrEqual(0.15); // measured 0.014-0.08 (logits up to 3.7)
    expect(maxAbsDiff(softmaxRows(quantized, 3), softmaxRows(expected, 3))).toBeLessThanOrEqual(0.1); // measured 0.005-0.04

    // transformers.js' dtype 'q8' is this file.
    const classify = await pipeline('text-classification', 'quantized', { dtype: 'q8' });
    const top = (await classify(texts)) as unknown as { label: string; score: number }[];
    await classify.dispose();
    expect(top.filter((t, i) => t.label === ours[i].label).length / texts.length).toBeGreaterThanOrEqual(0.95);
  });
});

describe('bad input is an Error naming it', () => {
  test('a disposed model', async () => {
    const model = await tinyModel();
    model.dispose();
    await expect(model.exportOnnx(path.join(scratch, 'disposed'))).rejects.toThrow(/disposed/);
    expect(fs.existsSync(path.join(scratch, 'disposed'))).toBe(false);
  });

  test('an output folder that cannot be written, and bad options', async () => {
    const model = await tinyModel();
    const file = path.join(scratch, 'a-file');
    fs.writeFileSync(file, 'x');
    const unwritable = path.join(file, 'out');
    await expect(model.exportOnnx(unwritable)).rejects.toThrow(`${unwritable}: cannot write the ONNX export there`);
    await expect(model.exportOnnx(path.join(scratch, 'q'), { quantize: 'int4' as never })).rejects.toThrow(RangeError);
    await expect(model.exportOnnx(path.join(scratch, 'q'), { quantize: 'int4' as never })).rejects.toThrow(/quantize must be one of 'int8'/);
    await expect(model.exportOnnx(path.join(scratch, 'q'), { quantize: 8 as never })).rejects.toThrow(TypeError);
    await expect(model.exportOnnx(path.join(scratch, 'q'), { quantise: 'int8' } as never)).rejects.toThrow(/unknown option "quantise"/);
    await expect(model.exportOnnx('')).rejects.toThrow(/dir must not be empty/);
    await expect(model.exportOnnx(42 as never)).rejects.toThrow(TypeError);
    expect(fs.existsSync(path.join(scratch, 'q'))).toBe(false);
    model.dispose();
  });

  test('a position_embedding_type other than "absolute" names the field, before anything is saved', async () => {
    const config = { ...resolveConfig({ vocab_size: VOCAB.length }, 'config'), position_embedding_type: 'relative_key' };
    const save = jest.fn();
    await expect(exportOnnx({ config, save }, path.join(scratch, 'relative'))).rejects.toThrow(/position_embedding_type "relative_key" cannot be exported/);
    expect(save).not.toHaveBeenCalled();
    expect(fs.existsSync(path.join(scratch, 'relative'))).toBe(false);
  });
});
