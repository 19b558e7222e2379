// The training-data API: a validated, immutable list of examples (texts or token ids, with labels). Errors name the
// example by its dataset index. The epoch order is in src/data/epoch-order.ts, batch encoding in src/data/encode.ts.
// Datasets also come from files (CSV, TSV, JSONL: src/data/dataset-files.ts; Parquet: src/data/parquet-examples.ts)
// and from Hugging Face hub datasets (src/hub/resolve-dataset.ts), read whole or streamed (src/data/streaming-dataset.ts).
import { describeValue as show } from '../util/describe-value';
import { requiredNonNegativeInteger } from '../util/is';
import type { ProblemType } from '../model/config';
import { DATASET_HUB_OPTION_NAMES, ResolveDatasetOptions, resolveDatasetSplit } from '../hub/resolve-dataset';
import {
  FileDatasetOptions,
  ResolvedFileOptions,
  SkippedRows,
  TextFileFormat,
  emptySkipLog,
  labelNamesOf,
  readFileExamples,
  resolveFileOptions,
  textFileSource,
} from './dataset-files';
import { ERR_LABEL_IDS_AND_NAMES, LabelColumnError } from './label-kinds';
import { ParquetExamples, parquetSource } from './parquet-examples';
import { STREAMING_OPTION_NAMES, StreamingDataset, StreamingDatasetOptions, StreamingParquetOptions } from './streaming-dataset';
import { Example, INT32_MAX, Label, TextExample, TokenizedExample } from './example';
import { epochOrder } from './epoch-order';

export type { FileDatasetOptions, SkippedRows } from './dataset-files';

/** fromParquet's options: a Parquet file's columns are named and typed (no delimiter, no header option). */
export type ParquetDatasetOptions = Omit<FileDatasetOptions, 'delimiter' | 'header'>;

/** fromHub's options: the split (and config), the hub options resolveModel also takes, and the columns to read. */
export type HubDatasetOptions = ResolveDatasetOptions & ParquetDatasetOptions;
export type { Example, Label, TextExample, TokenizedExample } from './example';
export type { ProblemType } from '../model/config';

// ---------------------------------------------------------------------------------------------
// validation of examples (Dataset.fromArray)

function checkIdArray(value: unknown, where: string, what: string, element: string, check: (v: number) => boolean): number[] {
  if (!Array.isArray(value)) throw new TypeError(`${where} must be an array of ${what}, got ${show(value)}`);
  const out = new Array<number>(value.length);
  for (let j = 0; j < value.length; j++) {
    const v: unknown = value[j];
    if (typeof v !== 'number' || !Number.isInteger(v) || !check(v)) {
      throw new TypeError(`${where}[${j}] must be ${element}, got ${show(v)}`);
    }
    out[j] = v;
  }
  return out;
}

function checkLabel(value: unknown, where: string): Label | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${where} must be a finite number, got ${show(value)}`);
    return value;
  }
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    if (value.length === 0) return [] as number[];
    const kind = typeof value[0];
    if (kind !== 'number' && kind !== 'string') {
      throw new TypeError(`${where}[0] must be a number or a label name, got ${show(value[0])}`);
    }
    for (let j = 0; j < value.length; j++) {
      const v: unknown = value[j];
      if (typeof v !== kind) {
        throw new TypeError(`${where}[${j}] must be a ${kind === 'number' ? 'number' : 'label name (string)'} like ${where}[0], got ${show(v)}`);
      }
      if (kind === 'number' && !Number.isFinite(v)) throw new TypeError(`${where}[${j}] must be a finite number, got ${show(v)}`);
    }
    return kind === 'number' ? [...(value as number[])] : [...(value as string[])];
  }
  throw new TypeError(`${where} must be a class id, a label name, or an array of numbers or label names, got ${show(value)}`);
}

function checkExample(value: unknown, index: number): Example {
  const where = `examples[${index}]`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${where} must be an object { text, textPair?, label? } or { inputIds, attentionMask?, tokenTypeIds?, label? }, got ${show(value)}`);
  }
  const e = value as Record<string, unknown>;
  const hasText = e.text !== undefined;
  const hasIds = e.inputIds !== undefined;
  if (hasText && hasIds) throw new TypeError(`${where} has both text and inputIds; give one of them`);
  if (!hasText && !hasIds) {
    throw new TypeError(
      `${where} must have a text (string) or inputIds (token ids); it has ${
        Object.keys(e)
          .map((k) => JSON.stringify(k))
          .join(', ') || 'no fields'
      }`,
    );
  }
  const label = checkLabel(e.label, `${where}.label`);
  if (hasText) {
    if (typeof e.text !== 'string') throw new TypeError(`${where}.text must be a string, got ${show(e.text)}`);
    const out: TextExample = { text: e.text };
    if (e.textPair !== undefined && e.textPair !== null) {
      if (typeof e.textPair !== 'string') throw new TypeError(`${where}.textPair must be a string, got ${show(e.textPair)}`);
      out.textPair = e.textPair;
    }
    if (label !== undefined) out.label = label;
    return out;
  }
  const inputIds = checkIdArray(e.inputIds, `${where}.inputIds`, 'token ids', 'a token id (an integer in [0, 2^31))', (v) => v >= 0 && v <= INT32_MAX);
  if (inputIds.length === 0) throw new RangeError(`${where}.inputIds is empty (at least one token is needed)`);
  const out: TokenizedExample = { inputIds };
  if (e.attentionMask !== undefined && e.attentionMask !== null) {
    const mask = checkIdArray(e.attentionMask, `${where}.attentionMask`, 'mask values', '0 or 1', (v) => v === 0 || v === 1);
    if (mask.length !== inputIds.length) {
      throw new RangeError(`${where}.attentionMask has ${mask.length} values but ${where}.inputIds has ${inputIds.length}; they must have the same length`);
    }
    out.attentionMask = mask;
  }
  if (e.tokenTypeIds !== undefined && e.tokenTypeIds !== null) {
    const types = checkIdArray(
      e.tokenTypeIds,
      `${where}.tokenTypeIds`,
      'token type ids',
      'a token type id (an integer in [0, 2^31))',
      (v) => v >= 0 && v <= INT32_MAX,
    );
    if (types.length !== inputIds.length) {
      throw new RangeError(`${where}.tokenTypeIds has ${types.length} values but ${where}.inputIds has ${inputIds.length}; they must have the same length`);
    }
    out.tokenTypeIds = types;
  }
  if (label !== undefined) out.label = label;
  return out;
}

// ---------------------------------------------------------------------------------------------

const INTERNAL = Symbol('Dataset.internal');

/** Examples are frozen (their arrays too) so that a Dataset cannot change after validation. */
function deepFreeze(e: Example): Example {
  for (const value of Object.values(e)) if (Array.isArray(value)) Object.freeze(value);
  return Object.freeze(e);
}

/** What a dataset knows about where its examples came from. */
interface DatasetInfo {
  labelNames: string[] | undefined;
  skipped: SkippedRows;
}

/** A split's size: a fraction in (0, 1) of the examples, or a count. */
function splitCount(validation: unknown, length: number): number {
  if (typeof validation !== 'number') throw new TypeError(`validation must be a fraction in (0, 1) or a number of examples, got ${show(validation)}`);
  let count: number;
  if (validation > 0 && validation < 1)
    count = Math.ceil(validation * length); // like sklearn's test_size
  else if (Number.isSafeInteger(validation) && validation >= 1) count = validation;
  else throw new RangeError(`validation must be a fraction in (0, 1) or a positive number of examples, got ${show(validation)}`);
  if (count >= length) {
    throw new RangeError(`validation ${validation} of ${length} examples leaves no training example (${count} would go to validation)`);
  }
  return count;
}

/** The class of a label for stratifying, or undefined when it is not a class (multi-label, regression, none). */
function classKey(label: Label | undefined): string | undefined {
  if (typeof label === 'string') return `name:${label}`;
  if (typeof label === 'number' && Number.isInteger(label)) return `id:${label}`;
  return undefined;
}

/**
 * How many of each class go to validation: each class's exact share (size * count / total) rounded down, then the
 * remaining places to the largest remainders (ties: the larger class, then the earlier one). Sums to `count`.
 */
function stratifiedQuotas(sizes: number[], total: number, count: number): number[] {
  const exact = sizes.map((size) => (size * count) / total);
  const quotas = exact.map(Math.floor);
  let left = count - quotas.reduce((a, b) => a + b, 0);
  const byRemainder = sizes.map((_, c) => c).sort((a, b) => exact[b] - quotas[b] - (exact[a] - quotas[a]) || sizes[b] - sizes[a] || a - b);
  for (const c of byRemainder) {
    if (left === 0) break;
    quotas[c] += 1;
    left -= 1;
  }
  return quotas;
}

/**
 * Reads a file whole under labelType 'auto', deciding its label column once: when its texts are not all integers
 * (a read meets an integer label and a name), it is read again with every label a name. A stream cannot go back,
 * so there the mix stays an Error that says to pass labelType 'name'.
 */
async function readDecidingLabelColumn(resolved: ResolvedFileOptions, read: (o: ResolvedFileOptions) => Promise<Dataset>): Promise<Dataset> {
  try {
    return await read(resolved);
  } catch (err) {
    if (!(err instanceof LabelColumnError && err.code === ERR_LABEL_IDS_AND_NAMES) || resolved.textLabelsAreNames) throw err;
    return read({ ...resolved, textLabelsAreNames: true });
  }
}

/** An immutable list of validated examples. Build it with `Dataset.fromArray` or read it with `Dataset.fromCsv` and kin. */
export class Dataset implements Iterable<Example> {
  readonly length: number;
  /** How many examples carry a label (0: unlabeled data, `length`: fully labeled). */
  readonly labeledCount: number;
  /**
   * The distinct label names (string labels) seen, sorted; undefined when every label is an id or a number. For a
   * Parquet file whose label column is a 🤗 datasets ClassLabel: its names, in id order (all of them, seen or not).
   * For a new model they become its labels (config.json's id2label/label2id). Subsets (split, slice, ...) keep their
   * parent's.
   */
  readonly labelNames: string[] | undefined;
  /** Rows a file reader skipped (onBadRow: 'skip'): how many, and the first 20 with their lines. Empty otherwise. */
  readonly skipped: SkippedRows;
  private readonly examples: readonly Example[];

  private constructor(token: symbol, examples: Example[], info?: Partial<DatasetInfo>) {
    if (token !== INTERNAL) throw new TypeError('use Dataset.fromArray(examples) to create a Dataset');
    this.examples = examples;
    this.length = examples.length;
    let labeled = 0;
    for (const e of examples) if (e.label !== undefined) labeled += 1;
    this.labeledCount = labeled;
    const names = info && 'labelNames' in info ? info.labelNames : labelNamesOf(examples);
    this.labelNames = names === undefined ? undefined : (Object.freeze([...names]) as string[]);
    const skipped = info?.skipped ?? emptySkipLog();
    this.skipped = Object.freeze({
      count: skipped.count,
      examples: Object.freeze(skipped.examples.map((s) => Object.freeze({ ...s }))) as SkippedRows['examples'],
    });
  }

  /**
   * Validates and copies the examples: `{ text, textPair?, label? }` or `{ inputIds, attentionMask?,
   * tokenTypeIds?, label? }` (other fields are ignored; a null label counts as no label). TypeError/RangeError
   * naming the index, e.g. "examples[3].text must be a string".
   */
  static fromArray(examples: Example[]): Dataset {
    if (!Array.isArray(examples)) throw new TypeError(`examples must be an array of examples, got ${show(examples)}`);
    const copied = new Array<Example>(examples.length);
    for (let i = 0; i < examples.length; i++) copied[i] = deepFreeze(checkExample(examples[i], i));
    return new Dataset(INTERNAL, copied);
  }

  /**
   * Reads a CSV file (RFC 4180: quoted fields may hold delimiters, quotes and newlines; a BOM is ignored) into
   * memory. Columns are picked by name (`textColumn`, `textPairColumn`, `labelColumn`); errors name the file and
   * the line a row starts on, e.g. `data.csv: line 1: no column "txt" (columns: text, label)`.
   */
  static fromCsv(path: string, options?: FileDatasetOptions): Promise<Dataset> {
    return Dataset.fromFile(path, 'csv', options);
  }

  /** Like fromCsv with a tab delimiter. */
  static fromTsv(path: string, options?: FileDatasetOptions): Promise<Dataset> {
    return Dataset.fromFile(path, 'tsv', options);
  }

  /**
   * Reads a JSON Lines file (one JSON object per line, blank lines ignored); fields are picked like columns. A
   * label may be a class id, a label name, an array (multi-hot numbers or label names: multi-label) or a number
   * (regression).
   */
  static fromJsonl(path: string, options?: FileDatasetOptions): Promise<Dataset> {
    return Dataset.fromFile(path, 'jsonl', options);
  }

  /**
   * A JSONL file read anew each epoch with bounded memory, for files too large to hold: Trainer.fit accepts it.
   * Rows are read and checked as for fromJsonl; `shuffleBuffer` (default 10,000) and `length` are described in
   * StreamingDatasetOptions.
   */
  static streamJsonl(path: string, options?: StreamingDatasetOptions): StreamingDataset {
    return Dataset.stream(path, 'jsonl', options);
  }

  /** streamJsonl for a CSV file. */
  static streamCsv(path: string, options?: StreamingDatasetOptions): StreamingDataset {
    return Dataset.stream(path, 'csv', options);
  }

  /** streamJsonl for a TSV file. */
  static streamTsv(path: string, options?: StreamingDatasetOptions): StreamingDataset {
    return Dataset.stream(path, 'tsv', options);
  }

  /**
   * Reads a Parquet file (snappy, zstd, gzip, brotli or lz4 pages; dictionary-encoded or plain columns) into memory,
   * row group by row group. Columns are picked by name as for fromCsv; a text column must be a string column. An
   * integer label column holds class ids; a string one, label names (or ids, under labelType); a list column,
   * multi-label labels. A 🤗 datasets ClassLabel column (its names in the file's "huggingface" metadata) gives its
   * names as the labels, ids mapped to them (`labelNames` in id order; labelType 'id' keeps the ids; -1 is no
   * label). Errors name the file, and the row group, row (0-based) and column, e.g.
   * `train.parquet: row group 1, row 17: no label in column "label"`.
   */
  static async fromParquet(path: string, options?: ParquetDatasetOptions): Promise<Dataset> {
    checkPath(path);
    return Dataset.fromParquetFiles([path], resolveFileOptions(options, 'parquet'));
  }

  /**
   * streamJsonl for a Parquet file: read anew each epoch, one row group at a time (memory: the shuffle buffer and a
   * row group); count() reads the row count from the footer, labelNames() its ClassLabel names.
   */
  static streamParquet(path: string, options?: StreamingParquetOptions): StreamingDataset {
    checkPath(path);
    const resolved = resolveFileOptions(options, 'parquet', STREAMING_OPTION_NAMES);
    return new StreamingDataset(path, 'parquet', parquetSource(path, resolved), options ?? {});
  }

  /**
   * One split of a Hugging Face hub dataset, e.g. `Dataset.fromHub('stanfordnlp/imdb', { split: 'train' })`: its
   * Parquet files (the repository's own, else the hub's conversion on refs/convert/parquet) are downloaded into the
   * hub cache Python shares (datasets--org--name; nothing when cached; HF_HUB_OFFLINE, HF_TOKEN and HF_ENDPOINT as
   * for models) and read as fromParquet reads them, in order. `config` picks a config (subset); the column options
   * default to "text" and "label", as for files.
   */
  static async fromHub(id: string, options: HubDatasetOptions): Promise<Dataset> {
    const resolved = resolveFileOptions(options, 'parquet', DATASET_HUB_OPTION_NAMES);
    const { split, config, revision, cacheDir, endpoint, offline, token, fetch, onProgress } = options ?? ({} as Partial<HubDatasetOptions>);
    const found = await resolveDatasetSplit(id, { split, config, revision, cacheDir, endpoint, offline, token, fetch, onProgress } as ResolveDatasetOptions);
    return Dataset.fromParquetFiles(found.files, resolved);
  }

  /** Parquet files read in order as one dataset: `limit` counts over all of them; their ClassLabel names must agree. */
  private static async fromParquetFiles(paths: string[], resolved: ResolvedFileOptions): Promise<Dataset> {
    return await readDecidingLabelColumn(resolved, (o) => Dataset.readParquetFiles(paths, o));
  }

  private static async readParquetFiles(paths: string[], resolved: ResolvedFileOptions): Promise<Dataset> {
    const skipped = emptySkipLog();
    const examples: Example[] = [];
    let declared: { names: string[] | undefined; file: string } | undefined;
    let rowsLeft = resolved.limit;
    for (const path of paths) {
      if (rowsLeft === 0) break;
      const file = await ParquetExamples.open(path, { ...resolved, limit: rowsLeft });
      if (declared !== undefined && JSON.stringify(declared.names) !== JSON.stringify(file.labelNames)) {
        await file.close();
        throw new Error(`${path}: its ClassLabel names (${String(file.labelNames)}) differ from those of ${declared.file} (${String(declared.names)})`);
      }
      declared ??= { names: file.labelNames, file: path };
      if (rowsLeft !== undefined) rowsLeft -= file.rowCount;
      for await (const { example } of file.read(skipped)) examples.push(deepFreeze(example));
    }
    const names = declared?.names;
    return new Dataset(INTERNAL, examples, names !== undefined ? { skipped, labelNames: names } : { skipped });
  }

  private static async fromFile(path: string, format: TextFileFormat, options: FileDatasetOptions | undefined): Promise<Dataset> {
    checkPath(path);
    return await readDecidingLabelColumn(resolveFileOptions(options, format), async (resolved) => {
      const skipped = emptySkipLog();
      const examples: Example[] = [];
      for await (const { example } of readFileExamples(path, format, resolved, skipped)) examples.push(deepFreeze(example));
      return new Dataset(INTERNAL, examples, { skipped });
    });
  }

  private static stream(path: string, format: TextFileFormat, options: StreamingDatasetOptions | undefined): StreamingDataset {
    checkPath(path);
    const resolved = resolveFileOptions(options, format, STREAMING_OPTION_NAMES);
    return new StreamingDataset(path, format, textFileSource(path, format, resolved), options ?? {});
  }

  /** The example at index i (frozen). */
  get(i: number): Example {
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`index ${String(i)} is outside the dataset [0, ${this.length})`);
    }
    return this.examples[i];
  }

  [Symbol.iterator](): Iterator<Example> {
    return this.examples[Symbol.iterator]();
  }

  toArray(): Example[] {
    return [...this.examples];
  }

  /** A new dataset of fn's results (validated again, indices of the result). */
  map(fn: (example: Example, index: number) => Example): Dataset {
    return Dataset.fromArray(this.examples.map((e, i) => fn(e, i)));
  }

  filter(fn: (example: Example, index: number) => boolean): Dataset {
    return this.subset(this.examples.filter((e, i) => fn(e, i)));
  }

  /** Like Array.prototype.slice. */
  slice(start?: number, end?: number): Dataset {
    return this.subset(this.examples.slice(start, end));
  }

  /** The examples at these indices, in this order (e.g. a train/test split). */
  select(indices: number[]): Dataset {
    checkIndices(indices, this.length, false);
    return this.subset(indices.map((i) => this.examples[i]));
  }

  /** The examples in epochOrder(length, seed, 0, true) order. */
  shuffle(seed: number): Dataset {
    return this.select(epochOrder(this.length, seed, 0, true));
  }

  /**
   * A train/validation split, deterministic from `seed` (default 42). `validation` is a fraction in (0, 1) (rounded
   * up, like sklearn's test_size) or a number of examples. `stratify` (default: true when every example has a class
   * label, an id or a name) keeps each class's share in both parts. Both parts keep the dataset's order and its
   * labelNames.
   */
  split(options: { validation: number; seed?: number; stratify?: boolean }): { train: Dataset; validation: Dataset } {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object { validation, seed?, stratify? }');
    for (const key of Object.keys(options)) {
      if (!['validation', 'seed', 'stratify'].includes(key)) throw new TypeError(`unknown option ${JSON.stringify(key)} (known: validation, seed, stratify)`);
    }
    const count = splitCount(options.validation, this.length);
    const seed = options.seed ?? 42;
    requiredNonNegativeInteger(seed, 'seed');
    const keys = this.examples.map((e) => classKey(e.label));
    const classLabels = keys.every((k) => k !== undefined);
    if (options.stratify !== undefined && typeof options.stratify !== 'boolean')
      throw new TypeError(`stratify must be a boolean, got ${show(options.stratify)}`);
    const stratify = options.stratify ?? classLabels;
    if (stratify && !classLabels) {
      const i = keys.findIndex((k) => k === undefined);
      throw new RangeError(
        `stratify needs a class label (an id or a name) on every example; examples[${i}] has ${this.examples[i].label === undefined ? 'none' : 'another kind of label'}`,
      );
    }
    // Rank of each example in a seeded permutation: the lowest ranks (of each class, when stratified) validate.
    const rank = new Array<number>(this.length);
    epochOrder(this.length, seed, 0, true).forEach((index, r) => {
      rank[index] = r;
    });
    const inValidation = new Array<boolean>(this.length).fill(false);
    if (stratify) {
      const members = new Map<string, number[]>();
      keys.forEach((k, i) => {
        const list = members.get(k as string);
        if (list) list.push(i);
        else members.set(k as string, [i]);
      });
      const classes = [...members.keys()].sort();
      const quotas = stratifiedQuotas(
        classes.map((c) => (members.get(c) as number[]).length),
        this.length,
        count,
      );
      classes.forEach((c, ci) => {
        const byRank = (members.get(c) as number[]).sort((a, b) => rank[a] - rank[b]);
        for (const i of byRank.slice(0, quotas[ci])) inValidation[i] = true;
      });
    } else {
      for (let i = 0; i < this.length; i++) if (rank[i] < count) inValidation[i] = true;
    }
    return {
      train: this.subset(this.examples.filter((_, i) => !inValidation[i])),
      validation: this.subset(this.examples.filter((_, i) => inValidation[i])),
    };
  }

  /** Examples of this dataset (already validated and frozen) as a new dataset with the same label names. */
  private subset(examples: Example[]): Dataset {
    return new Dataset(INTERNAL, examples, { labelNames: this.labelNames });
  }
}

function checkPath(path: unknown): void {
  if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a file path, got ${show(path)}`);
}

export function checkIndices(indices: unknown, length: number, nonEmpty: boolean): number[] {
  if (!Array.isArray(indices)) throw new TypeError(`indices must be an array of dataset indices, got ${show(indices)}`);
  if (nonEmpty && indices.length === 0) throw new RangeError('indices is empty (a batch needs at least one example)');
  indices.forEach((v: unknown, j) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= length) {
      throw new RangeError(`indices[${j}] = ${String(v)} is outside the dataset [0, ${length})`);
    }
  });
  return indices as number[];
}

// ---------------------------------------------------------------------------------------------
// problem type, epoch order, batches

/**
 * transformers' rule when config.problem_type is unset: numLabels 1 → regression; array labels (float
 * targets) → multi_label_classification; otherwise single_label_classification.
 */
export function inferProblemType(dataset: Dataset, numLabels: number): ProblemType {
  if (!(dataset instanceof Dataset)) throw new TypeError('dataset must be a Dataset (use Dataset.fromArray)');
  if (typeof numLabels !== 'number' || !Number.isInteger(numLabels) || numLabels < 1) {
    throw new RangeError(`numLabels must be a positive integer, got ${show(numLabels)}`);
  }
  if (numLabels === 1) return 'regression';
  for (const e of dataset) if (Array.isArray(e.label)) return 'multi_label_classification';
  return 'single_label_classification';
}
