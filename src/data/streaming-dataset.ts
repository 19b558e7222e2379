// A dataset read from its file anew for each pass, for files too large to hold in memory: only a bounded shuffle
// buffer of examples lives at a time (and, for Parquet, the row group being read). Trainer.fit accepts it like a Dataset: each epoch streams the file through a
// shuffle buffer seeded by (seed, epoch), so an epoch's order is reproducible, and resuming skips the examples an
// interrupted epoch had consumed by reading past them again (no tokenizing), which lands on the same order.
// dataset.ts imports this module (Dataset.streamJsonl builds a StreamingDataset) and this one imports its seeded
// random numbers: a safe cycle, as neither module uses the other's exports while it loads.
import { positiveInteger } from '../util/is';
import { ExampleSource, FileDatasetOptions, FileFormat, SkippedRows, emptySkipLog } from './dataset-files';
import { epochRandom } from '../util/random';
import type { Example } from './example';
import type { RowPosition } from './row-position';

export interface StreamingDatasetOptions extends FileDatasetOptions {
  /**
   * Examples held for shuffling (default 10,000): each example is drawn at random from a buffer of this many of the
   * upcoming ones (tf.data's and 🤗 datasets' buffer shuffle), so memory stays bounded whatever the file size. The
   * larger, the closer to a full shuffle. 1 keeps the file order.
   */
  shuffleBuffer?: number;
  /**
   * Examples per epoch, when known: saves the counting pass the Trainer otherwise makes (a byte scan of the file;
   * a Parquet file's footer says it) to know its steps per epoch and schedule. At most this many examples are read
   * per epoch.
   */
  length?: number;
}

/** streamParquet's options: a Parquet file's columns are named and typed (no delimiter, no header option). */
export type StreamingParquetOptions = Omit<StreamingDatasetOptions, 'delimiter' | 'header'>;

export const STREAMING_OPTION_NAMES: readonly string[] = ['shuffleBuffer', 'length'];
export const DEFAULT_SHUFFLE_BUFFER = 10_000;

/**
 * An example as the stream delivers it: its position among the file's examples (0-based) and where its row is (the
 * line it starts on; for Parquet its row and row group).
 */
export interface StreamedExample extends RowPosition {
  example: Example;
  index: number;
}

export interface EpochStreamOptions {
  /** Seeds the shuffle buffer with `epoch` (epochRandom(seed, epoch)). */
  seed: number;
  epoch: number;
  /** False: the file's order. */
  shuffle: boolean;
  /** Leave out the first `skip` examples of this epoch's order (they are still read, to reach the same order). */
  skip?: number;
}

/**
 * Examples streamed from a CSV, TSV, JSONL or Parquet file (create it with Dataset.streamJsonl / streamCsv /
 * streamTsv / streamParquet). Iterating it (`for await`) gives the examples in file order; the Trainer uses `epoch()`.
 */
export class StreamingDataset implements AsyncIterable<Example> {
  readonly path: string;
  readonly format: FileFormat;
  readonly shuffleBuffer: number;
  private lastSkipped: SkippedRows = emptySkipLog();
  private readonly source: ExampleSource;
  private readonly givenLength: number | undefined;
  private counted: Promise<number> | undefined;
  private countedValue: number | undefined;

  /** @internal Use Dataset.streamJsonl / streamCsv / streamTsv / streamParquet. */
  constructor(path: string, format: FileFormat, source: ExampleSource, options: StreamingDatasetOptions) {
    this.path = path;
    this.format = format;
    this.source = source;
    this.shuffleBuffer = positiveInteger(options.shuffleBuffer, 'shuffleBuffer') ?? DEFAULT_SHUFFLE_BUFFER;
    this.givenLength = positiveInteger(options.length, 'length');
  }

  /** Rows skipped (onBadRow: 'skip') by the latest pass that read the file to its end: count and first 20. */
  get skipped(): SkippedRows {
    return this.lastSkipped;
  }

  /** Examples per epoch: the `length` option, else what count() found, else undefined (not counted yet). */
  get length(): number | undefined {
    return this.givenLength ?? this.countedValue;
  }

  /**
   * Examples per epoch: the `length` option, or a count of the file's records by a byte scan (bounded memory,
   * no parsing; done once), or a Parquet file's row count from its footer. Rows that turn out bad are counted too,
   * so with onBadRow 'skip' an epoch may end a few examples short of it.
   */
  count(): Promise<number> {
    if (this.givenLength !== undefined) return Promise.resolve(this.givenLength);
    this.counted ??= this.source.count().then((n) => {
      this.countedValue = n;
      return n;
    });
    return this.counted;
  }

  /**
   * The label names the file declares, in id order (a Parquet ClassLabel's: the model's labels, ids mapping to
   * them), read from its footer; undefined for CSV, TSV and JSONL, whose names are known only by reading every row.
   */
  labelNames(): Promise<string[] | undefined> {
    return this.source.labelNames();
  }

  /** The first example of the file, or undefined when it has none (e.g. to see which kind of labels it holds). */
  async first(): Promise<Example | undefined> {
    for await (const e of this.read(emptySkipLog())) return e.example;
    return undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<Example> {
    const examples = this.epoch({ seed: 0, epoch: 0, shuffle: false });
    return (async function* () {
      for await (const e of examples) yield e.example;
    })();
  }

  /**
   * One pass over the file in the epoch's order: the file order, or (shuffle) through the seeded shuffle buffer.
   * The same (seed, epoch) always gives the same order.
   */
  async *epoch(options: EpochStreamOptions): AsyncGenerator<StreamedExample> {
    const skip = options.skip ?? 0;
    const skipped = emptySkipLog();
    const source = this.read(skipped);
    const ordered = options.shuffle && this.shuffleBuffer > 1 ? bufferShuffle(source, this.shuffleBuffer, epochRandom(options.seed, options.epoch)) : source;
    let position = 0;
    for await (const e of ordered) {
      if (position++ < skip) continue;
      yield e;
    }
    this.lastSkipped = skipped;
  }

  /** The file's examples in order (at most `length` of them), numbered. */
  private async *read(skipped: SkippedRows): AsyncGenerator<StreamedExample> {
    let index = 0;
    for await (const { example, ...position } of this.source.read(skipped)) {
      if (this.givenLength !== undefined && index >= this.givenLength) return;
      yield { example: Object.freeze(example), index, ...position };
      index += 1;
    }
  }
}

/**
 * A buffer shuffle: the first `size` items fill the buffer; then each new item replaces a uniformly drawn buffered
 * one, which is emitted; at the end the rest comes out in random order. Memory: `size` items.
 */
export async function* bufferShuffle<T>(source: AsyncIterable<T>, size: number, random: () => number): AsyncGenerator<T> {
  const buffer: T[] = [];
  for await (const item of source) {
    if (buffer.length < size) {
      buffer.push(item);
      continue;
    }
    const j = Math.floor(random() * size);
    const out = buffer[j];
    buffer[j] = item;
    yield out;
  }
  while (buffer.length > 0) {
    const j = Math.floor(random() * buffer.length);
    const out = buffer[j];
    buffer[j] = buffer[buffer.length - 1];
    buffer.pop();
    yield out;
  }
}
