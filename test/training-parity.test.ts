// Training parity with transformers itself (5.18 on torch 2.13): the Trainer's losses, learning rates, gradient norms
// and final weights match test/reference/train_reference.py — transformers' BertForSequenceClassification trained as
// transformers' Trainer trains it (torch.optim.AdamW over the Trainer's parameter groups, transformers' get_scheduler,
// clip_grad_norm_, the Trainer's per-step loop) — on the same batches, within 1e-5, with sdpa or eager attention.
// Dropout is off on both sides (a copy of the fixture with dropout probabilities 0), except where a test turns it on:
// the reference then runs transformers' model with torch.nn.functional.dropout drawing bert-trainer's own Philox masks
// (test/reference/philox_dropout.py; transformers has no counterpart of our masks), in the same order.
// The reference computes with one intra-op thread, except in the bf16 test, which asserts bit-identical losses and
// gradient norms: there it uses as many as the addon (numThreads), because torch 2.13's CPU kernels reduce per thread
// (layer_norm's weight and bias gradients, for one), so the thread count changes the last bits.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier } from '../src/model/classifier';
import type { ProblemType } from '../src/model/config';
import { native } from '../src/engine/native';
import { learningRateAt } from '../src/train/schedule';
import { Trainer } from '../src/train/trainer';
import { fixture, maxAbsDiff } from './helpers/fixtures';
import { PYTHON, REFERENCE_DIR } from './helpers/paths';
import { AttnImplementation, OptimizerHyperparameters, PythonReference, TrainResult, optimizerOptions } from './helpers/reference';
import { float32Values, maxTensorDiff, readSafetensors } from './helpers/safetensors';
import { overflowingFp16Config } from './helpers/training-data';
import type { Example } from '../src/data/example';
import { StepEvent } from '../src/train/events';

interface SpecBatch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  labels: unknown[];
}

interface Spec extends OptimizerHyperparameters {
  modelDir: string;
  outputFile: string;
  problemType: ProblemType;
  classWeights: number[] | null;
  gradientAccumulationSteps: number;
  lrScheduler: 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';
  totalSteps: number;
  batches: SpecBatch[];
  partialGroupDivisor?: string;
  dropout: boolean;
  seed?: number;
  mixedPrecision?: 'no' | 'bf16' | 'fp16';
  attnImplementation: AttnImplementation;
  numThreads: number;
}

type ReferenceResult = TrainResult;

let tmp: string;
let reference: PythonReference;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-parity-'));
  reference = new PythonReference();
});

afterAll(async () => {
  await reference.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fixture's directory, or `name` itself when it is a path (a model the test saved). */
function modelPath(name: string): string {
  return path.isAbsolute(name) ? name : fixture(name).path;
}

/**
 * A copy of a fixture with every dropout probability 0 (hidden, attention, classifier), and `overrides` (config.json
 * fields that leave the weights' shapes alone, e.g. num_attention_heads) applied; `tag` names the variant.
 */
function noDropoutCopy(name: string, overrides: Record<string, unknown> = {}, tag = ''): string {
  const dir = path.join(tmp, `${path.basename(name)}${tag}-no-dropout`);
  if (fs.existsSync(dir)) return dir;
  fs.cpSync(modelPath(name), dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  Object.assign(config, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 }, overrides);
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  return dir;
}

/** A model freshly initialised from config.json fields (seed 5), saved as tmp/<name>; returns its folder. */
async function savedFreshModel(name: string, config: Record<string, unknown>): Promise<string> {
  const dir = path.join(tmp, name);
  const fresh = await BertClassifier.fromConfig(config, { seed: 5 });
  await fresh.save(dir);
  fresh.dispose();
  return dir;
}

/**
 * make_training_spec.py's deterministic batches for a fixture, pointed at the no-dropout copy — or, with
 * `dropoutSeed`, at the fixture itself with dropout on and the reference drawing our masks from that seed (eager
 * attention then: sdpa drops attention probabilities inside its kernel). The reference runs on one thread.
 */
function makeSpec(
  name: string,
  kind: 'single' | 'multilabel' | 'regression',
  flags: string[] = [],
  dropoutSeed?: number,
  variant?: { tag: string; overrides: Record<string, unknown> },
  attnImplementation: AttnImplementation = dropoutSeed === undefined ? 'sdpa' : 'eager',
): { spec: Spec; file: string } {
  const modelDir = dropoutSeed === undefined ? noDropoutCopy(name, variant?.overrides, variant?.tag) : modelPath(name);
  const tag = (variant?.tag ?? '') + (dropoutSeed === undefined ? '' : `-dropout${dropoutSeed}`) + `-${attnImplementation}`;
  const file = path.join(tmp, `${path.basename(name)}-${kind}-${flags.join('').replace(/[^a-z0-9]/gi, '')}${tag}.json`);
  execFileSync(PYTHON, [path.join(REFERENCE_DIR, 'make_training_spec.py'), modelDir, file, '--kind', kind, ...flags]);
  const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as Spec;
  // transformers' current rule: a partial last accumulation group's losses are divided by its size (the Trainer
  // passes accumulationSteps = group size to trainStep).
  spec.partialGroupDivisor = 'group_size';
  if (dropoutSeed !== undefined) Object.assign(spec, { dropout: true, seed: dropoutSeed });
  Object.assign(spec, { attnImplementation, numThreads: 1 });
  fs.writeFileSync(file, JSON.stringify(spec));
  return { spec, file };
}

/**
 * `spec` under bf16 or fp16 autocast, the reference computing with our thread count (torch's CPU kernels reduce per
 * thread: see the bf16 test) and writing its weights to a file of its own.
 */
function mixedPrecisionSpec(spec: Spec, mixedPrecision: 'bf16' | 'fp16'): Spec {
  return {
    ...spec,
    mixedPrecision,
    numThreads: native().numThreads(),
    outputFile: spec.outputFile.replace(/\.safetensors$/, `-${mixedPrecision}.safetensors`),
  };
}

async function runReference(spec: Spec): Promise<ReferenceResult> {
  const result = await reference.train(spec);
  expect(result.versions.transformers).toMatch(/^\d+\.\d+/);
  return result;
}

/** The spec's rows without their padding (the mask is 1s then 0s): encodeBatch pads each batch back to its longest row. */
function examplesOf(spec: Spec): Example[] {
  const examples: Example[] = [];
  for (const batch of spec.batches) {
    batch.inputIds.forEach((ids, r) => {
      const length = batch.attentionMask[r].reduce((a, b) => a + b, 0);
      examples.push({ inputIds: ids.slice(0, length), tokenTypeIds: batch.tokenTypeIds[r].slice(0, length), label: batch.labels[r] as number | number[] });
    });
  }
  return examples;
}

/** Trains the no-dropout copy on the spec's rows with the spec's hyperparameters; returns the steps and the saved weights file. */
async function trainLikeSpec(spec: Spec, name: string): Promise<{ steps: StepEvent[]; weightsFile: string; totalSteps: number }> {
  const model = await BertClassifier.fromPretrained(spec.modelDir);
  const rows = spec.batches[0].inputIds.length;
  expect(spec.batches.every((b, i) => b.inputIds.length === rows || i === spec.batches.length - 1)).toBe(true);
  const trainer = new Trainer(model, {
    epochs: 1,
    batchSize: rows,
    shuffle: false,
    problemType: spec.problemType,
    ...optimizerOptions(spec),
    gradientAccumulationSteps: spec.gradientAccumulationSteps,
    lrScheduler: spec.lrScheduler,
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    ...(spec.mixedPrecision !== undefined ? { mixedPrecision: spec.mixedPrecision } : {}),
    ...(spec.classWeights ? { classWeights: spec.classWeights } : {}),
  });
  const result = await trainer.fit(examplesOf(spec));
  const outDir = path.join(tmp, `${name}-ours-${path.basename(spec.outputFile, '.safetensors')}`);
  await model.save(outDir);
  model.dispose();
  return {
    steps: result.history.filter((e): e is StepEvent => e.type === 'step'),
    weightsFile: path.join(outDir, 'model.safetensors'),
    totalSteps: result.metrics.steps,
  };
}

function expectClose(actual: number[], expected: number[], absolute: number, relative = 0): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    const tolerance = Math.max(absolute, relative * Math.abs(expected[i]));
    if (!(Math.abs(a - expected[i]) <= tolerance)) {
      throw new Error(`index ${i}: ${a} vs reference ${expected[i]} (|diff| ${Math.abs(a - expected[i])} > ${tolerance})`);
    }
  });
}

// attention.self.key.bias has a zero gradient in exact arithmetic: q_i . (k_j + b) = q_i . k_j + q_i . b, and the
// second term is the same for every key j of a query row, so the softmax cancels it. Both sides therefore train it
// on float rounding noise, which AdamW's m / (sqrt(v) + eps) scales up to steps of about lr: that tensor cannot match
// to 1e-5 (only bit-identical kernels could), and it does not matter. It is checked against the AdamW bound instead
// (each step moves a parameter by at most ~lr), and the two final models must compute the same logits.
const NULL_GRADIENT = /\.attention\.self\.key\.bias$/;

// The same holds for a single element whose gradient is a near-cancelling sum that ends within a few AdamW eps of
// zero (an embedding element at -2.4e-8 where its row's largest is 4.8e-3, in the class-weights run): AdamW's
// g / (|g| + eps) turns the sums' last-bit differences into steps of up to ~lr there. At most one element in 10,000
// may differ by more than 1e-5, each within the AdamW bound; every other element matches to 1e-5, and the logits must.
function elementsBeyond(
  actual: ReturnType<typeof readSafetensors>,
  reference: ReturnType<typeof readSafetensors>,
  tolerance: number,
): { name: string; index: number; diff: number }[] {
  const out: { name: string; index: number; diff: number }[] = [];
  for (const [name, ref] of reference.tensors) {
    const a = float32Values(actual.tensors.get(name)!);
    const b = float32Values(ref);
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (!(d <= tolerance)) out.push({ name, index: i, diff: Number.isNaN(d) ? Infinity : d });
    }
  }
  return out;
}

function expectSameWeights(ours: string, reference: string, learningRates: number[]): void {
  const mine = readSafetensors(ours);
  const theirs = readSafetensors(reference);
  const nullSpace = { tensors: new Map([...theirs.tensors].filter(([name]) => NULL_GRADIENT.test(name))), metadata: undefined };
  const rest = { tensors: new Map([...theirs.tensors].filter(([name]) => !NULL_GRADIENT.test(name))), metadata: undefined };
  expect(rest.tensors.size).toBeGreaterThan(nullSpace.tensors.size);
  const diff = maxTensorDiff(mine, rest);
  expect(diff.missing).toEqual([]);
  const bound = 2 * learningRates.reduce((a, b) => a + b, 0);
  if (!(diff.worst <= 1e-5)) {
    const outliers = elementsBeyond(mine, rest, 1e-5);
    const total = [...rest.tensors.values()].reduce((n, t) => n + t.bytes.length / 4, 0);
    const worst = outliers.reduce((w, o) => Math.max(w, o.diff), 0);
    const list = outliers
      .slice(0, 5)
      .map((o) => `${o.name}[${o.index}] by ${o.diff}`)
      .join(', ');
    if (outliers.length > Math.max(1, total / 10_000) || !(worst <= bound)) {
      throw new Error(`final weights differ in ${outliers.length} of ${total} elements (max |diff| ${diff.worst} in ${diff.name}): ${list}`);
    }
  }
  const keyBias = maxTensorDiff(mine, nullSpace);
  expect(keyBias.missing).toEqual([]);
  if (!(keyBias.worst <= bound)) throw new Error(`${keyBias.name} differs by ${keyBias.worst}, more than AdamW's bound ${bound}`);
}

/** Both final models' logits on every spec row (padded to one width): ours through forward(), the reference's weights in transformers. */
async function expectSameLogits(ourDir: string, referenceWeights: string, spec: Spec): Promise<void> {
  const width = Math.max(...spec.batches.map((b) => b.inputIds[0].length));
  const pad = (rows: number[][]): number[][] => rows.map((r) => [...r, ...new Array<number>(width - r.length).fill(0)]);
  const inputs = {
    inputIds: spec.batches.flatMap((b) => pad(b.inputIds)),
    attentionMask: spec.batches.flatMap((b) => pad(b.attentionMask)),
    tokenTypeIds: spec.batches.flatMap((b) => pad(b.tokenTypeIds)),
  };
  const refDir = path.join(tmp, `${path.basename(ourDir)}-reference-model`);
  fs.mkdirSync(refDir, { recursive: true });
  fs.copyFileSync(path.join(ourDir, 'config.json'), path.join(refDir, 'config.json'));
  fs.copyFileSync(referenceWeights, path.join(refDir, 'model.safetensors'));
  const expected = (await reference.predict(refDir, inputs, spec.attnImplementation)).logits;
  const model = await BertClassifier.fromPretrained(ourDir);
  const { logits } = await model.forward(inputs);
  model.dispose();
  expect(maxAbsDiff(logits, expected)).toBeLessThanOrEqual(1e-5);
}

async function checkParity(
  name: string,
  kind: 'single' | 'multilabel' | 'regression',
  flags: string[] = [],
  dropoutSeed?: number,
  variant?: { tag: string; overrides: Record<string, unknown> },
  attnImplementation?: AttnImplementation,
): Promise<{ ref: ReferenceResult; spec: Spec; ours: { steps: StepEvent[]; weightsFile: string } }> {
  const { spec } = makeSpec(name, kind, flags, dropoutSeed, variant, attnImplementation);
  const ref = await runReference(spec);
  const ours = await trainLikeSpec(spec, path.basename(name) + (variant?.tag ?? '') + `-${spec.attnImplementation}`);
  expect(ours.totalSteps).toBe(spec.totalSteps);
  expect(ours.steps.map((s) => s.step)).toEqual(ref.losses.map((_, i) => i + 1));
  expectClose(
    ours.steps.map((s) => s.loss),
    ref.losses,
    1e-5,
  );
  expectClose(
    ours.steps.map((s) => s.learningRate),
    ref.learningRates,
    1e-12,
  );
  expectClose(
    ours.steps.map((s) => s.gradNorm),
    ref.gradNorms,
    1e-6,
    1e-5,
  );
  expectSameWeights(ours.weightsFile, spec.outputFile, ref.learningRates);
  await expectSameLogits(path.dirname(ours.weightsFile), spec.outputFile, spec);
  return { ref, spec, ours };
}

describe('training parity with transformers (train_reference.py)', () => {
  test.each(['sdpa', 'eager'] as const)('single-label, odd-bin-f32, %s attention: 10 steps x accumulation 2, weight decay, warmup, clipping', async (attn) => {
    const { ref, spec } = await checkParity('odd-bin-f32', 'single', [], undefined, undefined, attn);
    expect(spec.attnImplementation).toBe(attn);
    expect(spec.batches).toHaveLength(20);
    expect(ref.steps).toBe(10);
    expect(spec.maxGradNorm).toBe(0.5);
    // Clipping is exercised: every step's pre-clip norm is above maxGradNorm.
    expect(ref.gradNorms.every((g) => g > spec.maxGradNorm)).toBe(true);
    // Warm-up: the first step has lr 0, the fourth the peak.
    expect(ref.learningRates[0]).toBe(0);
    expect(ref.learningRates[3]).toBe(1e-3);
  });

  test('class weights and a partial last accumulation group (divided by its size)', async () => {
    const { ref, spec } = await checkParity('odd-bin-f32', 'single', [
      '--class-weights',
      '0.5,2,1,1.5,0.25',
      '--micro-batches',
      '5',
      '--steps',
      '3',
      '--total-steps',
      '3',
      '--warmup',
      '1',
      '--seed',
      '7',
    ]);
    expect(spec.batches).toHaveLength(5);
    expect(ref.steps).toBe(3);
    expect(ref.losses[2]).toBe(ref.microLosses[4]); // the partial group's logged loss is its single micro-batch's loss
  });

  // head_dim 16: sqrt(16) is a power of two, so the attention scores take the fused path (scale as the GEMM's alpha,
  // mask as its C operand, native/model/head_matmul.h), as every BERT size (head_dim 64) does; the other fixtures'
  // head sizes (8, 10, 12) run transformers' three operations. Padded rows exercise the mask.
  test('head_dim 16 (fused attention scores), eager attention: 10 steps, padded batches', async () => {
    const { ref, spec } = await checkParity('tiny-safetensors-f32', 'single', [], undefined, { tag: '-hd16', overrides: { num_attention_heads: 2 } }, 'eager');
    expect(ref.steps).toBe(10);
    expect(spec.batches.some((b) => b.attentionMask.some((row) => row.includes(0)))).toBe(true);
  });

  test('dropout on (0.1 hidden, attention and classifier): the same masks, so the same 10 steps', async () => {
    const { ref, spec } = await checkParity('odd-bin-f32', 'single', [], 1234);
    expect(spec.dropout).toBe(true);
    expect(spec.attnImplementation).toBe('eager');
    expect(ref.steps).toBe(10);
    // The masks matter: without them (a different seed) the first loss is not the reference's.
    const other = await trainLikeSpec({ ...spec, seed: 99 }, 'odd-bin-f32-seed99');
    expect(Math.abs(other.steps[0].loss - ref.losses[0])).toBeGreaterThan(1e-4);
  });

  // Under bf16 autocast both passes are PyTorch's: the same losses and gradient norms at every step, and the weights
  // as close as in fp32. (They were 0.05–0.5% apart until gelu_new's operations were created in Python's order: the
  // order autograd sums a tensor's gradients in is the order its uses were created in, and bf16 rounds each sum;
  // native/model/activation.cpp.) The reference must compute with our thread count: torch 2.13's CPU layer_norm
  // backward sums the LayerNorm weight and bias gradients per intra-op thread, so with 1 thread against our 2 the
  // step-1 gradient norm differed by one float32 ulp (5.107057571411133 vs 5.107058048248291) while every other
  // gradient was bit-identical. This fixture's hidden_act is gelu_new, and its batches are padded.
  test('bf16 mixed precision, eager attention: transformers under autocast, the same losses and gradient norms at every step', async () => {
    const { spec } = makeSpec('odd-bin-f32', 'single', ['--steps', '6', '--total-steps', '6'], undefined, undefined, 'eager');
    const fp32 = await runReference(spec);
    const bf16Spec = mixedPrecisionSpec(spec, 'bf16');
    const ref = await runReference(bf16Spec);
    const ours = await trainLikeSpec(bf16Spec, 'odd-bin-f32-bf16');
    expect(JSON.parse(fs.readFileSync(path.join(spec.modelDir, 'config.json'), 'utf8')).hidden_act).toBe('gelu_new');
    expect(spec.batches.some((b) => b.attentionMask.some((row) => row.includes(0)))).toBe(true);
    expect(ours.steps.map((e) => e.loss)).toEqual(ref.losses);
    expect(ours.steps.map((e) => e.gradNorm)).toEqual(ref.gradNorms);
    expect(ref.losses[0]).not.toBe(fp32.losses[0]); // bf16 really ran
    expectSameWeights(ours.weightsFile, bf16Spec.outputFile, ref.learningRates);
  });

  // Under fp16 autocast with loss scaling both sides are PyTorch's too: transformers' model with accelerate's
  // torch.amp.GradScaler('cpu') (its defaults: 2^16, growth 2 every 2000 clean steps, backoff 0.5). initializer_range
  // 0.7 makes fp16 gradients overflow at the first steps and again after clean ones (steps 1, 2, 4, 5 and 11): both
  // skip those updates and hold the schedule back after each (accelerate's AcceleratedScheduler does not step after a
  // skipped optimizer step), so every step's learning rate is the schedule at (step - the steps skipped before it).
  // Losses and gradient norms are bit for bit transformers', as in bf16. Thread count as in the bf16 test.
  test('fp16 mixed precision with loss scaling, eager attention: the same skipped steps, the schedule held back after each, the same losses', async () => {
    const dir = await savedFreshModel('fp16-overflow', overflowingFp16Config(0.7, 3));
    const { spec } = makeSpec(
      dir,
      'single',
      ['--steps', '12', '--total-steps', '12', '--accum', '1', '--micro-batches', '12', '--batch-size', '8'],
      undefined,
      undefined,
      'eager',
    );
    const fp16Spec = mixedPrecisionSpec(spec, 'fp16');
    const ref = await runReference(fp16Spec);
    const ours = await trainLikeSpec(fp16Spec, 'fp16-overflow');
    const skipped = ref.skipped.flatMap((s, i) => (s ? [i + 1] : []));
    expect(skipped[0]).toBe(1);
    expect(skipped.some((step, i) => i > 0 && step > skipped[i - 1] + 1)).toBe(true); // a skip after clean steps
    expect(ours.steps.map((e) => e.skipped)).toEqual(ref.skipped);
    expect(ours.steps.map((e) => e.learningRate)).toEqual(ref.learningRates);
    const schedule = { type: spec.lrScheduler, baseLr: spec.learningRate, warmupSteps: spec.warmupSteps, totalSteps: spec.totalSteps };
    ref.learningRates.forEach((lr, k) => expect(lr).toBe(learningRateAt(k - skipped.filter((s) => s <= k).length, schedule)));
    expect(ours.steps.map((e) => e.loss)).toEqual(ref.losses);
    expect(ours.steps.map((e) => (Number.isFinite(e.gradNorm) ? e.gradNorm : null))).toEqual(ref.gradNorms);
    expectSameWeights(ours.weightsFile, fp16Spec.outputFile, ref.learningRates);
  });

  // A sequence classifier reads position 0 of the last layer, so that layer computes its rows after attention for
  // the first position(s) only once the batch is big enough (B·S·H·H > 1e6, native/model/first_positions.h), with
  // the full computation's weight-gradient sums. Against transformers as every test here, and against our own run with
  // the whole last layer: the same steps and weights, bit for bit, dropout masks included.
  test("the last layer computed only for the position the classifier reads: bit for bit the whole layer's run", async () => {
    const dir = await savedFreshModel('hidden256', {
      vocab_size: 64,
      hidden_size: 256,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 512,
      max_position_embeddings: 64,
      num_labels: 3,
    });
    const { ref, spec, ours } = await checkParity(dir, 'single', ['--batch-size', '64', '--max-len', '64'], 1234);
    expect(ref.steps).toBe(10);
    // Every micro-batch takes the first-position path: 64 rows of 32 to 64 positions, B·H·H = 4.2M (one position).
    const longest = (b: SpecBatch): number => Math.max(...b.attentionMask.map((row) => row.reduce((x, y) => x + y, 0)));
    expect(spec.batches.every((b) => b.inputIds.length === 64 && longest(b) >= 32)).toBe(true);
    expect(spec.batches.some((b) => b.attentionMask.some((row) => row.includes(0)))).toBe(true);

    // The addon's TypeError comes from Node's own realm, not jest's: compared by name.
    expect(() => native().setLastLayerFirstPositions('no' as unknown as boolean)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: 'enabled must be a boolean' }),
    );
    native().setLastLayerFirstPositions(false);
    let whole: Awaited<ReturnType<typeof trainLikeSpec>>;
    try {
      whole = await trainLikeSpec(spec, 'hidden256-whole-layer');
    } finally {
      native().setLastLayerFirstPositions(true);
    }
    expect(ours.steps.map((e) => [e.loss, e.gradNorm])).toEqual(whole.steps.map((e) => [e.loss, e.gradNorm]));
    const diff = maxTensorDiff(readSafetensors(ours.weightsFile), readSafetensors(whole.weightsFile));
    expect(diff.missing).toEqual([]);
    expect(diff.worst).toBe(0);

    // Inference takes the path too. On the training path's kernels, logits alone equal the logits computed beside the
    // full last hidden state bit for bit; on the inference path (fused attention over one query row against all of
    // them, packed products) they agree within float rounding.
    const loaded = await BertClassifier.fromPretrained(dir);
    const batch = spec.batches[0];
    const inputs = { inputIds: batch.inputIds, attentionMask: batch.attentionMask, tokenTypeIds: batch.tokenTypeIds };
    native().setInferencePath(false);
    let exact: [Float32Array, Float32Array];
    try {
      exact = [(await loaded.forward(inputs)).logits, (await loaded.forward({ ...inputs, outputHiddenStates: true })).logits];
    } finally {
      native().setInferencePath(true);
    }
    const alone = await loaded.forward(inputs);
    const beside = await loaded.forward({ ...inputs, outputHiddenStates: true });
    loaded.dispose();
    expect(Array.from(exact[0])).toEqual(Array.from(exact[1]));
    expect(maxAbsDiff(alone.logits, Array.from(beside.logits))).toBeLessThan(1e-6);
  });

  test('multi-label, one step', async () => {
    const { ref } = await checkParity('multilabel', 'multilabel');
    expect(ref.steps).toBe(1);
  });

  test('regression (1 label), one step', async () => {
    const { ref } = await checkParity('regression-1-label', 'regression');
    expect(ref.steps).toBe(1);
  });
});
