// The Trainer's options: their types, transformers' defaults (TrainingArguments), and validation. Every option is
// checked when the Trainer is built: a TypeError for a wrong type, a RangeError for a value out of range, and the
// message names the option. Checks that need the datasets (evaluation strategy, metric names) run in fit().
import { PROBLEM_TYPES, ProblemType } from '../model/config';
import { boolean, nonNegativeInteger, numberIn, oneOf, plainObject, positiveInteger, rejectUnknownKeys, show } from '../util/is';
import type { LrSchedulerType } from './schedule';
import { LR_SCHEDULER_TYPES } from './schedule';
import { SAVE_FORMATS, SaveFormat } from '../model/classifier';
import { DistributedOptions, ResolvedDistributedOptions, distributedFromEnv, resolveDistributedOption } from '../engine/distributed';
import type { EpochEndEvent, EvaluateEvent, FitResult, CheckpointEvent, StepEvent, TrainBeginLogs } from './events';
import type { WarningEvent } from './events';

/** When evaluation and checkpoints happen (transformers' IntervalStrategy). */
export const INTERVAL_STRATEGIES = ['no', 'steps', 'epoch'] as const;
export type IntervalStrategy = (typeof INTERVAL_STRATEGIES)[number];

/** transformers' EarlyStoppingCallback: stop after `patience` evaluations without an improvement > threshold. */
export interface EarlyStoppingOptions {
  /** early_stopping_patience: evaluations without improvement before training stops (>= 1). */
  patience: number;
  /** early_stopping_threshold: how much the metric must improve to count (default 0). */
  threshold?: number;
}

/**
 * tfjs-style callbacks, called in this order and awaited (they may be async); an error thrown by one rejects fit().
 * Epoch numbers given as the first argument are 0-based epoch indices; steps are 1-based optimizer steps.
 */
export interface TrainerCallbacks {
  onTrainBegin?(logs: TrainBeginLogs): unknown;
  onEpochBegin?(epoch: number, logs: { step: number }): unknown;
  /** After each logged optimizer step (every `logEvery` steps), with the 'step' event. */
  onStepEnd?(step: number, logs: StepEvent): unknown;
  /** tfjs' name for onStepEnd; called right after it. */
  onBatchEnd?(step: number, logs: StepEvent): unknown;
  onEpochEnd?(epoch: number, logs: EpochEndEvent): unknown;
  onEvaluate?(step: number, logs: EvaluateEvent): unknown;
  onCheckpoint?(step: number, logs: CheckpointEvent): unknown;
  /** When the run shows a sign of not learning (one class predicted for every held-out example, a flat loss). */
  onWarning?(warning: WarningEvent): unknown;
  /** When fit() completes (also after early stopping); not called when it rejects. */
  onTrainEnd?(logs: FitResult): unknown;
}

export interface TrainerOptions {
  /** num_train_epochs (default 3); may be fractional: total steps = ceil(epochs * stepsPerEpoch). */
  epochs?: number;
  /** Examples per micro-batch (per_device_train_batch_size, default 8). */
  batchSize?: number;
  /** Peak learning rate (default 5e-5). */
  learningRate?: number;
  /** AdamW weight decay (default 0), never applied to biases and LayerNorm weights. */
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  /** Gradient clipping norm (default 1.0); 0 disables clipping. */
  maxGradNorm?: number;
  /** Micro-batches per optimizer step (default 1); an epoch's last, partial group is stepped too. */
  gradientAccumulationSteps?: number;
  lrScheduler?: LrSchedulerType;
  /** Warm-up steps (default 0); when 0, warmupRatio decides. */
  warmupSteps?: number;
  /** Fraction of the total steps used to warm up (default 0), rounded up. */
  warmupRatio?: number;
  /** Seeds the data order and LibTorch's generator (dropout) at the start of a fresh fit (default 42). */
  seed?: number;
  /** Shuffle the training set each epoch (default true). */
  shuffle?: boolean;
  /** Truncation length for texts (default: the tokenizer's maxLength); pre-tokenized rows must not be longer. */
  maxLength?: number;
  /** Default: config.problem_type, else inferred like transformers (1 label: regression; array labels: multi-label). */
  problemType?: ProblemType;
  /** Cross-entropy class weights, one per label (single-label classification only). */
  classWeights?: number[];
  /**
   * Emit 'step' every this many optimizer steps (default 1), with the mean loss since the previous one. Losses are
   * read back from the native side only at these log points (and at evaluations, checkpoints, epoch ends and the
   * last step); other steps leave theirs on the device, which on a CUDA build avoids a synchronisation per step.
   */
  logEvery?: number;
  /** When to evaluate on fit's evalDataset: default 'epoch' when one is given ('steps' when evalSteps is set). */
  evalStrategy?: IntervalStrategy;
  evalSteps?: number;
  /** Default batchSize. */
  evalBatchSize?: number;
  /** Where checkpoints go (outputDir/checkpoint-<step>). */
  outputDir?: string;
  /** Default 'epoch' when outputDir is set ('steps' when saveSteps is set), else 'no'. */
  saveStrategy?: IntervalStrategy;
  saveSteps?: number;
  /** Keep at most this many checkpoints (oldest deleted first; the best one is kept). */
  saveTotalLimit?: number;
  /** Weights format of checkpoints (default 'safetensors'). */
  saveFormat?: SaveFormat;
  /** Reload the best checkpoint's weights when training ends (needs matching eval and save strategies). */
  loadBestModelAtEnd?: boolean;
  /** 'loss' (default, transformers' eval_loss) or a metric of evaluate() such as 'accuracy' or 'f1'. */
  metricForBestModel?: string;
  /** Default: false for names ending in 'loss', true otherwise. */
  greaterIsBetter?: boolean;
  earlyStopping?: EarlyStoppingOptions;
  /** Skip steps whose loss or gradient is NaN/inf instead of rejecting (default false). */
  skipNonFiniteLoss?: boolean;
  callbacks?: TrainerCallbacks;
  /**
   * Batches tokenized ahead of the training step (default 4): a producer encodes the next batches while the native
   * step runs, bounded so that memory stays flat. 0 encodes each batch only when the step asks for it.
   */
  prefetchBatches?: number;
  /**
   * transformers' group_by_length: batches of similar token lengths, so that dynamic padding pads little. Each
   * epoch's seeded random order is cut into mega-batches (batchSize * 50 examples on large datasets), each sorted by
   * length, longest first; the order stays exactly reproducible (and resumable). In-memory datasets are tokenized up
   * front to know their lengths (into the token rows the batches then reuse); a streaming dataset sorts each
   * mega-batch of its shuffled stream.
   * Default 'auto' (with `shuffle`; false without): an in-memory dataset is grouped when its plain shuffled batches
   * would be more than 20% padding (short, long-tailed texts), not otherwise; a stream is not grouped.
   */
  groupByLength?: boolean | 'auto';
  /**
   * 'bf16': matrix products of training steps and evaluation in bfloat16 through LibTorch's autocast, with fp32
   * weights, gradients, optimizer state and loss (on CPUs with AVX512-BF16/AMX several times faster than fp32; see
   * BENCHMARKS.md for speed and accuracy). Default 'no': fp32 throughout, PyTorch's numbers.
   */
  mixedPrecision?: MixedPrecision;
  /**
   * On a GPU, run each training step as a CUDA graph (default true): one launch per step instead of a thousand kernel
   * launches from the host, for steps of one batch (gradientAccumulationSteps 1) without fp16 loss scaling or data
   * parallelism. Each batch shape's first step runs eagerly, its second is captured; 8 graphs are kept, for the
   * shapes stepped most (FitResult.metrics.cudaGraphs counts them). Ignored on the CPU.
   */
  cudaGraphs?: boolean;
  /**
   * Data-parallel training (DistributedDataParallel): this process's rank, the world size and the rendezvous
   * address. Default: torchrun's environment variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) when WORLD_SIZE
   * is set, as `bert-trainer launch` sets them; false ignores them. batchSize is per process.
   */
  distributed?: DistributedOptions | false;
}

export const MIXED_PRECISIONS = ['no', 'bf16', 'fp16'] as const;
export type MixedPrecision = (typeof MIXED_PRECISIONS)[number];

/** TrainerOptions with every default filled in (strategies that depend on fit's datasets stay undefined). */
export interface ResolvedTrainerOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  maxGradNorm: number;
  gradientAccumulationSteps: number;
  lrScheduler: LrSchedulerType;
  warmupSteps: number;
  warmupRatio: number;
  seed: number;
  shuffle: boolean;
  maxLength: number | undefined;
  problemType: ProblemType | undefined;
  classWeights: number[] | undefined;
  logEvery: number;
  /** undefined: decided by fit() from whether an evalDataset is given. */
  evalStrategy: IntervalStrategy | undefined;
  evalSteps: number | undefined;
  evalBatchSize: number;
  outputDir: string | undefined;
  saveStrategy: IntervalStrategy;
  saveSteps: number | undefined;
  saveTotalLimit: number | undefined;
  saveFormat: SaveFormat;
  loadBestModelAtEnd: boolean;
  /** Without transformers' 'eval_' prefix. */
  metricForBestModel: string;
  greaterIsBetter: boolean;
  earlyStopping: { patience: number; threshold: number } | undefined;
  skipNonFiniteLoss: boolean;
  callbacks: TrainerCallbacks;
  prefetchBatches: number;
  /** 'auto' is decided by fit() from the data (RunPlan.groupByLength). */
  groupByLength: boolean | 'auto';
  mixedPrecision: MixedPrecision;
  cudaGraphs: boolean;
  /** undefined: a single process. */
  distributed: ResolvedDistributedOptions | undefined;
}

/** What the options are checked against: the model's shape. */
export interface ModelLimits {
  numLabels: number;
  maxPositionEmbeddings: number;
}

const CALLBACK_NAMES = [
  'onTrainBegin',
  'onEpochBegin',
  'onStepEnd',
  'onBatchEnd',
  'onEpochEnd',
  'onEvaluate',
  'onCheckpoint',
  'onWarning',
  'onTrainEnd',
] as const;

/** The metrics evaluate() returns for each problem type (metricForBestModel must be one of these). */
export const METRIC_NAMES: Record<ProblemType, readonly string[]> = {
  single_label_classification: ['loss', 'accuracy', 'f1', 'microF1', 'macroPrecision', 'macroRecall'],
  multi_label_classification: ['loss', 'subsetAccuracy', 'accuracy', 'f1', 'macroF1'],
  regression: ['loss', 'mse', 'mae', 'rmse', 'pearson', 'spearman'],
};

function groupByLengthOption(value: unknown, shuffle: boolean): boolean | 'auto' {
  if (value === undefined) return shuffle ? 'auto' : false;
  if (value === 'auto' || typeof value === 'boolean') return value;
  throw new TypeError(`groupByLength must be true, false or 'auto', got ${show(value)}`);
}

const OPTION_NAMES: readonly (keyof TrainerOptions)[] = [
  'epochs',
  'batchSize',
  'learningRate',
  'weightDecay',
  'adamBeta1',
  'adamBeta2',
  'adamEpsilon',
  'maxGradNorm',
  'gradientAccumulationSteps',
  'lrScheduler',
  'warmupSteps',
  'warmupRatio',
  'seed',
  'shuffle',
  'maxLength',
  'problemType',
  'classWeights',
  'logEvery',
  'evalStrategy',
  'evalSteps',
  'evalBatchSize',
  'outputDir',
  'saveStrategy',
  'saveSteps',
  'saveTotalLimit',
  'saveFormat',
  'loadBestModelAtEnd',
  'metricForBestModel',
  'greaterIsBetter',
  'earlyStopping',
  'skipNonFiniteLoss',
  'callbacks',
  'prefetchBatches',
  'groupByLength',
  'mixedPrecision',
  'cudaGraphs',
  'distributed',
];

function classWeightsOption(value: unknown, limits: ModelLimits): number[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`classWeights must be an array of ${limits.numLabels} numbers (one per label), got ${show(value)}`);
  value.forEach((w: unknown, i) => {
    if (typeof w !== 'number') throw new TypeError(`classWeights[${i}] must be a number, got ${show(w)}`);
    if (!Number.isFinite(w) || w < 0) throw new RangeError(`classWeights[${i}] must be a finite non-negative number, got ${show(w)}`);
  });
  if (value.length !== limits.numLabels) {
    throw new RangeError(`classWeights has ${value.length} values, but the model has ${limits.numLabels} labels`);
  }
  if (!value.some((w) => w > 0)) throw new RangeError('classWeights must have at least one positive weight');
  return [...(value as number[])];
}

function earlyStoppingOption(value: unknown): { patience: number; threshold: number } | undefined {
  if (value === undefined) return undefined;
  const object = plainObject(value, 'earlyStopping');
  rejectUnknownKeys(object, ['patience', 'threshold'], 'earlyStopping');
  if (object.patience === undefined) throw new TypeError('earlyStopping.patience is required (a positive integer)');
  return {
    patience: positiveInteger(object.patience, 'earlyStopping.patience') as number,
    threshold: numberIn(object.threshold, 'earlyStopping.threshold', 0, 0, Infinity),
  };
}

function callbacksOption(value: unknown): TrainerCallbacks {
  if (value === undefined) return {};
  const object = plainObject(value, 'callbacks');
  rejectUnknownKeys(object, CALLBACK_NAMES, 'callbacks');
  for (const name of CALLBACK_NAMES) {
    if (object[name] !== undefined && typeof object[name] !== 'function') {
      throw new TypeError(`callbacks.${name} must be a function, got ${show(object[name])}`);
    }
  }
  return object as TrainerCallbacks;
}

function metricOption(value: unknown): string {
  if (value === undefined) return 'loss';
  if (typeof value !== 'string') throw new TypeError(`metricForBestModel must be a metric name such as 'loss' or 'accuracy', got ${show(value)}`);
  const name = value.startsWith('eval_') ? value.slice('eval_'.length) : value;
  if (name === '') throw new RangeError("metricForBestModel must be a metric name such as 'loss' or 'accuracy', got \"\"");
  return name;
}

/** Checks every option and fills in transformers' defaults. */
export function resolveTrainerOptions(options: unknown, limits: ModelLimits): ResolvedTrainerOptions {
  const o = options === undefined ? {} : plainObject(options, 'options');
  rejectUnknownKeys(o, OPTION_NAMES, 'options');

  const epochs = numberIn(o.epochs, 'epochs', 3, 0, Infinity);
  if (epochs === 0) throw new RangeError('epochs must be a positive number, got 0');
  const batchSize = positiveInteger(o.batchSize, 'batchSize', 8);
  const maxLength = positiveInteger(o.maxLength, 'maxLength');
  if (maxLength !== undefined && maxLength > limits.maxPositionEmbeddings) {
    throw new RangeError(`maxLength (${maxLength}) exceeds the model's max_position_embeddings (${limits.maxPositionEmbeddings})`);
  }
  const problemType = oneOf(o.problemType, 'problemType', PROBLEM_TYPES);
  const classWeights = classWeightsOption(o.classWeights, limits);
  if (classWeights && problemType !== undefined && problemType !== 'single_label_classification') {
    throw new RangeError(`classWeights applies to single_label_classification (cross-entropy) only, not ${problemType}`);
  }

  const evalSteps = positiveInteger(o.evalSteps, 'evalSteps');
  const evalStrategy = oneOf(o.evalStrategy, 'evalStrategy', INTERVAL_STRATEGIES);
  if (evalStrategy === 'steps' && evalSteps === undefined) throw new RangeError("evalSteps is required when evalStrategy is 'steps'");

  let outputDir: string | undefined;
  if (o.outputDir !== undefined) {
    if (typeof o.outputDir !== 'string') throw new TypeError(`outputDir must be a string (a folder path), got ${show(o.outputDir)}`);
    if (o.outputDir === '') throw new RangeError('outputDir must be a non-empty path');
    outputDir = o.outputDir;
  }
  const saveSteps = positiveInteger(o.saveSteps, 'saveSteps');
  const defaultSave: IntervalStrategy = outputDir === undefined ? 'no' : saveSteps !== undefined ? 'steps' : 'epoch';
  const saveStrategy = oneOf(o.saveStrategy, 'saveStrategy', INTERVAL_STRATEGIES, defaultSave);
  if (saveStrategy !== 'no' && outputDir === undefined) throw new RangeError(`saveStrategy '${saveStrategy}' needs outputDir`);
  if (saveStrategy === 'steps' && saveSteps === undefined) throw new RangeError("saveSteps is required when saveStrategy is 'steps'");

  const loadBestModelAtEnd = boolean(o.loadBestModelAtEnd, 'loadBestModelAtEnd', false);
  if (loadBestModelAtEnd && saveStrategy === 'no') {
    throw new RangeError("loadBestModelAtEnd needs checkpoints: set outputDir (and a saveStrategy other than 'no')");
  }
  const metricForBestModel = metricOption(o.metricForBestModel);
  const shuffle = boolean(o.shuffle, 'shuffle', true);
  // 'auto' wherever the order is random anyway (grouping keeps the randomness: a seeded permutation, then sorting
  // within mega-batches); with shuffle off the order is the dataset's own unless grouping is asked for.
  const groupByLength = groupByLengthOption(o.groupByLength, shuffle);
  const distributed = o.distributed === false ? undefined : o.distributed === undefined ? distributedFromEnv() : resolveDistributedOption(o.distributed);

  return {
    epochs,
    batchSize,
    learningRate: numberIn(o.learningRate, 'learningRate', 5e-5, 0, 1e3),
    weightDecay: numberIn(o.weightDecay, 'weightDecay', 0, 0, 1e6),
    adamBeta1: numberIn(o.adamBeta1, 'adamBeta1', 0.9, 0, 1, true),
    adamBeta2: numberIn(o.adamBeta2, 'adamBeta2', 0.999, 0, 1, true),
    adamEpsilon: numberIn(o.adamEpsilon, 'adamEpsilon', 1e-8, 0, 1),
    maxGradNorm: numberIn(o.maxGradNorm, 'maxGradNorm', 1.0, 0, 1e12),
    gradientAccumulationSteps: positiveInteger(o.gradientAccumulationSteps, 'gradientAccumulationSteps', 1),
    lrScheduler: oneOf(o.lrScheduler, 'lrScheduler', LR_SCHEDULER_TYPES, 'linear'),
    warmupSteps: nonNegativeInteger(o.warmupSteps, 'warmupSteps', 0),
    warmupRatio: numberIn(o.warmupRatio, 'warmupRatio', 0, 0, 1),
    seed: nonNegativeInteger(o.seed, 'seed', 42),
    shuffle,
    maxLength,
    problemType,
    classWeights,
    logEvery: positiveInteger(o.logEvery, 'logEvery', 1),
    evalStrategy: evalStrategy ?? (evalSteps !== undefined ? 'steps' : undefined),
    evalSteps,
    evalBatchSize: positiveInteger(o.evalBatchSize, 'evalBatchSize', batchSize),
    outputDir,
    saveStrategy,
    saveSteps,
    saveTotalLimit: positiveInteger(o.saveTotalLimit, 'saveTotalLimit'),
    saveFormat: oneOf(o.saveFormat, 'saveFormat', SAVE_FORMATS, 'safetensors'),
    loadBestModelAtEnd,
    metricForBestModel,
    greaterIsBetter: boolean(o.greaterIsBetter, 'greaterIsBetter', !metricForBestModel.endsWith('loss')),
    earlyStopping: earlyStoppingOption(o.earlyStopping),
    skipNonFiniteLoss: boolean(o.skipNonFiniteLoss, 'skipNonFiniteLoss', false),
    callbacks: callbacksOption(o.callbacks),
    prefetchBatches: nonNegativeInteger(o.prefetchBatches, 'prefetchBatches', 4),
    groupByLength,
    distributed,
    mixedPrecision: oneOf(o.mixedPrecision, 'mixedPrecision', MIXED_PRECISIONS, 'no'),
    cudaGraphs: boolean(o.cudaGraphs, 'cudaGraphs', true),
  };
}

/**
 * The checks that depend on fit()'s arguments: the evaluation strategy (default 'epoch' with an evalDataset),
 * early stopping and loadBestModelAtEnd (transformers' rules), and the metric name for the problem type.
 */
export function resolveEvalStrategy(options: ResolvedTrainerOptions, hasEvalDataset: boolean, problemType: ProblemType): IntervalStrategy {
  const strategy = options.evalStrategy ?? (hasEvalDataset ? 'epoch' : 'no');
  if (strategy !== 'no' && !hasEvalDataset) {
    throw new Error(`evalStrategy '${strategy}' needs an evalDataset: fit(train, { evalDataset })`);
  }
  if (options.earlyStopping && strategy === 'no') {
    throw new Error("earlyStopping needs evaluations: pass fit(train, { evalDataset }) and an evalStrategy other than 'no'");
  }
  if (options.loadBestModelAtEnd) {
    if (strategy === 'no') throw new Error('loadBestModelAtEnd needs evaluations: pass fit(train, { evalDataset })');
    if (strategy !== options.saveStrategy) {
      throw new RangeError(
        `loadBestModelAtEnd needs saveStrategy to match evalStrategy, got saveStrategy '${options.saveStrategy}' and evalStrategy '${strategy}'`,
      );
    }
    if (strategy === 'steps' && (options.saveSteps as number) % (options.evalSteps as number) !== 0) {
      throw new RangeError(`loadBestModelAtEnd needs saveSteps (${options.saveSteps}) to be a multiple of evalSteps (${options.evalSteps})`);
    }
  }
  if (strategy !== 'no' && !METRIC_NAMES[problemType].includes(options.metricForBestModel)) {
    throw new RangeError(
      `metricForBestModel ${JSON.stringify(options.metricForBestModel)} is not a metric of ${problemType} (one of ${METRIC_NAMES[problemType].join(', ')})`,
    );
  }
  if (options.classWeights && problemType !== 'single_label_classification') {
    throw new RangeError(`classWeights applies to single_label_classification (cross-entropy) only, not ${problemType}`);
  }
  return strategy;
}

// --- fit() options ------------------------------------------------------------------------------------------

export interface FitOptions<D = unknown> {
  /** Evaluated per evalStrategy; its metrics feed metricForBestModel and early stopping. */
  evalDataset?: D;
  /** A checkpoint folder (outputDir/checkpoint-<step>) to continue from, or true for the newest one in outputDir. */
  resumeFrom?: string | true;
  /** Stops at the next step boundary, saves a checkpoint when outputDir is set, and rejects with an AbortError. */
  signal?: AbortSignal;
}

export function checkFitOptions(options: unknown): FitOptions {
  const o = options === undefined ? {} : plainObject(options, 'fit options');
  rejectUnknownKeys(o, ['evalDataset', 'resumeFrom', 'signal'], 'fit options');
  if (o.resumeFrom !== undefined && o.resumeFrom !== true && (typeof o.resumeFrom !== 'string' || o.resumeFrom === '')) {
    throw new TypeError(`resumeFrom must be a checkpoint folder path or true (the newest checkpoint in outputDir), got ${show(o.resumeFrom)}`);
  }
  if (o.signal !== undefined && (o.signal === null || typeof o.signal !== 'object' || typeof (o.signal as AbortSignal).aborted !== 'boolean')) {
    throw new TypeError(`signal must be an AbortSignal, got ${show(o.signal)}`);
  }
  return o as FitOptions;
}
