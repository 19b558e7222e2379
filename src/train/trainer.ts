// Trainer: fine-tunes a BertClassifier the way transformers' Trainer does (same step count, learning-rate schedule,
// gradient accumulation, clipping, AdamW parameter groups, evaluation/checkpoint strategies, early stopping), with
// every native step on a worker thread so the event loop stays free. Checkpoints resume bit-identically on CPU.
// Batches are encoded ahead of the step by a bounded prefetch queue (src/data/batch-prefetch.ts), from an in-memory
// Dataset or a StreamingDataset, optionally length-grouped (src/data/length-grouping.ts).
import { EventEmitter } from 'events';

import { Dataset, inferProblemType } from '../data/dataset';
import { EncodeContext, TokenRowCache, tokenLengths } from '../data/encode';
import { epochOrder } from '../data/epoch-order';
import { groupingPays } from '../data/length-grouping';
import { StreamingDataset } from '../data/streaming-dataset';
import { DistributedContext } from '../engine/distributed';
import { BertClassifier } from '../model/classifier';
import type { ProblemType } from '../model/config';
import { AbortError } from './abort-error';
import { evaluateDataset } from './evaluate';
import type { CheckpointEvent, EpochEndEvent, EvaluateEvent, EvaluationResult, FitResult, StepEvent, WarningEvent } from './events';
import { FitRun, RunPlan, batchesPerRank } from './fit-run';
import { resolveWarmupSteps } from './schedule';
import { FitOptions, ResolvedTrainerOptions, TrainerOptions, checkFitOptions, resolveEvalStrategy, resolveTrainerOptions } from './trainer-options';
import { TrainerEvents } from './trainer-events';
import { TrainingData, checkExamples, checkStream, inferStreamProblemType, sizeOf, toDataset, withPrefix } from './training-data';

/** Tokens (rows × maxLength) up to which the training set's token rows are kept between epochs: ~16M ids. */
const TOKEN_CACHE_LIMIT = 16_000_000;

// ---------------------------------------------------------------------------------------------------------------

// Typed overloads of EventEmitter's on() for Trainer's events (the class below implements them by inheritance).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Trainer {
  on(event: 'step', listener: (event: StepEvent) => void): this;
  on(event: 'epochEnd', listener: (event: EpochEndEvent) => void): this;
  on(event: 'evaluate', listener: (event: EvaluateEvent) => void): this;
  on(event: 'checkpoint', listener: (event: CheckpointEvent) => void): this;
  on(event: 'warning', listener: (event: WarningEvent) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
  once(event: 'step', listener: (event: StepEvent) => void): this;
  once(event: 'epochEnd', listener: (event: EpochEndEvent) => void): this;
  once(event: 'evaluate', listener: (event: EvaluateEvent) => void): this;
  once(event: 'checkpoint', listener: (event: CheckpointEvent) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Fine-tunes a BertClassifier like transformers' Trainer. Events ('step', 'epochEnd', 'evaluate', 'checkpoint')
 * are emitted synchronously from the training loop: a listener that throws rejects fit().
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Trainer extends EventEmitter {
  readonly model: BertClassifier;
  readonly options: Readonly<ResolvedTrainerOptions>;
  private running = false;
  private lastProblemType: ProblemType | undefined;
  // The data-parallel job, joined by the first fit()/evaluate() that needs it and kept until close().
  private joining: Promise<DistributedContext> | undefined;
  private readonly lengthCache = new WeakMap<Dataset, { tokenizer: unknown; maxLength: number | undefined; lengths: Int32Array }>();
  private readonly tokenCaches = new WeakMap<Dataset, { tokenizer: unknown; maxLength: number | undefined; cache: TokenRowCache }>();

  constructor(model: BertClassifier, options: TrainerOptions = {}) {
    super();
    if (!(model instanceof BertClassifier)) throw new TypeError('model must be a BertClassifier');
    this.model = model;
    this.options = Object.freeze(resolveTrainerOptions(options, { numLabels: model.numLabels, maxPositionEmbeddings: model.maxSequenceLength }));
  }

  /**
   * Trains on `train` (a Dataset or an array of examples). While it runs, the model is claimed: its forward,
   * predict and save reject, and another fit() on it rejects. Resolves with the history and final metrics.
   */
  async fit(train: TrainingData, fitOptions: FitOptions<TrainingData> = {}): Promise<FitResult> {
    if (this.running) throw new Error('fit() is already running on this Trainer; wait for it to settle');
    const fo = checkFitOptions(fitOptions);
    const dataset = toDataset(train, 'train');
    if (dataset instanceof Dataset && dataset.length === 0) throw new Error('the training dataset is empty (fit needs at least one example)');
    const evalDataset = fo.evalDataset === undefined ? undefined : toDataset(fo.evalDataset, 'evalDataset');
    if (evalDataset instanceof Dataset && evalDataset.length === 0) throw new Error('evalDataset is empty');
    if (fo.signal?.aborted) throw new AbortError('fit() was aborted before it started', { cause: fo.signal.reason });

    // Claimed synchronously, before the first await: from the moment fit() is called, predict/forward/save and
    // other fits on this model reject.
    const handle = this.model.claimForTraining(this);
    this.running = true;
    let attached = false;
    try {
      const dist = await this.distributedContext();
      if (dist) {
        handle.setProcessGroup(dist.group, Math.max(1, Math.round(dist.options.bucketCapMb * 2 ** 20)));
        attached = true;
      }
      const plan = await this.plan(dataset, evalDataset, dist);
      const events = new TrainerEvents(this, this.options.callbacks);
      return await new FitRun(this, events, this.model, handle, this.options, plan, fo.signal).run(fo.resumeFrom);
    } finally {
      if (attached && !handle.disposed) handle.setProcessGroup(null);
      this.running = false;
      this.model.releaseFromTraining(this);
    }
  }

  /** This process's rank in the data-parallel job (0 for a single process): rank 0 is the one that should log and save. */
  get rank(): number {
    return this.options.distributed?.rank ?? 0;
  }

  /** Processes in the data-parallel job (1 for a single process). */
  get worldSize(): number {
    return this.options.distributed?.worldSize ?? 1;
  }

  /**
   * This process's place in the data-parallel job (options.distributed, or torchrun's environment), joined on
   * first use: resolves once every rank has connected, rejects after distributed.timeoutMs. undefined when the
   * Trainer runs as a single process.
   */
  async distributedContext(): Promise<DistributedContext | undefined> {
    const options = this.options.distributed;
    if (!options) return undefined;
    if (!this.joining) {
      this.joining = DistributedContext.join(options, this.model.device);
      // A failed rendezvous may be retried by a later call.
      this.joining.catch(() => {
        this.joining = undefined;
      });
    }
    return this.joining;
  }

  /** Leaves the data-parallel job (after a barrier, so that rank 0's rendezvous store outlives the others' use). */
  async close(): Promise<void> {
    const joining = this.joining;
    this.joining = undefined;
    if (!joining) return;
    const dist = await joining.catch(() => undefined);
    if (!dist) return;
    try {
      await dist.barrier();
    } finally {
      await dist.destroy();
    }
  }

  /**
   * Eval-mode pass over `dataset` (labels required): `{ loss, ...metrics }` — accuracy, f1 (macro), microF1,
   * perClass, confusionMatrix (single-label); subsetAccuracy, f1 (multi-label, sigmoid >= 0.5); mse, mae,
   * pearson, spearman (regression).
   */
  async evaluate(dataset: TrainingData, options: { batchSize?: number } = {}): Promise<EvaluationResult> {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const batchSize = options.batchSize ?? this.options.evalBatchSize;
    if (typeof batchSize !== 'number') throw new TypeError(`batchSize must be a positive integer, got ${String(batchSize)}`);
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    const ds = toDataset(dataset, 'dataset');
    if (ds instanceof Dataset && ds.length === 0) throw new Error('the evaluation dataset is empty');
    const handle = this.model.handleFor(this);
    const problemType = this.options.problemType ?? this.model.config.problem_type ?? this.lastProblemType ?? (await this.inferProblemType(ds));
    const ctx = this.encodeContext(problemType);
    if (ds instanceof Dataset) await checkExamples(ds, ctx, this.model, 'dataset');
    else checkStream(this.model, 'dataset');
    const weights = this.options.classWeights && problemType === 'single_label_classification' ? Float32Array.from(this.options.classWeights) : null;
    const dist = ds instanceof Dataset ? await this.distributedContext() : undefined;
    try {
      const cache = ds instanceof Dataset ? this.tokenCacheFor(ds, ctx) : undefined; // repeated evaluations tokenize once
      return await evaluateDataset(
        handle,
        ds,
        ctx,
        batchSize,
        weights,
        this.model.labels,
        this.options.prefetchBatches,
        this.options.mixedPrecision,
        dist,
        cache,
      );
    } catch (err) {
      throw ds instanceof StreamingDataset ? withPrefix(err, 'dataset') : err;
    }
  }

  private inferProblemType(data: Dataset | StreamingDataset): Promise<ProblemType> | ProblemType {
    return data instanceof Dataset ? inferProblemType(data, this.model.numLabels) : inferStreamProblemType(data, this.model.numLabels);
  }

  /**
   * An in-memory dataset's token rows (training or evaluation set), kept across epochs, evaluations and fits (same
   * tokenizer and maxLength) unless the dataset could hold more than TOKEN_CACHE_LIMIT tokens, when each pass
   * tokenizes again.
   */
  private tokenCacheFor(dataset: Dataset, ctx: EncodeContext): TokenRowCache | undefined {
    if (dataset.length * (ctx.maxLength ?? ctx.tokenizer?.maxLength ?? 512) > TOKEN_CACHE_LIMIT) return undefined;
    const cached = this.tokenCaches.get(dataset);
    if (cached && cached.tokenizer === ctx.tokenizer && cached.maxLength === ctx.maxLength) return cached.cache;
    const cache = new TokenRowCache();
    this.tokenCaches.set(dataset, { tokenizer: ctx.tokenizer, maxLength: ctx.maxLength, cache });
    return cache;
  }

  private async tokenLengthsOf(dataset: Dataset, ctx: EncodeContext): Promise<Int32Array> {
    const cached = this.lengthCache.get(dataset);
    if (cached && cached.tokenizer === ctx.tokenizer && cached.maxLength === ctx.maxLength) return cached.lengths;
    let lengths: Int32Array;
    try {
      // Tokenized into the dataset's token-row cache where it has one: the batches then reuse these rows.
      lengths = await tokenLengths(dataset.toArray(), ctx, undefined, undefined, this.tokenCacheFor(dataset, ctx));
    } catch (err) {
      throw withPrefix(err, 'train');
    }
    this.lengthCache.set(dataset, { tokenizer: ctx.tokenizer, maxLength: ctx.maxLength, lengths });
    return lengths;
  }

  private encodeContext(problemType: ProblemType): EncodeContext {
    const config = this.model.config;
    return {
      tokenizer: this.model.tokenizer,
      maxLength: this.options.maxLength,
      padTokenId: config.pad_token_id,
      problemType,
      numLabels: config.num_labels,
      label2id: config.label2id,
      requireLabels: true,
    };
  }

  /**
   * Problem type, strategies and step counts (transformers' arithmetic), after checking every example of an
   * in-memory dataset (a stream's rows are checked as they are read; its size comes from count()).
   */
  private async plan(
    dataset: Dataset | StreamingDataset,
    evalDataset: Dataset | StreamingDataset | undefined,
    dist: DistributedContext | undefined,
  ): Promise<RunPlan> {
    const o = this.options;
    const problemType = this.options.problemType ?? this.model.config.problem_type ?? (await this.inferProblemType(dataset));
    const evalStrategy = resolveEvalStrategy(o, evalDataset !== undefined, problemType);
    const ctx = this.encodeContext(problemType);
    for (const [data, name] of [
      [dataset, 'train'],
      [evalDataset, 'evalDataset'],
    ] as const) {
      if (data instanceof Dataset) await checkExamples(data, ctx, this.model, name);
      else if (data) checkStream(this.model, name);
    }
    const numExamples = await sizeOf(dataset);
    if (numExamples === 0) throw new Error('the training dataset is empty (fit needs at least one example)');
    this.lastProblemType = problemType;
    // In memory, length grouping needs every example's token length: one tokenizing pass into the token rows the
    // batches use, kept for later fits. 'auto' groups where plain shuffled batches would pad more than 20% (epoch 0's
    // order decides, the same on every rank); a stream's lengths are not known up front, so 'auto' leaves it ungrouped.
    const mayGroup = o.groupByLength === true || (o.groupByLength === 'auto' && o.shuffle);
    const allLengths = mayGroup && dataset instanceof Dataset ? await this.tokenLengthsOf(dataset, ctx) : undefined;
    const groupByLength =
      o.groupByLength === 'auto'
        ? allLengths !== undefined && groupingPays(allLengths, o.batchSize, epochOrder(numExamples, o.seed, 0, o.shuffle))
        : o.groupByLength;
    const lengths = groupByLength ? allLengths : undefined;

    // Data-parallel: steps per epoch follow each rank's shard (batchSize is per process, DistributedSampler pads).
    const numBatches = batchesPerRank(numExamples, dist?.worldSize ?? 1, o.batchSize);
    const stepsPerEpoch = Math.ceil(numBatches / o.gradientAccumulationSteps);
    const totalSteps = Math.ceil(o.epochs * stepsPerEpoch);
    const warmupSteps = resolveWarmupSteps({ warmupSteps: o.warmupSteps, warmupRatio: o.warmupRatio, totalSteps });
    return {
      dataset,
      numExamples,
      groupByLength,
      lengths,
      tokenCache: dataset instanceof Dataset ? this.tokenCacheFor(dataset, ctx) : undefined,
      evalDataset,
      evalTokenCache: evalDataset instanceof Dataset ? this.tokenCacheFor(evalDataset, ctx) : undefined,
      ctx,
      evalStrategy,
      classWeights: o.classWeights ? Float32Array.from(o.classWeights) : null,
      numBatches,
      stepsPerEpoch,
      totalSteps,
      numEpochs: Math.ceil(totalSteps / stepsPerEpoch),
      schedule: { type: o.lrScheduler, baseLr: o.learningRate, warmupSteps, totalSteps },
      dist,
    };
  }
}
