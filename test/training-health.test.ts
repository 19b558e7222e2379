// Training that collapses is said: one-class evaluation predictions and a first epoch whose loss did not move give a
// 'warning' event, an onWarning callback, FitResult.warnings, a CLI line and a line in report.html; a run that
// learns gives none.
import { BertClassifier } from '../src';
import { Trainer } from '../src/train/trainer';
import { TrainingHealth, singleClassDataWarning, singleClassPredictions } from '../src/train/training-health';
import { warningLine } from '../src/cli/warnings';
import { renderReport } from '../src/report/report';
import { fixturePath } from './helpers/fixtures';
import { Example } from '../src/data/example';
import { EvaluationResult } from '../src/train/events';
import { WarningEvent } from '../src/train/events';

const TINY = 'tiny-safetensors-f32'; // vocab 99, hidden 32, 2 layers, 2 labels

function evaluation(confusionMatrix: number[][], problemType: EvaluationResult['problemType'] = 'single_label_classification'): EvaluationResult {
  const n = confusionMatrix.flat().reduce((a, b) => a + b, 0);
  const correct = confusionMatrix.reduce((sum, row, i) => sum + (row[i] ?? 0), 0);
  return { loss: 0.7, problemType, numExamples: n, runtimeSeconds: 1, samplesPerSecond: n, accuracy: correct / n, confusionMatrix };
}

describe('singleClassPredictions', () => {
  test('every prediction in one class, two true classes: that class and its count', () => {
    expect(
      singleClassPredictions(
        evaluation([
          [0, 30],
          [0, 70],
        ]),
        ['neg', 'pos'],
      ),
    ).toEqual({ label: 'pos', count: 100 });
  });
  test('predictions in two classes, or only one true class, or not single-label: nothing', () => {
    expect(
      singleClassPredictions(
        evaluation([
          [29, 1],
          [0, 70],
        ]),
        ['a', 'b'],
      ),
    ).toBeNull();
    expect(
      singleClassPredictions(
        evaluation([
          [0, 0],
          [0, 70],
        ]),
        ['a', 'b'],
      ),
    ).toBeNull();
    expect(
      singleClassPredictions(
        {
          ...evaluation([
            [0, 30],
            [0, 70],
          ]),
          problemType: 'multi_label_classification',
        },
        ['a', 'b'],
      ),
    ).toBeNull();
  });
});

describe('TrainingHealth', () => {
  const flat = (n: number): number[] => Array.from({ length: n }, (_, i) => 0.693 + (i % 2 ? 0.01 : -0.01));
  test('a first epoch whose loss ends where it started warns once, naming both means', () => {
    const health = new TrainingHealth();
    for (const loss of flat(50)) health.observeLoss(loss);
    const w = health.epochEnded(50, 1) as WarningEvent;
    expect(w).toMatchObject({ type: 'warning', code: 'LOSS_NOT_DECREASING', step: 50, epoch: 1, fixes: ['learningRate', 'batchSize', 'warmupRatio'] });
    expect(w.message).toMatch(/0\.69\d\d over its first 10 steps, 0\.69\d\d over its last 10/);
    expect(w.message).toMatch(/learningRate/);
    for (const loss of flat(50)) health.observeLoss(loss);
    expect(health.epochEnded(100, 2)).toBeNull(); // later epochs are not judged
  });
  test('a falling loss, too few steps or non-finite losses: no warning', () => {
    const falling = new TrainingHealth();
    for (let i = 0; i < 50; i++) falling.observeLoss(0.7 - i * 0.005);
    expect(falling.epochEnded(50, 1)).toBeNull();
    const short = new TrainingHealth();
    for (const loss of flat(9)) short.observeLoss(loss);
    expect(short.epochEnded(9, 1)).toBeNull();
    const skipped = new TrainingHealth();
    for (let i = 0; i < 50; i++) skipped.observeLoss(i % 2 ? NaN : 0.7 - i * 0.005);
    expect(skipped.epochEnded(50, 1)).toBeNull();
  });
  test('one-class predictions warn once per fit, from the second half of the run on', () => {
    const health = new TrainingHealth();
    const collapsed = evaluation([
      [0, 30],
      [0, 70],
    ]);
    expect(health.evaluated(collapsed, ['neg', 'pos'], 10, 1, 30)).toBeNull(); // a third of the way: no verdict yet
    expect(health.evaluated(collapsed, ['neg', 'pos'], 20, 2, 30)?.message).toMatch(/every one of the 100 evaluation predictions is "pos" \(accuracy 0\.7000/);
    expect(health.evaluated(collapsed, ['neg', 'pos'], 30, 3, 30)).toBeNull();
  });
});

describe('the CLI line and the report', () => {
  const w: WarningEvent = {
    type: 'warning',
    code: 'SINGLE_CLASS_PREDICTIONS',
    step: 10,
    epoch: 1,
    detail: 'every one of the 100 evaluation predictions is "pos"',
    message: 'every one of the 100 evaluation predictions is "pos"; a lower learningRate ...',
    fixes: ['learningRate', 'batchSize', 'warmupRatio'],
  };
  test('names the flags with this run’s values', () => {
    expect(warningLine(w, { learningRate: 1e-3, batchSize: 8, warmupRatio: 0 })).toBe(
      'warning: every one of the 100 evaluation predictions is "pos"; a lower --lr (this run: 1.00e-3), a larger --batch-size (this run: 8) or --warmup-ratio 0.1 usually fixes it',
    );
    expect(warningLine(w, { learningRate: 5e-4, batchSize: 32, warmupRatio: 0.1 })).toMatch(/a longer --warmup-ratio \(this run: 0\.1\)/);
  });
  test('report.html shows the warning', () => {
    const html = renderReport({
      model: 'tiny',
      data: { train: 'train.csv' },
      steps: [],
      evaluations: [],
      warnings: [{ code: w.code, message: 'all "pos" <b>' }],
    });
    expect(html).toContain('SINGLE_CLASS_PREDICTIONS');
    expect(html).toContain('all &quot;pos&quot; &lt;b&gt;');
  });
});

describe('Trainer', () => {
  let model: BertClassifier;
  beforeAll(async () => {
    model = await BertClassifier.fromPretrained(fixturePath(TINY));
  });
  afterAll(() => model.dispose());

  // The same input for every example, with balanced labels: nothing can be learned, the loss stays at ln 2 and
  // every prediction is the same class.
  const unlearnable = (n: number): Example[] => Array.from({ length: n }, (_, i) => ({ inputIds: [2, 10, 11, 12, 3], label: i % 2 }));

  test('an unlearnable run gives both warnings as events, callbacks and in the result', async () => {
    const callbacks: WarningEvent[] = [];
    const trainer = new Trainer(model, {
      epochs: 3,
      batchSize: 4,
      learningRate: 1e-4,
      seed: 1,
      evalStrategy: 'epoch',
      callbacks: { onWarning: (e) => void callbacks.push(e) },
    });
    const events: WarningEvent[] = [];
    trainer.on('warning', (e) => events.push(e));
    const result = await trainer.fit(unlearnable(80), { evalDataset: unlearnable(20) });
    expect(callbacks).toEqual(events);
    expect(result.warnings).toEqual(events);
    // The flat loss at the end of the first epoch; one-class predictions at the first evaluation of the run's
    // second half (the end of epoch 2); neither repeated.
    expect(events.map((e) => [e.code, e.step])).toEqual([
      ['LOSS_NOT_DECREASING', 20],
      ['SINGLE_CLASS_PREDICTIONS', 40],
    ]);
  });

  test('a run that learns gives none', async () => {
    // The label is in the text: token 10 for class 0, token 11 for class 1.
    const learnable = (n: number): Example[] => Array.from({ length: n }, (_, i) => ({ inputIds: [2, 10 + (i % 2), 5 + (i % 7), 3], label: i % 2 }));
    const trainer = new Trainer(model, { epochs: 3, batchSize: 8, learningRate: 1e-3, seed: 1, evalStrategy: 'epoch' });
    const result = await trainer.fit(learnable(160), { evalDataset: learnable(40) });
    expect(result.metrics.eval?.accuracy).toBe(1);
    expect(result.warnings).toEqual([]);
  });
});

describe('single-class training data', () => {
  test('a warning naming the one class (ids named by the model labels), none for two classes or other label kinds', () => {
    const w = singleClassDataWarning(['spam', undefined, 'spam'], [], 0);
    expect(w).toMatchObject({ type: 'warning', code: 'SINGLE_CLASS_TRAINING_DATA', step: 0, fixes: [] });
    expect(w?.message).toBe(
      'every one of the 2 training examples has the label "spam": the model can only learn to answer it; give it examples of other classes',
    );
    expect(singleClassDataWarning([1, 1], ['neg', 'pos'], 0)?.detail).toMatch(/has the label "pos"/);
    expect(singleClassDataWarning(['spam', 'ham'], [], 0)).toBeNull();
    expect(singleClassDataWarning([0, 'pos'], ['neg', 'pos'], 0)).toBeNull();
    expect(singleClassDataWarning([1, 'pos'], ['neg', 'pos'], 0)?.detail).toMatch(/2 training examples has the label "pos"/);
    expect(singleClassDataWarning([[1, 0]], [], 0)).toBeNull();
    expect(singleClassDataWarning([0.5, 0.5], [], 0)).toBeNull();
    expect(singleClassDataWarning([], [], 0)).toBeNull();
    expect(warningLine(w as WarningEvent, { learningRate: 1e-4, batchSize: 8, warmupRatio: 0 })).toBe(`warning: ${w?.message}`);
  });

  test('fit() gives it as a warning event before the first step', async () => {
    const model = await BertClassifier.fromPretrained(fixturePath(TINY));
    try {
      const trainer = new Trainer(model, { epochs: 1, batchSize: 4, seed: 1 });
      const seen: WarningEvent[] = [];
      trainer.on('warning', (e: WarningEvent) => seen.push(e));
      const data: Example[] = Array.from({ length: 8 }, (_, i) => ({ inputIds: [2, 10 + i, 3], label: 1 }));
      const result = await trainer.fit(data);
      const single = result.warnings.filter((e) => e.code === 'SINGLE_CLASS_TRAINING_DATA');
      expect(single).toHaveLength(1);
      expect(single[0].detail).toMatch(/every one of the 8 training examples has the label "/);
      expect(seen.map((e) => e.code)).toContain('SINGLE_CLASS_TRAINING_DATA');
    } finally {
      model.dispose();
    }
  });
});
