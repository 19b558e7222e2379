// Request coalescing for a model that serves many small predict() calls (a Node server): requests that arrive close
// together join one batch, the batch runs as few native forwards as pay (its rows sorted by length and cut where
// padding short rows to long ones would cost more than a forward of their own: groupRowsByLength), and each caller gets
// its own rows back as soon as the forwards holding them have run. Off unless asked for (BertClassifier's `batching`
// option, setRequestBatching()).
//
// A batch opens with the first request that finds none open. While no batch of this batcher is running, it runs
// maxWaitMs after it opened; while one is running, it gathers the requests that come meanwhile and runs as soon as
// that one has finished (the model's compute thread would make it wait anyway). It also runs the moment it holds
// maxBatchSize rows, and a request that does not fit in the room left makes it run and opens the next. Every request
// is checked before it joins (checkRows), so one caller's bad input never reaches a batch; what fails in one of a
// batch's forwards rejects the callers with a row in it.
import { numberIn, optionsObject, positiveInteger, show } from '../util/is';
import { FORWARD_COST_TOKENS, groupRowsByLength } from './length-groups';

export interface RequestBatchingOptions {
  /** Rows (texts) one native forward takes at most (default 32). */
  maxBatchSize?: number;
  /**
   * How long a batch's first request waits for others while no batch is running, in milliseconds (default 0: only the
   * requests made in the same turn of the event loop join it, so a lone request is not delayed). While a batch runs,
   * the next one gathers until it has finished, whatever this is.
   */
  maxWaitMs?: number;
}

export interface ResolvedRequestBatching {
  maxBatchSize: number;
  maxWaitMs: number;
}

export const REQUEST_BATCHING_OPTIONS = ['maxBatchSize', 'maxWaitMs'] as const;
export const DEFAULT_MAX_BATCH_SIZE = 32;
export const DEFAULT_MAX_WAIT_MS = 0;
/** The longest window accepted: a minute (a longer one is a mistake, not a setting). */
const MAX_WAIT_LIMIT_MS = 60_000;

/** The `batching` option checked, with its defaults filled in; undefined, null and false: off (null). */
export function resolveRequestBatching(value: unknown, name = 'batching'): ResolvedRequestBatching | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return { maxBatchSize: DEFAULT_MAX_BATCH_SIZE, maxWaitMs: DEFAULT_MAX_WAIT_MS };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object { maxBatchSize?, maxWaitMs? }, true or false, got ${show(value)}`);
  }
  const o = optionsObject(value, name, REQUEST_BATCHING_OPTIONS);
  return {
    maxBatchSize: positiveInteger(o.maxBatchSize, `${name}.maxBatchSize`, DEFAULT_MAX_BATCH_SIZE),
    maxWaitMs: numberIn(o.maxWaitMs, `${name}.maxWaitMs`, DEFAULT_MAX_WAIT_MS, 0, MAX_WAIT_LIMIT_MS),
  };
}

/** One request's token rows, unpadded (each row as long as its text's tokens). */
export interface TokenRows {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
}

/** A batch as the native forward takes it: row-major [batchSize, sequenceLength] matrices. */
export interface PaddedBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  batchSize: number;
  sequenceLength: number;
}

/** Row-major [rows, labels] logits. */
export interface BatchLogits {
  logits: Float32Array;
  shape: [number, number];
}

export type RunBatch = (batch: PaddedBatch) => Promise<{ logits: Float32Array; shape: readonly number[] }>;

export interface RowLimits {
  vocabSize: number;
  typeVocabSize: number;
  /** The longest sequence the model takes (max_position_embeddings, less RoBERTa's padding offset). */
  maxSequenceLength: number;
}

/**
 * Checks one request's rows against the model before they join a batch: RangeErrors naming `name[offset + row]` for
 * an empty or too long row, rows of unequal parts, and token or type ids outside the model's vocabularies.
 */
export function checkRows(rows: TokenRows, limits: RowLimits, name = 'texts', offset = 0): void {
  const { inputIds, attentionMask, tokenTypeIds } = rows;
  if (inputIds.length === 0) throw new RangeError(`${name} is empty (at least one text is needed)`);
  if (attentionMask.length !== inputIds.length || tokenTypeIds.length !== inputIds.length) {
    throw new RangeError(`${name}: the attention mask and token types must have a row per text`);
  }
  for (let r = 0; r < inputIds.length; r += 1) {
    const i = r + offset; // the row's index in the caller's list
    const ids = inputIds[r];
    const mask = attentionMask[r];
    const types = tokenTypeIds[r];
    if (ids.length === 0) throw new RangeError(`${name}[${i}] has no tokens`);
    if (ids.length > limits.maxSequenceLength) {
      throw new RangeError(`${name}[${i}] has ${ids.length} tokens, more than the model's longest sequence (${limits.maxSequenceLength})`);
    }
    if (mask.length !== ids.length || types.length !== ids.length) {
      throw new RangeError(`${name}[${i}]: its attention mask and token types must be as long as its ${ids.length} tokens`);
    }
    for (let j = 0; j < ids.length; j += 1) {
      const id = ids[j];
      if (!Number.isInteger(id) || id < 0 || id >= limits.vocabSize) {
        throw new RangeError(`${name}[${i}] token ${j} has id ${String(id)}, outside the vocabulary [0, ${limits.vocabSize})`);
      }
      const type = types[j];
      if (!Number.isInteger(type) || type < 0 || type >= limits.typeVocabSize) {
        throw new RangeError(`${name}[${i}] token ${j} has type ${String(type)}, outside [0, ${limits.typeVocabSize})`);
      }
      if (mask[j] !== 0 && mask[j] !== 1) throw new RangeError(`${name}[${i}] token ${j} has attention mask ${String(mask[j])}, not 0 or 1`);
    }
  }
}

interface Request {
  rows: TokenRows;
  resolve: (value: BatchLogits) => void;
  reject: (reason: unknown) => void;
}

interface OpenBatch {
  requests: Request[];
  rows: number;
  /**
   * What runs the batch when its window ends (a timeout, or an immediate for a window of 0); null while it gathers
   * behind a running batch.
   */
  timer: { timeout: ReturnType<typeof setTimeout> } | { immediate: ReturnType<typeof setImmediate> } | null;
}

/** The rows of several requests as one list, in order. */
export function concatRows(requests: readonly TokenRows[]): TokenRows {
  return {
    inputIds: requests.flatMap((r) => r.inputIds),
    attentionMask: requests.flatMap((r) => r.attentionMask),
    tokenTypeIds: requests.flatMap((r) => r.tokenTypeIds),
  };
}

/**
 * Rows `indices` of `rows` (default: all, in order) padded into one batch, in that order (pad token `padId`,
 * attention 0, type 0).
 */
export function padRows(rows: TokenRows, padId: number, indices: readonly number[] = rows.inputIds.map((_, i) => i)): PaddedBatch {
  const batchSize = indices.length;
  let sequenceLength = 0;
  for (const i of indices) sequenceLength = Math.max(sequenceLength, rows.inputIds[i].length);
  const inputIds = new Int32Array(batchSize * sequenceLength).fill(padId);
  const attentionMask = new Int32Array(batchSize * sequenceLength);
  const tokenTypeIds = new Int32Array(batchSize * sequenceLength);
  indices.forEach((i, position) => {
    const offset = position * sequenceLength;
    inputIds.set(rows.inputIds[i], offset);
    attentionMask.set(rows.attentionMask[i], offset);
    tokenTypeIds.set(rows.tokenTypeIds[i], offset);
  });
  return { inputIds, attentionMask, tokenTypeIds, batchSize, sequenceLength };
}

export class RequestBatcher {
  readonly options: ResolvedRequestBatching;
  private readonly run: RunBatch;
  private readonly padId: number;
  private open: OpenBatch | null = null;
  private running = 0;
  private closedWith: Error | null = null;

  private readonly forwardCostTokens: number;

  /**
   * `run` computes a padded batch's logits (one native forward); `padId` fills the padded positions;
   * `forwardCostTokens` is what groupRowsByLength weighs a forward at.
   */
  constructor(options: ResolvedRequestBatching, run: RunBatch, padId = 0, forwardCostTokens = FORWARD_COST_TOKENS) {
    this.options = options;
    this.run = run;
    this.padId = padId;
    this.forwardCostTokens = forwardCostTokens;
  }

  /**
   * Queues one request (at most maxBatchSize rows, already checked with checkRows) and resolves with its rows' logits
   * when its batch has run; rejects with what the batch's forward threw.
   */
  submit(rows: TokenRows): Promise<BatchLogits> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const count = rows.inputIds.length;
    if (count > this.options.maxBatchSize) {
      return Promise.reject(new RangeError(`a request of ${count} rows is larger than maxBatchSize (${this.options.maxBatchSize})`));
    }
    return new Promise<BatchLogits>((resolve, reject) => {
      if (this.open && this.open.rows + count > this.options.maxBatchSize) this.flush();
      if (!this.open) this.open = { requests: [], rows: 0, timer: this.running === 0 ? this.windowTimer() : null };
      this.open.requests.push({ rows, resolve, reject });
      this.open.rows += count;
      if (this.open.rows >= this.options.maxBatchSize) this.flush();
    });
  }

  /** Rejects the requests that have not run yet with `reason`, and every later submit; a batch already running finishes. */
  close(reason: Error): void {
    this.closedWith = reason;
    const open = this.open;
    if (!open) return;
    this.open = null;
    clearBatchTimer(open.timer);
    for (const r of open.requests) r.reject(reason);
  }

  /** Runs the open batch now, without waiting for the rest of its window. */
  flushNow(): void {
    this.flush();
  }

  /** Rows waiting in the open batch. */
  get waitingRows(): number {
    return this.open ? this.open.rows : 0;
  }

  /** What runs the open batch when its window ends. */
  private windowTimer(): NonNullable<OpenBatch['timer']> {
    const flush = (): void => this.flush();
    return this.options.maxWaitMs > 0 ? { timeout: setTimeout(flush, this.options.maxWaitMs) } : { immediate: setImmediate(flush) };
  }

  /** A batch has settled: the batch that gathered behind it runs now. */
  private settled(): void {
    this.running -= 1;
    if (this.running === 0 && this.open && this.open.timer === null) this.flush();
  }

  /** Closes the open batch and starts its forwards: one per group of rows of similar length. */
  private flush(): void {
    const batch = this.open;
    if (!batch) return;
    this.open = null;
    clearBatchTimer(batch.timer);
    const requests = batch.requests;
    // Every row of the batch, in request order: its request and its row there (where it lands in that request's logits).
    const all = concatRows(requests.map((r) => r.rows));
    const rows = requests.flatMap((r, request) => r.rows.inputIds.map((_, row) => ({ request, row })));
    const groups = groupRowsByLength(
      all.inputIds.map((ids) => ids.length),
      this.forwardCostTokens,
    );
    const forwards = groups.map((group) => {
      try {
        return this.run(padRows(all, this.padId, group));
      } catch (err) {
        return Promise.reject(err);
      }
    });
    // A call is answered when the forwards holding its rows have run, not the whole batch: most calls are one text.
    const requestsOf = groups.map((group) => [...new Set(group.map((index) => rows[index].request))]);
    const remaining = requests.map(() => 0);
    for (const list of requestsOf) for (const request of list) remaining[request] += 1;
    const logits: (Float32Array | null)[] = requests.map(() => null);
    const failed = requests.map(() => false);
    forwards.forEach((forward, g) => {
      forward.then(
        (output) => {
          const labels = output.shape[1];
          groups[g].forEach((index, position) => {
            const { request, row } = rows[index];
            const out = (logits[request] ??= new Float32Array(requests[request].rows.inputIds.length * labels));
            out.set(output.logits.subarray(position * labels, (position + 1) * labels), row * labels);
          });
          for (const request of requestsOf[g]) {
            remaining[request] -= 1;
            const r = requests[request];
            if (remaining[request] === 0 && !failed[request]) r.resolve({ logits: logits[request]!, shape: [r.rows.inputIds.length, labels] });
          }
        },
        (err: unknown) => {
          // A forward's error rejects the calls with a row in it; the batch's other calls are answered.
          for (const request of requestsOf[g]) {
            if (failed[request]) continue;
            failed[request] = true;
            requests[request].reject(err);
          }
        },
      );
    });
    // The batch gathering behind this one runs when all of this one's forwards have settled.
    this.running += 1;
    void Promise.allSettled(forwards).then(() => this.settled());
  }
}

function clearBatchTimer(timer: OpenBatch['timer']): void {
  if (timer === null) return;
  if ('timeout' in timer) clearTimeout(timer.timeout);
  else clearImmediate(timer.immediate);
}
