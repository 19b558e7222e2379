// Parity with transformers on a device: BERT_TRAINER_TEST_DEVICE ('cpu' by default; 'cuda' on the GPU machine, where
// scripts/gpu-check.sh runs this file). bench/gpu_reference.py writes a random-init model (transformers' own
// initialisation, seeded, dropout 0), 50 batches, and transformers' numbers on the same device:
//   - eval-mode fp32 logits with TF32 off: ours within 1e-4;
//   - a 50-step loss curve (one epoch over the batches in order, torch.optim.AdamW with transformers' parameter
//     groups, linear schedule with warm-up, clipping 1.0) in fp32 (ours within 1e-3 relative), in bf16 autocast
//     (within 2% relative at every step of transformers' own bf16 run) and in fp16 autocast with torch.amp's
//     GradScaler (every loss finite, within 2%).
//   - resume exactness: a run resumed from its checkpoint goes on as the uninterrupted run, with dropout on (on a GPU
//     its masks come from the device's generator, whose state rng_state.bin keeps) in fp32 and in fp16 (the loss
//     scaler's state, scaler.json, and the schedule held back after skipped steps). A GPU's kernels need not repeat
//     bit for bit (atomics in some backward kernels), so the resumed run's distance from the uninterrupted one is held
//     to a second uninterrupted run's (on the CPU both are 0: bit for bit).
//   - the BERT family (BERT_TRAINER_PARITY_FAMILY, e.g. "roberta,distilbert,electra"; scripts/gpu-check.sh sets it): each
//     model type's classifier at the same size, its fp32 logits within 1e-4 and its bf16 curve within 2%.
// Sizes: 'tiny' on the CPU, 'small' (4 layers, hidden 256, head_dim 64) on a GPU; BERT_TRAINER_PARITY_SIZE overrides.
// With BERT_TRAINER_PARITY_OUT set, the numbers are also written there (JSON, after every test).
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { AutoClassifier } from '../src/model/auto-classifier';
import { BertClassifier } from '../src/model/classifier';
import { Trainer } from '../src/train/trainer';
import { PYTHON } from './helpers/paths';
import { OptimizerHyperparameters, optimizerOptions } from './helpers/reference';
import type { Example } from '../src/data/example';
import { StepEvent } from '../src/train/events';
import type { TrainerOptions } from '../src/train/trainer-options';
import { maxTensorDiff, readSafetensors } from './helpers/safetensors';

type Precision = 'no' | 'bf16' | 'fp16';

const DEVICE = process.env.BERT_TRAINER_TEST_DEVICE || 'cpu';
const SIZE = process.env.BERT_TRAINER_PARITY_SIZE || (DEVICE === 'cpu' ? 'tiny' : 'small');
const STEPS = Number(process.env.BERT_TRAINER_PARITY_STEPS || 50);
const FAMILY = (process.env.BERT_TRAINER_PARITY_FAMILY || '').split(',').filter((t) => t !== '');
const OUT = process.env.BERT_TRAINER_PARITY_OUT;
const REFERENCE = path.resolve(__dirname, '..', 'bench', 'gpu_reference.py');

const LOGITS_TOLERANCE = 1e-4;
const CURVE_TOLERANCE: Record<Precision, number> = { no: 1e-3, bf16: 0.02, fp16: 0.02 };

interface Curve {
  precision: Precision;
  losses?: number[];
  gradNorms?: number[];
  learningRates?: number[];
  skipped?: boolean[];
  error?: string;
}

interface Spec {
  device: string;
  size: string;
  modelType: string;
  modelDir: string;
  steps: number;
  batchSize: number;
  maxSequence: number;
  attnImplementation: string;
  hyperparameters: OptimizerHyperparameters & { numLabels: number };
  batches: { inputIds: number[][]; labels: number[] }[];
  logitsInputs: { inputIds: number[][]; attentionMask: number[][] };
  reference: { logits: number[][]; curves: Partial<Record<Precision, Curve>> };
  torch: string;
  transformers: string;
  seconds: number;
}

const results: Record<string, unknown> = {
  device: DEVICE,
  size: SIZE,
  steps: STEPS,
  logits: null,
  curves: {},
  resume: {},
  familyRequested: FAMILY,
  family: {},
  errors: {},
};

function writeResults(): void {
  if (!OUT) return;
  const tmp = `${OUT}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(results, null, 2)}\n`);
  fs.renameSync(tmp, OUT);
}

function recordError(name: string, err: unknown): void {
  (results.errors as Record<string, string>)[name] = err instanceof Error ? err.message : String(err);
  writeResults();
}

let tmp: string;
let spec: Spec;

function runReference(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [REFERENCE, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(REFERENCE)} ${args[0]} failed: ${err.message}\n${stderr.slice(-4000)}`));
      else resolve(stdout);
    });
  });
}

/** transformers' numbers for a model of `extra`'s type (default BERT) on DEVICE: bench/gpu_reference.py parity. */
async function referenceSpec(outDir: string, extra: string[] = []): Promise<Spec> {
  const args = ['parity', '--device', DEVICE, '--size', SIZE, '--steps', String(STEPS), '--out-dir', outDir, ...extra];
  const line = (await runReference(args, 280_000)).trim().split('\n').pop() as string;
  return JSON.parse(fs.readFileSync((JSON.parse(line) as { spec: string }).spec, 'utf8')) as Spec;
}

// The family's references start with BERT's (each is a Python process that imports torch and transformers).
const familySpecs = new Map<string, Promise<Spec>>();

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-device-parity-'));
  writeResults();
  for (const modelType of FAMILY) {
    const dir = path.join(tmp, modelType);
    fs.mkdirSync(dir, { recursive: true });
    const pending = referenceSpec(dir, ['--model-type', modelType, '--precisions', 'bf16']);
    pending.catch(() => undefined); // awaited, and reported, by the model type's own tests
    familySpecs.set(modelType, pending);
  }
  try {
    spec = await referenceSpec(tmp);
    Object.assign(results, {
      reference: { torch: spec.torch, transformers: spec.transformers, attnImplementation: spec.attnImplementation, seconds: spec.seconds },
      batchSize: spec.batchSize,
      maxSequence: spec.maxSequence,
      hyperparameters: spec.hyperparameters,
    });
    writeResults();
  } catch (err) {
    recordError('reference', err);
    throw err;
  }
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function loadOurs(s: Spec): Promise<BertClassifier> {
  const model = await AutoClassifier.fromPretrained(s.modelDir, { device: DEVICE as 'cpu' });
  // The device the model resolved to (model.device), where this build reports one: a CUDA run must be on CUDA.
  const resolved = (model as { device?: string }).device;
  results.oursDevice = resolved ?? null;
  if (DEVICE !== 'cpu') expect(resolved).toMatch(/^cuda(:\d+)?$/);
  else if (resolved !== undefined) expect(resolved).toBe('cpu');
  return model;
}

function examples(s: Spec): Example[] {
  return s.batches.flatMap((b) => b.inputIds.map((ids, r) => ({ inputIds: ids, label: b.labels[r] })));
}

function maxRelDiff(actual: number[], expected: number[]): number {
  let worst = 0;
  expected.forEach((e, i) => {
    const d = Math.abs(actual[i] - e) / Math.abs(e);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  });
  return worst;
}

/** Ours against `s`'s fp32 eval logits; `record` keeps the numbers, under `errorName` a failure's message. */
async function compareLogits(s: Spec, record: (entry: Record<string, unknown>) => void, errorName: string): Promise<void> {
  try {
    const model = await loadOurs(s);
    const { logits, shape } = await model.forward(s.logitsInputs);
    model.dispose();
    const expected = s.reference.logits.flat();
    expect(shape).toEqual([s.reference.logits.length, s.hyperparameters.numLabels]);
    let worst = 0;
    expected.forEach((e, i) => {
      worst = Math.max(worst, Math.abs(logits[i] - e));
    });
    if (!Number.isFinite(worst) || logits.some((x) => !Number.isFinite(x))) worst = Infinity;
    record({ maxAbsDiff: Number.isFinite(worst) ? worst : null, tolerance: LOGITS_TOLERANCE, pass: worst <= LOGITS_TOLERANCE, rows: shape[0] });
    writeResults();
    expect(worst).toBeLessThanOrEqual(LOGITS_TOLERANCE);
  } catch (err) {
    recordError(errorName, err);
    throw err;
  }
}

test(`fp32 eval logits within ${LOGITS_TOLERANCE} of transformers on ${DEVICE} (TF32 off)`, () =>
  compareLogits(
    spec,
    (entry) => {
      results.logits = entry;
    },
    'logits',
  ));

/** Ours trained on `rows` as `s`'s reference is (one epoch in order, its optimizer and schedule, every step logged). */
async function fitAsReference(s: Spec, precision: Precision, rows: Example[], extra: Partial<TrainerOptions> = {}) {
  const model = await loadOurs(s);
  const trainer = new Trainer(model, {
    epochs: 1,
    batchSize: s.batchSize,
    shuffle: false,
    problemType: 'single_label_classification',
    ...optimizerOptions(s.hyperparameters),
    lrScheduler: 'linear',
    mixedPrecision: precision,
    logEvery: 1,
    ...extra,
  });
  const start = Date.now();
  const fit = await trainer.fit(rows);
  const seconds = (Date.now() - start) / 1000;
  model.dispose();
  return { steps: fit.history.filter((e): e is StepEvent => e.type === 'step'), metrics: fit.metrics, seconds };
}

/** Ours trained as `s`'s reference curve at `precision`; the numbers go into curves[precision]. */
async function compareCurve(s: Spec, precision: Precision, curves: Record<string, unknown>, errorPrefix: string): Promise<void> {
  const label = precision === 'no' ? 'fp32' : precision;
  try {
    const reference = s.reference.curves[precision];
    if (!reference || !reference.losses) throw new Error(`transformers' ${label} run failed: ${reference?.error ?? 'missing'}`);
    const { steps, seconds } = await fitAsReference(s, precision, examples(s));
    const ours = steps.map((e) => e.loss);
    const finite = ours.length === reference.losses.length && ours.every(Number.isFinite);
    const rel = finite ? maxRelDiff(ours, reference.losses) : Infinity;
    const lrDiff = Math.max(...steps.map((s, i) => Math.abs(s.learningRate - (reference.learningRates as number[])[i])));
    curves[precision] = {
      maxRelDiff: Number.isFinite(rel) ? rel : null,
      tolerance: CURVE_TOLERANCE[precision],
      finite,
      pass: finite && rel <= CURVE_TOLERANCE[precision],
      steps: ours.length,
      firstLoss: { ours: ours[0] ?? null, reference: reference.losses[0] },
      lastLoss: { ours: ours[ours.length - 1] ?? null, reference: reference.losses[reference.losses.length - 1] },
      learningRateMaxAbsDiff: lrDiff,
      referenceSkippedSteps: (reference.skipped ?? []).filter(Boolean).length,
      oursSkippedSteps: steps.filter((s) => s.skipped).length,
      oursSeconds: seconds,
      ours,
      reference: reference.losses,
      oursGradNorms: steps.map((e) => e.gradNorm),
      referenceGradNorms: reference.gradNorms,
    };
    writeResults();
    expect(ours).toHaveLength(s.steps);
    expect(finite).toBe(true);
    // The same schedule, held back after each step the GradScaler skipped for an overflow (as accelerate's
    // AcceleratedScheduler does), wherever both runs skipped the same steps.
    const sameSkips = steps.every((e, i) => e.skipped === Boolean((reference.skipped ?? [])[i]));
    if (sameSkips) expect(lrDiff).toBeLessThanOrEqual(1e-9);
    // The loss moved (the data is learnable): a curve, not a constant (the dry run's 10 steps are mostly warm-up).
    if (s.steps >= 30) expect(Math.min(...reference.losses.slice(-10))).toBeLessThan(reference.losses[0]);
    expect(rel).toBeLessThanOrEqual(CURVE_TOLERANCE[precision]);
  } catch (err) {
    curves[precision] ??= { maxRelDiff: null, tolerance: CURVE_TOLERANCE[precision], finite: false, pass: false };
    recordError(`${errorPrefix}curve-${precision}`, err);
    throw err;
  }
}

describe.each(['no', 'bf16', 'fp16'] as Precision[])('mixedPrecision %s', (precision) => {
  const label = precision === 'no' ? 'fp32' : precision;
  test(
    `${label}: the ${STEPS}-step loss curve within ${CURVE_TOLERANCE[precision] * 100}% of transformers' own ${label} run on ${DEVICE}`,
    () => compareCurve(spec, precision, results.curves as Record<string, unknown>, ''),
    300_000,
  );
});

// CUDA graphs (TrainerOptions.cudaGraphs, on by default): with every batch the same shape (rows cut to their first 64
// tokens, or the shortest row's length), the first step runs eagerly, the second is captured and every later one replays the graph, which must
// train as the eager steps do: the same curve (within the tolerance held against transformers) with cudaGraphs off.
// On the CPU both runs are eager and identical.
describe.each(['no', 'bf16'] as Precision[])('CUDA graphs, mixedPrecision %s', (precision) => {
  const label = precision === 'no' ? 'fp32' : precision;
  test(`${label}: replayed graphs train as eager steps on ${DEVICE}`, async () => {
    const entry = ((results.cudaGraphs as Record<string, unknown> | undefined) ??= {}) as Record<string, unknown>;
    try {
      const cut = Math.min(64, ...spec.batches.flatMap((b) => b.inputIds.map((ids) => ids.length)));
      const rows = spec.batches.flatMap((b) => b.inputIds.map((ids, r) => ({ inputIds: ids.slice(0, cut), label: b.labels[r] })));
      const run = async (cudaGraphs: boolean) => {
        const { steps, metrics, seconds } = await fitAsReference(spec, precision, rows, { cudaGraphs });
        return { losses: steps.map((e) => e.loss), gradNorms: steps.map((e) => e.gradNorm), stats: metrics.cudaGraphs, seconds };
      };
      const eager = await run(false);
      const graphed = await run(true);
      const rel = maxRelDiff(graphed.losses, eager.losses);
      const normRel = maxRelDiff(graphed.gradNorms, eager.gradNorms);
      entry[precision] = {
        lossMaxRelDiff: Number.isFinite(rel) ? rel : null,
        gradNormMaxRelDiff: Number.isFinite(normRel) ? normRel : null,
        tolerance: CURVE_TOLERANCE[precision],
        stats: graphed.stats,
        eagerStats: eager.stats,
        eagerSeconds: eager.seconds,
        graphedSeconds: graphed.seconds,
      };
      writeResults();
      expect(graphed.losses).toHaveLength(spec.steps);
      expect(graphed.losses.every(Number.isFinite)).toBe(true);
      expect(rel).toBeLessThanOrEqual(CURVE_TOLERANCE[precision]);
      expect(normRel).toBeLessThanOrEqual(CURVE_TOLERANCE[precision]);
      if (DEVICE === 'cpu') {
        expect(graphed.stats).toBeNull();
        expect(graphed.losses).toEqual(eager.losses);
      } else {
        expect(graphed.stats).toMatchObject({ captures: 1, replays: spec.steps - 1, eagerSteps: 1, disabledReason: null });
        expect(eager.stats).toMatchObject({ captures: 0, replays: 0 });
      }
    } catch (err) {
      recordError(`cuda-graphs-${precision}`, err);
      throw err;
    }
  }, 300_000);
});

// The rest of the family: each model type's classifier, its logits and its bf16 curve (the shared code's mixed precision).
// Without BERT_TRAINER_PARITY_FAMILY the block is listed as skipped (jest's each rejects an empty table).
const describeFamily = FAMILY.length > 0 ? describe.each(FAMILY) : describe.skip.each(['family (BERT_TRAINER_PARITY_FAMILY unset)']);
describeFamily('%s', (modelType) => {
  let familySpec: Spec;
  const entry = (): Record<string, unknown> => ((results.family as Record<string, Record<string, unknown>>)[modelType] ??= { curves: {} });
  beforeAll(async () => {
    try {
      familySpec = await familySpecs.get(modelType)!;
      expect(familySpec.modelType).toBe(modelType);
    } catch (err) {
      recordError(`${modelType}-reference`, err);
      throw err;
    }
  }, 300_000);

  test(`${modelType}: fp32 eval logits within ${LOGITS_TOLERANCE} of transformers on ${DEVICE}`, () =>
    compareLogits(
      familySpec,
      (logits) => {
        entry().logits = logits;
      },
      `${modelType}-logits`,
    ));

  test(
    `${modelType}: the ${STEPS}-step bf16 loss curve within ${CURVE_TOLERANCE.bf16 * 100}% of transformers' own on ${DEVICE}`,
    () => compareCurve(familySpec, 'bf16', entry().curves as Record<string, unknown>, `${modelType}-`),
    300_000,
  );
});

// Resume exactness on the device (see the file comment). At most 20 steps, checkpointed halfway; dropout 0.1.
const RESUME_STEPS = Math.min(STEPS, 20);
const RESUME_TOLERANCE_FACTOR = 4; // × the run-to-run distance of two uninterrupted runs (0 on a deterministic device)

describe.each(['no', 'fp16'] as Precision[])('resume, mixedPrecision %s', (precision) => {
  const label = precision === 'no' ? 'fp32' : precision;
  test(`${label}: a run resumed from its checkpoint on ${DEVICE} goes on as the uninterrupted run, dropout on`, async () => {
    const record = results.resume as Record<string, unknown>;
    try {
      const modelDir = path.join(tmp, 'resume-model');
      if (!fs.existsSync(modelDir)) {
        fs.cpSync(spec.modelDir, modelDir, { recursive: true });
        const configFile = path.join(modelDir, 'config.json');
        const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
        fs.writeFileSync(configFile, JSON.stringify({ ...config, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, classifier_dropout: 0.1 }));
      }
      const rows = spec.batchSize;
      const train = examples(spec).slice(0, RESUME_STEPS * rows);
      const checkpointStep = Math.floor(RESUME_STEPS / 2);
      const options: TrainerOptions = {
        epochs: 1,
        batchSize: rows,
        shuffle: false,
        problemType: 'single_label_classification',
        ...optimizerOptions(spec.hyperparameters),
        lrScheduler: 'linear',
        mixedPrecision: precision,
        logEvery: 1,
        seed: 17,
      };
      const run = async (name: string, extra: TrainerOptions, resumeFrom?: string): Promise<{ steps: StepEvent[]; weights: string }> => {
        const model = await BertClassifier.fromPretrained(modelDir, { device: DEVICE as 'cpu' });
        const fit = await new Trainer(model, { ...options, ...extra }).fit(train, resumeFrom === undefined ? {} : { resumeFrom });
        const dir = path.join(tmp, `resume-${label}-${name}`);
        await model.save(dir);
        model.dispose();
        return { steps: fit.history.filter((e): e is StepEvent => e.type === 'step'), weights: path.join(dir, 'model.safetensors') };
      };
      const outputDir = path.join(tmp, `resume-${label}-out`);
      const first = await run('first', { outputDir, saveSteps: checkpointStep });
      const repeat = await run('repeat', {});
      const resumed = await run('resumed', {}, path.join(outputDir, `checkpoint-${checkpointStep}`));
      const after = (r: { steps: StepEvent[] }): StepEvent[] => r.steps.filter((e) => e.step > checkpointStep);
      const lossDiff = (a: StepEvent[], b: StepEvent[]): number =>
        a.length === b.length ? Math.max(0, ...a.map((e, i) => Math.abs(e.loss - b[i].loss))) : Infinity;
      const weightsDiff = (a: string, b: string): number => maxTensorDiff(readSafetensors(a), readSafetensors(b)).worst;
      const rngState = fs.readFileSync(path.join(outputDir, `checkpoint-${checkpointStep}`, 'rng_state.bin'));
      const r = {
        checkpointStep,
        steps: RESUME_STEPS,
        rngStateFormat: rngState.subarray(0, 8).toString('latin1'),
        skippedSteps: first.steps.filter((e) => e.skipped).map((e) => e.step),
        lossMaxAbsDiff: lossDiff(after(resumed), after(first)),
        repeatLossMaxAbsDiff: lossDiff(after(repeat), after(first)),
        learningRatesEqual: after(resumed).every((e, i) => e.learningRate === after(first)[i]?.learningRate),
        weightsMaxAbsDiff: weightsDiff(resumed.weights, first.weights),
        repeatWeightsMaxAbsDiff: weightsDiff(repeat.weights, first.weights),
        pass: false,
      };
      r.pass =
        r.learningRatesEqual &&
        r.lossMaxAbsDiff <= RESUME_TOLERANCE_FACTOR * r.repeatLossMaxAbsDiff &&
        r.weightsMaxAbsDiff <= RESUME_TOLERANCE_FACTOR * r.repeatWeightsMaxAbsDiff;
      record[precision] = r;
      writeResults();
      expect(after(resumed).map((e) => e.step)).toEqual(after(first).map((e) => e.step));
      expect(r.rngStateFormat).toBe(DEVICE === 'cpu' ? 'BTPHILOX' : 'BTRNGCU2');
      expect(r.learningRatesEqual).toBe(true);
      expect(r.lossMaxAbsDiff).toBeLessThanOrEqual(RESUME_TOLERANCE_FACTOR * r.repeatLossMaxAbsDiff);
      expect(r.weightsMaxAbsDiff).toBeLessThanOrEqual(RESUME_TOLERANCE_FACTOR * r.repeatWeightsMaxAbsDiff);
    } catch (err) {
      record[precision] ??= { pass: false };
      recordError(`resume-${precision}`, err);
      throw err;
    }
  }, 300_000);
});
