// What `bert-trainer train` uses for the learning rate, batch size, warm-up and weight decay the user left out.
// Pretrained weights: transformers' Trainer defaults (fine-tuning, where they are known to work). The built-in sizes
// start from random weights and need the recipe of a small BERT trained from scratch: a larger learning rate than
// fine-tuning, warmed up, on larger batches. The scratch values are checked on data sets of several shapes by
// scripts/check-defaults.js (results in BENCHMARKS.md, "Defaults").
import type { ModelSource, SizeName } from './model-source';

export interface TrainingDefaults {
  learningRate: number;
  batchSize: number;
  warmupRatio: number;
  weightDecay: number;
}

/** transformers' TrainingArguments: learning_rate 5e-5, per_device_train_batch_size 8, no warm-up, no decay. */
export const PRETRAINED_DEFAULTS: Readonly<TrainingDefaults> = Object.freeze({ learningRate: 5e-5, batchSize: 8, warmupRatio: 0, weightDecay: 0 });

/**
 * Per built-in size: wider models take a smaller peak learning rate. mini's 2e-4 is the rate that learned on every
 * data set checked (5e-4 collapsed on one of them); tiny, narrower, takes the same; small and base are scaled down
 * from it.
 */
export const SCRATCH_DEFAULTS: Readonly<Record<SizeName, Readonly<TrainingDefaults>>> = Object.freeze({
  tiny: Object.freeze({ learningRate: 2e-4, batchSize: 32, warmupRatio: 0.1, weightDecay: 0.01 }),
  mini: Object.freeze({ learningRate: 2e-4, batchSize: 32, warmupRatio: 0.1, weightDecay: 0.01 }),
  small: Object.freeze({ learningRate: 1e-4, batchSize: 32, warmupRatio: 0.1, weightDecay: 0.01 }),
  base: Object.freeze({ learningRate: 5e-5, batchSize: 32, warmupRatio: 0.1, weightDecay: 0.01 }),
});

/** The defaults for a run on `source` (a built-in size, or pretrained weights from a folder or the hub). */
export function trainingDefaults(source: ModelSource | undefined): Readonly<TrainingDefaults> {
  return source?.kind === 'size' ? SCRATCH_DEFAULTS[source.size] : PRETRAINED_DEFAULTS;
}
