// The data pipeline in front of the native training step. Tokenizing and padding a batch is JavaScript and tokenizer
// work that would otherwise sit between two native steps; a producer encodes the next batches while the current
// step runs on the native worker thread. The queue between them is bounded (`capacity` batches), so memory stays
// flat however large the dataset, and a producer error reaches the consumer in order, where it would have struck.
import { Dataset } from './dataset';
import { sortByLengthDescending } from './length-grouping';
import type { StreamedExample, StreamingDataset } from './streaming-dataset';
import { describePosition } from './row-position';
import { EncodeContext, EncodedBatch, encodeBatch, encodeExamples, pretokenize, TokenRowCache } from './encode';
import { Example } from './example';

/** A batch ready for the native step, and whether it is the last of its epoch (a stream knows only by reading on). */
export interface PipelineBatch {
  batch: EncodedBatch;
  last: boolean;
}

type Slot<T> = { kind: 'value'; value: T } | { kind: 'done' } | { kind: 'error'; error: unknown };

/**
 * A bounded read-ahead over an async iterator: up to `capacity` items are produced before they are asked for, one
 * at a time, in order. With capacity 0 an item is produced only when next() asks for it (no overlap). Items after
 * an error are never produced; the error is thrown by the next() that reaches it (and every later one).
 */
export class BatchPrefetcher<T> {
  private readonly buffer: Slot<T>[] = [];
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private waiting = false;
  private finished = false;
  private closed = false;

  constructor(
    private readonly source: AsyncIterator<T>,
    readonly capacity: number,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    this.fill();
  }

  /** The next item in order; waits while the producer has none ready. */
  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.closed) throw new Error('the prefetcher is closed');
    while (this.buffer.length === 0) {
      this.waiting = true;
      const woken = new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.fill();
      await woken;
    }
    this.waiting = false;
    const slot = this.buffer[0];
    if (slot.kind === 'value') {
      this.buffer.shift();
      this.fill();
      return { done: false, value: slot.value };
    }
    if (slot.kind === 'error') throw slot.error;
    return { done: true, value: undefined };
  }

  /** Stops producing and closes the source (its `finally` blocks run: files close). Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.running;
    this.buffer.length = 0;
    if (!this.finished) await this.source.return?.().catch(() => undefined);
  }

  private wanted(): boolean {
    return !this.closed && !this.finished && (this.buffer.length < this.capacity || (this.waiting && this.buffer.length === 0));
  }

  private fill(): void {
    if (this.running !== undefined || !this.wanted()) return;
    this.running = this.produce().finally(() => {
      this.running = undefined;
    });
  }

  private async produce(): Promise<void> {
    while (this.wanted()) {
      let slot: Slot<T>;
      try {
        const result = await this.source.next();
        slot = result.done ? { kind: 'done' } : { kind: 'value', value: result.value };
      } catch (error) {
        slot = { kind: 'error', error };
      }
      if (slot.kind !== 'value') this.finished = true;
      if (this.closed) return;
      this.buffer.push(slot);
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// producers

const EXAMPLE_NAME = /examples\[\d+\]/;

/** An encoding error that does not say which examples it concerns gets their names in front. */
function namingExamples(err: unknown, names: string[]): Error {
  if (err instanceof Error && EXAMPLE_NAME.test(err.message)) return err;
  const listed = names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, … (${names.length} examples)`;
  const message = err instanceof Error ? err.message : String(err);
  const Kind = err instanceof RangeError ? RangeError : err instanceof TypeError ? TypeError : Error;
  return new Kind(`encoding ${listed}: ${message}`, { cause: err });
}

/** The batches (lists of dataset indices) of an in-memory dataset, encoded in order. */
export async function* datasetBatches(
  dataset: Dataset,
  batches: readonly number[][],
  ctx: EncodeContext,
  cache?: TokenRowCache,
): AsyncGenerator<PipelineBatch> {
  for (let b = 0; b < batches.length; b++) {
    let batch: EncodedBatch;
    try {
      batch = await encodeBatch(dataset, batches[b], ctx, cache);
    } catch (err) {
      throw namingExamples(
        err,
        batches[b].map((i) => `examples[${i}]`),
      );
    }
    yield { batch, last: b === batches.length - 1 };
  }
}

export interface StreamBatchOptions {
  seed: number;
  epoch: number;
  shuffle: boolean;
  batchSize: number;
  /** Batches of this epoch already consumed (resume): their examples are read past, not encoded. */
  skipBatches: number;
  /** Length grouping: sort each run of this many streamed examples (a multiple of batchSize) by token length. */
  megaBatch?: number;
  /** Data-parallel: this rank's DistributedSampler shard of the epoch's stream (see shardStream). */
  shard?: { rank: number; worldSize: number };
}

/**
 * DistributedSampler over a stream: every rank reads the same epoch order; rank r keeps positions r, r + W, ... and
 * the end is padded with the order's first examples to a multiple of W, so that every rank gets ceil(n / W) of
 * them (n as read, rows skipped as bad included in neither). `skip` of this rank's examples are read past.
 */
export async function* shardStream(source: AsyncIterable<StreamedExample>, rank: number, worldSize: number, skip = 0): AsyncGenerator<StreamedExample> {
  const head: StreamedExample[] = []; // the order's first worldSize examples, for the padding
  let position = 0;
  let kept = 0;
  const keep = (_example: StreamedExample): boolean => kept++ >= skip;
  for await (const e of source) {
    if (head.length < worldSize) head.push(e);
    if (position % worldSize === rank && keep(e)) yield e;
    position += 1;
  }
  const padded = Math.ceil(position / worldSize) * worldSize;
  for (let p = position; p < padded; p++) {
    if (p % worldSize === rank) {
      const e = head[(p - position) % head.length];
      if (keep(e)) yield e;
    }
  }
}

/**
 * One epoch of a streaming dataset as encoded batches: consecutive examples of the epoch's (shuffled) stream, or
 * with `megaBatch`, batches cut from each mega-batch sorted by token length (tokenized once, then re-batched). An
 * example is read ahead so that the epoch's last batch is known as such.
 */
export async function* streamBatches(stream: StreamingDataset, o: StreamBatchOptions, ctx: EncodeContext): AsyncGenerator<PipelineBatch> {
  const chunk = o.megaBatch ?? o.batchSize;
  if (chunk % o.batchSize !== 0) throw new RangeError(`megaBatch (${chunk}) must be a multiple of batchSize (${o.batchSize})`);
  // Whole chunks already consumed are skipped unread by the encoder; a partly consumed chunk is formed again.
  const consumed = o.skipBatches * o.batchSize;
  const skipExamples = Math.floor(consumed / chunk) * chunk;
  let dropBatches = (consumed - skipExamples) / o.batchSize;
  const name = (e: StreamedExample): string => `examples[${e.index}] (${stream.path}: ${describePosition(e)})`;

  // Data-parallel: the whole epoch is read (the padding needs its first examples) and this rank's share kept.
  const examples = o.shard
    ? shardStream(stream.epoch({ seed: o.seed, epoch: o.epoch, shuffle: o.shuffle }), o.shard.rank, o.shard.worldSize, skipExamples)
    : stream.epoch({ seed: o.seed, epoch: o.epoch, shuffle: o.shuffle, skip: skipExamples });
  try {
    let pending = await examples.next();
    while (!pending.done) {
      const items: StreamedExample[] = [];
      while (items.length < chunk && !pending.done) {
        items.push(pending.value);
        pending = await examples.next();
      }
      const endOfEpoch = pending.done === true;
      let rows: { example: Example; item: StreamedExample }[] = items.map((item) => ({ example: item.example, item }));
      if (o.megaBatch !== undefined) {
        let tokenized;
        try {
          tokenized = await pretokenize(
            items.map((e) => e.example),
            ctx,
            (row) => name(items[row]),
          );
        } catch (err) {
          throw namingExamples(err, items.map(name));
        }
        rows = sortByLengthDescending(
          tokenized.map((example, k) => ({ example: example as Example, item: items[k] })),
          (r) => (r.example as { inputIds: number[] }).inputIds.length,
        );
      }
      const batchCount = Math.ceil(rows.length / o.batchSize);
      for (let b = dropBatches; b < batchCount; b++) {
        const part = rows.slice(b * o.batchSize, (b + 1) * o.batchSize);
        let batch: EncodedBatch;
        try {
          batch = await encodeExamples(
            { examples: part.map((r) => r.example), indices: part.map((r) => r.item.index), nameOf: (row) => name(part[row].item) },
            ctx,
          );
        } catch (err) {
          throw namingExamples(
            err,
            part.map((r) => name(r.item)),
          );
        }
        yield { batch, last: endOfEpoch && b === batchCount - 1 };
      }
      dropBatches = 0;
    }
  } finally {
    await examples.return(undefined);
  }
}
