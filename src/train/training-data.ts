// What fit() and evaluate() accept as data, and the checks made before a run starts: the whole of an in-memory
// dataset where that is cheap, what can be known of a stream.
import { PipelineBatch, datasetBatches, streamBatches } from '../data/batch-prefetch';
import { Dataset } from '../data/dataset';
import { EncodeContext, TokenRowCache, encodeBatch } from '../data/encode';
import { batchesOf, epochOrder } from '../data/epoch-order';
import type { Example } from '../data/example';
import { StreamingDataset } from '../data/streaming-dataset';
import type { BertClassifier } from '../model/classifier';
import type { ProblemType } from '../model/config';

/** What fit() and evaluate() accept as data. */
export type TrainingData = Dataset | Example[] | StreamingDataset;

export function toDataset(value: unknown, name: string): Dataset | StreamingDataset {
  if (value instanceof Dataset || value instanceof StreamingDataset) return value;
  if (Array.isArray(value)) return Dataset.fromArray(value as Example[]);
  throw new TypeError(
    `${name} must be a Dataset (Dataset.fromArray, Dataset.fromCsv, ...), a StreamingDataset (Dataset.streamJsonl, ...) or an array of examples`,
  );
}

/** A dataset's size: counted once (a byte scan of the file) for a stream without a given length. */
export async function sizeOf(data: Dataset | StreamingDataset): Promise<number> {
  return data instanceof Dataset ? data.length : data.count();
}

/** `wrapper` with the `code` of `err` (if it has one), so that callers can still branch on it. */
export function withCodeOf(err: unknown, wrapper: Error): Error {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') Object.assign(wrapper, { code });
  return wrapper;
}

/** Re-throws `err` with `prefix` in its message, keeping its class (TypeError/RangeError/Error) and its code. */
export function withPrefix(err: unknown, prefix: string): Error {
  if (!(err instanceof Error)) return new Error(`${prefix}: ${String(err)}`);
  const Kind = err instanceof RangeError ? RangeError : err instanceof TypeError ? TypeError : Error;
  return withCodeOf(err, new Kind(`${prefix}: ${err.message}`, { cause: err }));
}

/** Checks the whole dataset before training starts, where that is cheap: labels, and pre-tokenized ids against the model. */
export async function checkExamples(dataset: Dataset, ctx: EncodeContext, model: BertClassifier, name: string): Promise<void> {
  const config = model.config;
  const limit = Math.min(ctx.maxLength ?? model.tokenizer?.maxLength ?? model.maxSequenceLength, model.maxSequenceLength);
  try {
    let index = 0;
    for (const e of dataset) {
      if ('inputIds' in e) {
        if (e.inputIds.length > limit) {
          throw new RangeError(
            `examples[${index}].inputIds has ${e.inputIds.length} tokens, more than maxLength (${limit}); pre-tokenized inputs are not truncated`,
          );
        }
        e.inputIds.forEach((id, j) => {
          if (id >= config.vocab_size) throw new RangeError(`examples[${index}].inputIds[${j}] = ${id} is outside the vocabulary [0, ${config.vocab_size})`);
        });
        e.tokenTypeIds?.forEach((t, j) => {
          if (t >= config.type_vocab_size)
            throw new RangeError(`examples[${index}].tokenTypeIds[${j}] = ${t} is outside [0, type_vocab_size=${config.type_vocab_size})`);
        });
      } else if (!model.tokenizer) {
        throw new Error(`examples[${index}] is text, but the model has no tokenizer; attach one or give pre-tokenized inputIds`);
      }
      index += 1;
    }
    // The labels through the same encoder the training loop uses, without tokenizing: same messages, same indices.
    const labelsOnly = dataset.map((e) => ({ inputIds: [0], label: e.label }));
    await encodeBatch(
      labelsOnly,
      Array.from({ length: labelsOnly.length }, (_, i) => i),
      { ...ctx, maxLength: undefined, tokenizer: undefined },
    );
  } catch (err) {
    throw withPrefix(err, name);
  }
}

/**
 * A streamed dataset cannot be checked before training (it is read as it trains, and its rows are checked as they
 * are read); what can be checked is that its texts can be tokenized.
 */
export function checkStream(model: BertClassifier, name: string): void {
  if (!model.tokenizer) throw new Error(`${name}: a streamed dataset holds texts, but the model has no tokenizer; attach one`);
}

/** transformers' problem-type rule for a stream, judged by its first example's label (arrays: multi-label). */
export async function inferStreamProblemType(stream: StreamingDataset, numLabels: number): Promise<ProblemType> {
  if (numLabels === 1) return 'regression';
  return Array.isArray((await stream.first())?.label) ? 'multi_label_classification' : 'single_label_classification';
}

/**
 * Encoded batches of a whole dataset in its own order (for evaluation), or of the examples `indices` of it; an
 * in-memory dataset's token rows come from (and go to) `cache` where there is one.
 */
export function batchesInOrder(
  data: Dataset | StreamingDataset,
  batchSize: number,
  ctx: EncodeContext,
  indices?: number[],
  cache?: TokenRowCache,
): AsyncGenerator<PipelineBatch> {
  if (data instanceof Dataset) return datasetBatches(data, batchesOf(indices ?? epochOrder(data.length, 0, 0, false), batchSize), ctx, cache);
  return streamBatches(data, { seed: 0, epoch: 0, shuffle: false, batchSize, skipBatches: 0 }, ctx);
}
