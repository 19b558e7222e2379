// Evaluation metrics with scikit-learn's / scipy's definitions: accuracy, precision/recall/F1 (zero_division=0),
// the confusion matrix, multi-label subset accuracy and F1, and regression errors with Pearson/Spearman correlation.

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Number of examples whose true label is this class. */
  support: number;
}

export interface ClassificationMetrics {
  accuracy: number;
  /** Macro F1 (sklearn f1_score(average='macro', zero_division=0)). */
  f1: number;
  /** Micro F1; equals accuracy for single-label classification. */
  microF1: number;
  macroPrecision: number;
  macroRecall: number;
  perClass: Record<string, ClassMetrics>;
  /** confusionMatrix[trueLabel][predictedLabel], labels in id order (labelNames order). */
  confusionMatrix: number[][];
}

export interface MultiLabelMetrics {
  /** Fraction of examples whose every label decision is right (sklearn accuracy_score on indicator matrices). */
  subsetAccuracy: number;
  /** Same as subsetAccuracy. */
  accuracy: number;
  /** Micro F1 over all (example, label) decisions. */
  f1: number;
  /** Unweighted mean of the per-label F1s, over every label. */
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
}

export interface RegressionMetrics {
  mse: number;
  mae: number;
  rmse: number;
  /** Pearson's r; null when either side is constant (or fewer than 2 values). */
  pearson: number | null;
  /** Spearman's rho (average ranks for ties); null when either side is constant (or fewer than 2 values). */
  spearman: number | null;
}

function show(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? 'an object' : String(value);
}

function checkLabelNames(labelNames: unknown): string[] {
  if (!Array.isArray(labelNames) || labelNames.length === 0) {
    throw new TypeError('labelNames must be a non-empty array of strings');
  }
  const seen = new Set<string>();
  labelNames.forEach((name, i) => {
    if (typeof name !== 'string') throw new TypeError(`labelNames[${i}] must be a string, got ${show(name)}`);
    if (seen.has(name)) throw new RangeError(`labelNames[${i}] repeats the name ${JSON.stringify(name)}`);
    seen.add(name);
  });
  return labelNames as string[];
}

function checkSameLength(a: unknown, b: unknown, aName: string, bName: string): number {
  if (!Array.isArray(a)) throw new TypeError(`${aName} must be an array, got ${show(a)}`);
  if (!Array.isArray(b)) throw new TypeError(`${bName} must be an array, got ${show(b)}`);
  if (a.length !== b.length) throw new RangeError(`${aName} has ${a.length} entries but ${bName} has ${b.length}`);
  if (a.length === 0) throw new RangeError(`${aName} and ${bName} are empty (metrics need at least one example)`);
  return a.length;
}

function checkClassIds(values: unknown[], name: string, numClasses: number): number[] {
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name}[${i}] must be an integer class id, got ${show(v)}`);
    if (v < 0 || v >= numClasses) throw new RangeError(`${name}[${i}] = ${v} is outside the class ids [0, ${numClasses})`);
  });
  return values as number[];
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}

/** The mean of `values` (0 for none). */
export function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length > 0 ? sum / values.length : 0;
}

function classMetrics(tp: number, predicted: number, support: number): ClassMetrics {
  // sklearn (>= 1.3): F = 2tp / (2tp + fp + fn) = 2tp / (support + predicted); 0 when undefined.
  return {
    precision: ratio(tp, predicted),
    recall: ratio(tp, support),
    f1: ratio(2 * tp, support + predicted),
    support,
  };
}

/**
 * Single-label classification metrics. `predictions` and `labels` are class ids in [0, labelNames.length).
 * Macro averages follow sklearn's default: they average over the classes that occur in `labels` or
 * `predictions` (a class absent from both is left out); `perClass` lists every class.
 */
export function classificationMetrics(predictions: number[], labels: number[], labelNames: string[]): ClassificationMetrics {
  const names = checkLabelNames(labelNames);
  const n = checkSameLength(predictions, labels, 'predictions', 'labels');
  const numClasses = names.length;
  checkClassIds(predictions, 'predictions', numClasses);
  checkClassIds(labels, 'labels', numClasses);

  const confusionMatrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    confusionMatrix[labels[i]][predictions[i]] += 1;
    if (labels[i] === predictions[i]) correct += 1;
  }

  const perClass: Record<string, ClassMetrics> = {};
  const precisions: number[] = [];
  const recalls: number[] = [];
  const f1s: number[] = [];
  let tpSum = 0;
  let predictedSum = 0;
  let supportSum = 0;
  for (let c = 0; c < numClasses; c++) {
    const tp = confusionMatrix[c][c];
    let predicted = 0;
    let support = 0;
    for (let k = 0; k < numClasses; k++) {
      predicted += confusionMatrix[k][c];
      support += confusionMatrix[c][k];
    }
    const m = classMetrics(tp, predicted, support);
    perClass[names[c]] = m;
    if (predicted > 0 || support > 0) {
      precisions.push(m.precision);
      recalls.push(m.recall);
      f1s.push(m.f1);
      tpSum += tp;
      predictedSum += predicted;
      supportSum += support;
    }
  }

  return {
    accuracy: correct / n,
    f1: mean(f1s),
    microF1: ratio(2 * tpSum, supportSum + predictedSum),
    macroPrecision: mean(precisions),
    macroRecall: mean(recalls),
    perClass,
    confusionMatrix,
  };
}

function checkMatrix(rows: unknown[], name: string, width: number): number[][] {
  rows.forEach((row, i) => {
    if (!Array.isArray(row)) throw new TypeError(`${name}[${i}] must be an array of ${width} numbers, got ${show(row)}`);
    if (row.length !== width) throw new RangeError(`${name}[${i}] has ${row.length} values, expected ${width} (one per label)`);
    row.forEach((v, j) => {
      if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${name}[${i}][${j}] must be a number, got ${show(v)}`);
    });
  });
  return rows as number[][];
}

/**
 * Multi-label metrics. A label is predicted when its probability is >= threshold (sigmoid of the logit), and
 * true when its label value is >= 0.5 (0/1 targets; soft targets are binarised). Per-label and macro F1 use
 * zero_division=0; macroF1 averages over every label (sklearn's behaviour for indicator matrices).
 */
export function multiLabelMetrics(probabilities: number[][], labels: number[][], labelNames: string[], threshold = 0.5): MultiLabelMetrics {
  const names = checkLabelNames(labelNames);
  const n = checkSameLength(probabilities, labels, 'probabilities', 'labels');
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw new RangeError(`threshold must be a finite number, got ${show(threshold)}`);
  const numLabels = names.length;
  checkMatrix(probabilities, 'probabilities', numLabels);
  checkMatrix(labels, 'labels', numLabels);

  const tp = new Array<number>(numLabels).fill(0);
  const predicted = new Array<number>(numLabels).fill(0);
  const support = new Array<number>(numLabels).fill(0);
  let exact = 0;
  for (let i = 0; i < n; i++) {
    let allRight = true;
    for (let j = 0; j < numLabels; j++) {
      const p = probabilities[i][j] >= threshold;
      const t = labels[i][j] >= 0.5;
      if (p) predicted[j] += 1;
      if (t) support[j] += 1;
      if (p && t) tp[j] += 1;
      if (p !== t) allRight = false;
    }
    if (allRight) exact += 1;
  }

  const perClass: Record<string, ClassMetrics> = {};
  const f1s: number[] = [];
  let tpSum = 0;
  let predictedSum = 0;
  let supportSum = 0;
  for (let j = 0; j < numLabels; j++) {
    const m = classMetrics(tp[j], predicted[j], support[j]);
    perClass[names[j]] = m;
    f1s.push(m.f1);
    tpSum += tp[j];
    predictedSum += predicted[j];
    supportSum += support[j];
  }
  const subsetAccuracy = exact / n;
  return { subsetAccuracy, accuracy: subsetAccuracy, f1: ratio(2 * tpSum, supportSum + predictedSum), macroF1: mean(f1s), perClass };
}

function isConstant(values: number[]): boolean {
  return values.every((v) => v === values[0]);
}

function pearsonOf(x: number[], y: number[]): number | null {
  if (x.length < 2 || isConstant(x) || isConstant(y)) return null;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/** 1-based ranks, ties getting the average of their ranks (scipy.stats.rankdata(method='average')). */
export function averageRanks(values: number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end += 1;
    const rank = (start + 1 + end) / 2; // mean of ranks start+1 .. end
    for (let k = start; k < end; k++) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

/** Regression metrics over scalar predictions (flatten multi-target outputs first). */
export function regressionMetrics(predictions: number[], labels: number[]): RegressionMetrics {
  const n = checkSameLength(predictions, labels, 'predictions', 'labels');
  for (const [values, name] of [
    [predictions, 'predictions'],
    [labels, 'labels'],
  ] as const) {
    values.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${name}[${i}] must be a finite number, got ${show(v)}`);
    });
  }
  let se = 0;
  let ae = 0;
  for (let i = 0; i < n; i++) {
    const d = predictions[i] - labels[i];
    se += d * d;
    ae += Math.abs(d);
  }
  const mse = se / n;
  return {
    mse,
    mae: ae / n,
    rmse: Math.sqrt(mse),
    pearson: pearsonOf(predictions, labels),
    spearman: isConstant(predictions) || isConstant(labels) ? null : pearsonOf(averageRanks(predictions), averageRanks(labels)),
  };
}
