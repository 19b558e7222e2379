// BertClassifier: the public model object. It reads a Hugging Face model directory (config, weights,
// tokenizer), runs eval-mode forward passes and predictions in native code off the main thread, and saves
// a directory that transformers' BertForSequenceClassification.from_pretrained loads.
import { oneOf, optionsObject } from '../util/is';
import { promises as fs } from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../util/atomic-write';
import { ARCHITECTURES } from './architectures';
import { BertConfig, LabelOptions, configToJson, maxSequenceLength, nativeConfig, readConfig, resolveConfig } from './config';
import { ForwardInputs, flattenInputs } from './inputs';
import { RowLogits, runRowsByLength } from './length-groups';
import {
  PaddedBatch,
  RequestBatcher,
  RequestBatchingOptions,
  ResolvedRequestBatching,
  TokenRows,
  checkRows,
  padRows,
  resolveRequestBatching,
} from './request-batcher';
import { ExportOnnxOptions, exportOnnx } from './onnx/export-onnx';
import type { ResolveModelOptions } from '../hub/resolve-options';
import { isHubId, resolveModel } from '../hub/resolve-model';
import { findWeightsFiles, requireDirectory } from '../checkpoint/model-files';
import { parseShardSize, removeStaleWeightFiles, writeShardIndexes } from '../checkpoint/weight-shards';
import { NativeForwardOutput, NativeLoadReport, NativeModelHandle, native, nativeError } from '../engine/native';
import { BatchEncoding, BertTokenizer } from '../tokenizer/tokenizer';
import { DeviceOption, resolveDevice } from '../engine/device';

export interface FromPretrainedOptions extends LabelOptions {
  /** For hub ids: revision, cacheDir, endpoint, offline, onProgress (see resolveModel). */
  hub?: ResolveModelOptions;
  /** Re-initialise weights whose shape differs from the checkpoint's (e.g. a classifier with other numLabels). */
  ignoreMismatchedSizes?: boolean;
  /** Seed for the weights the checkpoint does not provide (e.g. a fresh classifier). Default 42. */
  seed?: number;
  /** Tokenizer max length; default min(model_max_length, max_position_embeddings, 512). */
  maxLength?: number;
  /**
   * Where the model computes: 'cpu' (default), 'cuda' / 'cuda:N' (an NVIDIA GPU; needs a CUDA build), or 'auto' (the
   * first GPU when there is one, else the CPU). Weights are loaded on the CPU, then moved.
   */
  device?: DeviceOption;
  /**
   * Coalesce concurrent predict() calls into one native forward (off by default): `{ maxBatchSize, maxWaitMs }`
   * (defaults 32 and 2), or true for the defaults. See setRequestBatching().
   */
  batching?: RequestBatchingOptions | boolean;
}

export interface LoadReport {
  /** Model weights absent from the checkpoint, left freshly initialised (e.g. classifier.weight). */
  missing: string[];
  /** Checkpoint keys the model does not use (e.g. cls.* pretraining heads). */
  unexpected: string[];
  /** Checkpoint keys loaded under another name (legacy LayerNorm.gamma/beta, a bare BertModel's keys). */
  renamed: { from: string; to: string }[];
  /** Every model weight holding a fresh initialisation rather than checkpoint values. */
  initialized: string[];
}

export interface ForwardOptions extends ForwardInputs {
  /** Also return the base model's pooled output and last hidden state. */
  outputHiddenStates?: boolean;
}

export interface ForwardResult {
  /** Row-major [batch, numLabels] logits. */
  logits: Float32Array;
  shape: [number, number];
  /** Row-major [batch, hidden] when outputHiddenStates is set, for BERT (the other architectures' heads have no pooler). */
  pooledOutput?: Float32Array;
  /** Row-major [batch, sequence, hidden] when outputHiddenStates is set. */
  lastHiddenState?: Float32Array;
  hiddenShape?: [number, number, number];
}

export interface Prediction {
  /** The top label's name (single-label), the first label (regression), or the highest-scoring label (multi-label). */
  label: string;
  /** Its probability (softmax for single-label, sigmoid for multi-label) or the regression value. */
  score: number;
  /** Every label's score, by label name. */
  scores: Record<string, number>;
}

export interface PredictOptions {
  /** Texts per forward pass (default 32). */
  batchSize?: number;
}

/** How save() writes weights: model.safetensors, pytorch_model.bin, or both. */
export const SAVE_FORMATS = ['safetensors', 'pytorch', 'both'] as const;
export type SaveFormat = (typeof SAVE_FORMATS)[number];

export interface SaveOptions {
  /** Which weights files: model.safetensors (the default), pytorch_model.bin, or both. */
  format?: SaveFormat;
  /**
   * The largest weights file, in bytes or as "500MB" / "5GB" / "2GiB" (default "50GB", as transformers 5): bigger
   * weights are split into model-00001-of-0000N.safetensors shards plus model.safetensors.index.json, as
   * save_pretrained(max_shard_size=...) splits them.
   */
  maxShardSize?: number | string;
}

const DEFAULT_SEED = 42;

function checkOptions(options: FromPretrainedOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.ignoreMismatchedSizes !== undefined && typeof options.ignoreMismatchedSizes !== 'boolean') {
    throw new TypeError('ignoreMismatchedSizes must be a boolean');
  }
  if (options.seed !== undefined && (!Number.isSafeInteger(options.seed) || options.seed < 0)) {
    throw new RangeError(`seed must be a non-negative integer, got ${String(options.seed)}`);
  }
  if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 1)) {
    throw new RangeError(`maxLength must be a positive integer, got ${String(options.maxLength)}`);
  }
  if (options.device !== undefined) resolveDevice(options.device); // before any file is read
  resolveRequestBatching(options.batching);
}

async function hasTokenizerFiles(dir: string): Promise<boolean> {
  for (const name of ['tokenizer.json', 'vocab.txt']) {
    try {
      await fs.access(path.join(dir, name));
      return true;
    } catch {
      // try the next
    }
  }
  return false;
}

export class BertClassifier {
  /** config.json's fields under transformers' names (with defaults filled in). */
  readonly config: BertConfig;
  readonly loadReport: LoadReport;
  /** Present when the model directory has tokenizer files (or one was attached). */
  tokenizer: BertTokenizer | undefined;
  /** Where the model computes: 'cpu' or 'cuda:N'. */
  readonly device: 'cpu' | `cuda:${number}`;
  private readonly handle: NativeModelHandle;
  private trainingOwner: object | undefined;
  private batcher: RequestBatcher | null = null;

  private constructor(
    config: BertConfig,
    handle: NativeModelHandle,
    report: NativeLoadReport,
    tokenizer: BertTokenizer | undefined,
    device: 'cpu' | `cuda:${number}`,
  ) {
    this.config = config;
    this.handle = handle;
    this.device = device;
    this.tokenizer = tokenizer;
    this.loadReport = { missing: report.missing, unexpected: report.unexpected, renamed: report.renamed, initialized: report.initialized };
  }

  /**
   * Loads a Hugging Face model directory (config.json, weights as safetensors or pytorch_model.bin, sharded or not,
   * tokenizer), or a hub id such as 'bert-base-uncased' from the cache Python's huggingface_hub uses
   * (downloading into it when it is missing and the network allows).
   */
  static async fromPretrained(dir: string, options: FromPretrainedOptions = {}): Promise<BertClassifier> {
    checkOptions(options);
    if (typeof dir !== 'string' || dir === '') throw new TypeError('dir must be a non-empty string (a model directory or a hub id)');
    // A path that exists, or that is no hub id, is a local directory (with errors saying so); else the hub cache.
    const local =
      (await fs.stat(dir).then(
        () => true,
        () => false,
      )) || !isHubId(dir);
    const root = await requireDirectory(local ? dir : await resolveModel(dir, options.hub), 'dir');
    const config = await readConfig(root, options);
    const files = await findWeightsFiles(root);
    const tokenizer = (await hasTokenizerFiles(root))
      ? await BertTokenizer.fromDirectory(root, {
          maxPositionEmbeddings: maxSequenceLength(config),
          maxLength: options.maxLength,
          defaults: ARCHITECTURES[config.model_type].tokenizer,
        })
      : undefined;
    return BertClassifier.create(config, files, options, tokenizer);
  }

  /** A freshly initialised model (transformers' initialisation) from config.json fields, e.g. to train from scratch. */
  static async fromConfig(config: Record<string, unknown>, options: FromPretrainedOptions & { tokenizer?: BertTokenizer } = {}): Promise<BertClassifier> {
    checkOptions(options);
    const resolved = resolveConfig(config, 'config', options);
    return BertClassifier.create(resolved, [], options, options.tokenizer);
  }

  private static async create(
    config: BertConfig,
    files: string[],
    options: FromPretrainedOptions,
    tokenizer: BertTokenizer | undefined,
  ): Promise<BertClassifier> {
    const device = resolveDevice(options.device);
    const handle = new (native().NativeModel)(nativeConfig(config));
    const report = await handle.load(files, options.ignoreMismatchedSizes ?? false, options.seed ?? DEFAULT_SEED, device);
    const model = new BertClassifier(config, handle, report, tokenizer, device);
    model.setRequestBatching(options.batching ?? null);
    return model;
  }

  /** The longest sequence the model takes: max_position_embeddings, less RoBERTa's pad_token_id + 1. */
  get maxSequenceLength(): number {
    return maxSequenceLength(this.config);
  }

  get numLabels(): number {
    return this.config.num_labels;
  }

  /** Label names in id order. */
  get labels(): string[] {
    return Array.from({ length: this.config.num_labels }, (_, i) => this.config.id2label[String(i)]);
  }

  /** Parameter names (Hugging Face state-dict keys) and shapes, in the model's order. */
  parameters(): { name: string; shape: number[] }[] {
    this.checkAlive();
    return this.handle.parameters();
  }

  /** Eval-mode forward pass (no dropout), exactly as transformers computes it. */
  async forward(inputs: ForwardOptions): Promise<ForwardResult> {
    this.checkAlive();
    const flat = flattenInputs(inputs, {
      vocabSize: this.config.vocab_size,
      typeVocabSize: this.config.type_vocab_size,
      maxPositionEmbeddings: this.maxSequenceLength,
    });
    const withHidden = inputs.outputHiddenStates === true;
    const out = await this.handle.forward(flat.inputIds, flat.attentionMask, flat.tokenTypeIds, flat.batchSize, flat.sequenceLength, withHidden);
    const result: ForwardResult = { logits: out.logits, shape: [out.shape[0], out.shape[1]] };
    if (withHidden) {
      result.pooledOutput = out.pooledOutput;
      result.lastHiddenState = out.lastHiddenState;
      result.hiddenShape = out.hiddenShape as [number, number, number];
    }
    return result;
  }

  /**
   * Tokenizes texts (or text pairs), runs the model, and returns label names with probabilities. Texts are run
   * `batchSize` at a time, the next chunk tokenized while the native forward of the current one runs. With request
   * batching on (setRequestBatching), concurrent calls share native forwards.
   */
  async predict(texts: string[] | string, options: PredictOptions & { pairs?: string[] } = {}): Promise<Prediction[]> {
    this.checkAlive();
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list)) throw new TypeError('texts must be a string or an array of strings');
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${String(batchSize)}`);
    const tokenizer = this.tokenizer;
    if (!tokenizer) throw new Error('this model has no tokenizer (no tokenizer.json or vocab.txt in its directory); use forward() with token ids');
    const batcher = this.batcher;
    const step = batcher ? Math.min(batchSize, batcher.options.maxBatchSize) : batchSize;
    // Unpadded: texts run by length (length-groups.ts), each forward padded to its own longest.
    const encodeOptions = { padding: false as const };
    const encodeChunk = (start: number): Promise<BatchEncoding> => {
      const encoding = tokenizer.encode(list.slice(start, start + step), options.pairs?.slice(start, start + step), encodeOptions);
      encoding.catch(() => undefined); // awaited below; a forward that fails first must not leave it unhandled
      return encoding;
    };
    const predictions: Prediction[] = [];
    let next = list.length > 0 ? encodeChunk(0) : null;
    for (let start = 0; start < list.length; start += step) {
      const encoded = await (next as Promise<BatchEncoding>);
      next = start + step < list.length ? encodeChunk(start + step) : null;
      const { logits, shape } = batcher ? await this.submitRows(batcher, encoded, start) : await this.forwardByLength(encoded, start);
      for (let row = 0; row < shape[0]; row += 1) predictions.push(this.toPrediction(logits.subarray(row * shape[1], (row + 1) * shape[1])));
    }
    return predictions;
  }

  /**
   * Request batching (off by default): predict() calls made within `maxWaitMs` of each other (default 0: the same
   * turn of the event loop), or while the previous batch runs, form one batch of up to `maxBatchSize` texts (default
   * 32), run as few native forwards of texts of similar lengths (groupRowsByLength), and each call gets its own rows
   * back once the forwards holding them have run (the same scores as alone, within float rounding). A call's texts are
   * checked before they join a batch, so a bad one rejects only its own call; an error of one of a batch's forwards
   * rejects the calls with a text in it. `true`: the defaults; null or false: off (a batch that is waiting runs at once). forward() is never
   * batched.
   */
  setRequestBatching(options: RequestBatchingOptions | boolean | null): void {
    const resolved = resolveRequestBatching(options, 'batching');
    if (this.handle.disposed) throw nativeError('MODEL_DISPOSED', 'this BertClassifier has been disposed');
    this.batcher?.flushNow();
    this.batcher = resolved ? new RequestBatcher(resolved, (batch) => this.runPadded(batch), this.tokenizer?.padTokenId ?? 0) : null;
  }

  /** The request-batching settings in force, or null when predict() calls are not coalesced. */
  get requestBatching(): ResolvedRequestBatching | null {
    return this.batcher ? { ...this.batcher.options } : null;
  }

  private checkTextRows(rows: TokenRows, offset: number): void {
    const limits = { vocabSize: this.config.vocab_size, typeVocabSize: this.config.type_vocab_size, maxSequenceLength: this.maxSequenceLength };
    checkRows(rows, limits, 'texts', offset);
  }

  private async submitRows(batcher: RequestBatcher, rows: TokenRows, offset: number): Promise<{ logits: Float32Array; shape: [number, number] }> {
    this.checkTextRows(rows, offset);
    return batcher.submit(rows);
  }

  /** One predict() chunk's rows (unpadded; `offset`: its first text's index) in forwards of similar lengths. */
  private async forwardByLength(rows: TokenRows, offset: number): Promise<RowLogits> {
    this.checkTextRows(rows, offset);
    const padId = this.tokenizer?.padTokenId ?? 0;
    return runRowsByLength(
      rows.inputIds.map((ids) => ids.length),
      (indices) => this.runPadded(padRows(rows, padId, indices)),
    );
  }

  private runPadded(batch: PaddedBatch): Promise<NativeForwardOutput> {
    this.checkAlive(); // a batch that waited while fit() claimed the model (or it was disposed) rejects
    return this.handle.forward(batch.inputIds, batch.attentionMask, batch.tokenTypeIds, batch.batchSize, batch.sequenceLength, false);
  }

  private toPrediction(logits: Float32Array): Prediction {
    const labels = this.labels;
    let values: number[];
    const problem = this.config.problem_type ?? (this.config.num_labels === 1 ? 'regression' : 'single_label_classification');
    if (problem === 'regression') {
      values = Array.from(logits);
    } else if (problem === 'multi_label_classification') {
      values = Array.from(logits, (z) => 1 / (1 + Math.exp(-z)));
    } else {
      const max = Math.max(...logits);
      const exps = Array.from(logits, (z) => Math.exp(z - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      values = exps.map((e) => e / sum);
    }
    let best = 0;
    values.forEach((v, i) => {
      if (v > values[best]) best = i;
    });
    return { label: labels[best], score: values[best], scores: Object.fromEntries(labels.map((l, i) => [l, values[i]])) };
  }

  /**
   * Writes a directory that transformers' from_pretrained and torch.load accept: config.json, the weights
   * (model.safetensors, pytorch_model.bin, or both) and the tokenizer files. Every file is written under a
   * temporary name and renamed into place.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<string[]> {
    this.checkAlive();
    return this.writeDirectory(this.handle, dir, options);
  }

  /**
   * Writes the folder transformers.js and onnxruntime load: config.json and the tokenizer files (as save() writes
   * them), onnx/model.onnx (float32, opset 17: inputs input_ids, attention_mask, token_type_ids as int64
   * [batch_size, sequence_length], output logits [batch_size, num_labels]) and, with quantize: 'int8', also
   * onnx/model_quantized.onnx (8-bit weight matrices, activations quantized at run time). Resolves with the files.
   */
  async exportOnnx(dir: string, options: ExportOnnxOptions = {}): Promise<string[]> {
    this.checkAlive();
    return exportOnnx(this, dir, options);
  }

  /** @internal For the Trainer's checkpoints while it holds the training claim. */
  async saveForTrainer(owner: object, dir: string, format: SaveFormat = 'safetensors'): Promise<string[]> {
    return this.writeDirectory(this.handleFor(owner), dir, { format });
  }

  private async writeDirectory(handle: NativeModelHandle, dir: string, options: SaveOptions): Promise<string[]> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('dir must be a non-empty string');
    optionsObject(options, 'save options', ['format', 'maxShardSize']);
    const format = oneOf(options.format, 'format', SAVE_FORMATS, 'safetensors');
    const maxShardBytes = parseShardSize(options.maxShardSize);
    await fs.mkdir(dir, { recursive: true });
    const { files, indexes } = await handle.saveWeights(path.resolve(dir), format, maxShardBytes);
    const written = [...files, ...(await writeShardIndexes(dir, indexes))];
    await removeStaleWeightFiles(dir, written);
    const configFile = path.join(dir, 'config.json');
    await writeFileAtomic(configFile, `${JSON.stringify(configToJson(this.config), null, 2)}\n`);
    written.push(path.resolve(configFile));
    if (this.tokenizer) await this.tokenizer.save(dir);
    return written;
  }

  /** Frees the native weights. Later calls reject; a call already running finishes first. */
  dispose(): void {
    // Coalesced requests that have not started their forward reject; one already running finishes.
    this.batcher?.close(nativeError('MODEL_DISPOSED', 'this BertClassifier was disposed while the request waited for its batch'));
    this.batcher = null;
    this.handle.dispose();
  }

  get disposed(): boolean {
    return this.handle.disposed;
  }

  private checkAlive(): void {
    if (this.handle.disposed) throw nativeError('MODEL_DISPOSED', 'this BertClassifier has been disposed');
    if (this.trainingOwner !== undefined) {
      throw nativeError(
        'MODEL_BUSY',
        'this BertClassifier is being trained (Trainer.fit is running); wait for fit() to settle before forward, predict or save',
      );
    }
  }

  /**
   * @internal For the Trainer: the native handle, claimed for the duration of fit(). While claimed, the
   * public forward/predict/save calls reject instead of reading weights mid-update.
   */
  claimForTraining(owner: object): NativeModelHandle {
    if (this.handle.disposed) throw nativeError('MODEL_DISPOSED', 'this BertClassifier has been disposed');
    if (this.trainingOwner !== undefined) throw nativeError('MODEL_BUSY', 'this BertClassifier is already being trained by another fit()');
    this.trainingOwner = owner;
    // The weights change from here on: forward()'s reordered copies of them go (rebuilt by the next forward()).
    this.handle.dropInferenceWeights();
    return this.handle;
  }

  /** @internal Ends a claim made by claimForTraining. */
  releaseFromTraining(owner: object): void {
    if (this.trainingOwner === owner) this.trainingOwner = undefined;
  }

  /** @internal The native handle for a Trainer that holds the claim (evaluation and checkpoints during fit). */
  handleFor(owner: object): NativeModelHandle {
    if (this.trainingOwner !== undefined && this.trainingOwner !== owner)
      throw nativeError('MODEL_BUSY', 'this BertClassifier is being trained by another fit()');
    if (this.handle.disposed) throw nativeError('MODEL_DISPOSED', 'this BertClassifier has been disposed');
    return this.handle;
  }
}
