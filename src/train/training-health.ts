// Signs that a run is not learning, said while it runs: a model that answers one class for every held-out example,
// or a training loss that ends its first epoch where it started. Both usually mean a learning rate too high for the
// batch size (or no warm-up), and the run would otherwise end with a majority-class model and no word about it.
import { mean } from './metrics';
import type { Label } from '../data/example';
import type { EvaluationResult, TrainingFix, TrainingWarningCode, WarningEvent } from './events';

const FIXES: TrainingFix[] = ['learningRate', 'batchSize', 'warmupRatio'];

/** Share of an epoch's steps averaged at each end of the loss comparison (at least one step). */
const WINDOW_FRACTION = 0.2;
/** Fewer steps than this in the first epoch: too few to tell a flat loss from noise, so no verdict. */
const MIN_STEPS = 10;
/** The end-of-epoch loss must be below this share of the starting loss to count as having moved. */
const MOVED_RATIO = 0.98;

const fixText = 'a lower learningRate, a larger batchSize or a warmupRatio (e.g. 0.1) usually fixes it';

/**
 * The warning for one-class predictions of an evaluation (null when the predictions use more than one class);
 * also for an evaluation made outside fit(), such as the CLI's final one.
 */
export function singleClassWarning(metrics: EvaluationResult, labels: readonly string[], step: number, epoch: number): WarningEvent | null {
  const single = singleClassPredictions(metrics, labels);
  if (single === null) return null;
  const accuracy = metrics.accuracy === undefined ? '' : ` (accuracy ${metrics.accuracy.toFixed(4)} is that class's share)`;
  return warning(
    'SINGLE_CLASS_PREDICTIONS',
    step,
    epoch,
    `every one of the ${single.count} evaluation predictions is ${JSON.stringify(single.label)}${accuracy}: the model has collapsed to one class`,
  );
}

/**
 * The warning for single-label training data whose examples all have one class (null otherwise, and for data with
 * no class labels): the model can only learn to answer that class.
 */
export function singleClassDataWarning(labels: Iterable<Label | undefined>, labelNames: readonly string[], epoch: number): WarningEvent | null {
  let only: string | undefined;
  let count = 0;
  for (const label of labels) {
    if (label === undefined) continue;
    if (Array.isArray(label) || (typeof label === 'number' && !Number.isInteger(label))) return null;
    const name = typeof label === 'number' ? (labelNames[label] ?? String(label)) : label;
    if (only !== undefined && name !== only) return null;
    only = name;
    count += 1;
  }
  if (only === undefined) return null;
  const detail = `every one of the ${count} training examples has the label ${JSON.stringify(only)}: the model can only learn to answer it`;
  return { type: 'warning', code: 'SINGLE_CLASS_TRAINING_DATA', step: 0, epoch, detail, message: `${detail}; give it examples of other classes`, fixes: [] };
}

function warning(code: TrainingWarningCode, step: number, epoch: number, detail: string): WarningEvent {
  return { type: 'warning', code, step, epoch, detail, message: `${detail}; ${fixText}`, fixes: [...FIXES] };
}

/**
 * The predictions of a single-label evaluation all fall in one class (read from its confusion matrix, whose rows
 * are true classes and columns predictions), when the held-out set has more than one true class; null otherwise.
 */
export function singleClassPredictions(metrics: EvaluationResult, labels: readonly string[]): { label: string; count: number } | null {
  const matrix = metrics.confusionMatrix;
  if (metrics.problemType !== 'single_label_classification' || !matrix || matrix.length < 2) return null;
  const predicted = matrix[0].map((_, column) => matrix.reduce((sum, row) => sum + row[column], 0));
  const trueClasses = matrix.filter((row) => row.some((n) => n > 0)).length;
  const used = predicted.filter((n) => n > 0);
  if (trueClasses < 2 || used.length !== 1) return null;
  const column = predicted.findIndex((n) => n > 0);
  return { label: labels[column] ?? String(column), count: predicted[column] };
}

/** Watches one fit() call; each kind of warning is given once per call. */
export class TrainingHealth {
  private readonly epochLosses: number[] = [];
  private readonly given = new Set<TrainingWarningCode>();
  private firstEpochChecked = false;

  /** A step's loss (every step's, in order; non-finite ones are left out). */
  observeLoss(loss: number): void {
    if (Number.isFinite(loss)) this.epochLosses.push(loss);
  }

  /**
   * At the end of an epoch: the first completed epoch's loss, averaged over its last steps, against its first
   * steps. Later epochs are not judged (a run that learned in epoch 1 may flatten later, as it should).
   */
  epochEnded(step: number, epoch: number): WarningEvent | null {
    const losses = this.epochLosses.splice(0);
    if (this.firstEpochChecked) return null;
    this.firstEpochChecked = true;
    if (losses.length < MIN_STEPS) return null;
    const window = Math.max(1, Math.floor(losses.length * WINDOW_FRACTION));
    const start = mean(losses.slice(0, window));
    const end = mean(losses.slice(-window));
    if (!(end >= MOVED_RATIO * start)) return null;
    return this.give(
      warning(
        'LOSS_NOT_DECREASING',
        step,
        epoch,
        `the training loss has not moved in the first epoch (${start.toFixed(4)} over its first ${window} steps, ` +
          `${end.toFixed(4)} over its last ${window}): the model is not learning`,
      ),
    );
  }

  /**
   * After an evaluation: every prediction in one class. Judged from the second half of the run on (`totalSteps`):
   * a model trained from scratch often answers the majority class for a while before it learns, so an early
   * one-class evaluation is not yet a verdict.
   */
  evaluated(metrics: EvaluationResult, labels: readonly string[], step: number, epoch: number, totalSteps: number): WarningEvent | null {
    if (2 * step < totalSteps) return null;
    return this.give(singleClassWarning(metrics, labels, step, epoch));
  }

  private give(w: WarningEvent | null): WarningEvent | null {
    if (w === null || this.given.has(w.code)) return null;
    this.given.add(w.code);
    return w;
  }
}
