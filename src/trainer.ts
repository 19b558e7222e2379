// Trainer: fine-tunes a BertClassifier the way transformers' Trainer does (same step count, learning-rate schedule,
// gradient accumulation, clipping, AdamW parameter groups, evaluation/checkpoint strategies, early stopping), with
// every native step on a worker thread so the event loop stays free. Checkpoints resume bit-identically on CPU.
// Batches are encoded ahead of the step by a bounded prefetch queue (src/batch-prefetch.ts), from an in-memory
// Dataset or a StreamingDataset, optionally length-grouped (src/length-grouping.ts).
import { EventEmitter } from 'events';
import * as path from 'path';

import { BatchPrefetcher, PipelineBatch, datasetBatches, streamBatches } from './batch-prefetch';
import { BertClassifier } from './classifier';
import type { ProblemType } from './config';
import { Dataset, EncodeContext, EncodedBatch, Example, TokenRowCache, batchesOf, encodeBatch, epochOrder, inferProblemType, tokenLengths } from './dataset';
import { groupingPays, lengthGroupedOrder, megaBatchSize } from './length-grouping';
import { DistributedContext, shardOrder, shardSize } from './distributed';
import { ClassMetrics, classificationMetrics, multiLabelMetrics, regressionMetrics } from './metrics';
import type { NativeModelHandle } from './native';
import { LearningRateOptions, learningRateAt, resolveWarmupSteps } from './schedule';
import { StreamingDataset } from './streaming-dataset';
import { TrainingHealth, WarningEvent } from './training-health';
import {
  DataPosition,
  LoadedCheckpoint,
  ResumeState,
  TrainerStateJson,
  checkpointName,
  latestCheckpoint,
  rankRngStateFile,
  readCheckpointFolder,
  readRankRngState,
  recoverInterruptedWrites,
  rotateCheckpoints,
  writeCheckpoint,
} from './trainer-checkpoint';
import {
  FitOptions,
  IntervalStrategy,
  MixedPrecision,
  ResolvedTrainerOptions,
  TrainerOptions,
  checkFitOptions,
  resolveEvalStrategy,
  resolveTrainerOptions,
} from './trainer-options';

/** Tokens (rows × maxLength) up to which the training set's token rows are kept between epochs: ~16M ids. */
const TOKEN_CACHE_LIMIT = 16_000_000;
export type { FitOptions, TrainerOptions, TrainerCallbacks, EarlyStoppingOptions, IntervalStrategy, MixedPrecision } from './trainer-options';

export interface TrainBeginLogs {
  /** Optimizer steps of the whole run (transformers' max_steps). */
  totalSteps: number;
  stepsPerEpoch: number;
  epochs: number;
  numExamples: number;
  /** Optimizer steps already done (> 0 when resuming). */
  startStep: number;
  problemType: ProblemType;
}

export interface StepEvent {
  type: 'step';
  /** 1-based optimizer step. */
  step: number;
  /** Fractional epoch like transformers': step / stepsPerEpoch. */
  epoch: number;
  /** Mean training loss of the steps since the previous log point (the step's mean micro-batch loss when logEvery is 1). */
  loss: number;
  /** The learning rate this step used. */
  learningRate: number;
  /** Total gradient norm before clipping (of this step). */
  gradNorm: number;
  samplesPerSecond: number;
  /** Real (non-padding) tokens per second. */
  tokensPerSecond: number;
  /** True when a non-finite loss made this step skip the update (skipNonFiniteLoss). */
  skipped: boolean;
  /**
   * Share of the steps' time (since the previous log point) spent waiting for encoded batches: time awaiting the
   * prefetch queue ÷ (that + the native steps). Near 0: the data pipeline keeps up; near 1: it is the bottleneck.
   */
  dataWaitFraction: number;
}

export interface EvaluateEvent {
  type: 'evaluate';
  step: number;
  epoch: number;
  metrics: EvaluationResult;
}

export interface EpochEndEvent {
  /** Fractional epoch (step / stepsPerEpoch), an integer when the epoch ran to its end. */
  epoch: number;
  step: number;
}

export interface CheckpointEvent {
  step: number;
  /** The checkpoint folder (outputDir/checkpoint-<step>). */
  path: string;
}

export type HistoryEntry = StepEvent | EvaluateEvent;

/** What evaluate() returns: the loss plus the metrics of the problem type (src/metrics.ts). */
export interface EvaluationResult {
  /** Mean loss per example (each batch's mean loss weighted by its size, like transformers' eval_loss). */
  loss: number;
  problemType: ProblemType;
  numExamples: number;
  runtimeSeconds: number;
  samplesPerSecond: number;
  // single-label: accuracy, f1 (macro), microF1, macroPrecision, macroRecall, perClass, confusionMatrix
  // multi-label (sigmoid >= 0.5): subsetAccuracy, accuracy (= subsetAccuracy), f1 (micro), macroF1, perClass
  // regression: mse, mae, rmse, pearson, spearman
  accuracy?: number;
  f1?: number;
  microF1?: number;
  macroPrecision?: number;
  macroRecall?: number;
  perClass?: Record<string, ClassMetrics>;
  confusionMatrix?: number[][];
  subsetAccuracy?: number;
  macroF1?: number;
  mse?: number;
  mae?: number;
  rmse?: number;
  pearson?: number | null;
  spearman?: number | null;
}

export interface FitResult {
  /** Every logged step and every evaluation, in order (including those before the checkpoint when resuming). */
  history: HistoryEntry[];
  /** Signs that the run did not learn (also given as 'warning' events while it ran); empty when none. */
  warnings: WarningEvent[];
  metrics: {
    /** Mean loss of the optimizer steps this fit() call ran (skipped steps left out). */
    trainLoss: number;
    /** The global optimizer step reached. */
    steps: number;
    /** Fractional epochs reached (steps / stepsPerEpoch). */
    epochs: number;
    runtimeSeconds: number;
    /** Training examples per second of this call (evaluation and checkpoint time included). */
    samplesPerSecond: number;
    /** The last evaluation's result, if any. */
    eval?: EvaluationResult;
    /** True when early stopping ended training before the last step. */
    stoppedEarly: boolean;
    /** Share of this call's step time spent waiting for encoded batches (see StepEvent.dataWaitFraction). */
    dataWaitFraction: number;
    /** Padding positions ÷ all positions of this call's training batches (lower with groupByLength). */
    paddingFraction: number;
  };
  /** The best checkpoint by metricForBestModel, when one was saved. */
  bestCheckpoint?: { path: string; step: number; metric: string; value: number };
}

/** fit() was stopped through its AbortSignal (at a step boundary, after saving a checkpoint when outputDir is set). */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  /** The checkpoint written on the way out, if any. */
  readonly checkpoint: string | undefined;

  constructor(message: string, options: { cause?: unknown; checkpoint?: string } = {}) {
    super(message, { cause: options.cause });
    this.checkpoint = options.checkpoint;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** What fit() and evaluate() accept as data. */
export type TrainingData = Dataset | Example[] | StreamingDataset;

function toDataset(value: unknown, name: string): Dataset | StreamingDataset {
  if (value instanceof Dataset || value instanceof StreamingDataset) return value;
  if (Array.isArray(value)) return Dataset.fromArray(value as Example[]);
  throw new TypeError(
    `${name} must be a Dataset (Dataset.fromArray, Dataset.fromCsv, ...), a StreamingDataset (Dataset.streamJsonl, ...) or an array of examples`,
  );
}

/** A dataset's size: counted once (a byte scan of the file) for a stream without a given length. */
async function sizeOf(data: Dataset | StreamingDataset): Promise<number> {
  return data instanceof Dataset ? data.length : data.count();
}

/** Re-throws `err` with `prefix` in its message, keeping its class (TypeError/RangeError/Error). */
function withPrefix(err: unknown, prefix: string): Error {
  if (!(err instanceof Error)) return new Error(`${prefix}: ${String(err)}`);
  const Kind = err instanceof RangeError ? RangeError : err instanceof TypeError ? TypeError : Error;
  return new Kind(`${prefix}: ${err.message}`, { cause: err });
}

function argmax(values: ArrayLike<number>, start: number, count: number): number {
  let best = 0;
  for (let j = 1; j < count; j++) if (values[start + j] > values[start + best]) best = j;
  return best;
}

/** Checks the whole dataset before training starts, where that is cheap: labels, and pre-tokenized ids against the model. */
async function checkExamples(dataset: Dataset, ctx: EncodeContext, model: BertClassifier, name: string): Promise<void> {
  const config = model.config;
  const limit = Math.min(ctx.maxLength ?? model.tokenizer?.maxLength ?? config.max_position_embeddings, config.max_position_embeddings);
  try {
    let index = 0;
    for (const e of dataset) {
      if ('inputIds' in e) {
        if (e.inputIds.length > limit) {
          throw new RangeError(
            `examples[${index}].inputIds has ${e.inputIds.length} tokens, more than maxLength (${limit}); pre-tokenized inputs are not truncated`,
          );
        }
        e.inputIds.forEach((id, j) => {
          if (id >= config.vocab_size) throw new RangeError(`examples[${index}].inputIds[${j}] = ${id} is outside the vocabulary [0, ${config.vocab_size})`);
        });
        e.tokenTypeIds?.forEach((t, j) => {
          if (t >= config.type_vocab_size)
            throw new RangeError(`examples[${index}].tokenTypeIds[${j}] = ${t} is outside [0, type_vocab_size=${config.type_vocab_size})`);
        });
      } else if (!model.tokenizer) {
        throw new Error(`examples[${index}] is text, but the model has no tokenizer; attach one or give pre-tokenized inputIds`);
      }
      index += 1;
    }
    // The labels through the same encoder the training loop uses, without tokenizing: same messages, same indices.
    const labelsOnly = dataset.map((e) => ({ inputIds: [0], label: e.label }));
    await encodeBatch(
      labelsOnly,
      Array.from({ length: labelsOnly.length }, (_, i) => i),
      { ...ctx, maxLength: undefined, tokenizer: undefined },
    );
  } catch (err) {
    throw withPrefix(err, name);
  }
}

/**
 * A streamed dataset cannot be checked before training (it is read as it trains, and its rows are checked as they
 * are read); what can be checked is that its texts can be tokenized.
 */
function checkStream(model: BertClassifier, name: string): void {
  if (!model.tokenizer) throw new Error(`${name}: a streamed dataset holds texts, but the model has no tokenizer; attach one`);
}

/** transformers' problem-type rule for a stream, judged by its first example's label (arrays: multi-label). */
async function inferStreamProblemType(stream: StreamingDataset, numLabels: number): Promise<ProblemType> {
  if (numLabels === 1) return 'regression';
  return Array.isArray((await stream.first())?.label) ? 'multi_label_classification' : 'single_label_classification';
}

/**
 * Encoded batches of a whole dataset in its own order (for evaluation), or of the examples `indices` of it; an
 * in-memory dataset's token rows come from (and go to) `cache` where there is one.
 */
function batchesInOrder(
  data: Dataset | StreamingDataset,
  batchSize: number,
  ctx: EncodeContext,
  indices?: number[],
  cache?: TokenRowCache,
): AsyncGenerator<PipelineBatch> {
  if (data instanceof Dataset) return datasetBatches(data, batchesOf(indices ?? epochOrder(data.length, 0, 0, false), batchSize), ctx, cache);
  return streamBatches(data, { seed: 0, epoch: 0, shuffle: false, batchSize, skipBatches: 0 }, ctx);
}

/** Rank r of W evaluates examples r, r + W, ...: disjoint and without DistributedSampler's padded duplicates. */
function evalShard(length: number, rank: number, worldSize: number): number[] {
  const out: number[] = [];
  for (let i = rank; i < length; i += worldSize) out.push(i);
  return out;
}

/** Runs a dataset through evalBatch in order and computes the loss and the metrics of the problem type. */
async function evaluateDataset(
  handle: NativeModelHandle,
  data: Dataset | StreamingDataset,
  ctx: EncodeContext,
  batchSize: number,
  classWeights: Float32Array | null,
  labelNames: string[],
  prefetchBatches: number,
  mixedPrecision: MixedPrecision,
  dist?: DistributedContext,
  cache?: TokenRowCache,
): Promise<EvaluationResult> {
  const started = performance.now();
  const L = ctx.numLabels;
  let lossSum = 0;
  let numExamples = 0;
  // Class ids (single-label) or values (regression, every output flattened); sigmoid rows (multi-label).
  const predictions: number[] = [];
  const targets: number[] = [];
  const probabilities: number[][] = [];
  const labelRows: number[][] = [];
  const addRow = (logits: ArrayLike<number>, at: number, labels: ArrayLike<number>, labelAt: number): void => {
    if (ctx.problemType === 'single_label_classification') {
      predictions.push(argmax(logits, at, L));
      targets.push(labels[labelAt]);
    } else if (ctx.problemType === 'multi_label_classification') {
      probabilities.push(Array.from({ length: L }, (_, j) => 1 / (1 + Math.exp(-logits[at + j]))));
      labelRows.push(Array.from({ length: L }, (_, j) => labels[labelAt + j]));
    } else {
      for (let j = 0; j < L; j++) {
        predictions.push(logits[at + j]);
        targets.push(labels[labelAt + j]);
      }
    }
  };
  // Data-parallel: each rank evaluates its share, writes every example's logits and labels at the example's own row
  // of a zeroed [n, L + labelWidth] table, and one all-reduce (a sum where only one rank wrote each row) gives every
  // rank the whole table in the dataset's order: the same metrics as one process, the loss summed likewise.
  const labelWidth = ctx.problemType === 'single_label_classification' ? 1 : L;
  const width = L + labelWidth;
  const total = dist && data instanceof Dataset ? data.length : 0;
  const indices = dist && data instanceof Dataset ? evalShard(total, dist.rank, dist.worldSize) : undefined;
  // A stream is evaluated whole by every rank (its order cannot be split without reading it all on each anyway).
  const table = dist && data instanceof Dataset ? new Float64Array(total * width + 2) : undefined; // + [loss sum, example count]
  let row = 0;
  const queue = new BatchPrefetcher(batchesInOrder(data, batchSize, ctx, indices, cache), prefetchBatches);
  try {
    for (let item = await queue.next(); !item.done; item = await queue.next()) {
      const batch = item.value.batch;
      numExamples += batch.batchSize;
      const out = await handle.evalBatch(batch, ctx.problemType, classWeights, mixedPrecision);
      lossSum += (out.loss ?? NaN) * batch.batchSize;
      const labels = batch.labels as Int32Array | Float32Array;
      for (let r = 0; r < batch.batchSize; r++, row++) {
        if (table && indices) {
          const at = indices[row] * width;
          for (let j = 0; j < L; j++) table[at + j] = out.logits[r * L + j];
          for (let j = 0; j < labelWidth; j++) table[at + L + j] = labels[r * labelWidth + j];
        } else {
          addRow(out.logits, r * L, labels, r * labelWidth);
        }
      }
    }
  } finally {
    await queue.close();
  }
  if (table && dist) {
    table[total * width] = lossSum;
    table[total * width + 1] = numExamples;
    const all = await dist.allReduceSum(table);
    lossSum = all[total * width];
    numExamples = all[total * width + 1];
    for (let i = 0; i < total; i++) addRow(all, i * width, all, i * width + L);
  }
  if (numExamples === 0) throw new Error('the evaluation dataset is empty');
  const runtimeSeconds = (performance.now() - started) / 1000;
  const base = {
    loss: lossSum / numExamples,
    problemType: ctx.problemType,
    numExamples,
    runtimeSeconds,
    samplesPerSecond: numExamples / runtimeSeconds,
  };
  if (ctx.problemType === 'single_label_classification') return { ...base, ...classificationMetrics(predictions, targets, labelNames) };
  if (ctx.problemType === 'multi_label_classification') return { ...base, ...multiLabelMetrics(probabilities, labelRows, labelNames) };
  return { ...base, ...regressionMetrics(predictions, targets) };
}

/** transformers' log_history entry for a history entry: flat numbers, eval metrics prefixed with eval_. */
function transformersLogEntry(entry: HistoryEntry): Record<string, unknown> {
  if (entry.type === 'step') {
    return { epoch: entry.epoch, grad_norm: entry.gradNorm, learning_rate: entry.learningRate, loss: entry.loss, step: entry.step };
  }
  const out: Record<string, unknown> = { epoch: entry.epoch };
  for (const [key, value] of Object.entries(entry.metrics)) {
    if (typeof value === 'number' || value === null)
      out[`eval_${key === 'runtimeSeconds' ? 'runtime' : key === 'samplesPerSecond' ? 'samples_per_second' : key}`] = value;
  }
  out.step = entry.step;
  return out;
}

/** History entries read back from trainer_state.json: JSON wrote non-finite numbers as null. */
function restoreHistory(saved: Record<string, unknown>[]): HistoryEntry[] {
  return saved.map((entry) => {
    if (entry.type !== 'step') return entry as unknown as EvaluateEvent;
    const e = { ...entry } as Record<string, unknown>;
    for (const key of ['loss', 'learningRate', 'gradNorm', 'samplesPerSecond', 'tokensPerSecond', 'dataWaitFraction']) if (e[key] === null) e[key] = NaN;
    return e as unknown as StepEvent;
  });
}

// ---------------------------------------------------------------------------------------------------------------

/** What fit() works out before training: the problem type, the step counts and the schedule. */
interface RunPlan {
  dataset: Dataset | StreamingDataset;
  /** Training examples per epoch (a stream's counted or given length). */
  numExamples: number;
  /** Whether batches are length-grouped (groupByLength, 'auto' decided from the data). */
  groupByLength: boolean;
  /** Token lengths of an in-memory dataset's examples, when batches are length-grouped. */
  lengths: Int32Array | undefined;
  /** An in-memory dataset's token rows, kept across epochs (undefined: streams, or too large to keep). */
  tokenCache: TokenRowCache | undefined;
  evalDataset: Dataset | StreamingDataset | undefined;
  /** The in-memory evaluation set's token rows, kept across evaluations (and with the Trainer's other uses of it). */
  evalTokenCache: TokenRowCache | undefined;
  ctx: EncodeContext;
  evalStrategy: IntervalStrategy;
  classWeights: Float32Array | null;
  /** Micro-batches per epoch (of this rank's shard when data-parallel). */
  numBatches: number;
  stepsPerEpoch: number;
  totalSteps: number;
  numEpochs: number;
  schedule: LearningRateOptions;
  /** The data-parallel job this run is a rank of (undefined: a single process). */
  dist: DistributedContext | undefined;
}

/** Micro-batches per epoch of a rank: DistributedSampler's shard of `examples`, cut into batches. */
function batchesPerRank(examples: number, worldSize: number, batchSize: number): number {
  return Math.ceil(shardSize(examples, worldSize) / batchSize);
}

/** One fit() call: the training loop and its mutable state. */
class FitRun {
  private globalStep = 0;
  private startStep = 0;
  private position: { epoch: number; batch: number } = { epoch: 0, batch: 0 };
  private history: HistoryEntry[] = [];
  private bestMetric: number | null = null;
  private bestStep: number | null = null;
  private bestCheckpointName: string | null = null;
  private earlyStoppingCounter = 0;
  private stopRequested = false;
  private stoppedEarly = false;
  private lastSavedStep = -1;
  private lastEval: EvaluationResult | undefined;
  // Since the last log point. waitMs: awaiting encoded batches; busyMs: that plus the native steps.
  private interval = { losses: 0, lossCount: 0, samples: 0, tokens: 0, skipped: false, started: 0, waitMs: 0, busyMs: 0 };
  // This call's totals; positions and padding: of the training batches (batch size x padded length).
  private totals = { losses: 0, lossCount: 0, samples: 0, waitMs: 0, busyMs: 0, positions: 0, padding: 0 };
  // Steps whose loss the native side still holds (read by the next step that reads).
  private unreadSteps = 0;
  // Data-parallel resume with another world size: the epoch whose order starts at example `start` (see DataPosition).
  private startExample = { epoch: -1, start: 0 };
  // Signs of a run that is not learning, and the warnings given.
  private readonly health = new TrainingHealth();
  private readonly warnings: WarningEvent[] = [];

  constructor(
    private readonly trainer: Trainer,
    private readonly model: BertClassifier,
    private readonly handle: NativeModelHandle,
    private readonly options: ResolvedTrainerOptions,
    private readonly plan: RunPlan,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async run(resumeFrom: string | true | undefined): Promise<FitResult> {
    const started = performance.now();
    const { options, plan } = this;
    const dist = plan.dist;
    if (options.outputDir !== undefined && (!dist || dist.isMain)) await recoverInterruptedWrites(options.outputDir);
    await this.configureOptimizer();
    if (dist) {
      // DDP: every rank starts from rank 0's weights (a fresh classifier head is drawn per process), and no rank
      // reads a checkpoint before rank 0 has finished recovering interrupted writes.
      await this.handle.broadcastParameters(0);
      await dist.barrier();
    }
    if (resumeFrom !== undefined) {
      const dir = resumeFrom === true ? await latestCheckpoint(this.requireOutputDir('resumeFrom: true')) : resumeFrom;
      await this.restore(await readCheckpointFolder(dir));
    } else {
      // Same seed, same dropout masks: seeds the model's own dropout stream (and LibTorch's CPU generator).
      this.handle.manualSeed(options.seed);
    }
    this.startStep = this.globalStep;
    this.lastSavedStep = this.globalStep;

    await options.callbacks.onTrainBegin?.({
      totalSteps: plan.totalSteps,
      stepsPerEpoch: plan.stepsPerEpoch,
      epochs: plan.numEpochs,
      numExamples: plan.numExamples,
      startStep: this.globalStep,
      problemType: plan.ctx.problemType,
    });
    await this.abortIfRequested();
    this.interval.started = performance.now();
    const start = this.position; // (0, 0), or where the checkpoint left off
    for (let epoch = start.epoch; epoch < plan.numEpochs && this.globalStep < plan.totalSteps && !this.stopRequested; epoch++) {
      await this.runEpoch(epoch, epoch === start.epoch ? start.batch : 0);
    }
    // Like transformers: with a save strategy, the final step is always checkpointed.
    if (options.saveStrategy !== 'no' && this.globalStep > this.startStep && this.lastSavedStep !== this.globalStep) await this.saveCheckpoint();
    if (options.loadBestModelAtEnd && this.bestCheckpointName !== null) {
      const best = await readCheckpointFolder(path.join(this.requireOutputDir('loadBestModelAtEnd'), this.bestCheckpointName));
      await this.handle.loadWeights(best.weightsFiles);
    }

    const runtimeSeconds = (performance.now() - started) / 1000;
    const result: FitResult = {
      history: this.history,
      warnings: this.warnings,
      metrics: {
        trainLoss: this.totals.lossCount > 0 ? this.totals.losses / this.totals.lossCount : NaN,
        steps: this.globalStep,
        epochs: this.globalStep / plan.stepsPerEpoch,
        runtimeSeconds,
        samplesPerSecond: this.totals.samples / runtimeSeconds,
        stoppedEarly: this.stoppedEarly,
        dataWaitFraction: this.totals.busyMs > 0 ? this.totals.waitMs / this.totals.busyMs : 0,
        paddingFraction: this.totals.positions > 0 ? this.totals.padding / this.totals.positions : 0,
      },
    };
    if (this.lastEval) result.metrics.eval = this.lastEval;
    if (this.bestCheckpointName !== null && this.bestMetric !== null && this.bestStep !== null) {
      result.bestCheckpoint = {
        path: path.join(this.requireOutputDir('bestCheckpoint'), this.bestCheckpointName),
        step: this.bestStep,
        metric: options.metricForBestModel,
        value: this.bestMetric,
      };
    }
    await options.callbacks.onTrainEnd?.(result);
    return result;
  }

  private requireOutputDir(what: string): string {
    if (this.options.outputDir === undefined) throw new Error(`${what} needs outputDir`);
    return this.options.outputDir;
  }

  private async configureOptimizer(): Promise<void> {
    const o = this.options;
    const settings = { beta1: o.adamBeta1, beta2: o.adamBeta2, eps: o.adamEpsilon, weightDecay: o.weightDecay };
    // A forward() started just before fit() may still hold the model's lock; wait for it (bounded) instead of failing.
    for (let attempt = 0; ; attempt++) {
      try {
        this.handle.configureOptimizer(settings);
        return;
      } catch (err) {
        if (attempt >= 500 || !/busy/.test((err as Error).message)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  /** Puts weights, optimizer, RNG, step, data position and history back as the checkpoint recorded them. */
  private async restore(checkpoint: LoadedCheckpoint): Promise<void> {
    const { options, plan } = this;
    const state = checkpoint.trainerState;
    const own = state.bert_trainer;
    const dir = checkpoint.dir;
    const same = (what: string, saved: unknown, now: unknown): void => {
      if (saved !== now) {
        throw new Error(
          `resumeFrom: ${dir} was made with ${what} ${String(saved)}, but this run has ${String(now)}; resuming needs the same data order (set the option as the checkpoint's run did)`,
        );
      }
    };
    same('a training set of size', own.numExamples, plan.numExamples);
    same(plan.dist ? 'batchSize (per process)' : 'batchSize', own.batchSize, options.batchSize);
    same('gradientAccumulationSteps', own.gradientAccumulationSteps, options.gradientAccumulationSteps);
    same('seed', own.dataPosition.seed, options.seed);
    same('shuffle', own.dataPosition.shuffle, options.shuffle);
    const stream = plan.dataset instanceof StreamingDataset ? plan.dataset : undefined;
    same('a streaming dataset', own.dataPosition.shuffleBuffer !== undefined, stream !== undefined);
    if (stream) same('shuffleBuffer', own.dataPosition.shuffleBuffer, stream.shuffleBuffer);
    same('groupByLength', own.dataPosition.groupByLength ?? false, plan.groupByLength);
    const { epoch, batch } = own.dataPosition;
    const savedWorld = own.worldSize ?? 1;
    const world = plan.dist?.worldSize ?? 1;
    if (stream && savedWorld !== world && batch > 0) {
      throw new Error(
        `resumeFrom: ${dir} was made by ${savedWorld} process${savedWorld === 1 ? '' : 'es'} in the middle of an epoch of a streaming dataset; ` +
          `resume it with ${savedWorld} (another number of processes can resume from a checkpoint at an epoch's end, or with an in-memory dataset)`,
      );
    }
    const savedStart = own.dataPosition.startExample ?? 0;
    // The saved run's batches in the checkpoint's epoch (its world size; from its start example).
    const savedBatches = batchesPerRank(plan.numExamples - savedStart, savedWorld, options.batchSize);
    if (batch > savedBatches || (batch % options.gradientAccumulationSteps !== 0 && batch !== savedBatches)) {
      throw new Error(`resumeFrom: ${dir}: data position batch ${batch} is not a step boundary of ${savedBatches} batches`);
    }
    if (checkpoint.scheduler.step !== state.global_step) {
      throw new Error(`resumeFrom: ${dir}: scheduler.json step ${checkpoint.scheduler.step} differs from trainer_state.json global_step ${state.global_step}`);
    }

    // Each rank continues its own generator (dropout) when the world size is the same; otherwise every rank takes
    // rank 0's (exact only without dropout). Restored first: a bad state file is rejected before any weight changes.
    const rank = plan.dist?.rank ?? 0;
    const ownRngState = rank > 0 && savedWorld === world;
    try {
      this.handle.setRngState(ownRngState ? await readRankRngState(dir, rank) : checkpoint.rngState);
    } catch (err) {
      const file = path.join(dir, rankRngStateFile(ownRngState ? rank : 0));
      throw new Error(`resumeFrom: ${file}: ${(err as Error).message}`, { cause: err });
    }
    await this.handle.loadWeights(checkpoint.weightsFiles);
    await this.handle.loadOptimizerState(checkpoint.optimizerFile);

    this.globalStep = state.global_step;
    if (batch >= savedBatches) {
      this.position = { epoch: epoch + 1, batch: 0 };
    } else if (savedWorld === world) {
      this.position = { epoch, batch };
      if (savedStart > 0) this.startExample = { epoch, start: savedStart };
    } else {
      // Another world size: the saved ranks consumed the epoch order's first `consumed` positions (DistributedSampler
      // interleaves ranks, so whole batches of all ranks are a prefix of the order); the rest of the epoch is
      // sharded over the new ranks. Each example is still trained on once per epoch, but batches (and so the
      // weights) differ from an uninterrupted run.
      const consumed = savedStart + batch * options.batchSize * savedWorld;
      this.position = { epoch, batch: 0 };
      this.startExample = { epoch, start: consumed };
    }
    this.history = restoreHistory(own.history);
    this.lastEval = [...this.history].reverse().find((e): e is EvaluateEvent => e.type === 'evaluate')?.metrics;
    this.earlyStoppingCounter = own.earlyStoppingCounter ?? 0;
    if (own.metricForBestModel === options.metricForBestModel && own.greaterIsBetter === options.greaterIsBetter) {
      this.bestMetric = state.best_metric;
      this.bestStep = own.bestStep;
      // Kept only if that folder still exists beside the outputDir's checkpoints.
      if (own.bestCheckpointName !== null && options.outputDir !== undefined) {
        const bestDir = path.join(options.outputDir, own.bestCheckpointName);
        this.bestCheckpointName = (await readCheckpointFolder(bestDir).then(
          () => true,
          () => false,
        ))
          ? own.bestCheckpointName
          : null;
      }
    }
  }

  // --- the loop --------------------------------------------------------------------------------------------

  private async runEpoch(epoch: number, firstBatch: number): Promise<void> {
    const { options, plan } = this;
    const GA = options.gradientAccumulationSteps;
    await options.callbacks.onEpochBegin?.(epoch, { step: this.globalStep });
    let stepsThisEpoch = 0;
    let batchIndex = firstBatch;
    // Encoding the next batches overlaps with the current native step.
    const queue = new BatchPrefetcher(this.epochBatches(epoch, firstBatch), options.prefetchBatches);
    try {
      while (this.globalStep < plan.totalSteps) {
        // An optimizer step's micro-batches; the epoch's last group may be partial.
        const waitStarted = performance.now();
        const group: EncodedBatch[] = [];
        let last = false;
        while (group.length < GA && !last) {
          let item: IteratorResult<PipelineBatch, undefined>;
          try {
            item = await queue.next();
          } catch (err) {
            throw withPrefix(err, 'train');
          }
          if (item.done) last = true;
          else {
            group.push(item.value.batch);
            last = item.value.last;
          }
        }
        if (group.length === 0) break;
        await this.trainStep(group, last, performance.now() - waitStarted);
        stepsThisEpoch += 1;
        batchIndex += group.length;
        this.position = last ? { epoch: epoch + 1, batch: 0 } : { epoch, batch: batchIndex };
        await this.afterStep();
        await this.abortIfRequested();
        if (this.stopRequested || last) break;
      }
    } finally {
      await queue.close();
    }
    if (stepsThisEpoch === 0) return;

    const event: EpochEndEvent = { epoch: this.globalStep / plan.stepsPerEpoch, step: this.globalStep };
    this.trainer.emit('epochEnd', event);
    await options.callbacks.onEpochEnd?.(epoch, event);
    // Judged on an epoch this call ran from its start (not one resumed halfway).
    const flat = this.health.epochEnded(this.globalStep, event.epoch);
    if (firstBatch === 0) await this.warn(flat);
    if (plan.evalStrategy === 'epoch') await this.evaluate();
    if (options.saveStrategy === 'epoch') await this.saveCheckpoint();
    await this.abortIfRequested();
  }

  /**
   * The encoded micro-batches of an epoch from batch `firstBatch` on, in the epoch's order (see DataPosition): the
   * seeded permutation (length-grouped when groupByLength) of an in-memory dataset, or a stream's shuffle buffer.
   */
  private epochBatches(epoch: number, firstBatch: number): AsyncGenerator<PipelineBatch> {
    const { options, plan } = this;
    const { seed, shuffle, batchSize } = options;
    if (plan.dataset instanceof StreamingDataset) {
      const megaBatch = plan.groupByLength ? megaBatchSize(plan.numExamples, batchSize) : undefined;
      const shard = plan.dist ? { rank: plan.dist.rank, worldSize: plan.dist.worldSize } : undefined;
      return streamBatches(plan.dataset, { seed, epoch, shuffle, batchSize, skipBatches: firstBatch, megaBatch, shard }, plan.ctx);
    }
    const permutation = epochOrder(plan.dataset.length, seed, epoch, shuffle);
    let order = plan.lengths ? lengthGroupedOrder(plan.lengths, batchSize, permutation) : permutation;
    if (epoch === this.startExample.epoch) order = order.slice(this.startExample.start);
    // Data-parallel: DistributedSampler's shard of the (length-grouped) order, as transformers' distributed
    // length-grouped sampler takes it; batchSize is per process.
    if (plan.dist) order = shardOrder(order, plan.dist.rank, plan.dist.worldSize);
    return datasetBatches(plan.dataset, batchesOf(order, batchSize).slice(firstBatch), plan.ctx, plan.tokenCache);
  }

  /**
   * Whether optimizer step `step` (1-based) must read its loss back: at log points, and wherever the run may stop
   * or persist the weights (evaluation, checkpoint, epoch end, last step, abort), so that a non-finite loss is
   * caught before it reaches a checkpoint and no loss is left unread at the end. Elsewhere the native step keeps the
   * loss on the device (no CUDA synchronisation) and a later reading step returns it.
   */
  private mustReadLoss(step: number, lastOfEpoch: boolean): boolean {
    const { options, plan } = this;
    return (
      step % options.logEvery === 0 ||
      step === plan.totalSteps ||
      lastOfEpoch ||
      (plan.evalStrategy === 'steps' && step % (options.evalSteps as number) === 0) ||
      (options.saveStrategy === 'steps' && step % (options.saveSteps as number) === 0) ||
      this.signal?.aborted === true
    );
  }

  /** One optimizer step over `batches`; `waitMs`: how long the loop waited for them to be encoded. */
  private async trainStep(batches: EncodedBatch[], lastOfEpoch: boolean, waitMs: number): Promise<void> {
    const { options, plan } = this;
    const learningRate = learningRateAt(this.globalStep, plan.schedule);
    const nativeStarted = performance.now();
    let result;
    try {
      result = await this.handle.trainStep(batches, {
        problemType: plan.ctx.problemType,
        learningRate,
        maxGradNorm: options.maxGradNorm,
        // transformers divides each loss by the size of its accumulation group (the last one of an epoch may be partial).
        accumulationSteps: batches.length,
        classWeights: plan.classWeights,
        skipNonFinite: options.skipNonFiniteLoss,
        readLoss: this.mustReadLoss(this.globalStep + 1, lastOfEpoch),
        mixedPrecision: options.mixedPrecision,
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // The native message names the step ("non-finite loss at step 7 ..."); anything else (e.g. out of memory,
      // whose message names the batch size and sequence length) passes through unchanged.
      if (/non-finite/.test(message) && !/^non-finite loss at step \d+/.test(message)) {
        throw new Error(`non-finite loss at step ${this.globalStep + 1}: ${message}`, { cause: err });
      }
      throw err;
    }
    this.globalStep += 1;

    const iv = this.interval;
    const busyMs = waitMs + (performance.now() - nativeStarted);
    iv.waitMs += waitMs;
    iv.busyMs += busyMs;
    this.totals.waitMs += waitMs;
    this.totals.busyMs += busyMs;
    // Data-parallel: every rank's batches have this rank's sizes (equal shards), so the job's samples are W times
    // this rank's; its tokens are estimated the same way.
    const world = plan.dist?.worldSize ?? 1;
    for (const b of batches) {
      iv.samples += b.batchSize * world;
      iv.tokens += b.realTokens * world;
      this.totals.samples += b.batchSize * world;
      const positions = b.batchSize * b.sequenceLength;
      this.totals.positions += positions;
      this.totals.padding += positions - b.realTokens;
    }
    iv.skipped = iv.skipped || result.skipped;
    if (result.logged.length === 0) {
      this.unreadSteps += 1;
      return;
    }
    // This step and the deferred ones before it, oldest first. Older entries than that would be left over from an
    // earlier fit() that failed between reads; they are not this run's.
    const read = result.logged.slice(-(this.unreadSteps + 1));
    this.unreadSteps = 0;
    for (const entry of read) {
      this.health.observeLoss(entry.loss);
      if (!Number.isFinite(entry.loss)) continue; // a skipped step (skipNonFiniteLoss)
      iv.losses += entry.loss;
      iv.lossCount += 1;
      this.totals.losses += entry.loss;
      this.totals.lossCount += 1;
    }
    if (this.globalStep % options.logEvery !== 0) return;

    const now = performance.now();
    const seconds = Math.max((now - iv.started) / 1000, 1e-9);
    const event: StepEvent = {
      type: 'step',
      step: this.globalStep,
      epoch: this.globalStep / plan.stepsPerEpoch,
      loss: iv.lossCount > 0 ? iv.losses / iv.lossCount : NaN,
      learningRate,
      gradNorm: read[read.length - 1].gradNorm,
      samplesPerSecond: iv.samples / seconds,
      tokensPerSecond: iv.tokens / seconds,
      skipped: iv.skipped,
      dataWaitFraction: iv.busyMs > 0 ? iv.waitMs / iv.busyMs : 0,
    };
    this.interval = { losses: 0, lossCount: 0, samples: 0, tokens: 0, skipped: false, started: now, waitMs: 0, busyMs: 0 };
    this.history.push(event);
    this.trainer.emit('step', event);
    await options.callbacks.onStepEnd?.(this.globalStep, event);
    await options.callbacks.onBatchEnd?.(this.globalStep, event);
  }

  /** transformers' _maybe_log_save_evaluate for the 'steps' strategies. */
  private async afterStep(): Promise<void> {
    const { options, plan } = this;
    if (plan.evalStrategy === 'steps' && this.globalStep % (options.evalSteps as number) === 0) await this.evaluate();
    if (options.saveStrategy === 'steps' && this.globalStep % (options.saveSteps as number) === 0) await this.saveCheckpoint();
  }

  private async evaluate(): Promise<void> {
    const { options, plan } = this;
    const metrics = await evaluateDataset(
      this.handle,
      plan.evalDataset as Dataset | StreamingDataset,
      plan.ctx,
      options.evalBatchSize,
      plan.classWeights,
      this.model.labels,
      options.prefetchBatches,
      options.mixedPrecision,
      plan.dist,
      plan.evalTokenCache,
    );
    const event: EvaluateEvent = { type: 'evaluate', step: this.globalStep, epoch: this.globalStep / plan.stepsPerEpoch, metrics };
    this.history.push(event);
    this.lastEval = metrics;
    const value = (metrics as unknown as Record<string, unknown>)[options.metricForBestModel];
    const metric = typeof value === 'number' && Number.isFinite(value) ? value : null;
    const better = (a: number, b: number): boolean => (options.greaterIsBetter ? a > b : a < b);
    // EarlyStoppingCallback.on_evaluate runs before the best metric is updated: it compares with the previous best.
    const early = options.earlyStopping;
    if (early) {
      const improved =
        metric !== null && (this.bestMetric === null || (better(metric, this.bestMetric) && Math.abs(metric - this.bestMetric) > early.threshold));
      this.earlyStoppingCounter = improved ? 0 : this.earlyStoppingCounter + 1;
      if (this.earlyStoppingCounter >= early.patience) {
        this.stopRequested = true;
        this.stoppedEarly = this.globalStep < plan.totalSteps;
      }
    }
    if (metric !== null && (this.bestMetric === null || better(metric, this.bestMetric))) {
      this.bestMetric = metric;
      this.bestStep = this.globalStep;
    }
    this.trainer.emit('evaluate', event);
    await options.callbacks.onEvaluate?.(this.globalStep, event);
    await this.warn(this.health.evaluated(metrics, this.model.labels, event.step, event.epoch, plan.totalSteps));
  }

  private async warn(warning: WarningEvent | null): Promise<void> {
    if (warning === null) return;
    this.warnings.push(warning);
    this.trainer.emit('warning', warning);
    await this.options.callbacks.onWarning?.(warning);
  }

  private async saveCheckpoint(): Promise<string> {
    const { options, plan } = this;
    const outputDir = this.requireOutputDir('saving a checkpoint');
    const step = this.globalStep;
    const bestName = this.bestStep === step ? checkpointName(step) : this.bestCheckpointName;
    const dist = plan.dist;
    const rngState = this.handle.getRngState();
    // Data-parallel: rank 0 alone writes (weights and optimizer state are identical on every rank), with every
    // rank's generator state gathered to it; the others wait at the barrier until the folder is complete.
    const rankRngStates = dist ? await this.gatherRngStates(dist, rngState) : undefined;
    let dir = path.join(outputDir, checkpointName(step));
    if (!dist || dist.isMain) {
      dir = await writeCheckpoint(outputDir, step, {
        saveModel: (tmp) => this.model.saveForTrainer(this.trainer, tmp, options.saveFormat),
        saveOptimizer: (file) => this.handle.saveOptimizerState(file),
        rngState,
        rankRngStates,
        scheduler: { ...plan.schedule, step },
        trainerState: this.trainerState(bestName),
      });
      if (options.saveTotalLimit !== undefined) await rotateCheckpoints(outputDir, options.saveTotalLimit, bestName);
    }
    if (dist) await dist.barrier();
    this.bestCheckpointName = bestName;
    this.lastSavedStep = step;
    const event: CheckpointEvent = { step, path: dir };
    this.trainer.emit('checkpoint', event);
    await options.callbacks.onCheckpoint?.(step, event);
    return dir;
  }

  /** Every rank's generator state, gathered to all through one all-reduce; ranks 1.. of them (for rank 0 to save). */
  private async gatherRngStates(dist: DistributedContext, own: Uint8Array): Promise<Uint8Array[]> {
    const n = own.length;
    const table = new Float64Array(dist.worldSize * (n + 1));
    table[dist.rank * (n + 1)] = n;
    own.forEach((byte, i) => (table[dist.rank * (n + 1) + 1 + i] = byte));
    const all = await dist.allReduceSum(table);
    const states: Uint8Array[] = [];
    for (let r = 1; r < dist.worldSize; r++) {
      if (all[r * (n + 1)] !== n)
        throw new Error(`rank ${r}'s generator state has ${all[r * (n + 1)]} bytes, rank ${dist.rank}'s ${n}; the ranks run different LibTorch builds`);
      states.push(Uint8Array.from(all.subarray(r * (n + 1) + 1, (r + 1) * (n + 1))));
    }
    return states;
  }

  private trainerState(bestName: string | null): TrainerStateJson {
    const { options, plan } = this;
    const position: DataPosition = { ...this.position, seed: options.seed, shuffle: options.shuffle };
    if (plan.groupByLength) position.groupByLength = true;
    if (this.position.epoch === this.startExample.epoch && this.startExample.start > 0) position.startExample = this.startExample.start;
    if (plan.dataset instanceof StreamingDataset) {
      // The epoch's remaining examples follow the ones consumed: whole batches, as the position is a step boundary.
      position.examples = this.position.batch * options.batchSize;
      position.shuffleBuffer = plan.dataset.shuffleBuffer;
    }
    const own: ResumeState = {
      version: 1,
      dataPosition: position,
      numExamples: plan.numExamples,
      batchSize: options.batchSize,
      gradientAccumulationSteps: options.gradientAccumulationSteps,
      stepsPerEpoch: plan.stepsPerEpoch,
      history: this.history as unknown as Record<string, unknown>[],
      metricForBestModel: options.metricForBestModel,
      greaterIsBetter: options.greaterIsBetter,
      bestStep: this.bestStep,
      bestCheckpointName: bestName,
      earlyStoppingCounter: this.earlyStoppingCounter,
    };
    if (plan.dist) own.worldSize = plan.dist.worldSize;
    return {
      global_step: this.globalStep,
      epoch: this.globalStep / plan.stepsPerEpoch,
      max_steps: plan.totalSteps,
      num_train_epochs: plan.numEpochs,
      logging_steps: options.logEvery,
      eval_steps: options.evalSteps ?? null,
      save_steps: options.saveSteps ?? null,
      train_batch_size: options.batchSize,
      log_history: this.history.map(transformersLogEntry),
      best_metric: this.bestMetric,
      best_global_step: this.bestStep,
      best_model_checkpoint: bestName === null || options.outputDir === undefined ? null : path.join(options.outputDir, bestName),
      bert_trainer: own,
    };
  }

  /** At a step boundary: saves a checkpoint (when outputDir is set) and rejects with an AbortError. */
  private async abortIfRequested(): Promise<void> {
    const signal = this.signal;
    const dist = this.plan.dist;
    if (dist) {
      // Data-parallel: the ranks agree (one small all-reduce per step) so that all stop at the same step, and
      // rank 0's checkpoint is complete before any rank stops; a rank stopping alone would leave the others waiting.
      const anyAborted = (await dist.allReduceSum(Float64Array.of(signal?.aborted ? 1 : 0)))[0] > 0;
      if (!anyAborted) return;
    } else if (!signal?.aborted) return;
    let checkpoint: string | undefined;
    if (this.options.outputDir !== undefined && this.globalStep > this.startStep) {
      // This step's checkpoint may exist already (the stop came right after an epoch's or a save step's checkpoint).
      checkpoint = this.lastSavedStep === this.globalStep ? path.join(this.options.outputDir, checkpointName(this.globalStep)) : await this.saveCheckpoint();
    }
    const saved = checkpoint !== undefined ? `; checkpoint saved to ${checkpoint}` : '';
    const where = dist && !signal?.aborted ? ' (by another rank)' : '';
    throw new AbortError(`fit() was aborted at step ${this.globalStep}${where}${saved}`, { cause: signal?.reason, checkpoint });
  }
}

// ---------------------------------------------------------------------------------------------------------------

// Typed overloads of EventEmitter's on() for Trainer's events (the class below implements them by inheritance).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Trainer {
  on(event: 'step', listener: (event: StepEvent) => void): this;
  on(event: 'epochEnd', listener: (event: EpochEndEvent) => void): this;
  on(event: 'evaluate', listener: (event: EvaluateEvent) => void): this;
  on(event: 'checkpoint', listener: (event: CheckpointEvent) => void): this;
  on(event: 'warning', listener: (event: WarningEvent) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
  once(event: 'step', listener: (event: StepEvent) => void): this;
  once(event: 'epochEnd', listener: (event: EpochEndEvent) => void): this;
  once(event: 'evaluate', listener: (event: EvaluateEvent) => void): this;
  once(event: 'checkpoint', listener: (event: CheckpointEvent) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Fine-tunes a BertClassifier like transformers' Trainer. Events ('step', 'epochEnd', 'evaluate', 'checkpoint')
 * are emitted synchronously from the training loop: a listener that throws rejects fit().
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Trainer extends EventEmitter {
  readonly model: BertClassifier;
  readonly options: Readonly<ResolvedTrainerOptions>;
  private running = false;
  private lastProblemType: ProblemType | undefined;
  // The data-parallel job, joined by the first fit()/evaluate() that needs it and kept until close().
  private joining: Promise<DistributedContext> | undefined;
  private readonly lengthCache = new WeakMap<Dataset, { tokenizer: unknown; maxLength: number | undefined; lengths: Int32Array }>();
  private readonly tokenCaches = new WeakMap<Dataset, { tokenizer: unknown; maxLength: number | undefined; cache: TokenRowCache }>();

  constructor(model: BertClassifier, options: TrainerOptions = {}) {
    super();
    if (!(model instanceof BertClassifier)) throw new TypeError('model must be a BertClassifier');
    this.model = model;
    this.options = Object.freeze(resolveTrainerOptions(options, { numLabels: model.numLabels, maxPositionEmbeddings: model.config.max_position_embeddings }));
  }

  /**
   * Trains on `train` (a Dataset or an array of examples). While it runs, the model is claimed: its forward,
   * predict and save reject, and another fit() on it rejects. Resolves with the history and final metrics.
   */
  async fit(train: TrainingData, fitOptions: FitOptions<TrainingData> = {}): Promise<FitResult> {
    if (this.running) throw new Error('fit() is already running on this Trainer; wait for it to settle');
    const fo = checkFitOptions(fitOptions);
    const dataset = toDataset(train, 'train');
    if (dataset instanceof Dataset && dataset.length === 0) throw new Error('the training dataset is empty (fit needs at least one example)');
    const evalDataset = fo.evalDataset === undefined ? undefined : toDataset(fo.evalDataset, 'evalDataset');
    if (evalDataset instanceof Dataset && evalDataset.length === 0) throw new Error('evalDataset is empty');
    if (fo.signal?.aborted) throw new AbortError('fit() was aborted before it started', { cause: fo.signal.reason });

    // Claimed synchronously, before the first await: from the moment fit() is called, predict/forward/save and
    // other fits on this model reject.
    const handle = this.model.claimForTraining(this);
    this.running = true;
    let attached = false;
    try {
      const dist = await this.distributedContext();
      if (dist) {
        handle.setProcessGroup(dist.group, Math.max(1, Math.round(dist.options.bucketCapMb * 2 ** 20)));
        attached = true;
      }
      const plan = await this.plan(dataset, evalDataset, dist);
      return await new FitRun(this, this.model, handle, this.options, plan, fo.signal).run(fo.resumeFrom);
    } finally {
      if (attached && !handle.disposed) handle.setProcessGroup(null);
      this.running = false;
      this.model.releaseFromTraining(this);
    }
  }

  /** This process's rank in the data-parallel job (0 for a single process): rank 0 is the one that should log and save. */
  get rank(): number {
    return this.options.distributed?.rank ?? 0;
  }

  /** Processes in the data-parallel job (1 for a single process). */
  get worldSize(): number {
    return this.options.distributed?.worldSize ?? 1;
  }

  /**
   * This process's place in the data-parallel job (options.distributed, or torchrun's environment), joined on
   * first use: resolves once every rank has connected, rejects after distributed.timeoutMs. undefined when the
   * Trainer runs as a single process.
   */
  async distributedContext(): Promise<DistributedContext | undefined> {
    const options = this.options.distributed;
    if (!options) return undefined;
    if (!this.joining) {
      this.joining = DistributedContext.join(options, this.model.device);
      // A failed rendezvous may be retried by a later call.
      this.joining.catch(() => {
        this.joining = undefined;
      });
    }
    return this.joining;
  }

  /** Leaves the data-parallel job (after a barrier, so that rank 0's rendezvous store outlives the others' use). */
  async close(): Promise<void> {
    const joining = this.joining;
    this.joining = undefined;
    if (!joining) return;
    const dist = await joining.catch(() => undefined);
    if (!dist) return;
    try {
      await dist.barrier();
    } finally {
      await dist.destroy();
    }
  }

  /**
   * Eval-mode pass over `dataset` (labels required): `{ loss, ...metrics }` — accuracy, f1 (macro), microF1,
   * perClass, confusionMatrix (single-label); subsetAccuracy, f1 (multi-label, sigmoid >= 0.5); mse, mae,
   * pearson, spearman (regression).
   */
  async evaluate(dataset: TrainingData, options: { batchSize?: number } = {}): Promise<EvaluationResult> {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const batchSize = options.batchSize ?? this.options.evalBatchSize;
    if (typeof batchSize !== 'number') throw new TypeError(`batchSize must be a positive integer, got ${String(batchSize)}`);
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    const ds = toDataset(dataset, 'dataset');
    if (ds instanceof Dataset && ds.length === 0) throw new Error('the evaluation dataset is empty');
    const handle = this.model.handleFor(this);
    const problemType = this.options.problemType ?? this.model.config.problem_type ?? this.lastProblemType ?? (await this.inferProblemType(ds));
    const ctx = this.encodeContext(problemType);
    if (ds instanceof Dataset) await checkExamples(ds, ctx, this.model, 'dataset');
    else checkStream(this.model, 'dataset');
    const weights = this.options.classWeights && problemType === 'single_label_classification' ? Float32Array.from(this.options.classWeights) : null;
    const dist = ds instanceof Dataset ? await this.distributedContext() : undefined;
    try {
      const cache = ds instanceof Dataset ? this.tokenCacheFor(ds, ctx) : undefined; // repeated evaluations tokenize once
      return await evaluateDataset(
        handle,
        ds,
        ctx,
        batchSize,
        weights,
        this.model.labels,
        this.options.prefetchBatches,
        this.options.mixedPrecision,
        dist,
        cache,
      );
    } catch (err) {
      throw ds instanceof StreamingDataset ? withPrefix(err, 'dataset') : err;
    }
  }

  private inferProblemType(data: Dataset | StreamingDataset): Promise<ProblemType> | ProblemType {
    return data instanceof Dataset ? inferProblemType(data, this.model.numLabels) : inferStreamProblemType(data, this.model.numLabels);
  }

  /**
   * An in-memory dataset's token rows (training or evaluation set), kept across epochs, evaluations and fits (same
   * tokenizer and maxLength) unless the dataset could hold more than TOKEN_CACHE_LIMIT tokens, when each pass
   * tokenizes again.
   */
  private tokenCacheFor(dataset: Dataset, ctx: EncodeContext): TokenRowCache | undefined {
    if (dataset.length * (ctx.maxLength ?? ctx.tokenizer?.maxLength ?? 512) > TOKEN_CACHE_LIMIT) return undefined;
    const cached = this.tokenCaches.get(dataset);
    if (cached && cached.tokenizer === ctx.tokenizer && cached.maxLength === ctx.maxLength) return cached.cache;
    const cache = new TokenRowCache();
    this.tokenCaches.set(dataset, { tokenizer: ctx.tokenizer, maxLength: ctx.maxLength, cache });
    return cache;
  }

  private async tokenLengthsOf(dataset: Dataset, ctx: EncodeContext): Promise<Int32Array> {
    const cached = this.lengthCache.get(dataset);
    if (cached && cached.tokenizer === ctx.tokenizer && cached.maxLength === ctx.maxLength) return cached.lengths;
    let lengths: Int32Array;
    try {
      // Tokenized into the dataset's token-row cache where it has one: the batches then reuse these rows.
      lengths = await tokenLengths(dataset.toArray(), ctx, undefined, undefined, this.tokenCacheFor(dataset, ctx));
    } catch (err) {
      throw withPrefix(err, 'train');
    }
    this.lengthCache.set(dataset, { tokenizer: ctx.tokenizer, maxLength: ctx.maxLength, lengths });
    return lengths;
  }

  private encodeContext(problemType: ProblemType): EncodeContext {
    const config = this.model.config;
    return {
      tokenizer: this.model.tokenizer,
      maxLength: this.options.maxLength,
      padTokenId: config.pad_token_id,
      problemType,
      numLabels: config.num_labels,
      label2id: config.label2id,
      requireLabels: true,
    };
  }

  /**
   * Problem type, strategies and step counts (transformers' arithmetic), after checking every example of an
   * in-memory dataset (a stream's rows are checked as they are read; its size comes from count()).
   */
  private async plan(
    dataset: Dataset | StreamingDataset,
    evalDataset: Dataset | StreamingDataset | undefined,
    dist: DistributedContext | undefined,
  ): Promise<RunPlan> {
    const o = this.options;
    const problemType = this.options.problemType ?? this.model.config.problem_type ?? (await this.inferProblemType(dataset));
    const evalStrategy = resolveEvalStrategy(o, evalDataset !== undefined, problemType);
    const ctx = this.encodeContext(problemType);
    for (const [data, name] of [
      [dataset, 'train'],
      [evalDataset, 'evalDataset'],
    ] as const) {
      if (data instanceof Dataset) await checkExamples(data, ctx, this.model, name);
      else if (data) checkStream(this.model, name);
    }
    const numExamples = await sizeOf(dataset);
    if (numExamples === 0) throw new Error('the training dataset is empty (fit needs at least one example)');
    this.lastProblemType = problemType;
    // In memory, length grouping needs every example's token length: one tokenizing pass into the token rows the
    // batches use, kept for later fits. 'auto' groups where plain shuffled batches would pad more than 20% (epoch 0's
    // order decides, the same on every rank); a stream's lengths are not known up front, so 'auto' leaves it ungrouped.
    const mayGroup = o.groupByLength === true || (o.groupByLength === 'auto' && o.shuffle);
    const allLengths = mayGroup && dataset instanceof Dataset ? await this.tokenLengthsOf(dataset, ctx) : undefined;
    const groupByLength =
      o.groupByLength === 'auto'
        ? allLengths !== undefined && groupingPays(allLengths, o.batchSize, epochOrder(numExamples, o.seed, 0, o.shuffle))
        : o.groupByLength;
    const lengths = groupByLength ? allLengths : undefined;

    // Data-parallel: steps per epoch follow each rank's shard (batchSize is per process, DistributedSampler pads).
    const numBatches = batchesPerRank(numExamples, dist?.worldSize ?? 1, o.batchSize);
    const stepsPerEpoch = Math.ceil(numBatches / o.gradientAccumulationSteps);
    const totalSteps = Math.ceil(o.epochs * stepsPerEpoch);
    const warmupSteps = resolveWarmupSteps({ warmupSteps: o.warmupSteps, warmupRatio: o.warmupRatio, totalSteps });
    return {
      dataset,
      numExamples,
      groupByLength,
      lengths,
      tokenCache: dataset instanceof Dataset ? this.tokenCacheFor(dataset, ctx) : undefined,
      evalDataset,
      evalTokenCache: evalDataset instanceof Dataset ? this.tokenCacheFor(evalDataset, ctx) : undefined,
      ctx,
      evalStrategy,
      classWeights: o.classWeights ? Float32Array.from(o.classWeights) : null,
      numBatches,
      stepsPerEpoch,
      totalSteps,
      numEpochs: Math.ceil(totalSteps / stepsPerEpoch),
      schedule: { type: o.lrScheduler, baseLr: o.learningRate, warmupSteps, totalSteps },
      dist,
    };
  }
}
