// Trainer: option validation, transformers' step arithmetic and schedule, reproducibility, events and callbacks,
// evaluation metrics, safety (claims, bad data, non-finite losses, abort) and a free event loop during fit().
import { BertClassifier, BertTokenizer } from '../src';
import { Dataset } from '../src/data/dataset';
import { learningRateAt } from '../src/train/schedule';
import { Trainer } from '../src/train/trainer';
import { fixturePath } from './helpers/fixtures';
import { tokenizedExamples } from './helpers/training-data';
import { Example } from '../src/data/example';
import { AbortError } from '../src/train/abort-error';
import { EvaluateEvent, StepEvent } from '../src/train/events';
import { TrainerOptions } from '../src/train/trainer-options';

const TINY = 'tiny-safetensors-f32'; // vocab 99, hidden 32, 2 layers, 2 labels, dropout 0.1

async function tinyModel(name = TINY): Promise<BertClassifier> {
  return BertClassifier.fromPretrained(fixturePath(name));
}

function singleLabelData(count: number, seed = 1): Example[] {
  return tokenizedExamples(count, { vocabSize: 99, numLabels: 2, seed });
}

function steps(history: (StepEvent | EvaluateEvent)[]): StepEvent[] {
  return history.filter((e): e is StepEvent => e.type === 'step');
}

let shared: BertClassifier;
beforeAll(async () => {
  shared = await tinyModel();
});
afterAll(() => shared.dispose());

describe('options', () => {
  const cases: [string, TrainerOptions, ErrorConstructor, RegExp][] = [
    ['epochs type', { epochs: '3' as unknown as number }, TypeError, /epochs/],
    ['epochs range', { epochs: 0 }, RangeError, /epochs/],
    ['batchSize', { batchSize: 2.5 }, RangeError, /batchSize/],
    ['mixedPrecision value', { mixedPrecision: 'fp8' as 'bf16' }, RangeError, /mixedPrecision/],
    ['mixedPrecision type', { mixedPrecision: true as unknown as 'bf16' }, TypeError, /mixedPrecision/],
    ['batchSize type', { batchSize: null as unknown as number }, TypeError, /batchSize/],
    ['learningRate', { learningRate: -1 }, RangeError, /learningRate/],
    ['learningRate NaN', { learningRate: NaN }, RangeError, /learningRate/],
    ['weightDecay', { weightDecay: -0.1 }, RangeError, /weightDecay/],
    ['adamBeta1', { adamBeta1: 1 }, RangeError, /adamBeta1/],
    ['adamBeta2', { adamBeta2: '0.9' as unknown as number }, TypeError, /adamBeta2/],
    ['adamEpsilon', { adamEpsilon: -1e-8 }, RangeError, /adamEpsilon/],
    ['maxGradNorm', { maxGradNorm: -1 }, RangeError, /maxGradNorm/],
    ['gradientAccumulationSteps', { gradientAccumulationSteps: 0 }, RangeError, /gradientAccumulationSteps/],
    ['lrScheduler', { lrScheduler: 'step' as unknown as 'linear' }, RangeError, /lrScheduler/],
    ['warmupSteps', { warmupSteps: -2 }, RangeError, /warmupSteps/],
    ['warmupRatio', { warmupRatio: 1.5 }, RangeError, /warmupRatio/],
    ['seed', { seed: 1.5 }, RangeError, /seed/],
    ['shuffle', { shuffle: 1 as unknown as boolean }, TypeError, /shuffle/],
    ['maxLength', { maxLength: 1000 }, RangeError, /maxLength/],
    ['problemType', { problemType: 'ranking' as unknown as 'regression' }, RangeError, /problemType/],
    ['classWeights length', { classWeights: [1, 2, 3] }, RangeError, /classWeights/],
    ['classWeights value', { classWeights: [1, -1] }, RangeError, /classWeights\[1\]/],
    ['classWeights type', { classWeights: 'x' as unknown as number[] }, TypeError, /classWeights/],
    ['classWeights with regression', { classWeights: [1, 1], problemType: 'regression' }, RangeError, /classWeights/],
    ['logEvery', { logEvery: 0 }, RangeError, /logEvery/],
    ['evalStrategy', { evalStrategy: 'always' as unknown as 'no' }, RangeError, /evalStrategy/],
    ['evalStrategy steps without evalSteps', { evalStrategy: 'steps' }, RangeError, /evalSteps/],
    ['evalSteps', { evalSteps: -1 }, RangeError, /evalSteps/],
    ['evalBatchSize', { evalBatchSize: 0 }, RangeError, /evalBatchSize/],
    ['outputDir', { outputDir: 3 as unknown as string }, TypeError, /outputDir/],
    ['saveStrategy without outputDir', { saveStrategy: 'epoch' }, RangeError, /outputDir/],
    ['saveStrategy steps without saveSteps', { outputDir: '/tmp/x', saveStrategy: 'steps' }, RangeError, /saveSteps/],
    ['saveTotalLimit', { saveTotalLimit: 0 }, RangeError, /saveTotalLimit/],
    ['saveFormat', { saveFormat: 'onnx' as unknown as 'safetensors' }, RangeError, /saveFormat/],
    ['loadBestModelAtEnd type', { loadBestModelAtEnd: 'yes' as unknown as boolean }, TypeError, /loadBestModelAtEnd/],
    ['loadBestModelAtEnd without checkpoints', { loadBestModelAtEnd: true }, RangeError, /loadBestModelAtEnd/],
    ['metricForBestModel', { metricForBestModel: 5 as unknown as string }, TypeError, /metricForBestModel/],
    ['greaterIsBetter', { greaterIsBetter: 0 as unknown as boolean }, TypeError, /greaterIsBetter/],
    ['earlyStopping patience', { earlyStopping: { patience: 0 } }, RangeError, /earlyStopping.patience/],
    ['earlyStopping threshold', { earlyStopping: { patience: 1, threshold: -1 } }, RangeError, /earlyStopping.threshold/],
    ['earlyStopping type', { earlyStopping: 2 as unknown as { patience: number } }, TypeError, /earlyStopping/],
    ['skipNonFiniteLoss', { skipNonFiniteLoss: 'no' as unknown as boolean }, TypeError, /skipNonFiniteLoss/],
    ['callbacks', { callbacks: { onStepEnd: 3 as unknown as () => void } }, TypeError, /callbacks.onStepEnd/],
    ['unknown callback', { callbacks: { onBatchBegin: () => undefined } as unknown as TrainerOptions['callbacks'] }, TypeError, /onBatchBegin/],
    ['unknown option', { learningrate: 1 } as unknown as TrainerOptions, TypeError, /learningrate/],
  ];
  test.each(cases)('%s', (_name, options, Kind, message) => {
    let thrown: unknown;
    try {
      new Trainer(shared, options);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Kind);
    expect((thrown as Error).message).toMatch(message);
  });

  test('defaults follow transformers TrainingArguments', () => {
    const o = new Trainer(shared).options;
    expect(o).toMatchObject({
      epochs: 3,
      batchSize: 8,
      learningRate: 5e-5,
      weightDecay: 0,
      adamBeta1: 0.9,
      adamBeta2: 0.999,
      adamEpsilon: 1e-8,
      maxGradNorm: 1,
      gradientAccumulationSteps: 1,
      lrScheduler: 'linear',
      warmupSteps: 0,
      warmupRatio: 0,
      seed: 42,
      shuffle: true,
      logEvery: 1,
      saveStrategy: 'no',
      saveFormat: 'safetensors',
      loadBestModelAtEnd: false,
      metricForBestModel: 'loss',
      greaterIsBetter: false,
      skipNonFiniteLoss: false,
    });
    expect(new Trainer(shared, { outputDir: '/tmp/never-written' }).options.saveStrategy).toBe('epoch');
    expect(new Trainer(shared, { metricForBestModel: 'eval_accuracy' }).options).toMatchObject({ metricForBestModel: 'accuracy', greaterIsBetter: true });
    expect(() => new Trainer({} as BertClassifier)).toThrow(TypeError);
  });

  test('fit-time checks: evalStrategy needs an evalDataset, metric names exist, loadBestModelAtEnd strategies match', async () => {
    const data = singleLabelData(8);
    await expect(new Trainer(shared, { evalStrategy: 'epoch' }).fit(data)).rejects.toThrow(/evalDataset/);
    await expect(new Trainer(shared, { metricForBestModel: 'mse' }).fit(data, { evalDataset: data })).rejects.toThrow(/metricForBestModel "mse"/);
    await expect(new Trainer(shared, { earlyStopping: { patience: 1 } }).fit(data)).rejects.toThrow(/earlyStopping/);
    await expect(
      new Trainer(shared, { outputDir: '/tmp/never-written', saveSteps: 3, evalSteps: 2, loadBestModelAtEnd: true }).fit(data, { evalDataset: data }),
    ).rejects.toThrow(/multiple of evalSteps/);
    await expect(new Trainer(shared).fit(data, { resumeFrom: 5 as unknown as string })).rejects.toThrow(TypeError);
    await expect(new Trainer(shared).fit(data, { evalDatset: data } as unknown as { evalDataset: Example[] })).rejects.toThrow(/evalDatset/);
  });
});

describe('training loop', () => {
  test("transformers' step arithmetic: partial batch and partial accumulation group are trained; lr per step from the schedule", async () => {
    // 22 examples / batch 4 = 6 batches (last has 2) / accumulation 4 = 2 steps per epoch (the second has 2 batches).
    const trainer = new Trainer(shared, { epochs: 3, batchSize: 4, gradientAccumulationSteps: 4, learningRate: 1e-3, warmupRatio: 0.2, lrScheduler: 'cosine' });
    const events: StepEvent[] = [];
    const epochEnds: unknown[] = [];
    trainer.on('step', (e) => events.push(e));
    trainer.on('epochEnd', (e) => epochEnds.push(e));
    const result = await trainer.fit(singleLabelData(22));
    expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.map((e) => e.epoch)).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
    expect(epochEnds).toEqual([
      { epoch: 1, step: 2 },
      { epoch: 2, step: 4 },
      { epoch: 3, step: 6 },
    ]);
    const schedule = { type: 'cosine' as const, baseLr: 1e-3, warmupSteps: 2, totalSteps: 6 }; // ceil(0.2 * 6) = 2
    expect(events.map((e) => e.learningRate)).toEqual([0, 1, 2, 3, 4, 5].map((k) => learningRateAt(k, schedule)));
    for (const e of events) {
      expect(Number.isFinite(e.loss) && e.loss > 0).toBe(true);
      expect(e.gradNorm).toBeGreaterThan(0);
      expect(e.samplesPerSecond).toBeGreaterThan(0);
      expect(e.tokensPerSecond).toBeGreaterThan(e.samplesPerSecond); // several real tokens per example
      expect(e.skipped).toBe(false);
    }
    expect(result.metrics).toMatchObject({ steps: 6, epochs: 3, stoppedEarly: false });
    expect(result.metrics.trainLoss).toBeCloseTo(events.reduce((s, e) => s + e.loss, 0) / 6, 12);
    expect(result.metrics.samplesPerSecond).toBeGreaterThan(0);
    expect(result.history).toEqual(events);
    // Plain objects: they survive JSON.
    expect(JSON.parse(JSON.stringify(result.history))).toEqual(result.history);
  });

  test('fractional epochs: total steps = ceil(epochs * stepsPerEpoch)', async () => {
    const result = await new Trainer(shared, { epochs: 1.5, batchSize: 4, learningRate: 1e-4 }).fit(singleLabelData(16));
    expect(result.metrics.steps).toBe(6);
    expect(result.metrics.epochs).toBe(1.5);
  });

  test('same seed -> identical losses (dropout and shuffling seeded); another seed -> different', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const model = await tinyModel();
      const result = await new Trainer(model, { epochs: 2, batchSize: 4, gradientAccumulationSteps: 2, learningRate: 1e-3, seed }).fit(singleLabelData(20));
      model.dispose();
      return steps(result.history).map((e) => e.loss);
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  test('two models training at once draw their own dropout masks: each run equals the same run alone', async () => {
    const options = { epochs: 1, batchSize: 4, learningRate: 1e-3 };
    const fitLosses = async (model: BertClassifier, seed: number): Promise<number[]> =>
      steps((await new Trainer(model, { ...options, seed }).fit(singleLabelData(24))).history).map((e) => e.loss);
    const [soloA, soloB] = [await tinyModel(), await tinyModel()];
    const aloneA = await fitLosses(soloA, 11);
    const aloneB = await fitLosses(soloB, 12);
    const [a, b] = [await tinyModel(), await tinyModel()];
    const [togetherA, togetherB] = await Promise.all([fitLosses(a, 11), fitLosses(b, 12)]); // steps interleave
    [soloA, soloB, a, b].forEach((m) => m.dispose());
    expect(togetherA).toEqual(aloneA);
    expect(togetherB).toEqual(aloneB);
    expect(aloneA).not.toEqual(aloneB);
  });

  test('logEvery: one event per N steps with the mean loss of those steps', async () => {
    const run = async (logEvery: number): Promise<StepEvent[]> => {
      const model = await tinyModel();
      const result = await new Trainer(model, { epochs: 1, batchSize: 2, learningRate: 1e-3, logEvery, seed: 3 }).fit(singleLabelData(12));
      model.dispose();
      return steps(result.history);
    };
    const every = await run(1);
    const third = await run(3);
    expect(third.map((e) => e.step)).toEqual([3, 6]);
    expect(third[0].loss).toBeCloseTo((every[0].loss + every[1].loss + every[2].loss) / 3, 12);
    expect(third[1].loss).toBeCloseTo((every[3].loss + every[4].loss + every[5].loss) / 3, 12);
    expect(third[1].gradNorm).toBe(every[5].gradNorm);
    expect(third[1].learningRate).toBe(every[5].learningRate);
  });

  test('training lowers the loss on a learnable task, and the model predicts afterwards', async () => {
    const model = await tinyModel();
    const data = singleLabelData(64, 5);
    const trainer = new Trainer(model, { epochs: 4, batchSize: 8, learningRate: 3e-3, seed: 1 });
    const before = await trainer.evaluate(data);
    const result = await trainer.fit(data);
    const after = await trainer.evaluate(data);
    expect(after.loss).toBeLessThan(before.loss);
    expect(result.metrics.trainLoss).toBeGreaterThan(0);
    const out = await model.forward({ inputIds: [[5, 6, 7]] });
    expect(out.logits).toHaveLength(2);
    model.dispose();
  });

  test('text examples with label names go through the tokenizer', async () => {
    const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'good', 'bad', 'film', 'very', 'not'];
    const tokenizer = BertTokenizer.fromVocab(vocab);
    const model = await BertClassifier.fromConfig(
      { vocab_size: vocab.length, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 32 },
      { labels: ['neg', 'pos'], tokenizer, seed: 1 },
    );
    const texts: Example[] = [
      { text: 'good film', label: 'pos' },
      { text: 'bad film', label: 'neg' },
      { text: 'very good', label: 'pos' },
      { text: 'not good', label: 'neg' },
      { text: 'very bad film', textPair: 'not good', label: 'neg' },
    ];
    const trainer = new Trainer(model, { epochs: 2, batchSize: 2, learningRate: 1e-3 });
    const result = await trainer.fit(Dataset.fromArray(texts), { evalDataset: texts });
    expect(result.metrics.steps).toBe(6);
    expect(result.metrics.eval?.accuracy).toBeGreaterThanOrEqual(0);
    await expect(trainer.fit([{ text: 'good', label: 'great' }])).rejects.toThrow(/examples\[0\]\.label "great" is not a label/);
    model.dispose();
  });

  test('an in-memory evaluation set is tokenized once: per-epoch evaluations and evaluate() reuse its token rows', async () => {
    const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'good', 'bad', 'film', 'very', 'not'];
    const tokenizer = BertTokenizer.fromVocab(vocab);
    const config = {
      vocab_size: vocab.length,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 16,
      max_position_embeddings: 32,
    };
    const train = Dataset.fromArray([
      { text: 'good film', label: 'pos' },
      { text: 'bad film', label: 'neg' },
    ]);
    const held = Dataset.fromArray([
      { text: 'very good film', label: 'pos' },
      { text: 'not good', label: 'neg' },
      { text: 'very bad', label: 'neg' },
    ]);
    const model = await BertClassifier.fromConfig(config, { labels: ['neg', 'pos'], tokenizer, seed: 1 });
    const trainer = new Trainer(model, { epochs: 3, batchSize: 2, learningRate: 1e-3, seed: 5 }); // with an evalDataset: evaluated every epoch
    await trainer.fit(train); // tokenizes the training texts before the spy
    const encode = jest.spyOn(tokenizer, 'encode');
    const result = await trainer.fit(train, { evalDataset: held }); // 3 evaluations
    const first = await trainer.evaluate(held);
    const again = await trainer.evaluate(held);
    const heldTexts = (call: unknown[]): number => (call[0] as string[]).filter((t) => ['very good film', 'not good', 'very bad'].includes(t)).length;
    const encodedHeld = encode.mock.calls.reduce((n, call) => n + heldTexts(call), 0);
    encode.mockRestore();
    model.dispose();
    expect(result.history.filter((e) => e.type === 'evaluate')).toHaveLength(3);
    expect(encodedHeld).toBe(held.length); // once, not once per evaluation (5)
    expect(again).toEqual({ ...first, runtimeSeconds: again.runtimeSeconds, samplesPerSecond: again.samplesPerSecond });
  });

  test('an in-memory text dataset is tokenized once: later epochs and fits reuse its token rows, the same batches', async () => {
    const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'good', 'bad', 'film', 'very', 'not'];
    const tokenizer = BertTokenizer.fromVocab(vocab);
    const config = {
      vocab_size: vocab.length,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 16,
      max_position_embeddings: 32,
    };
    const texts = Dataset.fromArray([
      { text: 'good film', label: 'pos' },
      { text: 'bad film', label: 'neg' },
      { text: 'very good film', label: 'pos' },
      { text: 'not good', label: 'neg' },
      { text: 'very bad film', textPair: 'not good', label: 'neg' },
      { text: 'good', label: 'pos' },
    ]);
    const run = async (tokenized: boolean): Promise<{ losses: number[]; encodedTexts: number }> => {
      const model = await BertClassifier.fromConfig(config, { labels: ['neg', 'pos'], tokenizer, seed: 1 });
      const encode = jest.spyOn(tokenizer, 'encode');
      const data = tokenized
        ? Dataset.fromArray(
            await Promise.all(
              texts.toArray().map(async (e) => {
                const t = e as { text: string; textPair?: string; label: string };
                const enc = await tokenizer.encode([t.text], t.textPair !== undefined ? [t.textPair] : undefined, { padding: false });
                return { inputIds: enc.inputIds[0], tokenTypeIds: enc.tokenTypeIds[0], label: t.label };
              }),
            ),
          )
        : texts;
      encode.mockClear();
      const trainer = new Trainer(model, { epochs: 3, batchSize: 2, learningRate: 1e-3, seed: 5 });
      const result = await trainer.fit(data);
      await trainer.fit(data); // a second fit on the same dataset: nothing left to tokenize
      const encodedTexts = encode.mock.calls.reduce((n, call) => n + (call[0] as string[]).length, 0);
      encode.mockRestore();
      model.dispose();
      return { losses: steps(result.history).map((e) => e.loss), encodedTexts };
    };
    const cached = await run(false);
    expect(cached.encodedTexts).toBe(texts.length); // each text once, not once per epoch (3) and fit (2)
    const pretokenized = await run(true);
    expect(cached.losses).toEqual(pretokenized.losses); // the batches are the ones tokenizing every time would give
  });
});

describe('evaluate', () => {
  test('single-label: loss = mean cross-entropy of forward() logits; accuracy, macro F1, confusion matrix', async () => {
    const data = singleLabelData(10, 9);
    const result = await new Trainer(shared, { evalBatchSize: 3 }).evaluate(data);
    let lossSum = 0;
    let correct = 0;
    for (const e of data) {
      const { logits } = await shared.forward({
        inputIds: [(e as { inputIds: number[] }).inputIds],
        tokenTypeIds: [(e as { tokenTypeIds: number[] }).tokenTypeIds],
      });
      const label = e.label as number;
      const max = Math.max(logits[0], logits[1]);
      const logSum = max + Math.log(Math.exp(logits[0] - max) + Math.exp(logits[1] - max));
      lossSum += logSum - logits[label];
      if ((logits[1] > logits[0] ? 1 : 0) === label) correct += 1;
    }
    expect(result.loss).toBeCloseTo(lossSum / data.length, 5);
    expect(result.accuracy).toBeCloseTo(correct / data.length, 12);
    expect(result).toMatchObject({ problemType: 'single_label_classification', numExamples: 10 });
    expect(result.confusionMatrix?.flat().reduce((a, b) => a + b, 0)).toBe(10);
    expect(Object.keys(result.perClass ?? {})).toEqual(shared.labels);
    for (const key of ['f1', 'microF1', 'macroPrecision', 'macroRecall']) expect(typeof (result as unknown as Record<string, unknown>)[key]).toBe('number');
    // Batch size does not change the result beyond float noise.
    const other = await new Trainer(shared).evaluate(data, { batchSize: 10 });
    expect(other.loss).toBeCloseTo(result.loss, 5);
    expect(other.accuracy).toBe(result.accuracy);
  });

  test("mixedPrecision 'bf16': evaluation close to fp32's (bf16 has 8 bits of mantissa), not equal", async () => {
    const data = singleLabelData(16, 4);
    const fp32 = await new Trainer(shared).evaluate(data);
    const bf16 = await new Trainer(shared, { mixedPrecision: 'bf16' }).evaluate(data);
    expect(bf16.loss).not.toBe(fp32.loss);
    expect(Math.abs(bf16.loss - fp32.loss) / fp32.loss).toBeLessThan(0.02);
  });

  test('multi-label and regression metrics', async () => {
    const multi = await tinyModel('multilabel');
    const m = await new Trainer(multi).evaluate(tokenizedExamples(9, { vocabSize: 99, numLabels: 4, kind: 'multilabel' }));
    expect(m.problemType).toBe('multi_label_classification');
    expect(typeof m.subsetAccuracy).toBe('number');
    expect(typeof m.f1).toBe('number');
    expect(m.loss).toBeGreaterThan(0);
    multi.dispose();
    const regression = await tinyModel('regression-1-label');
    const r = await new Trainer(regression).evaluate(tokenizedExamples(9, { vocabSize: 99, numLabels: 1, kind: 'regression' }));
    expect(r.problemType).toBe('regression');
    expect(r.mse).toBeCloseTo(r.loss, 5); // MSE loss = mse metric
    for (const key of ['mae', 'pearson', 'spearman']) expect(key in r).toBe(true);
    regression.dispose();
  });

  test('evaluation during fit: per epoch by default, per N steps with evalSteps; events and history', async () => {
    const data = singleLabelData(12);
    const trainer = new Trainer(shared, { epochs: 2, batchSize: 4, learningRate: 1e-4 });
    const evaluations: EvaluateEvent[] = [];
    trainer.on('evaluate', (e) => evaluations.push(e));
    const result = await trainer.fit(data, { evalDataset: data.slice(0, 5) });
    expect(evaluations.map((e) => [e.step, e.epoch])).toEqual([
      [3, 1],
      [6, 2],
    ]);
    expect(result.history.map((e) => e.type)).toEqual(['step', 'step', 'step', 'evaluate', 'step', 'step', 'step', 'evaluate']);
    expect(result.metrics.eval).toEqual(evaluations[1].metrics);
    const bySteps = await new Trainer(shared, { epochs: 1, batchSize: 2, evalSteps: 2, learningRate: 1e-4 }).fit(data, { evalDataset: data });
    expect(bySteps.history.filter((e) => e.type === 'evaluate').map((e) => e.step)).toEqual([2, 4, 6]);
  });

  test('early stopping: stops after `patience` evaluations without improvement', async () => {
    // lr 0: the metric never improves, so the first evaluation sets the best and the next two use up patience 2.
    const data = singleLabelData(16);
    const result = await new Trainer(shared, { epochs: 1, batchSize: 2, learningRate: 0, evalSteps: 1, earlyStopping: { patience: 2 } }).fit(data, {
      evalDataset: data.slice(0, 4),
    });
    expect(result.metrics.steps).toBe(3);
    expect(result.metrics.stoppedEarly).toBe(true);
  });
});

describe('callbacks', () => {
  test('tfjs-style callbacks run in order and are awaited', async () => {
    const calls: string[] = [];
    const delay = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
    const trainer = new Trainer(shared, {
      epochs: 2,
      batchSize: 4,
      learningRate: 1e-4,
      callbacks: {
        onTrainBegin: async (logs) => {
          await delay();
          calls.push(`trainBegin ${logs.totalSteps}`);
        },
        onEpochBegin: async (epoch) => {
          await delay();
          calls.push(`epochBegin ${epoch}`);
        },
        onStepEnd: async (step) => {
          await delay();
          calls.push(`stepEnd ${step}`);
        },
        onBatchEnd: (step) => {
          calls.push(`batchEnd ${step}`);
        },
        onEvaluate: async (step) => {
          await delay();
          calls.push(`evaluate ${step}`);
        },
        onEpochEnd: async (epoch, logs) => {
          await delay();
          calls.push(`epochEnd ${epoch} ${logs.step}`);
        },
        onTrainEnd: async (result) => {
          await delay();
          calls.push(`trainEnd ${result.metrics.steps}`);
        },
      },
    });
    await trainer.fit(singleLabelData(8), { evalDataset: singleLabelData(2) });
    expect(calls).toEqual([
      'trainBegin 4',
      'epochBegin 0',
      'stepEnd 1',
      'batchEnd 1',
      'stepEnd 2',
      'batchEnd 2',
      'epochEnd 0 2',
      'evaluate 2',
      'epochBegin 1',
      'stepEnd 3',
      'batchEnd 3',
      'stepEnd 4',
      'batchEnd 4',
      'epochEnd 1 4',
      'evaluate 4',
      'trainEnd 4',
    ]);
  });

  test('a throwing callback rejects fit and releases the model', async () => {
    const trainer = new Trainer(shared, {
      epochs: 1,
      batchSize: 4,
      callbacks: {
        onStepEnd: () => {
          throw new Error('callback boom');
        },
      },
    });
    await expect(trainer.fit(singleLabelData(8))).rejects.toThrow('callback boom');
    await expect(shared.forward({ inputIds: [[1, 2]] })).resolves.toBeDefined();
  });
});

describe('safety', () => {
  test('the model is claimed during fit: predict/forward/save and a second fit reject; released afterwards', async () => {
    const model = await tinyModel();
    const trainer = new Trainer(model, { epochs: 2, batchSize: 2, learningRate: 1e-4 });
    const running = trainer.fit(singleLabelData(16));
    await expect(model.forward({ inputIds: [[1, 2, 3]] })).rejects.toThrow(/being trained/);
    await expect(model.predict(['x'])).rejects.toThrow(/being trained/);
    await expect(model.save('/tmp/bert-trainer-never-written')).rejects.toThrow(/being trained/);
    await expect(trainer.fit(singleLabelData(4))).rejects.toThrow(/already running on this Trainer/);
    await expect(new Trainer(model).fit(singleLabelData(4))).rejects.toThrow(/already being trained/);
    await expect(new Trainer(model).evaluate(singleLabelData(4))).rejects.toThrow(/being trained by another/);
    // The trainer itself can evaluate while it trains.
    await expect(trainer.evaluate(singleLabelData(4))).resolves.toHaveProperty('accuracy');
    await running;
    await expect(model.forward({ inputIds: [[1, 2, 3]] })).resolves.toBeDefined();
    await expect(trainer.fit(singleLabelData(4))).resolves.toBeDefined(); // a later fit on the same Trainer is fine
    model.dispose();
  });

  test('empty data and bad examples fail before any step runs, naming the example', async () => {
    const trainer = new Trainer(shared, { epochs: 1, batchSize: 4 });
    const stepsSeen: number[] = [];
    trainer.on('step', (e) => stepsSeen.push(e.step));
    await expect(trainer.fit([])).rejects.toThrow(/empty/);
    await expect(trainer.fit(singleLabelData(4), { evalDataset: [] })).rejects.toThrow(/evalDataset is empty/);
    const data = singleLabelData(30);
    const badLabel = data.map((e, i) => (i === 27 ? { ...e, label: 7 } : e));
    await expect(trainer.fit(badLabel)).rejects.toThrow(/train: examples\[27\]\.label = 7 is outside the class ids \[0, 2\)/);
    const missing = data.map((e, i) => (i === 13 ? { inputIds: (e as { inputIds: number[] }).inputIds } : e));
    await expect(trainer.fit(missing)).rejects.toThrow(/examples\[13\] has no label/);
    const badToken = data.map((e, i) => (i === 21 ? { inputIds: [1, 2, 500], label: 0 } : e));
    await expect(trainer.fit(badToken)).rejects.toThrow(/examples\[21\]\.inputIds\[2\] = 500 is outside the vocabulary/);
    const tooLong = data.map((e, i) => (i === 3 ? { inputIds: Array(80).fill(5), label: 0 } : e));
    await expect(trainer.fit(tooLong)).rejects.toThrow(/examples\[3\]\.inputIds has 80 tokens/);
    await expect(trainer.fit(data, { evalDataset: badLabel })).rejects.toThrow(/evalDataset: examples\[27\]/);
    await expect(trainer.fit([{ text: 'hello', label: 0 }])).rejects.toThrow(/examples\[0\] is text, but the model has no tokenizer/);
    await expect(trainer.fit('data' as unknown as Example[])).rejects.toThrow(TypeError);
    expect(stepsSeen).toEqual([]);
  });

  test('a non-finite loss rejects naming the step; skipNonFiniteLoss skips that step instead', async () => {
    // Regression with a label of 1e30: (prediction - 1e30)^2 overflows float32 to inf. Example 25 is in the 7th batch of 4.
    const data = tokenizedExamples(32, { vocabSize: 99, numLabels: 1, kind: 'regression' }).map((e, i) => (i === 25 ? { ...e, label: 1e30 } : e));
    const model = await tinyModel('regression-1-label');
    const stepsSeen: number[] = [];
    const trainer = new Trainer(model, { epochs: 1, batchSize: 4, shuffle: false, learningRate: 1e-4 });
    trainer.on('step', (e) => stepsSeen.push(e.step));
    await expect(trainer.fit(data)).rejects.toMatchObject({ code: 'ERR_NON_FINITE_LOSS', message: expect.stringMatching(/^non-finite loss at step 7/) });
    expect(stepsSeen).toEqual([1, 2, 3, 4, 5, 6]);

    const skipping = new Trainer(model, { epochs: 1, batchSize: 4, shuffle: false, learningRate: 1e-4, skipNonFiniteLoss: true });
    const result = await skipping.fit(data);
    const events = steps(result.history);
    expect(events).toHaveLength(8);
    expect(events[6].skipped).toBe(true);
    expect(events.filter((e) => e.skipped)).toHaveLength(1);
    expect(Number.isFinite(events[7].loss)).toBe(true);
    expect(Number.isFinite(result.metrics.trainLoss)).toBe(true); // skipped steps are left out of the mean
    const out = await model.forward({ inputIds: [[1, 2, 3]] });
    expect(Number.isFinite(out.logits[0])).toBe(true); // the update was skipped, the weights are still finite
    model.dispose();
  });

  test('an AbortSignal stops at the next step boundary with an AbortError', async () => {
    const controller = new AbortController();
    const trainer = new Trainer(shared, { epochs: 3, batchSize: 2, learningRate: 1e-4 });
    const seen: number[] = [];
    trainer.on('step', (e) => {
      seen.push(e.step);
      if (e.step === 3) controller.abort();
    });
    const failure = await trainer.fit(singleLabelData(12), { signal: controller.signal }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AbortError);
    expect((failure as Error).name).toBe('AbortError');
    expect((failure as Error).message).toMatch(/aborted at step 3/);
    expect(seen).toEqual([1, 2, 3]);
    // Already aborted: rejects at once.
    await expect(trainer.fit(singleLabelData(4), { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(shared.forward({ inputIds: [[1, 2]] })).resolves.toBeDefined();
  });
});

test('the event loop stays free during fit (native steps run on worker threads)', async () => {
  const model = await tinyModel();
  const trainer = new Trainer(model, { epochs: 4, batchSize: 16, learningRate: 1e-4, logEvery: 5 });
  const data = tokenizedExamples(256, { vocabSize: 99, numLabels: 2, minLength: 24, maxLength: 48 });
  let ticks = 0;
  let worstLag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worstLag = Math.max(worstLag, now - last - 5);
    last = now;
    ticks += 1;
  }, 5);
  const started = performance.now();
  const result = await trainer.fit(data);
  const elapsed = performance.now() - started;
  clearInterval(timer);
  model.dispose();

  console.log(
    `event loop during fit: ${result.metrics.steps} steps in ${elapsed.toFixed(0)} ms, ${ticks} ticks of a 5 ms interval ` +
      `(ideal ${Math.floor(elapsed / 5)}), worst lag ${worstLag.toFixed(1)} ms`,
  );
  expect(elapsed).toBeGreaterThan(200); // long enough to measure something
  expect(ticks).toBeGreaterThanOrEqual(Math.floor((elapsed / 5) * 0.3));
  // No stall of the loop as long as several steps: relative to this run's own step time, so a loaded machine (where
  // every step and every timer runs late) does not fail it, while steps run on the loop's thread would.
  expect(worstLag).toBeLessThan(4 * (elapsed / result.metrics.steps));
});
