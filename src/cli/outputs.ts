// What a train run leaves in --output besides the model: metrics.json (the final held-out metrics under their usual
// names — accuracy, f1 (macro), loss — plus the rest and the training totals) and the report's data.
import * as path from 'path';

import { writeFileAtomic } from '../util/atomic-write';
import type { ReportEvaluation, ReportStep } from '../report/report';
import type { EvaluationResult, FitResult, HistoryEntry } from '../train/events';
import type { WarningEvent } from '../train/events';

export const METRICS_FILE = 'metrics.json';

/** JSON cannot hold NaN or Infinity: they become null instead of breaking the file. */
export function finiteOrNull(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

export async function writeMetrics(
  dir: string,
  evaluation: EvaluationResult | undefined,
  fit: FitResult['metrics'],
  labels: string[],
  warnings: readonly WarningEvent[] = [],
): Promise<string> {
  const file = path.join(dir, METRICS_FILE);
  const content = {
    ...(evaluation ?? {}),
    labels,
    warnings: warnings.map((w) => ({ code: w.code, step: w.step, message: w.message })),
    train: {
      loss: fit.trainLoss,
      steps: fit.steps,
      epochs: fit.epochs,
      runtimeSeconds: fit.runtimeSeconds,
      samplesPerSecond: fit.samplesPerSecond,
      stoppedEarly: fit.stoppedEarly,
    },
  };
  await writeFileAtomic(file, `${JSON.stringify(content, finiteOrNull, 2)}\n`);
  return file;
}

/** The logged steps and evaluations of a history, in the report's shape. */
export function reportHistory(history: readonly HistoryEntry[]): { steps: ReportStep[]; evaluations: ReportEvaluation[] } {
  const steps: ReportStep[] = [];
  const evaluations: ReportEvaluation[] = [];
  for (const entry of history) {
    if (entry.type === 'step') {
      steps.push({
        step: entry.step,
        epoch: entry.epoch,
        loss: entry.loss,
        learningRate: entry.learningRate,
        gradNorm: entry.gradNorm,
        samplesPerSecond: entry.samplesPerSecond,
      });
    } else {
      evaluations.push({ step: entry.step, epoch: entry.epoch, metrics: { ...entry.metrics } });
    }
  }
  return { steps, evaluations };
}

/** The command line as a person would type it again (arguments with spaces or quotes are quoted). */
export function commandLine(argv: readonly string[]): string {
  const quote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);
  return ['bert-trainer', ...argv.slice(2)].map(quote).join(' ');
}
