// The tables printed at the end of a command (cli-table3): the training summary, evaluation metrics, the per-label
// table and the confusion matrix. Colors are off so that logs and pipes get plain text.
import Table from 'cli-table3';

import { formatDuration, formatEpoch, formatMetric, formatRate } from './format';
import { MAX_SHOWN_CONFUSION_LABELS } from '../report/report';
import type { EvaluationResult, FitResult } from '../train/events';

/** No colors, and no rule between body rows (one line per row). */
const STYLE = {
  style: { head: [] as string[], border: [] as string[] },
  chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
};

/** A table in the CLI's style; `head` and alignments as cli-table3 takes them. */
export function newTable(options: { head?: string[]; colAligns?: ('left' | 'right' | 'center')[] } = {}): Table.Table {
  return new Table({ ...STYLE, ...options });
}

/** Steps, epochs, time, train loss, eval loss/accuracy/F1, samples/s. */
export function trainingSummary(metrics: FitResult['metrics'], evaluation: EvaluationResult | undefined): string {
  const table = newTable();
  const rows: [string, string][] = [
    ['steps', String(metrics.steps)],
    ['epochs', formatEpoch(metrics.epochs)],
    ['time', formatDuration(metrics.runtimeSeconds)],
    ['train loss', formatMetric(metrics.trainLoss)],
  ];
  if (evaluation) {
    rows.push(['eval loss', formatMetric(evaluation.loss)]);
    if (evaluation.accuracy !== undefined) rows.push(['eval accuracy', formatMetric(evaluation.accuracy)]);
    if (evaluation.f1 !== undefined) rows.push(['eval F1 (macro)', formatMetric(evaluation.f1)]);
  }
  rows.push(['samples/s', formatRate(metrics.samplesPerSecond)]);
  for (const row of rows) table.push(row);
  return table.toString();
}

/** The headline evaluation metrics: loss, accuracy, macro F1, macro precision and recall, examples, time. */
export function metricsTable(result: EvaluationResult): string {
  const table = newTable();
  const rows: [string, number | null | undefined][] = [
    ['loss', result.loss],
    ['accuracy', result.accuracy],
    ['F1 (macro)', result.f1],
    ['F1 (micro)', result.microF1],
    ['precision (macro)', result.macroPrecision],
    ['recall (macro)', result.macroRecall],
  ];
  for (const [name, value] of rows) if (value !== undefined) table.push([name, formatMetric(value)]);
  table.push(['examples', String(result.numExamples)], ['time', `${result.runtimeSeconds.toFixed(2)}s (${formatRate(result.samplesPerSecond)} samples/s)`]);
  return table.toString();
}

/** Precision, recall, F1 and support per label. */
export function perClassTable(perClass: NonNullable<EvaluationResult['perClass']>, labels: string[]): string {
  const table = newTable({ head: ['label', 'precision', 'recall', 'F1', 'support'], colAligns: ['left', 'right', 'right', 'right', 'right'] });
  for (const label of labels) {
    const m = perClass[label];
    if (m) table.push([label, formatMetric(m.precision), formatMetric(m.recall), formatMetric(m.f1), String(m.support)]);
  }
  return table.toString();
}

/** Rows: true labels; columns: predicted labels (a line instead when there are too many labels to print). */
export function confusionTable(matrix: number[][], labels: string[]): string {
  if (matrix.length > MAX_SHOWN_CONFUSION_LABELS)
    return `${matrix.length} labels: too many to print (more than ${MAX_SHOWN_CONFUSION_LABELS}); --json gives the matrix`;
  const table = newTable({ head: ['true \\ predicted', ...labels], colAligns: ['left', ...labels.map(() => 'right' as const)] });
  matrix.forEach((row, i) => table.push([labels[i], ...row.map(String)]));
  return table.toString();
}
