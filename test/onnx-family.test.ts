/**
 * onnxruntime-node checks its tensors' data with `instanceof Float32Array`, and its native binding makes them in
 * Node's own context, which jest's default per-file context does not share: this file runs in one context.
 * @jest-environment jest-environment-node-single-context
 */
// exportOnnx for RoBERTa, XLM-RoBERTa, DistilBERT and ELECTRA (test/fixtures/bert_family.py's tiny models):
// onnxruntime-node gives forward()'s logits within 1e-4 on padded batches, the graph takes the inputs transformers'
// tokenizer gives each architecture (token_type_ids for ELECTRA only), and the int8 model agrees on the labels.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as ort from 'onnxruntime-node';

import { AutoClassifier } from '../src';
import { maxAbsDiff } from './helpers/fixtures';
import { FIXTURES_DIR } from './helpers/paths';

const FAMILY_DIR = path.join(FIXTURES_DIR, 'family');
const TEXTS = ['hello world', 'the lazy dog jumps over the quick brown fox again', 'tiny models', 'a'];
const PAIRS = ['a test', 'fox', 'a small corpus makes a small vocabulary', 'padding tokens must not move the positions'];

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-onnx-family-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function int64(rows: number[][]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
}

describe.each([
  ['roberta', ['input_ids', 'attention_mask']],
  ['xlm-roberta', ['input_ids', 'attention_mask']],
  ['distilbert', ['input_ids', 'attention_mask']],
  ['electra', ['input_ids', 'attention_mask', 'token_type_ids']],
])('%s', (name, inputs) => {
  test("onnx/model.onnx gives forward()'s logits within 1e-4; model_quantized.onnx runs on the same inputs", async () => {
    const model = await AutoClassifier.fromPretrained(path.join(FAMILY_DIR, name));
    const dir = path.join(scratch, name);
    await model.exportOnnx(dir, { quantize: 'int8' });
    const batch = await model.tokenizer!.encode(TEXTS, PAIRS);
    expect(batch.attentionMask.some((row) => row.includes(0))).toBe(true);
    const { logits } = await model.forward(batch);
    model.dispose();

    const feeds: Record<string, ort.Tensor> = { input_ids: int64(batch.inputIds), attention_mask: int64(batch.attentionMask) };
    if (inputs.includes('token_type_ids')) feeds.token_type_ids = int64(batch.tokenTypeIds);
    const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'));
    expect(session.inputNames).toEqual(inputs);
    const out = (await session.run(feeds)).logits.data as Float32Array;
    await session.release();
    const rows = TEXTS.length;
    const labels = logits.length / rows;
    const expected = Array.from({ length: rows }, (_, r) => Array.from(logits.subarray(r * labels, (r + 1) * labels)));
    expect(maxAbsDiff(out, expected)).toBeLessThanOrEqual(1e-4);

    const quantized = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model_quantized.onnx'));
    const q = (await quantized.run(feeds)).logits.data as Float32Array;
    await quantized.release();
    expect(q).toHaveLength(out.length);
    expect(Array.from(q).every(Number.isFinite)).toBe(true);
  });
});
