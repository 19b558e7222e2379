// Trainer checkpoints: folder contents, bit-identical resume (transformers' test_can_resume_training), abort,
// rotation and best model, and crash safety (SIGKILL mid-save, failed writes).
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier, readCheckpoint } from '../src';
import { native } from '../src/engine/native';
import { Trainer } from '../src/train/trainer';
import { listCheckpoints, setCheckpointWriteHookForTesting } from '../src/checkpoint/trainer-checkpoint';
import { fixturePath } from './helpers/fixtures';
import { expectIdenticalWeights } from './helpers/safetensors';
import { tokenizedExamples } from './helpers/training-data';
import type { Example } from '../src/data/example';
import { AbortError } from '../src/train/abort-error';
import { EvaluateEvent, StepEvent } from '../src/train/events';
import { TrainerOptions } from '../src/train/trainer-options';

const ROOT = path.resolve(__dirname, '..');
const TINY = fixturePath('tiny-safetensors-f32'); // dropout 0.1: resume must restore the RNG too
const REQUIRED_FILES = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'rng_state.bin', 'scheduler.json', 'trainer_state.json'];

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-ckpt-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function dir(name: string): string {
  return path.join(scratch, name);
}

function data(count: number, seed = 1): Example[] {
  return tokenizedExamples(count, { vocabSize: 99, numLabels: 2, seed });
}

function stepLosses(history: (StepEvent | EvaluateEvent)[]): [number, number][] {
  return history.filter((e): e is StepEvent => e.type === 'step').map((e) => [e.step, e.loss]);
}

function hashFolder(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(folder).sort())
    out[name] = createHash('sha256')
      .update(fs.readFileSync(path.join(folder, name)))
      .digest('hex');
  return out;
}

function temporaries(outputDir: string): string[] {
  return fs.readdirSync(outputDir).filter((n) => n.startsWith('.'));
}

async function fitFresh(options: TrainerOptions, train: Example[], fitOptions: Parameters<Trainer['fit']>[1] = {}) {
  const model = await BertClassifier.fromPretrained(TINY);
  const trainer = new Trainer(model, options);
  const result = await trainer.fit(train, fitOptions);
  return { model, trainer, result };
}

test('a checkpoint folder: HF model directory + optimizer, scheduler, RNG and trainer state', async () => {
  const outputDir = dir('contents');
  const paths: string[] = [];
  const { model, result } = await fitFresh({ epochs: 1, batchSize: 4, learningRate: 1e-3, outputDir, saveSteps: 2, seed: 5 }, data(16), {});
  model.dispose();
  expect(result.metrics.steps).toBe(4);
  const found = await listCheckpoints(outputDir);
  expect(found.map((c) => c.step)).toEqual([2, 4]);
  expect(temporaries(outputDir)).toEqual([]);
  const ckpt = found[0].path;
  for (const file of REQUIRED_FILES) expect(fs.existsSync(path.join(ckpt, file))).toBe(true);
  paths.push(ckpt);

  const state = JSON.parse(fs.readFileSync(path.join(ckpt, 'trainer_state.json'), 'utf8'));
  expect(state).toMatchObject({ global_step: 2, epoch: 0.5, max_steps: 4, train_batch_size: 4, logging_steps: 1, save_steps: 2 });
  expect(state.log_history).toHaveLength(2);
  expect(Object.keys(state.log_history[0]).sort()).toEqual(['epoch', 'grad_norm', 'learning_rate', 'loss', 'step']);
  expect(state.bert_trainer.dataPosition).toEqual({ epoch: 0, batch: 2, seed: 5, shuffle: true, groupByLength: true });
  expect(JSON.parse(fs.readFileSync(path.join(ckpt, 'scheduler.json'), 'utf8'))).toEqual({
    type: 'linear',
    baseLr: 1e-3,
    warmupSteps: 0,
    totalSteps: 4,
    step: 2,
  });
  expect(fs.statSync(path.join(ckpt, 'rng_state.bin')).size).toBeGreaterThan(0);
  // The last checkpoint of an epoch points at the start of the next epoch.
  const last = JSON.parse(fs.readFileSync(path.join(found[1].path, 'trainer_state.json'), 'utf8'));
  expect(last.bert_trainer.dataPosition).toMatchObject({ epoch: 1, batch: 0 });

  // It is a model directory transformers (and we) can load.
  const reloaded = await BertClassifier.fromPretrained(ckpt);
  expect(reloaded.numLabels).toBe(2);
  reloaded.dispose();
  const tensors = await readCheckpoint(path.join(ckpt, 'optimizer.safetensors'));
  expect(tensors.length).toBeGreaterThan(0);
});

describe('resume (like transformers test_can_resume_training)', () => {
  // 26 examples / batch 4 = 7 batches (the last has 2) / accumulation 2 = 4 steps per epoch (the last group has one
  // batch); 3 epochs = 12 steps. Dropout on, shuffling on: resuming has to restore the RNG and the data position.
  const options = (outputDir: string): TrainerOptions => ({
    epochs: 3,
    batchSize: 4,
    gradientAccumulationSteps: 2,
    learningRate: 2e-3,
    warmupSteps: 2,
    weightDecay: 0.01,
    seed: 11,
    outputDir,
    saveSteps: 3,
  });
  const train = data(26, 4);
  let uninterrupted: { losses: [number, number][]; weights: string; checkpoints: string };

  beforeAll(async () => {
    const outputDir = dir('resume-A');
    const { model, result } = await fitFresh(options(outputDir), train);
    const weights = path.join(outputDir, 'final');
    await model.save(weights);
    model.dispose();
    expect(result.metrics.steps).toBe(12);
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([3, 6, 9, 12]);
    uninterrupted = { losses: stepLosses(result.history), weights: path.join(weights, 'model.safetensors'), checkpoints: outputDir };
  });

  test.each([
    ['mid-epoch (step 3: epoch 0, batch 6 of 7)', 3],
    ['next epoch (step 6: epoch 1, batch 4)', 6],
  ])('from %s: identical losses after the checkpoint and bit-identical final weights', async (_label, step) => {
    const outputDir = dir(`resume-B${step}`);
    const { model, result } = await fitFresh(options(outputDir), train, { resumeFrom: path.join(uninterrupted.checkpoints, `checkpoint-${step}`) });
    const weights = path.join(outputDir, 'final');
    await model.save(weights);
    model.dispose();
    // The resumed run's history starts with the checkpoint's, then continues.
    expect(stepLosses(result.history)).toHaveLength(12);
    const after = stepLosses(result.history).filter(([s]) => s > step);
    const expected = uninterrupted.losses.filter(([s]) => s > step);
    expect(after.length).toBe(12 - step);
    after.forEach(([s, loss], i) => {
      expect(s).toBe(expected[i][0]);
      expect(loss).toBe(expected[i][1]); // exactly
    });
    expectIdenticalWeights(uninterrupted.weights, path.join(weights, 'model.safetensors'));
    // The optimizer state ends up identical too, and the readCheckpoint checksums agree.
    const mine = path.join(outputDir, 'checkpoint-12');
    const theirs = path.join(uninterrupted.checkpoints, 'checkpoint-12');
    expectIdenticalWeights(path.join(theirs, 'optimizer.safetensors'), path.join(mine, 'optimizer.safetensors'));
    const sums = async (f: string): Promise<number[]> => (await readCheckpoint(f)).map((t) => t.checksum);
    expect(await sums(path.join(mine, 'model.safetensors'))).toEqual(await sums(path.join(theirs, 'model.safetensors')));
  });

  test('abort saves a checkpoint; resuming it with resumeFrom: true finishes exactly like the uninterrupted run', async () => {
    const outputDir = dir('resume-abort');
    const controller = new AbortController();
    const model = await BertClassifier.fromPretrained(TINY);
    const trainer = new Trainer(model, options(outputDir));
    trainer.on('step', (e) => {
      if (e.step === 5) controller.abort(new Error('user stop'));
    });
    const failure = await trainer.fit(train, { signal: controller.signal }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AbortError);
    expect((failure as AbortError).name).toBe('AbortError');
    expect((failure as AbortError).checkpoint).toBe(path.join(outputDir, 'checkpoint-5'));
    expect((failure as AbortError).cause).toEqual(new Error('user stop'));
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([3, 5]);
    // The model is usable again after the rejection.
    await expect(model.forward({ inputIds: [[1, 2]] })).resolves.toBeDefined();
    model.dispose();

    const { model: resumed, result } = await fitFresh(options(outputDir), train, { resumeFrom: true });
    const weights = path.join(outputDir, 'final');
    await resumed.save(weights);
    resumed.dispose();
    expect(stepLosses(result.history).filter(([s]) => s > 5)).toEqual(uninterrupted.losses.filter(([s]) => s > 5));
    expectIdenticalWeights(uninterrupted.weights, path.join(weights, 'model.safetensors'));
  });

  test('resuming with another data order, or from a folder that is not a checkpoint, is an error', async () => {
    const model = await BertClassifier.fromPretrained(TINY);
    const from = path.join(uninterrupted.checkpoints, 'checkpoint-3');
    await expect(new Trainer(model, { ...options(dir('x')), batchSize: 8 }).fit(train, { resumeFrom: from })).rejects.toThrow(
      /batchSize 4, but this run has 8/,
    );
    await expect(new Trainer(model, { ...options(dir('x')), seed: 12 }).fit(train, { resumeFrom: from })).rejects.toThrow(/seed 11/);
    await expect(new Trainer(model, options(dir('x'))).fit(train.slice(1), { resumeFrom: from })).rejects.toThrow(/training set of size 26/);
    await expect(new Trainer(model, options(dir('x'))).fit(train, { resumeFrom: dir('nowhere') })).rejects.toThrow(/nowhere is not a checkpoint folder/);
    await expect(new Trainer(model, options(dir('empty-out'))).fit(train, { resumeFrom: true })).rejects.toThrow(/no checkpoint-<step> folder/);
    // A damaged generator state: rejected naming the file and the expected size, before any weight is replaced.
    const damaged = dir('damaged-rng');
    fs.cpSync(from, damaged, { recursive: true });
    fs.writeFileSync(path.join(damaged, 'rng_state.bin'), Buffer.alloc(10));
    const before = (await model.forward({ inputIds: [[1, 2, 3]] })).logits;
    await expect(new Trainer(model, options(dir('x'))).fit(train, { resumeFrom: damaged })).rejects.toThrow(
      /damaged-rng\/rng_state\.bin: rngState is not a dropout generator state: .*10 bytes, expected 24/,
    );
    expect((await model.forward({ inputIds: [[1, 2, 3]] })).logits).toEqual(before);
    model.dispose();
  });

  // rng_state.bin (native/model/rng_state.h): a model on the CPU draws every dropout mask from its own Philox stream,
  // so its state is that stream's 24 bytes (format 1), whatever the machine. A model on a GPU draws from LibTorch's
  // generator of that device, whose state format 2 adds; those masks cannot be continued on the CPU.
  test("a CPU model's generator state is the Philox stream's 24 bytes; a GPU model's (format 2) is refused on the CPU, naming the file", async () => {
    const from = path.join(uninterrupted.checkpoints, 'checkpoint-3');
    const own = fs.readFileSync(path.join(from, 'rng_state.bin'));
    expect(own.length).toBe(24);
    expect(own.subarray(0, 8).toString('latin1')).toBe('BTPHILOX');
    const gpu = dir('gpu-rng');
    fs.cpSync(from, gpu, { recursive: true });
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(16n);
    const file = path.join(gpu, 'rng_state.bin');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('BTRNGCU2', 'latin1'), own, length, Buffer.alloc(16)])); // a CUDA generator's seed and offset
    const model = await BertClassifier.fromPretrained(TINY);
    const failure = (await new Trainer(model, options(dir('x'))).fit(train, { resumeFrom: gpu }).catch((err: unknown) => err)) as Error & { code?: string };
    model.dispose();
    expect(failure.code).toBe(native().errorCodes.CHECKPOINT_MISMATCH);
    expect(failure.message).toContain(`${file}: rngState does not fit this model: the state is a CUDA model's (format 2`);
    expect(failure.message).toContain('this model is on the CPU; resume on a CUDA device');
  });
});

test('loadBestModelAtEnd + saveTotalLimit: the best checkpoint survives rotation and its weights are reloaded', async () => {
  const outputDir = dir('best');
  const train = data(24, 2);
  // The eval labels are the opposite of the training labels: training makes the eval loss worse, so the best
  // (lowest eval loss) checkpoint is an early one, not the last.
  const flipped = train.slice(0, 12).map((e) => ({ ...e, label: 1 - (e.label as number) }));
  const checkpoints: number[] = [];
  const model = await BertClassifier.fromPretrained(TINY);
  const trainer = new Trainer(model, {
    epochs: 2,
    batchSize: 4,
    learningRate: 5e-3,
    outputDir,
    evalSteps: 2,
    saveSteps: 2,
    saveTotalLimit: 2,
    loadBestModelAtEnd: true,
    seed: 3,
  });
  trainer.on('checkpoint', (e) => checkpoints.push(e.step));
  const result = await trainer.fit(train, { evalDataset: flipped });
  expect(checkpoints).toEqual([2, 4, 6, 8, 10, 12]);
  const evals = result.history.filter((e): e is EvaluateEvent => e.type === 'evaluate');
  const bestEval = evals.reduce((a, b) => (b.metrics.loss < a.metrics.loss ? b : a));
  expect(result.bestCheckpoint).toEqual({
    path: path.join(outputDir, `checkpoint-${bestEval.step}`),
    step: bestEval.step,
    metric: 'loss',
    value: bestEval.metrics.loss,
  });
  expect(bestEval.step).toBeLessThan(12);
  // Rotation kept the best and the newest.
  expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([bestEval.step, 12]);
  const state = JSON.parse(fs.readFileSync(path.join(outputDir, 'checkpoint-12', 'trainer_state.json'), 'utf8'));
  expect(state).toMatchObject({ best_metric: bestEval.metrics.loss, best_global_step: bestEval.step, best_model_checkpoint: result.bestCheckpoint!.path });
  // The model now holds the best checkpoint's weights, not the last step's.
  await model.save(path.join(outputDir, 'final'));
  model.dispose();
  expectIdenticalWeights(path.join(result.bestCheckpoint!.path, 'model.safetensors'), path.join(outputDir, 'final', 'model.safetensors'));
  expect(() => expectIdenticalWeights(path.join(outputDir, 'checkpoint-12', 'model.safetensors'), path.join(outputDir, 'final', 'model.safetensors'))).toThrow(
    /differ/,
  );
});

describe('failed writes', () => {
  afterEach(() => setCheckpointWriteHookForTesting(undefined));

  test('a file in the way of checkpoint-4: fit rejects naming the path; checkpoint-2 stays intact, no temporary left', async () => {
    const outputDir = dir('blocked');
    fs.mkdirSync(outputDir, { recursive: true });
    fs.writeFileSync(path.join(outputDir, 'checkpoint-4'), 'not a checkpoint');
    let before: Record<string, string> | undefined;
    const model = await BertClassifier.fromPretrained(TINY);
    const trainer = new Trainer(model, { epochs: 1, batchSize: 2, learningRate: 1e-3, outputDir, saveSteps: 2 });
    trainer.on('checkpoint', (e) => {
      if (e.step === 2) before = hashFolder(e.path);
    });
    await expect(trainer.fit(data(12))).rejects.toThrow(`failed to write checkpoint ${path.join(outputDir, 'checkpoint-4')}`);
    expect(hashFolder(path.join(outputDir, 'checkpoint-2'))).toEqual(before);
    expect(temporaries(outputDir)).toEqual([]);
    expect(fs.readFileSync(path.join(outputDir, 'checkpoint-4'), 'utf8')).toBe('not a checkpoint');
    await expect(model.forward({ inputIds: [[1, 2]] })).resolves.toBeDefined(); // released
    model.dispose();
  });

  test('a write failing inside the checkpoint (injected): rejects naming the path, earlier checkpoints intact', async () => {
    const outputDir = dir('injected');
    setCheckpointWriteHookForTesting((stage, tmpDir) => {
      if (stage === 'optimizer' && path.basename(tmpDir).startsWith('.checkpoint-4.')) throw new Error('ENOSPC: no space left on device (simulated)');
    });
    let before: Record<string, string> | undefined;
    const model = await BertClassifier.fromPretrained(TINY);
    const trainer = new Trainer(model, { epochs: 1, batchSize: 2, learningRate: 1e-3, outputDir, saveSteps: 2 });
    trainer.on('checkpoint', (e) => {
      if (e.step === 2) before = hashFolder(e.path);
    });
    await expect(trainer.fit(data(12))).rejects.toThrow(/failed to write checkpoint .*checkpoint-4: ENOSPC/);
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([2]);
    expect(hashFolder(path.join(outputDir, 'checkpoint-2'))).toEqual(before);
    expect(temporaries(outputDir)).toEqual([]);
    model.dispose();
  });

  test('re-running into the same outputDir replaces checkpoints of the same step; stale temporaries of dead processes are tidied', async () => {
    const outputDir = dir('rerun');
    const options: TrainerOptions = { epochs: 1, batchSize: 4, learningRate: 1e-3, outputDir, saveSteps: 1 };
    (await fitFresh(options, data(8))).model.dispose();
    // What a killed process (pid 2^22 + 1 does not exist) may leave: a half-written folder, and a checkpoint it had
    // moved aside to replace.
    const deadPid = 4194305;
    fs.mkdirSync(path.join(outputDir, `.checkpoint-9.tmp-${deadPid}-abcdef`));
    fs.renameSync(path.join(outputDir, 'checkpoint-1'), path.join(outputDir, `.checkpoint-1.old-${deadPid}-abcdef`));
    const { model } = await fitFresh({ ...options, seed: 9 }, data(8));
    model.dispose();
    expect(temporaries(outputDir)).toEqual([]);
    const found = await listCheckpoints(outputDir);
    expect(found.map((c) => c.step)).toEqual([1, 2]);
    for (const c of found) for (const file of REQUIRED_FILES) expect(fs.existsSync(path.join(c.path, file))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(found[1].path, 'trainer_state.json'), 'utf8')).bert_trainer.dataPosition.seed).toBe(9);
  });
});

describe('SIGKILL during a checkpoint save', () => {
  // The child runs the compiled library (plain node, no ts-node).
  beforeAll(() => {
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
    } catch {
      // tsc still emits when another file has a type error; the check below is what matters.
    }
    const emitted = path.join(ROOT, 'dist', 'checkpoint', 'trainer-checkpoint.js');
    if (!fs.existsSync(emitted) || fs.statSync(emitted).mtimeMs < fs.statSync(path.join(ROOT, 'src', 'checkpoint', 'trainer-checkpoint.ts')).mtimeMs) {
      throw new Error('dist/ was not built (npx tsc -p tsconfig.json)');
    }
  }, 120000);

  test('leaves every checkpoint-<n> complete and the previous one intact; the next fit resumes and tidies up', async () => {
    const outputDir = dir('killed');
    const manifest = dir('killed-manifest.jsonl');
    const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'helpers', 'checkpoint-child.js'), TINY, outputDir, manifest], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));

    // Kill it while a save is in its temporary folder, once two checkpoints are complete.
    const deadline = Date.now() + 60000;
    let tmpName: string | undefined;
    while (tmpName === undefined) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the child never reached a save in progress: ${stderr}`);
      const done = fs.existsSync(manifest) ? fs.readFileSync(manifest, 'utf8').trim().split('\n').length : 0;
      const names = fs.existsSync(outputDir) ? fs.readdirSync(outputDir) : [];
      if (done >= 2) tmpName = names.find((n) => /^\.checkpoint-\d+\.tmp-/.test(n));
      if (tmpName === undefined) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    // Every final-named folder is complete and byte-for-byte what the child recorded after writing it.
    const records = fs
      .readFileSync(manifest, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; path: string; files: Record<string, string> });
    const found = await listCheckpoints(outputDir);
    expect(found.map((c) => c.step)).toEqual(records.map((r) => r.step));
    for (const record of records) {
      for (const file of REQUIRED_FILES) expect(Object.keys(record.files)).toContain(file);
      expect(hashFolder(record.path)).toEqual(record.files);
    }
    // The interrupted save is only a temporary folder, for a step after the last complete one.
    expect(fs.existsSync(path.join(outputDir, tmpName))).toBe(true);
    const last = records[records.length - 1];
    expect(Number(/checkpoint-(\d+)/.exec(tmpName)![1])).toBe(last.step + 1);

    // The previous checkpoint loads as a model, and training resumes from it (same data and options as the child).
    const reloaded = await BertClassifier.fromPretrained(last.path);
    reloaded.dispose();
    const examples: Example[] = Array.from({ length: 400 }, (_, i) => ({
      inputIds: Array.from({ length: 4 + (i % 9) }, (_, j) => 1 + ((i * 13 + j * 7) % 97)),
      label: i % 2,
    }));
    const model = await BertClassifier.fromPretrained(TINY);
    const controller = new AbortController();
    const trainer = new Trainer(model, { epochs: 1, batchSize: 4, learningRate: 1e-3, outputDir, saveSteps: 1 });
    trainer.on('step', () => controller.abort());
    await expect(trainer.fit(examples, { resumeFrom: true, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    model.dispose();
    expect(fs.existsSync(path.join(outputDir, tmpName))).toBe(false);
    expect(temporaries(outputDir)).toEqual([]);
    expect((await listCheckpoints(outputDir)).map((c) => c.step)).toEqual([...records.map((r) => r.step), last.step + 1]);
  });
});
