// The training-data API: a validated, immutable list of examples (texts or token ids, with labels), the seeded
// epoch order, and the step that turns a batch of examples into model inputs (tokenized, padded to the longest
// row of the batch, labels encoded for the problem type). Errors name the example by its dataset index.
// Datasets also come from files (CSV, TSV, JSONL: src/dataset-files.ts), read whole or streamed
// (src/streaming-dataset.ts).
import { describeValue as show } from './describe-value';
import { mulberry32 } from './random';
import type { ProblemType } from './config';
import { FileDatasetOptions, FileFormat, SkippedRows, emptySkipLog, labelNamesOf, readFileExamples, resolveFileOptions } from './dataset-files';
import { STREAMING_OPTION_NAMES, StreamingDataset, StreamingDatasetOptions } from './streaming-dataset';
import type { BertTokenizer } from './tokenizer';

export type { FileDatasetOptions, SkippedRows } from './dataset-files';

export type { ProblemType } from './config';

/**
 * A class id or label name (single-label); an array of numbers (multi-hot / probabilities for multi-label, or
 * the targets of a multi-target regression) or of label names (multi-label); a number (regression).
 */
export type Label = number | string | number[] | string[];

export interface TextExample {
  text: string;
  textPair?: string;
  label?: Label;
}

export interface TokenizedExample {
  inputIds: number[];
  attentionMask?: number[];
  tokenTypeIds?: number[];
  label?: Label;
}

export type Example = TextExample | TokenizedExample;

export const PROBLEM_TYPES: readonly ProblemType[] = ['single_label_classification', 'multi_label_classification', 'regression'];

const INT32_MAX = 2147483647;
const MAX_LISTED_LABELS = 20;

function isTextExample(e: Example): e is TextExample {
  return (e as TextExample).text !== undefined;
}

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

/** An immutable list of validated examples. Build it with `Dataset.fromArray` or read it with `Dataset.fromCsv` and kin. */
export class Dataset implements Iterable<Example> {
  readonly length: number;
  /** How many examples carry a label (0: unlabeled data, `length`: fully labeled). */
  readonly labeledCount: number;
  /**
   * The distinct label names (string labels) seen, sorted; undefined when every label is an id or a number. For a new
   * model they become its labels (config.json's id2label/label2id). Subsets (split, slice, ...) keep their parent's.
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

  private static async fromFile(path: string, format: FileFormat, options: FileDatasetOptions | undefined): Promise<Dataset> {
    if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a file path, got ${show(path)}`);
    const resolved = resolveFileOptions(options, format);
    const skipped = emptySkipLog();
    const examples: Example[] = [];
    for await (const { example } of readFileExamples(path, format, resolved, skipped)) examples.push(deepFreeze(example));
    return new Dataset(INTERNAL, examples, { skipped });
  }

  private static stream(path: string, format: FileFormat, options: StreamingDatasetOptions | undefined): StreamingDataset {
    if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a file path, got ${show(path)}`);
    const resolved = resolveFileOptions(options, format, STREAMING_OPTION_NAMES);
    return new StreamingDataset(path, format, resolved, options ?? {});
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
    checkNonNegativeInteger(seed, 'seed');
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

function checkIndices(indices: unknown, length: number, nonEmpty: boolean): number[] {
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

function checkNonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${show(value)}`);
  }
  return value;
}

/** One round of a 32-bit integer hash (murmur3's finaliser), folding v into h. */
function mix32(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The random numbers of one epoch: mulberry32 seeded with (seed, epoch), identical in every process and platform.
 * Every seeded order of the library (epoch permutations, streaming shuffle buffers, splits) draws from it.
 */
export function epochRandom(seed: number, epoch: number): () => number {
  checkNonNegativeInteger(seed, 'seed');
  checkNonNegativeInteger(epoch, 'epoch');
  const seedLow = seed >>> 0;
  const seedHigh = Math.floor(seed / 4294967296) >>> 0;
  const state = mix32(mix32(mix32(mix32(0x9e3779b9, seedLow), seedHigh), epoch >>> 0), Math.floor(epoch / 4294967296) >>> 0);
  return mulberry32(state);
}

/**
 * The order in which an epoch visits the dataset: a Fisher–Yates permutation of 0..length-1 from
 * epochRandom(seed, epoch); 0..length-1 when shuffle is false.
 */
export function epochOrder(length: number, seed: number, epoch: number, shuffle: boolean): number[] {
  checkNonNegativeInteger(length, 'length');
  checkNonNegativeInteger(seed, 'seed');
  checkNonNegativeInteger(epoch, 'epoch');
  if (typeof shuffle !== 'boolean') throw new TypeError(`shuffle must be a boolean, got ${show(shuffle)}`);
  const order = Array.from({ length }, (_, i) => i);
  if (!shuffle) return order;
  const random = epochRandom(seed, epoch);
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Consecutive batches of `order`; the last one may be smaller. */
export function batchesOf(order: readonly number[], batchSize: number): number[][] {
  if (!Array.isArray(order)) throw new TypeError(`order must be an array of indices, got ${show(order)}`);
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${show(batchSize)}`);
  }
  const out: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) out.push(order.slice(start, start + batchSize));
  return out;
}

// ---------------------------------------------------------------------------------------------
// batches

export interface EncodeContext {
  /** Needed for text examples. */
  tokenizer?: BertTokenizer;
  /** Truncation length of texts and the limit for pre-tokenized rows; default: the tokenizer's maxLength (no limit for pre-tokenized rows without a tokenizer). */
  maxLength?: number;
  /** Padding id when there is no tokenizer (the tokenizer's padTokenId is used when there is one); config.pad_token_id. */
  padTokenId: number;
  problemType: ProblemType;
  numLabels: number;
  label2id: Record<string, number>;
  /** When true, every example must have a label; when false, a batch with no labels gets `labels: null`. */
  requireLabels: boolean;
}

export interface EncodedBatch {
  /** Row-major [batchSize, sequenceLength]. */
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  /** Int32Array [batchSize] (single-label), Float32Array [batchSize * numLabels] (multi-label, regression), or null. */
  labels: Int32Array | Float32Array | null;
  batchSize: number;
  sequenceLength: number;
  /** The dataset indices of the rows. */
  indices: number[];
  /** Sum of the attention mask (tokens that are not padding). */
  realTokens: number;
}

function knownLabels(label2id: Record<string, number>): string {
  const names = Object.keys(label2id).sort((a, b) => label2id[a] - label2id[b]);
  const listed = names
    .slice(0, MAX_LISTED_LABELS)
    .map((n) => JSON.stringify(n))
    .join(', ');
  return names.length > MAX_LISTED_LABELS ? `${listed}, … (${names.length} in all)` : listed;
}

function labelIdOf(name: string, where: string, ctx: EncodeContext): number {
  if (!Object.prototype.hasOwnProperty.call(ctx.label2id, name)) {
    throw new Error(`${where} ${JSON.stringify(name)} is not a label of this model (known labels: ${knownLabels(ctx.label2id)})`);
  }
  const id = ctx.label2id[name];
  if (!Number.isInteger(id) || id < 0 || id >= ctx.numLabels) {
    throw new RangeError(`${where} ${JSON.stringify(name)} maps to id ${String(id)}, outside [0, ${ctx.numLabels}) (check label2id)`);
  }
  return id;
}

/**
 * Examples to encode as one batch. `indices` become EncodedBatch.indices; `nameOf(row)` is how errors name a row's
 * example (default `examples[<index>]`; a streamed example adds its file and line).
 */
export interface BatchRows {
  examples: readonly Example[];
  indices: number[];
  nameOf?: (row: number) => string;
}

function encodeLabels(rows: BatchRows, nameOf: (row: number) => string, ctx: EncodeContext): Int32Array | Float32Array | null {
  const { examples } = rows;
  let firstLabeled = -1;
  let firstMissing = -1;
  examples.forEach((e, row) => {
    if (e.label === undefined) {
      if (firstMissing < 0) firstMissing = row;
    } else if (firstLabeled < 0) firstLabeled = row;
  });
  if (firstMissing >= 0) {
    if (ctx.requireLabels) throw new Error(`${nameOf(firstMissing)} has no label (every example needs one for training and evaluation)`);
    if (firstLabeled < 0) return null;
    throw new Error(`${nameOf(firstMissing)} has no label but ${nameOf(firstLabeled)} has one; give every example a label or none`);
  }

  const L = ctx.numLabels;
  const B = examples.length;
  const problem = ctx.problemType;
  if (problem === 'single_label_classification') {
    const out = new Int32Array(B);
    examples.forEach((e, row) => {
      const label = e.label;
      const where = `${nameOf(row)}.label`;
      if (typeof label === 'number') {
        if (!Number.isInteger(label)) throw new TypeError(`${where} must be an integer class id or a label name for single_label_classification, got ${label}`);
        if (label < 0 || label >= L) throw new RangeError(`${where} = ${label} is outside the class ids [0, ${L})`);
        out[row] = label;
      } else if (typeof label === 'string') {
        out[row] = labelIdOf(label, where, ctx);
      } else {
        throw new TypeError(
          `${where} is an array, but single_label_classification needs one class id or label name (arrays are for multi_label_classification or regression)`,
        );
      }
    });
    return out;
  }

  const out = new Float32Array(B * L);
  examples.forEach((e, row) => {
    const label = e.label as Label;
    const where = `${nameOf(row)}.label`;
    if (problem === 'multi_label_classification') {
      if (!Array.isArray(label)) {
        throw new TypeError(`${where} must be an array for multi_label_classification (${L} numbers, or label names), got ${show(label)}`);
      }
      if (label.length > 0 && typeof label[0] === 'string') {
        for (const name of label as string[]) out[row * L + labelIdOf(name, `${where} name`, ctx)] = 1;
        return;
      }
      if (label.length === 0) return; // no label set: all zeros
      if (label.length !== L) throw new RangeError(`${where} has ${label.length} values, expected ${L} (one per label)`);
      (label as number[]).forEach((v, j) => {
        if (v < 0 || v > 1) throw new RangeError(`${where}[${j}] = ${v} must be in [0, 1] (0/1 or a probability)`);
        out[row * L + j] = v;
      });
      return;
    }
    // regression
    if (typeof label === 'number') {
      if (L !== 1) throw new RangeError(`${where} is one number, but this regression model has ${L} outputs; give an array of ${L} numbers`);
      out[row] = label;
      return;
    }
    if (typeof label === 'string' || (label.length > 0 && typeof label[0] === 'string')) {
      throw new TypeError(`${where} must be ${L === 1 ? 'a number' : `an array of ${L} numbers`} for regression, got ${show(label)}`);
    }
    if (label.length !== L) throw new RangeError(`${where} has ${label.length} values, expected ${L} (one per regression output)`);
    (label as number[]).forEach((v, j) => {
      out[row * L + j] = v;
    });
  });
  return out;
}

function checkContext(ctx: EncodeContext): void {
  if (ctx === null || typeof ctx !== 'object') throw new TypeError('ctx must be an object');
  if (!PROBLEM_TYPES.includes(ctx.problemType)) {
    throw new RangeError(`problemType must be one of ${PROBLEM_TYPES.join(', ')}, got ${show(ctx.problemType)}`);
  }
  if (typeof ctx.numLabels !== 'number' || !Number.isInteger(ctx.numLabels) || ctx.numLabels < 1) {
    throw new RangeError(`numLabels must be a positive integer, got ${show(ctx.numLabels)}`);
  }
  if (typeof ctx.padTokenId !== 'number' || !Number.isInteger(ctx.padTokenId) || ctx.padTokenId < 0 || ctx.padTokenId > INT32_MAX) {
    throw new RangeError(`padTokenId must be a non-negative integer, got ${show(ctx.padTokenId)}`);
  }
  if (ctx.maxLength !== undefined && (typeof ctx.maxLength !== 'number' || !Number.isInteger(ctx.maxLength) || ctx.maxLength < 1)) {
    throw new RangeError(`maxLength must be a positive integer, got ${show(ctx.maxLength)}`);
  }
  if (ctx.label2id === null || typeof ctx.label2id !== 'object') throw new TypeError('label2id must be an object of label name -> id');
}

const defaultName =
  (indices: number[]) =>
  (row: number): string =>
    `examples[${indices[row]}]`;

/** One row's token ids, mask and token types, unpadded. */
interface TokenRow {
  inputIds: number[];
  attentionMask?: number[];
  tokenTypeIds?: number[];
}

/**
 * The token rows of one in-memory dataset's examples by dataset index, filled as its batches are encoded, so that
 * later epochs re-form batches without tokenizing again. Tokenizing runs beside the native step on the same cores:
 * on 2 cores and 128-token e-mails it slowed every step (BENCHMARKS.md, e2e). Valid for one tokenizer and maxLength;
 * the Trainer keeps one per dataset and checks both.
 */
export class TokenRowCache {
  private readonly rows = new Map<number, TokenRow>();

  get size(): number {
    return this.rows.size;
  }

  /** The rows of `examples` (dataset rows at `indices`), tokenizing only those not seen before. */
  async rowsOf(examples: readonly Example[], indices: readonly number[], nameOf: (row: number) => string, ctx: EncodeContext): Promise<TokenRow[]> {
    const missing: number[] = []; // positions in `examples`
    indices.forEach((index, row) => {
      if (!this.rows.has(index)) missing.push(row);
    });
    if (missing.length > 0) {
      const fresh = await tokenRows(
        missing.map((row) => examples[row]),
        (k) => nameOf(missing[k]),
        ctx,
      );
      missing.forEach((row, k) => this.rows.set(indices[row], fresh[k]));
    }
    return indices.map((index) => this.rows.get(index) as TokenRow);
  }
}

/**
 * Every row's tokens: texts tokenized (truncated to maxLength, pairs with 'longest_first', no padding) in one
 * tokenizer call per kind (single texts, pairs); pre-tokenized rows as they are (longer than maxLength is an error).
 */
async function tokenRows(examples: readonly Example[], nameOf: (row: number) => string, ctx: EncodeContext): Promise<TokenRow[]> {
  const tokenizer = ctx.tokenizer;
  const limit = ctx.maxLength ?? tokenizer?.maxLength;
  const out = new Array<TokenRow>(examples.length);
  const single: number[] = [];
  const paired: number[] = [];
  examples.forEach((e, row) => {
    if (isTextExample(e)) {
      if (!tokenizer) {
        throw new Error(`${nameOf(row)} is text, but the model has no tokenizer; attach one or give pre-tokenized inputIds`);
      }
      (e.textPair !== undefined ? paired : single).push(row);
      return;
    }
    if (limit !== undefined && e.inputIds.length > limit) {
      throw new RangeError(`${nameOf(row)}.inputIds has ${e.inputIds.length} tokens, more than maxLength (${limit}); pre-tokenized inputs are not truncated`);
    }
    out[row] = e;
  });

  if (tokenizer) {
    const options = { padding: false as const, truncation: true, ...(ctx.maxLength !== undefined ? { maxLength: ctx.maxLength } : {}) };
    const groups: Array<[number[], boolean]> = [
      [single, false],
      [paired, true],
    ];
    await Promise.all(
      groups.map(async ([rows, withPairs]) => {
        if (rows.length === 0) return;
        const texts = rows.map((row) => (examples[row] as TextExample).text);
        const pairs = withPairs ? rows.map((row) => (examples[row] as TextExample).textPair as string) : undefined;
        const enc = await tokenizer.encode(texts, pairs, options);
        rows.forEach((row, k) => {
          out[row] = { inputIds: enc.inputIds[k], attentionMask: enc.attentionMask[k], tokenTypeIds: enc.tokenTypeIds[k] };
        });
      }),
    );
  }
  return out;
}

/**
 * Turns examples into a model batch: texts are tokenized (truncated to maxLength, pairs with 'longest_first'),
 * pre-tokenized rows are taken as they are (longer than maxLength is an error), every row is padded to the longest
 * row of the batch (pad id, mask 0, token type 0), and the labels are encoded for ctx.problemType.
 */
export async function encodeExamples(rows: BatchRows, ctx: EncodeContext, cache?: TokenRowCache): Promise<EncodedBatch> {
  if (rows === null || typeof rows !== 'object' || !Array.isArray(rows.examples) || !Array.isArray(rows.indices)) {
    throw new TypeError('rows must be { examples, indices, nameOf? }');
  }
  if (rows.examples.length === 0) throw new RangeError('a batch needs at least one example');
  if (rows.indices.length !== rows.examples.length) throw new RangeError(`rows has ${rows.examples.length} examples but ${rows.indices.length} indices`);
  checkContext(ctx);
  const nameOf = rows.nameOf ?? defaultName(rows.indices);
  const labels = encodeLabels(rows, nameOf, ctx);
  const tokens = cache ? await cache.rowsOf(rows.examples, rows.indices, nameOf, ctx) : await tokenRows(rows.examples, nameOf, ctx);

  const B = tokens.length;
  let S = 0;
  for (const row of tokens) if (row.inputIds.length > S) S = row.inputIds.length;
  const padId = ctx.tokenizer ? ctx.tokenizer.padTokenId : ctx.padTokenId;
  const inputIds = new Int32Array(B * S).fill(padId);
  const attentionMask = new Int32Array(B * S);
  const tokenTypeIds = new Int32Array(B * S);
  let realTokens = 0;
  for (let row = 0; row < B; row++) {
    const base = row * S;
    const { inputIds: rowIds, attentionMask: rowMask, tokenTypeIds: rowTypes } = tokens[row];
    for (let t = 0; t < rowIds.length; t++) {
      inputIds[base + t] = rowIds[t];
      const m = rowMask ? rowMask[t] : 1;
      attentionMask[base + t] = m;
      realTokens += m;
      if (rowTypes) tokenTypeIds[base + t] = rowTypes[t];
    }
  }
  return { inputIds, attentionMask, tokenTypeIds, labels, batchSize: B, sequenceLength: S, indices: [...rows.indices], realTokens };
}

/**
 * encodeExamples of the dataset's examples at `indices` (errors name them by their dataset index); with `cache`
 * (this dataset's, for ctx's tokenizer and maxLength), rows tokenized before are taken from it.
 */
export async function encodeBatch(dataset: Dataset, indices: number[], ctx: EncodeContext, cache?: TokenRowCache): Promise<EncodedBatch> {
  if (!(dataset instanceof Dataset)) throw new TypeError('dataset must be a Dataset (use Dataset.fromArray)');
  checkIndices(indices, dataset.length, true);
  checkContext(ctx);
  return encodeExamples({ examples: indices.map((i) => dataset.get(i)), indices }, ctx, cache);
}

/**
 * Token lengths of examples as encodeExamples would make them (texts tokenized and truncated, pre-tokenized rows
 * as they are), without padding: for length-grouped batching. Texts are tokenized `chunk` at a time.
 */
export async function tokenLengths(
  examples: readonly Example[],
  ctx: EncodeContext,
  nameOf?: (index: number) => string,
  chunk = 512,
  cache?: TokenRowCache,
): Promise<Int32Array> {
  checkContext(ctx);
  const lengths = new Int32Array(examples.length);
  for (let start = 0; start < examples.length; start += chunk) {
    const part = examples.slice(start, start + chunk);
    const name = (row: number): string => (nameOf ? nameOf(start + row) : `examples[${start + row}]`);
    // With a cache (the Trainer's rows of this dataset), the rows tokenized here are the ones its batches use.
    const rows = cache
      ? await cache.rowsOf(
          part,
          part.map((_, k) => start + k),
          name,
          ctx,
        )
      : await tokenRows(part, name, ctx);
    rows.forEach((r, k) => {
      lengths[start + k] = r.inputIds.length;
    });
  }
  return lengths;
}

/** Pre-tokenized copies of examples (labels kept), as encodeExamples would tokenize them: lets a batch be re-formed without tokenizing again. */
export async function pretokenize(examples: readonly Example[], ctx: EncodeContext, nameOf?: (row: number) => string): Promise<TokenizedExample[]> {
  checkContext(ctx);
  const rows = await tokenRows(examples, nameOf ?? ((row) => `examples[${row}]`), ctx);
  return rows.map((r, row) => {
    const out: TokenizedExample = { inputIds: r.inputIds };
    if (r.attentionMask) out.attentionMask = r.attentionMask;
    if (r.tokenTypeIds) out.tokenTypeIds = r.tokenTypeIds;
    const label = examples[row].label;
    if (label !== undefined) out.label = label;
    return out;
  });
}
