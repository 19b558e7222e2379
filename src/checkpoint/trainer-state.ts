// What a Trainer checkpoint records about the run, beside the model and optimizer: scheduler.json and
// trainer_state.json (transformers' TrainerState fields, plus `bert_trainer`, what resuming needs beyond them), and
// the translation of the run's history to and from transformers' log_history.
import type { EvaluateEvent, HistoryEntry, StepEvent } from '../train/events';
import type { LrSchedulerType } from '../train/schedule';

export interface SchedulerState {
  type: LrSchedulerType;
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  /**
   * Scheduler steps taken: the next step uses learningRateAt(step). The optimizer steps done (trainer_state.json's
   * global_step) less those of an fp16 run that the GradScaler skipped for an overflow, after which transformers does
   * not step its scheduler either.
   */
  step: number;
}

/**
 * Where the data loop stands: the next micro-batch is batch `batch` of epoch `epoch`'s order, which follows from
 * (seed, epoch, shuffle): batchesOf(epochOrder(n, seed, epoch, shuffle), ...) in memory, length-grouped when
 * `groupByLength`; for a streaming dataset, the shuffle buffer's order, of which `examples` have been consumed.
 */
export interface DataPosition {
  epoch: number;
  batch: number;
  seed: number;
  shuffle: boolean;
  /** Present (true) when batches were length-grouped. */
  groupByLength?: boolean;
  /**
   * Streaming datasets: examples of this epoch's order already consumed (read past on resume, not trained on); of
   * each rank's share in a data-parallel run.
   */
  examples?: number;
  /** Streaming datasets: the shuffle buffer size the epoch's order depends on. */
  shuffleBuffer?: number;
  /**
   * Data-parallel runs: examples of the epoch's (padded) order skipped before this world size's batch 0, when a
   * run resumed mid-epoch with a different number of processes (absent: 0).
   */
  startExample?: number;
}

/** bert-trainer's own part of trainer_state.json: what resuming needs beyond transformers' fields. */
export interface ResumeState {
  version: 1;
  dataPosition: DataPosition;
  numExamples: number;
  batchSize: number;
  gradientAccumulationSteps: number;
  stepsPerEpoch: number;
  /** The run's history so far (StepEvent / EvaluateEvent objects; non-finite numbers saved as null). */
  history: Record<string, unknown>[];
  metricForBestModel: string;
  greaterIsBetter: boolean;
  bestStep: number | null;
  /** Folder name (checkpoint-<step>) of the best checkpoint, relative to outputDir. */
  bestCheckpointName: string | null;
  earlyStoppingCounter: number;
  /** Processes of the data-parallel run that wrote it (absent: 1); batchSize and dataPosition.batch are per process. */
  worldSize?: number;
}

/** trainer_state.json: transformers' TrainerState fields plus `bert_trainer`. */
export interface TrainerStateJson {
  global_step: number;
  epoch: number;
  max_steps: number;
  num_train_epochs: number;
  logging_steps: number;
  eval_steps: number | null;
  save_steps: number | null;
  train_batch_size: number;
  log_history: Record<string, unknown>[];
  best_metric: number | null;
  best_global_step: number | null;
  best_model_checkpoint: string | null;
  bert_trainer: ResumeState;
}

/** transformers' log_history entry for a history entry: flat numbers, eval metrics prefixed with eval_. */
export function transformersLogEntry(entry: HistoryEntry): Record<string, unknown> {
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
export function restoreHistory(saved: Record<string, unknown>[]): HistoryEntry[] {
  return saved.map((entry) => {
    if (entry.type !== 'step') return entry as unknown as EvaluateEvent;
    const e = { ...entry } as Record<string, unknown>;
    for (const key of ['loss', 'learningRate', 'gradNorm', 'samplesPerSecond', 'tokensPerSecond', 'dataWaitFraction']) if (e[key] === null) e[key] = NaN;
    return e as unknown as StepEvent;
  });
}
