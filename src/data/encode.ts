// The step that turns a batch of examples into model inputs: tokenized (or taken as given), padded to the longest
// row of the batch, labels encoded for the problem type. Errors name the example by its dataset index.
import { PROBLEM_TYPES, ProblemType } from '../model/config';
import type { BertTokenizer } from '../tokenizer/tokenizer';
import { describeValue as show } from '../util/describe-value';
import { Dataset, checkIndices } from './dataset';
import { Example, INT32_MAX, Label, TextExample, TokenizedExample, isTextExample } from './example';

const MAX_LISTED_LABELS = 20;

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
