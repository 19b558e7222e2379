// A training warning as the command line says it: what was seen, then the flags (not the library's option names)
// that usually fix it, with this run's values.
import { formatLearningRate } from './format';
import type { WarningEvent, TrainingFix } from '../train/events';

/** This run's values of the settings a warning may name. */
export interface FixValues {
  learningRate: number;
  batchSize: number;
  warmupRatio: number;
}

const FLAG_ADVICE: Record<TrainingFix, (v: FixValues) => string> = {
  learningRate: (v) => `a lower --lr (this run: ${formatLearningRate(v.learningRate)})`,
  batchSize: (v) => `a larger --batch-size (this run: ${v.batchSize})`,
  warmupRatio: (v) => (v.warmupRatio > 0 ? `a longer --warmup-ratio (this run: ${v.warmupRatio})` : '--warmup-ratio 0.1'),
};

export function warningLine(w: WarningEvent, values: FixValues): string {
  // A warning about the data itself has no flag to change: its own advice.
  if (w.fixes.length === 0) return `warning: ${w.message}`;
  const advice = w.fixes.map((fix) => FLAG_ADVICE[fix](values));
  const joined = advice.length > 1 ? `${advice.slice(0, -1).join(', ')} or ${advice[advice.length - 1]}` : advice.join('');
  return `warning: ${w.detail}; ${joined} usually fixes it`;
}
