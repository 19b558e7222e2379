// Parity with transformers itself (5.18 on torch 2.13): every fixture test/fixtures/generate.py wrote from transformers'
// BertForSequenceClassification loads, and our fp32 logits are within 1e-5 of what transformers computes from the same
// directory with eager attention and with sdpa alike. Directories we save reload in transformers (strictly) with the
// same logits, and their tensors are the loaded checkpoint's, bit for bit.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier } from '../src';
import { Fixture, fixture, manifest, maxAbsDiff } from './helpers/fixtures';
import { PythonReference } from './helpers/reference';

const TOLERANCE = 1e-5;
const withLogits = manifest().fixtures.filter((f) => f.expected.logits !== undefined);

let reference: PythonReference;
beforeAll(() => {
  reference = new PythonReference();
});
afterAll(() => reference.close());

async function load(f: Fixture): Promise<BertClassifier> {
  return BertClassifier.fromPretrained(fixture(f.name).path);
}

test("the manifest holds transformers' outputs, eager and sdpa, for every fixture", () => {
  const m = manifest();
  expect(m.version).toBe(2);
  expect(m.transformersVersion).toMatch(/^\d+\.\d+/);
  expect(withLogits.length).toBeGreaterThanOrEqual(18);
  for (const f of m.fixtures) {
    expect(Object.keys(f.expectedSdpa).sort()).toEqual(Object.keys(f.expected).sort());
  }
  // sdpa really is another kernel: its logits are close to eager's, not equal to them.
  const odd = fixture('odd-bin-f32');
  expect(odd.expectedSdpa.logits).not.toEqual(odd.expected.logits);
  expect(maxAbsDiff(odd.expectedSdpa.logits!.flat(), odd.expected.logits!)).toBeLessThanOrEqual(TOLERANCE);
});

describe('logits match transformers within 1e-5 (fp32), eager and sdpa attention', () => {
  test.each(withLogits.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    const model = await load(f);
    try {
      const { logits, shape } = await model.forward(f.inputs);
      expect(shape).toEqual([f.inputs.inputIds.length, f.config.num_labels]);
      expect(maxAbsDiff(logits, f.expected.logits!)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(logits, f.expectedSdpa.logits!)).toBeLessThanOrEqual(TOLERANCE);
      expect([...model.loadReport.missing].sort()).toEqual([...f.missingKeys].sort());
      expect(model.loadReport.initialized).toEqual(model.loadReport.missing);
    } finally {
      model.dispose();
    }
  });
});

test("the named-parameter list and shapes equal transformers' named_parameters()", async () => {
  for (const name of ['tiny-safetensors-f32', 'odd-bin-f32', 'defaults-config', 'tiny-save-pretrained', 'odd-bare-bertmodel']) {
    const f = fixture(name);
    const model = await load(f);
    expect(model.parameters().map((p) => [p.name, p.shape])).toEqual(f.stateDictKeys);
    model.dispose();
  }
});

test('a bare BertModel checkpoint loads into model.bert; pooled output and hidden states match', async () => {
  const f = fixture('odd-bare-bertmodel');
  const model = await load(f);
  const out = await model.forward({ ...f.inputs, outputHiddenStates: true });
  for (const expected of [f.expected, f.expectedSdpa]) {
    expect(maxAbsDiff(out.pooledOutput!, expected.pooledOutput!)).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(out.lastHiddenState!, expected.lastHiddenState!)).toBeLessThanOrEqual(TOLERANCE);
  }
  expect(out.hiddenShape).toEqual([f.inputs.inputIds.length, f.inputs.inputIds[0].length, f.config.hidden_size]);
  expect(model.loadReport.missing.sort()).toEqual(['classifier.bias', 'classifier.weight']);
  expect(model.loadReport.renamed).toContainEqual({ from: 'embeddings.word_embeddings.weight', to: 'bert.embeddings.word_embeddings.weight' });
  model.dispose();
});

test('legacy LayerNorm gamma/beta keys are renamed and reported', async () => {
  const model = await load(fixture('odd-legacy-gamma-beta'));
  expect(model.loadReport.renamed).toContainEqual({ from: 'bert.embeddings.LayerNorm.gamma', to: 'bert.embeddings.LayerNorm.weight' });
  expect(model.loadReport.renamed).toContainEqual({ from: 'bert.embeddings.LayerNorm.beta', to: 'bert.embeddings.LayerNorm.bias' });
  expect(model.loadReport.missing).toEqual([]);
  model.dispose();
});

test('pretraining heads are reported as unexpected and position_ids is ignored', async () => {
  const f = fixture('odd-with-pretraining-heads');
  const model = await load(f);
  expect(model.loadReport.unexpected.length).toBeGreaterThan(0);
  expect(model.loadReport.unexpected.every((k) => k.startsWith('cls.'))).toBe(true);
  expect(model.loadReport.unexpected).not.toContain('bert.embeddings.position_ids');
  model.dispose();
});

test("config.json fields and label names are exposed under transformers' names", async () => {
  const model = await load(fixture('odd-bin-f32'));
  expect(model.config.hidden_size).toBe(30);
  expect(model.config.hidden_act).toBe('gelu_new');
  expect(model.config.type_vocab_size).toBe(3);
  expect(model.labels).toEqual(['negative', 'neutral', 'positive', 'mixed', 'off-topic']);
  model.dispose();
  const defaults = await load(fixture('defaults-config'));
  expect(defaults.config.max_position_embeddings).toBe(512);
  expect(defaults.config.layer_norm_eps).toBe(1e-12);
  expect(defaults.config.hidden_dropout_prob).toBe(0.1);
  defaults.dispose();
});

test('a missing classifier is freshly initialised from the seed (same seed, same weights)', async () => {
  const f = fixture('odd-bare-bertmodel');
  const a = await BertClassifier.fromPretrained(f.path, { seed: 7 });
  const b = await BertClassifier.fromPretrained(f.path, { seed: 7 });
  const c = await BertClassifier.fromPretrained(f.path, { seed: 8 });
  const [la, lb, lc] = await Promise.all([a, b, c].map((m) => m.forward(f.inputs)));
  expect(Array.from(la.logits)).toEqual(Array.from(lb.logits));
  expect(Array.from(la.logits)).not.toEqual(Array.from(lc.logits));
  [a, b, c].forEach((m) => m.dispose());
});

test('numLabels different from the checkpoint: a shape error, or a fresh head with ignoreMismatchedSizes', async () => {
  const dir = fixture('odd-bin-f32').path;
  await expect(BertClassifier.fromPretrained(dir, { numLabels: 3 })).rejects.toThrow(/classifier\.weight' has shape \[5, 30\], the model expects \[3, 30\]/);
  const model = await BertClassifier.fromPretrained(dir, { numLabels: 3, ignoreMismatchedSizes: true });
  expect(model.numLabels).toBe(3);
  expect([...model.loadReport.initialized].sort()).toEqual(['classifier.bias', 'classifier.weight']);
  model.dispose();
});

describe('saving: transformers reloads our directory strictly, bit-identically, with the same logits', () => {
  const cases: [string, 'safetensors' | 'pytorch'][] = [
    ['odd-bin-f32', 'safetensors'],
    ['odd-bin-f32', 'pytorch'],
    ['tiny-safetensors-f32', 'pytorch'],
    ['odd-safetensors-bf16', 'safetensors'],
    ['odd-sharded-bin', 'pytorch'],
    ['odd-legacy-gamma-beta', 'safetensors'],
    ['odd-bin-plain-dict', 'pytorch'],
    ['multilabel', 'safetensors'],
  ];
  test.each(cases)('%s saved as %s', async (name, format) => {
    const f = fixture(name);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-save-'));
    try {
      const model = await BertClassifier.fromPretrained(f.path);
      const written = await model.save(out, { format });
      model.dispose();
      expect(written.map((w) => path.basename(w)).sort()).toEqual([format === 'safetensors' ? 'model.safetensors' : 'pytorch_model.bin', 'config.json'].sort());
      expect(fs.readdirSync(out).filter((n) => n.includes('.tmp'))).toEqual([]);
      const compared = await reference.compareWeights(f.path, out);
      expect(compared.differing).toEqual([]);
      expect(compared.notF32).toEqual([]);
      expect(compared.compared).toBe(f.stateDictKeys.length);
      for (const attn of ['eager', 'sdpa'] as const) {
        const reloaded = await reference.predict(out, f.inputs, attn);
        expect(reloaded.attnImplementation).toBe(attn);
        expect(reloaded.keys.sort()).toEqual(f.stateDictKeys.map(([name]) => name).sort());
        const expected = attn === 'eager' ? f.expected : f.expectedSdpa;
        expect(maxAbsDiff(reloaded.logits.flat(), expected.logits!)).toBeLessThanOrEqual(TOLERANCE);
      }
      const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
      expect(config.architectures).toEqual(['BertForSequenceClassification']);
      expect(config.model_type).toBe('bert');
      expect(config.id2label).toEqual(f.config.id2label);
      expect(config.label2id).toEqual(f.config.label2id);
      if (f.config.problem_type) expect(config.problem_type).toBe(f.config.problem_type);
      // And we load what we saved, with the same logits.
      const again = await BertClassifier.fromPretrained(out);
      expect(maxAbsDiff((await again.forward(f.inputs)).logits, f.expected.logits!)).toBeLessThanOrEqual(TOLERANCE);
      again.dispose();
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

test('a hub id loads from the Hugging Face cache (snapshot layout), offline', async () => {
  const f = fixture('odd-bin-f32');
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-hub-cache-'));
  const commit = 'a'.repeat(40);
  const repo = path.join(cache, 'models--test-org--odd-bert');
  fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'refs', 'main'), commit);
  fs.cpSync(f.path, path.join(repo, 'snapshots', commit), { recursive: true });
  try {
    const model = await BertClassifier.fromPretrained('test-org/odd-bert', { hub: { cacheDir: cache, offline: true } });
    expect(maxAbsDiff((await model.forward(f.inputs)).logits, f.expected.logits!)).toBeLessThanOrEqual(TOLERANCE);
    model.dispose();
    await expect(BertClassifier.fromPretrained('test-org/not-cached', { hub: { cacheDir: cache, offline: true } })).rejects.toThrow(
      /is not in the Hugging Face cache/,
    );
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
});
