// Evaluation: a dataset through the model in eval mode, in order, and the loss and metrics of the problem type;
// data-parallel ranks each evaluate a share and combine the rows with one all-reduce.
import { BatchPrefetcher } from '../data/batch-prefetch';
import { Dataset } from '../data/dataset';
import type { EncodeContext, TokenRowCache } from '../data/encode';
import type { StreamingDataset } from '../data/streaming-dataset';
import type { DistributedContext } from '../engine/distributed';
import type { NativeModelHandle } from '../engine/native';
import type { EvaluationResult } from './events';
import { classificationMetrics, multiLabelMetrics, regressionMetrics } from './metrics';
import type { MixedPrecision } from './trainer-options';
import { batchesInOrder } from './training-data';

function argmax(values: ArrayLike<number>, start: number, count: number): number {
  let best = 0;
  for (let j = 1; j < count; j++) if (values[start + j] > values[start + best]) best = j;
  return best;
}

/** Rank r of W evaluates examples r, r + W, ...: disjoint and without DistributedSampler's padded duplicates. */
function evalShard(length: number, rank: number, worldSize: number): number[] {
  const out: number[] = [];
  for (let i = rank; i < length; i += worldSize) out.push(i);
  return out;
}

/** Runs a dataset through evalBatch in order and computes the loss and the metrics of the problem type. */
export async function evaluateDataset(
  handle: NativeModelHandle,
  data: Dataset | StreamingDataset,
  ctx: EncodeContext,
  batchSize: number,
  classWeights: Float32Array | null,
  labelNames: string[],
  prefetchBatches: number,
  mixedPrecision: MixedPrecision,
  dist?: DistributedContext,
  cache?: TokenRowCache,
): Promise<EvaluationResult> {
  const started = performance.now();
  const L = ctx.numLabels;
  let lossSum = 0;
  let numExamples = 0;
  // Class ids (single-label) or values (regression, every output flattened); sigmoid rows (multi-label).
  const predictions: number[] = [];
  const targets: number[] = [];
  const probabilities: number[][] = [];
  const labelRows: number[][] = [];
  const addRow = (logits: ArrayLike<number>, at: number, labels: ArrayLike<number>, labelAt: number): void => {
    if (ctx.problemType === 'single_label_classification') {
      predictions.push(argmax(logits, at, L));
      targets.push(labels[labelAt]);
    } else if (ctx.problemType === 'multi_label_classification') {
      probabilities.push(Array.from({ length: L }, (_, j) => 1 / (1 + Math.exp(-logits[at + j]))));
      labelRows.push(Array.from({ length: L }, (_, j) => labels[labelAt + j]));
    } else {
      for (let j = 0; j < L; j++) {
        predictions.push(logits[at + j]);
        targets.push(labels[labelAt + j]);
      }
    }
  };
  // Data-parallel: each rank evaluates its share, writes every example's logits and labels at the example's own row
  // of a zeroed [n, L + labelWidth] table, and one all-reduce (a sum where only one rank wrote each row) gives every
  // rank the whole table in the dataset's order: the same metrics as one process, the loss summed likewise.
  const labelWidth = ctx.problemType === 'single_label_classification' ? 1 : L;
  const width = L + labelWidth;
  const total = dist && data instanceof Dataset ? data.length : 0;
  const indices = dist && data instanceof Dataset ? evalShard(total, dist.rank, dist.worldSize) : undefined;
  // A stream is evaluated whole by every rank (its order cannot be split without reading it all on each anyway).
  const table = dist && data instanceof Dataset ? new Float64Array(total * width + 2) : undefined; // + [loss sum, example count]
  let row = 0;
  const queue = new BatchPrefetcher(batchesInOrder(data, batchSize, ctx, indices, cache), prefetchBatches);
  try {
    for (let item = await queue.next(); !item.done; item = await queue.next()) {
      const batch = item.value.batch;
      numExamples += batch.batchSize;
      const out = await handle.evalBatch(batch, ctx.problemType, classWeights, mixedPrecision);
      lossSum += (out.loss ?? NaN) * batch.batchSize;
      const labels = batch.labels as Int32Array | Float32Array;
      for (let r = 0; r < batch.batchSize; r++, row++) {
        if (table && indices) {
          const at = indices[row] * width;
          for (let j = 0; j < L; j++) table[at + j] = out.logits[r * L + j];
          for (let j = 0; j < labelWidth; j++) table[at + L + j] = labels[r * labelWidth + j];
        } else {
          addRow(out.logits, r * L, labels, r * labelWidth);
        }
      }
    }
  } finally {
    await queue.close();
  }
  if (table && dist) {
    table[total * width] = lossSum;
    table[total * width + 1] = numExamples;
    const all = await dist.allReduceSum(table);
    lossSum = all[total * width];
    numExamples = all[total * width + 1];
    for (let i = 0; i < total; i++) addRow(all, i * width, all, i * width + L);
  }
  if (numExamples === 0) throw new Error('the evaluation dataset is empty');
  const runtimeSeconds = (performance.now() - started) / 1000;
  const base = {
    loss: lossSum / numExamples,
    problemType: ctx.problemType,
    numExamples,
    runtimeSeconds,
    samplesPerSecond: numExamples / runtimeSeconds,
  };
  if (ctx.problemType === 'single_label_classification') return { ...base, ...classificationMetrics(predictions, targets, labelNames) };
  if (ctx.problemType === 'multi_label_classification') return { ...base, ...multiLabelMetrics(probabilities, labelRows, labelNames) };
  return { ...base, ...regressionMetrics(predictions, targets) };
}
