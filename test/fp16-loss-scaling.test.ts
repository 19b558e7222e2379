// fp16 mixed precision with dynamic loss scaling, on the CPU (LibTorch's CPU autocast runs fp16): what a step the
// GradScaler skips for an overflow does to the learning-rate schedule (it holds it back, as transformers with
// accelerate does), whether the step reads its verdict at once or the next step settles it; and the scaler's state
// in checkpoints (scaler.json), so that a run resumed after a skipped step goes on bit for bit, dropout included (a
// CPU model draws its fp16 dropout masks from its own Philox stream, rng_state.bin's 24 bytes). Against transformers
// and torch.amp.GradScaler themselves: test/training-parity.test.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier } from '../src/model/classifier';
import { nativeConfig, resolveConfig } from '../src/model/config';
import { GradScalerState, NativeBatch, native } from '../src/engine/native';
import { AbortError } from '../src/train/abort-error';
import { learningRateAt } from '../src/train/schedule';
import { Trainer } from '../src/train/trainer';
import type { TrainerOptions } from '../src/train/trainer-options';
import type { StepEvent } from '../src/train/events';
import { beforeNativeCall } from './helpers/native-handle';
import { expectIdenticalWeights, readSafetensors } from './helpers/safetensors';
import { overflowingFp16Config, tokenizedExamples } from './helpers/training-data';

// Overflows at the initial scale 2^16 in the first steps and again later on (each skipped step halves the scale).
// Dropout 0.1 (the default) stays on.
const CONFIG = overflowingFp16Config(0.5, 2);
const TRAIN = tokenizedExamples(96, { vocabSize: 99, numLabels: 2, seed: 5 });
const OPTIONS: TrainerOptions = {
  mixedPrecision: 'fp16',
  epochs: 1,
  batchSize: 8,
  learningRate: 1e-3,
  warmupSteps: 3,
  shuffle: false,
  seed: 7,
  evalStrategy: 'no',
  logEvery: 1,
};
const STEPS = 12;
const SCHEDULE = { type: 'linear' as const, baseLr: 1e-3, warmupSteps: 3, totalSteps: STEPS };
const FRESH_SCALER: GradScalerState = { scale: 65536, growth_factor: 2, backoff_factor: 0.5, growth_interval: 2000, _growth_tracker: 0 };

let scratch: string;
/** The reference run: 12 steps, logged at each, a checkpoint every 2 steps into `saved`. */
let uninterrupted: Run;
let saved: string;
beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-fp16-'));
  saved = path.join(scratch, 'uninterrupted-out');
  uninterrupted = await train('uninterrupted', { outputDir: saved, saveSteps: 2 });
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface Run {
  steps: StepEvent[];
  /** model.safetensors of the final weights. */
  weights: string;
}

/** A fresh model (the same initial weights every time) trained on TRAIN with OPTIONS and `options`. */
async function train(name: string, options: TrainerOptions = {}, resumeFrom?: string): Promise<Run> {
  const model = await BertClassifier.fromConfig(CONFIG, { seed: 3 });
  const result = await new Trainer(model, { ...OPTIONS, ...options }).fit(TRAIN, resumeFrom === undefined ? {} : { resumeFrom });
  const dir = path.join(scratch, name);
  await model.save(dir);
  model.dispose();
  return { steps: result.history.filter((e): e is StepEvent => e.type === 'step'), weights: path.join(dir, 'model.safetensors') };
}

/** How many of the first `k` steps were skipped. */
function skippedBefore(steps: StepEvent[], k: number): number {
  return steps.slice(0, k).filter((s) => s.skipped).length;
}

describe('fp16: a skipped step and the learning-rate schedule', () => {
  test("each step's learning rate is the schedule at (step - the steps skipped before it); the loss and weights stay finite", () => {
    const { steps } = uninterrupted;
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    const skipped = steps.filter((s) => s.skipped).map((s) => s.step);
    // The initial scale overflows at once, and a later step overflows again after clean ones.
    expect(skipped[0]).toBe(1);
    expect(skipped.some((step, i) => i > 0 && step > skipped[i - 1] + 1)).toBe(true);
    steps.forEach((s, k) => {
      expect(s.learningRate).toBe(learningRateAt(k - skippedBefore(steps, k), SCHEDULE));
      expect(Number.isFinite(s.loss)).toBe(true);
    });
    // A skipped step's successor has its learning rate: the schedule did not advance.
    for (const step of skipped.filter((step) => step < STEPS)) expect(steps[step].learningRate).toBe(steps[step - 1].learningRate);
    for (const tensor of readSafetensors(uninterrupted.weights).tensors.values()) expect(tensor.bytes.length).toBeGreaterThan(0);
  });

  test('steps that leave their verdict pending (logged every 4 steps: the next step settles it) take the same learning rates: the same weights bit for bit', async () => {
    const quiet = await train('logged-every-4', { logEvery: 4 });
    expect(quiet.steps.map((s) => s.step)).toEqual([4, 8, 12]);
    for (const s of quiet.steps) {
      expect(s.learningRate).toBe(uninterrupted.steps[s.step - 1].learningRate);
      // The interval's `skipped` includes the verdicts settled after their step.
      expect(s.skipped).toBe(uninterrupted.steps.slice(s.step - 4, s.step).some((e) => e.skipped));
    }
    expectIdenticalWeights(uninterrupted.weights, quiet.weights);
  });
});

describe('fp16: the loss scaler in checkpoints', () => {
  /** The first checkpoint after a skipped step (the scale is down) before a later skipped step. */
  function checkpointAfterSkip(): { dir: string; step: number } {
    const { steps } = uninterrupted;
    const lastSkip = Math.max(...steps.filter((s) => s.skipped).map((s) => s.step));
    for (let step = 2; step < lastSkip; step += 2) {
      if (skippedBefore(steps, step) > 0) return { dir: path.join(saved, `checkpoint-${step}`), step };
    }
    throw new Error('no checkpoint between two skipped steps');
  }

  test('scaler.json holds torch.amp.GradScaler.state_dict(); scheduler.json trails global_step by the skipped steps', () => {
    const { dir, step } = checkpointAfterSkip();
    const skipped = skippedBefore(uninterrupted.steps, step);
    const lastSkip = Math.max(
      ...uninterrupted.steps
        .slice(0, step)
        .filter((s) => s.skipped)
        .map((s) => s.step),
    );
    const scaler = JSON.parse(fs.readFileSync(path.join(dir, 'scaler.json'), 'utf8')) as GradScalerState;
    expect(scaler).toEqual({ ...FRESH_SCALER, scale: 65536 / 2 ** skipped, _growth_tracker: step - lastSkip });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'scheduler.json'), 'utf8')).step).toBe(step - skipped);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')).global_step).toBe(step);
    // AdamW's bias correction counts the applied steps, as torch's state['step'] does.
    expect(readSafetensors(path.join(dir, 'optimizer.safetensors')).metadata).toEqual({
      format: 'pt',
      step: String(step),
      applied_steps: String(step - skipped),
    });
    // The model's own Philox stream is all a CPU model draws from, fp16 included: format 1, 24 bytes.
    const rng = fs.readFileSync(path.join(dir, 'rng_state.bin'));
    expect(rng.length).toBe(24);
    expect(rng.subarray(0, 8).toString('latin1')).toBe('BTPHILOX');
  });

  test('an fp16 run resumed after a skipped step goes on bit for bit: its losses, learning rates, skipped steps and final weights', async () => {
    const { dir, step } = checkpointAfterSkip();
    const resumed = await train('resumed', { outputDir: path.join(scratch, 'resumed-out'), saveSteps: 2 }, dir);
    const expected = uninterrupted.steps.slice(step);
    expect(resumed.steps.slice(-expected.length).map((s) => [s.step, s.loss, s.learningRate, s.gradNorm, s.skipped])).toEqual(
      expected.map((s) => [s.step, s.loss, s.learningRate, s.gradNorm, s.skipped]),
    );
    expect(expected.some((s) => s.skipped)).toBe(true); // a skipped step after the resume too
    expectIdenticalWeights(uninterrupted.weights, resumed.weights);
  });

  test('an abort that lands while a step runs (its verdict still pending) saves the settled schedule; the resumed run goes on bit for bit', async () => {
    // A clean step after a skipped one that is not a log point (logged every 4 steps): it does not read its verdict,
    // and the schedule advances once it is settled.
    const k = uninterrupted.steps.find((s) => !s.skipped && skippedBefore(uninterrupted.steps, s.step) > 0 && s.step % 4 !== 0 && s.step < STEPS)?.step;
    if (k === undefined) throw new Error('no clean step after a skipped one between log points');
    const outputDir = path.join(scratch, 'abort-out');
    const model = await BertClassifier.fromConfig(CONFIG, { seed: 3 });
    // The signal turns aborted as step k starts, after its options (readLoss false) were made: as a user's stop does.
    let aborted = false;
    let steps = 0;
    beforeNativeCall(model, 'trainStep', (_batches, options) => {
      steps += 1;
      if (steps === k) {
        expect(options.readLoss).toBe(false);
        aborted = true;
      }
    });
    const signal = {
      get aborted() {
        return aborted;
      },
      reason: new Error('stop'),
    } as unknown as AbortSignal;
    const failure = await new Trainer(model, { ...OPTIONS, logEvery: 4, outputDir }).fit(TRAIN, { signal }).catch((err: unknown) => err);
    model.dispose();
    expect(failure).toBeInstanceOf(AbortError);
    const checkpoint = path.join(outputDir, `checkpoint-${k}`);
    expect((failure as AbortError).checkpoint).toBe(checkpoint);
    expect(JSON.parse(fs.readFileSync(path.join(checkpoint, 'scheduler.json'), 'utf8')).step).toBe(k - skippedBefore(uninterrupted.steps, k));
    const resumed = await train('resumed-after-abort', {}, checkpoint);
    expect(resumed.steps.filter((s) => s.step > k).map((s) => [s.step, s.loss, s.learningRate])).toEqual(
      uninterrupted.steps.slice(k).map((s) => [s.step, s.loss, s.learningRate]),
    );
    expectIdenticalWeights(uninterrupted.weights, resumed.weights);
  });

  test('a checkpoint with skipped steps but no scaler.json is inconsistent; a malformed scaler.json is named', async () => {
    const { dir, step } = checkpointAfterSkip();
    const schedulerStep = step - skippedBefore(uninterrupted.steps, step);
    const copy = (name: string, scaler: unknown): string => {
      const to = path.join(scratch, name);
      fs.cpSync(dir, to, { recursive: true });
      if (scaler === undefined) fs.rmSync(path.join(to, 'scaler.json'));
      else fs.writeFileSync(path.join(to, 'scaler.json'), JSON.stringify(scaler));
      return to;
    };
    await expect(train('x', {}, copy('no-scaler', undefined))).rejects.toThrow(
      `no-scaler: scheduler.json step ${schedulerStep} differs from trainer_state.json global_step ${step}`,
    );
    const bad = copy('bad-scale', { ...FRESH_SCALER, scale: -1 });
    await expect(train('x', {}, bad)).rejects.toThrow(`${path.join(bad, 'scaler.json')}: "scale" must be a number > 0, got -1`);
    const tracker = copy('bad-tracker', { ...FRESH_SCALER, _growth_tracker: 2000 });
    await expect(train('x', {}, tracker)).rejects.toThrow(
      /scaler\.json: "_growth_tracker" must be an integer in \[0, 1999\] \(below growth_interval\), got 2000/,
    );
    const missing = copy('bad-missing', { scale: 1024 });
    await expect(train('x', {}, missing)).rejects.toThrow(/scaler\.json: "growth_interval" must be an integer >= 1, got undefined/);
  });

  test('a checkpoint of an fp32 run has no scaler.json, and an fp16 run resumes from it with a new scaler', async () => {
    const outputDir = path.join(scratch, 'fp32-out');
    await train('fp32', { mixedPrecision: 'no', outputDir, saveSteps: 4 });
    const from = path.join(outputDir, 'checkpoint-4');
    expect(fs.existsSync(path.join(from, 'scaler.json'))).toBe(false);
    const resumedOut = path.join(scratch, 'fp16-from-fp32-out');
    const resumed = await train('fp16-from-fp32', { outputDir: resumedOut, saveSteps: 4 }, from);
    // The scaler at step 8 is a new one's after steps 5 to 8.
    const after = resumed.steps.filter((s) => s.step > 4 && s.step <= 8);
    const skips = after.filter((s) => s.skipped).map((s) => s.step);
    const scaler = JSON.parse(fs.readFileSync(path.join(resumedOut, 'checkpoint-8', 'scaler.json'), 'utf8')) as GradScalerState;
    expect(scaler).toEqual({ ...FRESH_SCALER, scale: 65536 / 2 ** skips.length, _growth_tracker: 8 - Math.max(4, ...skips) });
  });
});

describe('fp16: the native step and the scaler state', () => {
  const rows = 4;
  const length = 8;
  const batch = (seed: number): NativeBatch => {
    const ids = tokenizedExamples(rows, { vocabSize: 99, numLabels: 2, seed, minLength: length, maxLength: length });
    return {
      inputIds: Int32Array.from(ids.flatMap((e) => (e as { inputIds: number[] }).inputIds)),
      attentionMask: null,
      tokenTypeIds: null,
      labels: Int32Array.from(ids.map((e) => e.label as number)),
      batchSize: rows,
      sequenceLength: length,
    };
  };
  const options = {
    problemType: 'single_label_classification' as const,
    maxGradNorm: 1,
    accumulationSteps: 1,
    classWeights: null,
    skipNonFinite: false,
    mixedPrecision: 'fp16' as const,
  };

  test('a pending verdict is settled by the next step, which then uses learningRateAfterSkip, or by settleOverflow()', async () => {
    const handle = new (native().NativeModel)(nativeConfig(resolveConfig(CONFIG, 'CONFIG')));
    await handle.load([], false, 3);
    handle.configureOptimizer({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    expect(handle.getGradScalerState()).toBeNull(); // no fp16 step yet
    expect(handle.settleOverflow()).toBeNull();

    // A scale no fp16 gradient survives: the step is skipped and the scale halves.
    handle.setGradScalerState({ ...FRESH_SCALER, scale: 2 ** 40, _growth_tracker: 5 });
    const read = await handle.trainStep([batch(1)], { ...options, learningRate: 1e-3 });
    expect(read).toMatchObject({ overflow: true, previousOverflow: null, skipped: true, learningRate: 1e-3 });
    expect(handle.getGradScalerState()).toEqual({ ...FRESH_SCALER, scale: 2 ** 39, _growth_tracker: 0 });

    // Not read: pending; the next step settles it and takes the learning rate for a skipped predecessor.
    const deferred = await handle.trainStep([batch(2)], { ...options, learningRate: 1e-3, readLoss: false });
    expect(deferred).toMatchObject({ overflow: null, previousOverflow: null, skipped: false });
    const next = await handle.trainStep([batch(3)], { ...options, learningRate: 2e-3, learningRateAfterSkip: 1e-3, readLoss: false });
    expect(next).toMatchObject({ overflow: null, previousOverflow: true, learningRate: 1e-3 });
    expect(handle.settleOverflow()).toBe(true);
    expect(handle.settleOverflow()).toBeNull();

    // A scale that fits: a clean step, and the tracker counts it.
    handle.setGradScalerState({ ...FRESH_SCALER, scale: 1, _growth_tracker: 7 });
    await handle.trainStep([batch(4)], { ...options, learningRate: 1e-3, readLoss: false });
    const after = await handle.trainStep([batch(5)], { ...options, learningRate: 2e-3, learningRateAfterSkip: 1e-3 });
    expect(after).toMatchObject({ previousOverflow: false, overflow: false, learningRate: 2e-3 });
    expect(handle.getGradScalerState()).toEqual({ ...FRESH_SCALER, scale: 1, _growth_tracker: 9 });

    // null: the next fp16 step starts from a new GradScaler's state.
    handle.setGradScalerState(null);
    expect(handle.getGradScalerState()).toBeNull();
    await handle.trainStep([batch(6)], { ...options, learningRate: 1e-3 });
    expect(handle.getGradScalerState()?.growth_interval).toBe(2000);

    // The JS side validates a state (the checkpoint reader); the addon only asserts it.
    expect(() => handle.setGradScalerState({ ...FRESH_SCALER, backoff_factor: 2 })).toThrow(/internal: not a GradScaler state/);
    expect(() => handle.setGradScalerState({ ...FRESH_SCALER, growth_interval: 0.5 })).toThrow(/internal: growth_interval must be an integer >= 1/);
    handle.dispose();
  });
});
