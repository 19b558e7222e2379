// The classes a new classifier gets from its training data. Label names (any string labels) become the model's
// labels in the sorted order the dataset reports (dataset.labelNames); integer class ids 0..k-1 become k labels
// named LABEL_0..LABEL_{k-1} (transformers' default). The CLI trains single-label classifiers only, so anything
// else (fractional numbers, lists) is refused here, naming the file, before a model is built.
import type { Dataset } from '../data/dataset';

export interface TrainingLabels {
  /** Label names in id order, when the data has names; undefined for integer class ids. */
  names: string[] | undefined;
  numLabels: number;
}

export function trainingLabels(dataset: Dataset, file: string): TrainingLabels {
  const names = dataset.labelNames;
  if (names !== undefined && names.length > 0) {
    if (names.length < 2) {
      throw new Error(`${file}: every row has the label ${JSON.stringify(names[0])}; a classifier needs at least two labels`);
    }
    return { names: [...names], numLabels: names.length };
  }
  let maxId = -1;
  let index = 0;
  for (const example of dataset) {
    const label = example.label;
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0) {
      const shown = Array.isArray(label) ? 'a list' : JSON.stringify(label);
      throw new Error(
        `${file}: example ${index + 1} has the label ${shown}; the CLI trains single-label classifiers, so labels must be names or integer class ids (0, 1, 2, ...)`,
      );
    }
    maxId = Math.max(maxId, label);
    index += 1;
  }
  if (maxId < 1) throw new Error(`${file}: every row has the class id 0; a classifier needs at least two labels`);
  return { names: undefined, numLabels: maxId + 1 };
}

/**
 * Checks that an evaluation file only uses labels the model knows, so that a typo in a label is reported with the
 * file name before training starts rather than as an index error at the first evaluation.
 */
export function checkEvalLabels(dataset: Dataset, file: string, labels: string[]): void {
  const known = new Set(labels);
  const names = dataset.labelNames;
  if (names !== undefined) {
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new Error(
        `${file}: label${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not among the model's labels (${labels.map((n) => JSON.stringify(n)).join(', ')})`,
      );
    }
    return;
  }
  let index = 0;
  for (const example of dataset) {
    const label = example.label;
    if (typeof label === 'number' && (!Number.isInteger(label) || label < 0 || label >= labels.length)) {
      throw new Error(`${file}: example ${index + 1} has the class id ${label}, but the model has ${labels.length} labels (ids 0..${labels.length - 1})`);
    }
    index += 1;
  }
}
