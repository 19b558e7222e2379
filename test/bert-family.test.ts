// The BERT family against transformers 5.18 itself: tiny random RoBERTa, XLM-RoBERTa, DistilBERT and ELECTRA
// classifiers that test/fixtures/bert_family.py makes with transformers (tokenizers built by the `tokenizers` package:
// byte-level BPE, Unigram, WordPiece) load through AutoClassifier; our tokenizer gives transformers' tokenizer's ids;
// fp32 logits on padded batches are within 1e-5 of AutoModelForSequenceClassification's (eager and sdpa); saved
// folders reload in transformers strictly (no missing or unexpected keys) with the same logits and bit-identical
// tensors; and a 10-step training trajectory matches transformers' model trained with torch AdamW within 1e-5.
// Dropout is off on both sides in the trajectories (a copy of each fixture with its dropout probabilities 0), as in
// test/training-parity.test.ts.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { AutoClassifier, BertClassifier, MODEL_TYPES } from '../src';
import { Trainer } from '../src/train/trainer';
import { native } from '../src/engine/native';
import type { StepEvent } from '../src/train/events';
import type { Example } from '../src/data/example';
import { useFakeHub } from './helpers/fake-hub';
import { maxAbsDiff } from './helpers/fixtures';
import { FIXTURES_DIR, PYTHON, REFERENCE_DIR } from './helpers/paths';
import { PythonReference } from './helpers/reference';
import { float32Values, maxTensorDiff, readSafetensors } from './helpers/safetensors';

const TOLERANCE = 1e-5;
const FAMILY_DIR = path.join(FIXTURES_DIR, 'family');

interface FamilyFixture {
  name: string;
  dir: string;
  modelType: string;
  texts?: string[];
  pairs?: string[];
  encoding?: { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds: number[][] | null };
  expected?: { logits: number[][] };
  expectedSdpa?: { logits: number[][] };
  stateDictKeys?: [string, number[]][];
  weightFiles?: string[];
}

const family = (JSON.parse(fs.readFileSync(path.join(FAMILY_DIR, 'manifest.json'), 'utf8')) as { fixtures: FamilyFixture[] }).fixtures;
const withLogits = family.filter((f) => f.expected !== undefined);
const dirOf = (name: string): string => path.join(FAMILY_DIR, family.find((f) => f.name === name)!.dir);

let tmp: string;
let reference: PythonReference;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-family-'));
  reference = new PythonReference();
});
afterAll(async () => {
  await reference.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The encoding as our forward takes it: transformers' tokenizer gives no token_type_ids for RoBERTa, XLM-R, DistilBERT. */
function inputsOf(f: FamilyFixture): { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds?: number[][] } {
  const e = f.encoding!;
  return { inputIds: e.inputIds, attentionMask: e.attentionMask, ...(e.tokenTypeIds ? { tokenTypeIds: e.tokenTypeIds } : {}) };
}

test('the fixtures cover every architecture, with sharded safetensors and a pytorch_model.bin among them', () => {
  expect(new Set(withLogits.map((f) => f.modelType))).toEqual(new Set(['roberta', 'xlm-roberta', 'distilbert', 'electra']));
  expect(family.find((f) => f.name === 'roberta-sharded')!.weightFiles!.length).toBeGreaterThan(1);
  expect(family.find((f) => f.name === 'electra-bin')!.weightFiles).toEqual(['pytorch_model.bin']);
});

describe('AutoClassifier loads each architecture: tokenizer ids and logits as transformers gives them', () => {
  test.each(withLogits.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    const model = await AutoClassifier.fromPretrained(dirOf(f.name));
    try {
      expect(model.config.model_type).toBe(f.modelType);
      expect(model.loadReport.missing).toEqual([]);
      expect(model.loadReport.unexpected).toEqual([]);
      expect(model.parameters().map((p) => [p.name, p.shape])).toEqual(f.stateDictKeys);

      const encoded = await model.tokenizer!.encode(f.texts!, f.pairs!);
      expect(encoded.inputIds).toEqual(f.encoding!.inputIds);
      expect(encoded.attentionMask).toEqual(f.encoding!.attentionMask);
      expect(encoded.tokenTypeIds).toEqual(f.encoding!.tokenTypeIds ?? f.encoding!.inputIds.map((row) => row.map(() => 0)));
      expect(model.tokenizer!.padTokenId).toBe(f.modelType.includes('roberta') ? 1 : 0);

      const { logits, shape } = await model.forward(inputsOf(f));
      expect(shape).toEqual([f.texts!.length, model.numLabels]);
      expect(maxAbsDiff(logits, f.expected!.logits)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(logits, f.expectedSdpa!.logits)).toBeLessThanOrEqual(TOLERANCE);
      // Padding rows change nothing: the shortest text alone gives its row's logits.
      const alone = await model.forward(await model.tokenizer!.encode([f.texts![0]], [f.pairs![0]]));
      expect(maxAbsDiff(alone.logits, [f.expected!.logits[0]])).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      model.dispose();
    }
  });
});

describe("the GPU's attention path (scaled_dot_product_attention, first position only), run on the CPU", () => {
  afterEach(() => native().setFusedAttentionOnCpu(false));
  test.each(withLogits.map((f) => [f.name, f] as const))('%s: the logits of transformers with sdpa, and a batch step trains', async (_name, f) => {
    native().setFusedAttentionOnCpu(true);
    const model = await AutoClassifier.fromPretrained(dirOf(f.name));
    const { logits } = await model.forward(inputsOf(f));
    expect(maxAbsDiff(logits, f.expectedSdpa!.logits)).toBeLessThanOrEqual(TOLERANCE);
    const trainer = new Trainer(model, { epochs: 1, batchSize: 3, learningRate: 1e-3, shuffle: false, evalStrategy: 'no' });
    const encoded = await model.tokenizer!.encode(f.texts!, f.pairs!, { padding: false });
    const result = await trainer.fit(encoded.inputIds.map((ids, i) => ({ inputIds: ids, label: i % model.numLabels })));
    expect(result.history.filter((e) => e.type === 'step').every((e) => Number.isFinite((e as StepEvent).loss))).toBe(true);
    model.dispose();
  });
});

test('an unknown model_type is an Error that lists the supported ones', async () => {
  const dir = path.join(tmp, 'unknown-type');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', hidden_size: 32 }));
  await expect(AutoClassifier.fromPretrained(dir)).rejects.toThrow(`model_type "gpt2" is not supported (supported: ${MODEL_TYPES.join(', ')})`);
});

test("a RoBERTa folder without tokenizer_config.json (roberta-base on the hub) gets RoBERTa's special tokens", async () => {
  const f = family.find((x) => x.name === 'roberta')!;
  const dir = path.join(tmp, 'roberta-no-tokenizer-config');
  fs.cpSync(dirOf('roberta'), dir, { recursive: true });
  fs.rmSync(path.join(dir, 'tokenizer_config.json'));
  const model = await AutoClassifier.fromPretrained(dir);
  expect(model.tokenizer!.padTokenId).toBe(1);
  expect((await model.tokenizer!.encode(f.texts!, f.pairs!)).inputIds).toEqual(f.encoding!.inputIds);
  model.dispose();
});

test('a base RoBERTa checkpoint (no head) gets a fresh RobertaClassificationHead; the pooler is unexpected', async () => {
  const model = await AutoClassifier.fromPretrained(dirOf('roberta-bare'), { numLabels: 4 });
  try {
    expect(model.loadReport.missing.sort()).toEqual([
      'classifier.dense.bias',
      'classifier.dense.weight',
      'classifier.out_proj.bias',
      'classifier.out_proj.weight',
    ]);
    expect(model.loadReport.unexpected.sort()).toEqual(['pooler.dense.bias', 'pooler.dense.weight']);
    expect(model.loadReport.renamed.some((r) => r.to === 'roberta.embeddings.word_embeddings.weight')).toBe(true);
    const { shape } = await model.forward(await model.tokenizer!.encode(['hello world']));
    expect(shape).toEqual([1, 4]);
  } finally {
    model.dispose();
  }
});

test('DistilBERT with sinusoidal_pos_embds: a position table missing from the checkpoint starts as the sinusoids, as transformers fills it', async () => {
  const f = family.find((x) => x.name === 'distilbert-sinusoidal-no-positions')! as FamilyFixture & {
    missing: string[];
    expectedMissing: { logits: number[][] };
    positions: number[][];
  };
  const model = await AutoClassifier.fromPretrained(dirOf(f.name));
  try {
    expect(model.loadReport.missing).toEqual(f.missing);
    expect(maxAbsDiff((await model.forward(inputsOf(f))).logits, f.expectedMissing.logits)).toBeLessThanOrEqual(TOLERANCE);
    const out = path.join(tmp, 'sinusoidal-saved');
    await model.save(out);
    const saved = readSafetensors(path.join(out, 'model.safetensors')).tensors.get(f.missing[0])!;
    expect(saved.shape).toEqual([f.positions.length, f.positions[0].length]);
    expect(maxAbsDiff(float32Values(saved), f.positions)).toBeLessThanOrEqual(1e-6);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.sinusoidal_pos_embds).toBe(true);
  } finally {
    model.dispose();
  }
});

/** transformers loads `out` strictly (a missing or unexpected key fails) with our logits, and its tensors are f's, bit for bit. */
async function expectStrictReload(f: FamilyFixture, out: string, logits: Float32Array): Promise<void> {
  const ref = await reference.predict(out, inputsOf(f));
  expect(maxAbsDiff(logits, ref.logits)).toBeLessThanOrEqual(TOLERANCE);
  const weights = await reference.compareWeights(dirOf(f.name), out);
  expect(weights.differing).toEqual([]);
  expect(weights.compared).toBe(f.stateDictKeys!.length);
}

describe('saved folders reload in transformers strictly, with the same logits and tensors', () => {
  test.each(withLogits.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    const model = await AutoClassifier.fromPretrained(dirOf(f.name));
    const { logits } = await model.forward(inputsOf(f));
    for (const format of ['safetensors', 'pytorch'] as const) {
      const out = path.join(tmp, `${f.name}-saved-${format}`);
      await model.save(out, { format });
      const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(config.model_type).toBe(f.modelType);
      await expectStrictReload(f, out, logits);
      // Our own loader reads it back, tokenizer included.
      const again = await AutoClassifier.fromPretrained(out);
      expect(again.config).toEqual(model.config);
      expect(await again.tokenizer!.encode(f.texts!, f.pairs!)).toEqual(await model.tokenizer!.encode(f.texts!, f.pairs!));
      again.dispose();
    }
    model.dispose();
  });
});

describe('a hub id', () => {
  const { hub, root } = useFakeHub('bert-trainer-family-hub-');

  test('AutoClassifier.fromPretrained("org/tiny-roberta") downloads the repository and loads it as from the folder', async () => {
    const f = family.find((x) => x.name === 'roberta')!;
    const dir = dirOf('roberta');
    const files = fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isFile());
    hub.addRepo('org/tiny-roberta', Object.fromEntries(files.map((n) => [n, fs.readFileSync(path.join(dir, n))])));
    const fromHub = await AutoClassifier.fromPretrained('org/tiny-roberta', { hub: { cacheDir: path.join(root(), 'cache'), endpoint: hub.endpoint } });
    const fromFolder = await AutoClassifier.fromPretrained(dir);
    try {
      expect(fromHub.config.model_type).toBe('roberta');
      expect(await fromHub.tokenizer!.encode(f.texts!, f.pairs!)).toEqual(await fromFolder.tokenizer!.encode(f.texts!, f.pairs!));
      const hubLogits = (await fromHub.forward(inputsOf(f))).logits;
      expect(Array.from(hubLogits)).toEqual(Array.from((await fromFolder.forward(inputsOf(f))).logits));
      expect(maxAbsDiff(hubLogits, f.expected!.logits)).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      fromHub.dispose();
      fromFolder.dispose();
    }
  });
});

describe('sharded saving: save({ maxShardSize }) splits the weights as save_pretrained(max_shard_size) does', () => {
  const f = family.find((x) => x.name === 'roberta-sharded')!;
  const shardNames = (dir: string): string[] =>
    fs
      .readdirSync(dir)
      .filter((n) => /-\d{5}-of-\d{5}\./.test(n))
      .sort();
  const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));
  const withModel = async (name: string, use: (model: BertClassifier) => Promise<void>): Promise<void> => {
    const model = await AutoClassifier.fromPretrained(dirOf(name));
    try {
      await use(model);
    } finally {
      model.dispose();
    }
  };

  test('the same shards and the same index as transformers wrote for the fixture (max_shard_size="20KB")', async () => {
    await withModel(f.name, async (model) => {
      const out = path.join(tmp, 'sharded-safetensors');
      const written = await model.save(out, { maxShardSize: '20KB' });
      const index = path.join(out, 'model.safetensors.index.json');
      expect(written).toContain(path.resolve(index));
      expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(false);
      expect(shardNames(out)).toEqual(shardNames(dirOf(f.name)));
      expect(shardNames(out).length).toBeGreaterThan(1);
      // The index, metadata (total_size, total_parameters) and text layout included, is transformers' own.
      expect(fs.readFileSync(index, 'utf8')).toBe(fs.readFileSync(path.join(dirOf(f.name), 'model.safetensors.index.json'), 'utf8'));
      const { logits } = await model.forward(inputsOf(f));
      await expectStrictReload(f, out, logits);
      const again = await AutoClassifier.fromPretrained(out);
      expect(Array.from((await again.forward(inputsOf(f))).logits)).toEqual(Array.from(logits));
      again.dispose();
    });
  });

  test('pytorch_model.bin shards and a byte count: transformers loads them strictly', async () => {
    const e = family.find((x) => x.name === 'electra-bin')!;
    await withModel('electra-bin', async (model) => {
      const out = path.join(tmp, 'sharded-bin');
      await model.save(out, { format: 'pytorch', maxShardSize: 8000 });
      const index = readJson(path.join(out, 'pytorch_model.bin.index.json')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
      expect(Object.keys(index.weight_map).length).toBe(e.stateDictKeys!.length);
      expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shardNames(out)));
      expect(shardNames(out).every((n) => /^pytorch_model-\d{5}-of-\d{5}\.bin$/.test(n))).toBe(true);
      // A tensor over the limit gets a shard of its own; the others fill shards up to it.
      for (const name of shardNames(out)) {
        const keys = Object.keys(index.weight_map).filter((k) => index.weight_map[k] === name);
        const bytes = keys.reduce((sum, k) => sum + 4 * e.stateDictKeys!.find(([key]) => key === k)![1].reduce((a, b) => a * b, 1), 0);
        expect(keys.length === 1 || bytes <= 8000).toBe(true);
      }
      expect(index.metadata.total_size).toBe(e.stateDictKeys!.reduce((sum, [, shape]) => sum + 4 * shape.reduce((a, b) => a * b, 1), 0));
      const ref = await reference.predict(out, inputsOf(e));
      expect(maxAbsDiff((await model.forward(inputsOf(e))).logits, ref.logits)).toBeLessThanOrEqual(TOLERANCE);
      expect((await reference.compareWeights(dirOf('electra-bin'), out)).differing).toEqual([]);
    });
  });

  test('saving again into the same folder leaves no stale weights file for a loader to prefer', async () => {
    await withModel(f.name, async (model) => {
      const out = path.join(tmp, 'resaved');
      await model.save(out);
      await model.save(out, { maxShardSize: '20KB' });
      expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(false); // it would shadow the index
      const shards = shardNames(out);
      await model.save(out, { maxShardSize: '30KB' });
      expect(shardNames(out).length).toBeLessThan(shards.length); // the old -of-0000N names are gone
      const index = readJson(path.join(out, 'model.safetensors.index.json')) as { weight_map: Record<string, string> };
      expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shardNames(out)));
      await model.save(out);
      expect(shardNames(out)).toEqual([]);
      expect(fs.existsSync(path.join(out, 'model.safetensors.index.json'))).toBe(false);
      expect((await reference.compareWeights(dirOf(f.name), out)).differing).toEqual([]);
    });
  });

  test('a bad maxShardSize is a TypeError or RangeError naming it, and nothing is written', async () => {
    await withModel(f.name, async (model) => {
      const out = path.join(tmp, 'bad-shard-size');
      await expect(model.save(out, { maxShardSize: 0 })).rejects.toThrow(RangeError);
      await expect(model.save(out, { maxShardSize: '5 parsecs' })).rejects.toThrow(/maxShardSize must be a positive size/);
      await expect(model.save(out, { maxShardSize: 1.5 })).rejects.toThrow(/maxShardSize/);
      await expect(model.save(out, { maxShardSize: {} as never })).rejects.toThrow(TypeError);
      await expect(model.save(out, { maxShardSiz: '5GB' } as never)).rejects.toThrow(/maxShardSiz/);
      expect(fs.existsSync(out)).toBe(false);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 10-step training trajectories

const DROPOUT_FIELDS: Record<string, Record<string, number>> = {
  distilbert: { dropout: 0, attention_dropout: 0, seq_classif_dropout: 0 },
  default: { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 },
};

// A key projection's bias has a zero gradient in exact arithmetic (the softmax cancels it): both sides train it on
// rounding noise (see test/training-parity.test.ts), so it is held to AdamW's bound instead of 1e-5.
const NULL_GRADIENT = /\.attention\.(self\.key|k_lin)\.bias$/;

interface SpecBatch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds?: number[][];
  labels: number[];
}

function noDropoutCopy(f: FamilyFixture): string {
  const dir = path.join(tmp, `${f.name}-no-dropout`);
  fs.cpSync(dirOf(f.name), dir, { recursive: true });
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  Object.assign(config, DROPOUT_FIELDS[f.modelType] ?? DROPOUT_FIELDS.default);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return dir;
}

// With dropout on (the fixture's own probabilities), the reference draws bert-trainer's Philox masks in transformers'
// order of dropout calls (test/reference/philox_dropout.py), with eager attention, as test/training-parity.test.ts does.
describe('a 10-step training trajectory matches transformers with torch AdamW within 1e-5', () => {
  const trained = withLogits.filter((f) => !['roberta-sharded', 'electra-bin'].includes(f.name));
  // The sinusoidal DistilBERT differs from the other only in its initial position table: it trains without dropout.
  const cases = trained.flatMap((f) =>
    f.name === 'distilbert-sinusoidal' ? [[f.name, f, undefined] as const] : [[f.name, f, undefined] as const, [`${f.name} (dropout on)`, f, 9] as const],
  );
  test.each(cases)(
    '%s',
    async (name, f, dropoutSeed) => {
      const modelDir = dropoutSeed === undefined ? noDropoutCopy(f) : dirOf(f.name);
      const file = path.join(tmp, `${name.replace(/\W+/g, '-')}-spec.json`);
      execFileSync(PYTHON, [path.join(REFERENCE_DIR, 'make_training_spec.py'), modelDir, file, '--kind', 'single', '--steps', '10']);
      const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> & { batches: SpecBatch[]; outputFile: string; totalSteps: number };
      const hasTypes = f.encoding!.tokenTypeIds !== null;
      for (const b of spec.batches) if (!hasTypes) delete b.tokenTypeIds; // transformers' tokenizer gives none
      Object.assign(spec, { partialGroupDivisor: 'group_size', attnImplementation: 'sdpa', numThreads: 1 });
      if (dropoutSeed !== undefined) Object.assign(spec, { dropout: true, seed: dropoutSeed, attnImplementation: 'eager' });
      expect(spec.totalSteps).toBe(10);
      const ref = await reference.train(spec);

      const model = await AutoClassifier.fromPretrained(modelDir);
      const examples: Example[] = spec.batches.flatMap((b) =>
        b.inputIds.map((ids, r) => {
          const length = b.attentionMask[r].reduce((x, y) => x + y, 0);
          return { inputIds: ids.slice(0, length), ...(b.tokenTypeIds ? { tokenTypeIds: b.tokenTypeIds[r].slice(0, length) } : {}), label: b.labels[r] };
        }),
      );
      const trainer = new Trainer(model, {
        epochs: 1,
        batchSize: spec.batches[0].inputIds.length,
        shuffle: false,
        learningRate: spec.learningRate as number,
        weightDecay: spec.weightDecay as number,
        warmupSteps: spec.warmupSteps as number,
        adamBeta1: spec.adamBeta1 as number,
        adamBeta2: spec.adamBeta2 as number,
        adamEpsilon: spec.adamEpsilon as number,
        maxGradNorm: spec.maxGradNorm as number,
        gradientAccumulationSteps: spec.gradientAccumulationSteps as number,
        lrScheduler: spec.lrScheduler as 'linear',
        ...(dropoutSeed !== undefined ? { seed: dropoutSeed } : {}),
      });
      const result = await trainer.fit(examples);
      const steps = result.history.filter((e): e is StepEvent => e.type === 'step');
      const out = path.join(tmp, `${name.replace(/\W+/g, '-')}-trained`);
      await model.save(out);
      model.dispose();

      expect(steps).toHaveLength(ref.losses.length);
      steps.forEach((s, i) => {
        expect(Math.abs(s.loss - ref.losses[i])).toBeLessThanOrEqual(TOLERANCE);
        expect(Math.abs(s.gradNorm - ref.gradNorms[i])).toBeLessThanOrEqual(TOLERANCE);
        expect(Math.abs(s.learningRate - ref.learningRates[i])).toBeLessThanOrEqual(1e-12);
      });
      const ours = readSafetensors(path.join(out, 'model.safetensors'));
      const theirs = readSafetensors(spec.outputFile);
      const rest = { tensors: new Map([...theirs.tensors].filter(([n]) => !NULL_GRADIENT.test(n))), metadata: undefined };
      const nullSpace = { tensors: new Map([...theirs.tensors].filter(([n]) => NULL_GRADIENT.test(n))), metadata: undefined };
      const diff = maxTensorDiff(ours, rest);
      expect(diff.missing).toEqual([]);
      if (!(diff.worst <= TOLERANCE)) throw new Error(`final weights differ: max |diff| ${diff.worst} in ${diff.name}`);
      const bound = 2 * ref.learningRates.reduce((a, b) => a + b, 0);
      expect(maxTensorDiff(ours, nullSpace).worst).toBeLessThanOrEqual(bound);
    },
    600_000,
  );
});

test('BertClassifier keeps loading BERT folders, and model_type says bert', async () => {
  const model = await BertClassifier.fromConfig({ vocab_size: 40, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 10 });
  expect(model.config.model_type).toBe('bert');
  model.dispose();
});

// ---------------------------------------------------------------------------------------------------------------
// The Trainer, checkpoints and the CLI on a RoBERTa folder

const CUES: Record<string, string[]> = { LABEL_0: ['quick', 'brown'], LABEL_1: ['lazy', 'dog'], LABEL_2: ['tiny', 'models'] };
const FILLER = ['the', 'a', 'hello', 'world', 'test', 'of', 'corpus'];

function cueTexts(n: number): { text: string; label: string }[] {
  const labels = Object.keys(CUES);
  return Array.from({ length: n }, (_, i) => {
    const label = labels[i % 3];
    const words = [FILLER[i % FILLER.length], CUES[label][i % 2], FILLER[(i * 3) % FILLER.length], CUES[label][(i + 1) % 2]];
    return { text: words.join(' '), label };
  });
}

describe('Trainer and CLI on RoBERTa', () => {
  test('fit with checkpoints, evaluate, predict; resuming from a checkpoint ends bit-identical (dropout on)', async () => {
    const options = (outputDir: string): ConstructorParameters<typeof Trainer>[1] => ({
      epochs: 2,
      batchSize: 4,
      learningRate: 1e-3,
      seed: 3,
      outputDir,
      saveSteps: 2,
    });
    const examples = cueTexts(18);
    const fit = async (outputDir: string, resumeFrom?: string): Promise<{ losses: number[]; weights: Buffer; accuracy: number }> => {
      const model = await AutoClassifier.fromPretrained(dirOf('roberta'));
      const trainer = new Trainer(model, options(outputDir));
      const result = await trainer.fit(examples, resumeFrom ? { resumeFrom } : {});
      const metrics = await trainer.evaluate(examples);
      const predictions = await model.predict(['the quick brown fox']);
      expect(Object.keys(predictions[0].scores).sort()).toEqual(['LABEL_0', 'LABEL_1', 'LABEL_2']);
      const out = path.join(outputDir, 'final');
      await model.save(out);
      model.dispose();
      const losses = result.history.filter((e): e is StepEvent => e.type === 'step').map((e) => e.loss);
      return { losses, weights: fs.readFileSync(path.join(out, 'model.safetensors')), accuracy: metrics.accuracy as number };
    };
    const whole = await fit(path.join(tmp, 'roberta-fit-A'));
    expect(whole.losses).toHaveLength(10);
    expect(whole.accuracy).toBeGreaterThanOrEqual(0);
    const resumed = await fit(path.join(tmp, 'roberta-fit-B'), path.join(tmp, 'roberta-fit-A', 'checkpoint-4'));
    expect(resumed.losses.slice(4)).toEqual(whole.losses.slice(4));
    expect(resumed.weights.equals(whole.weights)).toBe(true);
  }, 600_000);

  test('bert-trainer train / eval / predict --model <a RoBERTa folder>, saved in shards', async () => {
    const root = path.resolve(__dirname, '..');
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
    const csv = path.join(tmp, 'cues.csv');
    fs.writeFileSync(csv, ['text,label', ...cueTexts(24).map((r) => `${r.text},${r.label}`)].join('\n') + '\n');
    const out = path.join(tmp, 'roberta-cli');
    const main = path.join(root, 'dist', 'cli', 'main.js');
    const run = (args: string[]): string =>
      execFileSync(process.execPath, [main, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    run([
      'train',
      '--model',
      dirOf('roberta'),
      '--train',
      csv,
      '--output',
      out,
      '--epochs',
      '1',
      '--batch-size',
      '8',
      '--seed',
      '1',
      '--threads',
      '1',
      '--max-shard-size',
      '20KB',
    ]);
    expect(fs.existsSync(path.join(out, 'model.safetensors.index.json'))).toBe(true); // saved as shards
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.model_type).toBe('roberta');
    expect(config.architectures).toEqual(['RobertaForSequenceClassification']);
    const evaluated = JSON.parse(run(['eval', '--model', out, '--eval', csv, '--json'])) as Record<string, unknown>;
    expect(typeof (evaluated.accuracy ?? (evaluated.metrics as Record<string, unknown> | undefined)?.accuracy)).toBe('number');
    const predicted = run(['predict', '--model', out, '--text', 'the quick brown fox', '--json']);
    expect(predicted).toMatch(/LABEL_[012]/);
    // transformers reloads the CLI's folder strictly.
    const f = family.find((x) => x.name === 'roberta')!;
    const ours = await AutoClassifier.fromPretrained(out);
    const { logits } = await ours.forward(inputsOf(f));
    ours.dispose();
    expect(maxAbsDiff(logits, (await reference.predict(out, inputsOf(f))).logits)).toBeLessThanOrEqual(TOLERANCE);
  }, 600_000);
});
