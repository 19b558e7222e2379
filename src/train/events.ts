// What a training run reports: the events the Trainer emits (and passes to its callbacks) and what fit() and
// evaluate() resolve with. Types only; the dispatch is src/train/trainer-events.ts.
import type { ProblemType } from '../model/config';
import type { CudaGraphStats } from '../engine/native';
import type { ClassMetrics } from './metrics';

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
  /**
   * True when a step since the previous log point skipped its update: for a non-finite loss (skipNonFiniteLoss), or
   * because fp16's loss scaling found an overflow (the learning-rate schedule then does not advance either).
   */
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

/** What evaluate() returns: the loss plus the metrics of the problem type (src/train/metrics.ts). */
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
    /** On a GPU: how the steps used CUDA graphs (TrainerOptions.cudaGraphs); null on the CPU. */
    cudaGraphs: CudaGraphStats | null;
  };
  /** The best checkpoint by metricForBestModel, when one was saved. */
  bestCheckpoint?: { path: string; step: number; metric: string; value: number };
}

/** The settings that usually bring a collapsed run back, as TrainerOptions names them. */
export type TrainingFix = 'learningRate' | 'batchSize' | 'warmupRatio';

/**
 * SINGLE_CLASS_PREDICTIONS and LOSS_NOT_DECREASING: the run is not learning. SINGLE_CLASS_TRAINING_DATA: every
 * training example has the same class, so there is nothing to tell apart (given at step 0, with no fixes).
 */
export type TrainingWarningCode = 'SINGLE_CLASS_PREDICTIONS' | 'LOSS_NOT_DECREASING' | 'SINGLE_CLASS_TRAINING_DATA';

export interface WarningEvent {
  type: 'warning';
  code: TrainingWarningCode;
  /** Optimizer step at which it was noticed. */
  step: number;
  epoch: number;
  /** What was seen, with the numbers. */
  detail: string;
  /** detail, and what to change (TrainerOptions' names). */
  message: string;
  /** The options that usually fix it, most likely first. */
  fixes: TrainingFix[];
}
