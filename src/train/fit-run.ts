// One fit() call: the training loop and its mutable state (step, data position, best metric, early stopping),
// checkpoint save and resume, and the events of the run.
import * as path from 'path';

import { BatchPrefetcher, PipelineBatch, datasetBatches, streamBatches } from '../data/batch-prefetch';
import { Dataset } from '../data/dataset';
import type { Label } from '../data/example';
import type { EncodeContext, EncodedBatch, TokenRowCache } from '../data/encode';
import { batchesOf, epochOrder } from '../data/epoch-order';
import { lengthGroupedOrder, megaBatchSize } from '../data/length-grouping';
import { StreamingDataset } from '../data/streaming-dataset';
import { DistributedContext, shardOrder, shardSize } from '../engine/distributed';
import { NativeModelHandle, isNativeError } from '../engine/native';
import type { BertClassifier } from '../model/classifier';
import {
  LoadedCheckpoint,
  checkpointName,
  latestCheckpoint,
  rankRngStateFile,
  readCheckpointFolder,
  readRankRngState,
  recoverInterruptedWrites,
  rotateCheckpoints,
  writeCheckpoint,
} from '../checkpoint/trainer-checkpoint';
import { AbortError } from './abort-error';
import { evaluateDataset } from './evaluate';
import type { CheckpointEvent, EpochEndEvent, EvaluateEvent, EvaluationResult, FitResult, HistoryEntry, StepEvent, WarningEvent } from './events';
import { LearningRateOptions, learningRateAt } from './schedule';
import type { IntervalStrategy, ResolvedTrainerOptions } from './trainer-options';
import type { TrainerEvents } from './trainer-events';
import { TrainingHealth, singleClassDataWarning } from './training-health';
import { withCodeOf, withPrefix } from './training-data';
import { DataPosition, ResumeState, TrainerStateJson, restoreHistory, transformersLogEntry } from '../checkpoint/trainer-state';

/** What fit() works out before training: the problem type, the step counts and the schedule. */
export interface RunPlan {
  dataset: Dataset | StreamingDataset;
  /** Training examples per epoch (a stream's counted or given length). */
  numExamples: number;
  /** Whether batches are length-grouped (groupByLength, 'auto' decided from the data). */
  groupByLength: boolean;
  /** Token lengths of an in-memory dataset's examples, when batches are length-grouped. */
  lengths: Int32Array | undefined;
  /** An in-memory dataset's token rows, kept across epochs (undefined: streams, or too large to keep). */
  tokenCache: TokenRowCache | undefined;
  evalDataset: Dataset | StreamingDataset | undefined;
  /** The in-memory evaluation set's token rows, kept across evaluations (and with the Trainer's other uses of it). */
  evalTokenCache: TokenRowCache | undefined;
  ctx: EncodeContext;
  evalStrategy: IntervalStrategy;
  classWeights: Float32Array | null;
  /** Micro-batches per epoch (of this rank's shard when data-parallel). */
  numBatches: number;
  stepsPerEpoch: number;
  totalSteps: number;
  numEpochs: number;
  schedule: LearningRateOptions;
  /** The data-parallel job this run is a rank of (undefined: a single process). */
  dist: DistributedContext | undefined;
}

/** Micro-batches per epoch of a rank: DistributedSampler's shard of `examples`, cut into batches. */
export function batchesPerRank(examples: number, worldSize: number, batchSize: number): number {
  return Math.ceil(shardSize(examples, worldSize) / batchSize);
}

/** One fit() call: the training loop and its mutable state. */
export class FitRun {
  private globalStep = 0;
  /**
   * The learning-rate schedule's position: globalStep less the fp16 steps whose update the GradScaler skipped for an
   * overflow. transformers with accelerate does not step the scheduler after such a step (AcceleratedScheduler.step
   * returns when the optimizer step was skipped), so the next steps take the learning rate the skipped one had.
   */
  private schedulerStep = 0;
  /**
   * fp16: the last step did not read back whether it was skipped (a step reads only at log, evaluation and save
   * points, so that a GPU step never waits for itself). The next step then gets two learning rates, the schedule's
   * next one and, should the last step turn out skipped, its current one; the native step settles the verdict just
   * before its update and uses the right one, with no wait for its own work (native/training/pending_overflow.h).
   * Exact like transformers (whose GradScaler.step reads found_inf with .item() every step) without its per-step
   * synchronisation.
   */
  private overflowPending = false;
  private startStep = 0;
  private position: { epoch: number; batch: number } = { epoch: 0, batch: 0 };
  private history: HistoryEntry[] = [];
  private bestMetric: number | null = null;
  private bestStep: number | null = null;
  private bestCheckpointName: string | null = null;
  private earlyStoppingCounter = 0;
  private stopRequested = false;
  private stoppedEarly = false;
  private lastSavedStep = -1;
  private lastEval: EvaluationResult | undefined;
  // Since the last log point. waitMs: awaiting encoded batches; busyMs: that plus the native steps.
  private interval = { losses: 0, lossCount: 0, samples: 0, tokens: 0, skipped: false, started: 0, waitMs: 0, busyMs: 0 };
  // This call's totals; positions and padding: of the training batches (batch size x padded length).
  private totals = { losses: 0, lossCount: 0, samples: 0, waitMs: 0, busyMs: 0, positions: 0, padding: 0 };
  // Steps whose loss the native side still holds (read by the next step that reads).
  private unreadSteps = 0;
  // Data-parallel resume with another world size: the epoch whose order starts at example `start` (see DataPosition).
  private startExample = { epoch: -1, start: 0 };
  // Signs of a run that is not learning, and the warnings given.
  private readonly health = new TrainingHealth();
  private readonly warnings: WarningEvent[] = [];

  constructor(
    /** The Trainer that claimed the model (the model's saves check it). */
    private readonly owner: object,
    private readonly events: TrainerEvents,
    private readonly model: BertClassifier,
    private readonly handle: NativeModelHandle,
    private readonly options: ResolvedTrainerOptions,
    private readonly plan: RunPlan,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async run(resumeFrom: string | true | undefined): Promise<FitResult> {
    const started = performance.now();
    const { options, plan } = this;
    const dist = plan.dist;
    if (options.outputDir !== undefined && (!dist || dist.isMain)) await recoverInterruptedWrites(options.outputDir);
    await this.configureOptimizer();
    if (dist) {
      // DDP: every rank starts from rank 0's weights (a fresh classifier head is drawn per process), and no rank
      // reads a checkpoint before rank 0 has finished recovering interrupted writes.
      await this.handle.broadcastParameters(0);
      await dist.barrier();
    }
    if (resumeFrom !== undefined) {
      const dir = resumeFrom === true ? await latestCheckpoint(this.requireOutputDir('resumeFrom: true')) : resumeFrom;
      await this.restore(await readCheckpointFolder(dir));
    } else {
      // Same seed, same dropout masks: seeds the model's own dropout stream (and LibTorch's CPU generator).
      this.handle.manualSeed(options.seed);
    }
    this.startStep = this.globalStep;
    this.lastSavedStep = this.globalStep;

    await this.events.trainBegin({
      totalSteps: plan.totalSteps,
      stepsPerEpoch: plan.stepsPerEpoch,
      epochs: plan.numEpochs,
      numExamples: plan.numExamples,
      startStep: this.globalStep,
      problemType: plan.ctx.problemType,
    });
    if (plan.ctx.problemType === 'single_label_classification' && plan.dataset instanceof Dataset && this.globalStep === 0) {
      await this.warn(singleClassDataWarning(labelsOf(plan.dataset), this.model.labels, 0));
    }
    await this.abortIfRequested();
    this.interval.started = performance.now();
    const start = this.position; // (0, 0), or where the checkpoint left off
    for (let epoch = start.epoch; epoch < plan.numEpochs && this.globalStep < plan.totalSteps && !this.stopRequested; epoch++) {
      await this.runEpoch(epoch, epoch === start.epoch ? start.batch : 0);
    }
    // Like transformers: with a save strategy, the final step is always checkpointed.
    if (options.saveStrategy !== 'no' && this.globalStep > this.startStep && this.lastSavedStep !== this.globalStep) await this.saveCheckpoint();
    if (options.loadBestModelAtEnd && this.bestCheckpointName !== null) {
      const best = await readCheckpointFolder(path.join(this.requireOutputDir('loadBestModelAtEnd'), this.bestCheckpointName));
      await this.handle.loadWeights(best.weightsFiles);
    }

    const runtimeSeconds = (performance.now() - started) / 1000;
    const result: FitResult = {
      history: this.history,
      warnings: this.warnings,
      metrics: {
        trainLoss: this.totals.lossCount > 0 ? this.totals.losses / this.totals.lossCount : NaN,
        steps: this.globalStep,
        epochs: this.globalStep / plan.stepsPerEpoch,
        runtimeSeconds,
        samplesPerSecond: this.totals.samples / runtimeSeconds,
        stoppedEarly: this.stoppedEarly,
        dataWaitFraction: this.totals.busyMs > 0 ? this.totals.waitMs / this.totals.busyMs : 0,
        paddingFraction: this.totals.positions > 0 ? this.totals.padding / this.totals.positions : 0,
        cudaGraphs: this.handle.cudaGraphStats(),
      },
    };
    if (this.lastEval) result.metrics.eval = this.lastEval;
    if (this.bestCheckpointName !== null && this.bestMetric !== null && this.bestStep !== null) {
      result.bestCheckpoint = {
        path: path.join(this.requireOutputDir('bestCheckpoint'), this.bestCheckpointName),
        step: this.bestStep,
        metric: options.metricForBestModel,
        value: this.bestMetric,
      };
    }
    await this.events.trainEnd(result);
    return result;
  }

  private requireOutputDir(what: string): string {
    if (this.options.outputDir === undefined) throw new Error(`${what} needs outputDir`);
    return this.options.outputDir;
  }

  private async configureOptimizer(): Promise<void> {
    const o = this.options;
    const settings = { beta1: o.adamBeta1, beta2: o.adamBeta2, eps: o.adamEpsilon, weightDecay: o.weightDecay };
    // A forward() started just before fit() may still hold the model's lock; wait for it (bounded) instead of failing.
    for (let attempt = 0; ; attempt++) {
      try {
        this.handle.configureOptimizer(settings);
        return;
      } catch (err) {
        if (attempt >= 500 || !isNativeError(err, 'MODEL_BUSY')) throw err;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  /** Puts weights, optimizer, RNG, step, data position and history back as the checkpoint recorded them. */
  private async restore(checkpoint: LoadedCheckpoint): Promise<void> {
    const { options, plan } = this;
    const state = checkpoint.trainerState;
    const own = state.bert_trainer;
    const dir = checkpoint.dir;
    const same = (what: string, saved: unknown, now: unknown): void => {
      if (saved !== now) {
        throw new Error(
          `resumeFrom: ${dir} was made with ${what} ${String(saved)}, but this run has ${String(now)}; resuming needs the same data order (set the option as the checkpoint's run did)`,
        );
      }
    };
    same('a training set of size', own.numExamples, plan.numExamples);
    same(plan.dist ? 'batchSize (per process)' : 'batchSize', own.batchSize, options.batchSize);
    same('gradientAccumulationSteps', own.gradientAccumulationSteps, options.gradientAccumulationSteps);
    same('seed', own.dataPosition.seed, options.seed);
    same('shuffle', own.dataPosition.shuffle, options.shuffle);
    const stream = plan.dataset instanceof StreamingDataset ? plan.dataset : undefined;
    same('a streaming dataset', own.dataPosition.shuffleBuffer !== undefined, stream !== undefined);
    if (stream) same('shuffleBuffer', own.dataPosition.shuffleBuffer, stream.shuffleBuffer);
    same('groupByLength', own.dataPosition.groupByLength ?? false, plan.groupByLength);
    const { epoch, batch } = own.dataPosition;
    const savedWorld = own.worldSize ?? 1;
    const world = plan.dist?.worldSize ?? 1;
    if (stream && savedWorld !== world && batch > 0) {
      throw new Error(
        `resumeFrom: ${dir} was made by ${savedWorld} process${savedWorld === 1 ? '' : 'es'} in the middle of an epoch of a streaming dataset; ` +
          `resume it with ${savedWorld} (another number of processes can resume from a checkpoint at an epoch's end, or with an in-memory dataset)`,
      );
    }
    const savedStart = own.dataPosition.startExample ?? 0;
    // The saved run's batches in the checkpoint's epoch (its world size; from its start example).
    const savedBatches = batchesPerRank(plan.numExamples - savedStart, savedWorld, options.batchSize);
    if (batch > savedBatches || (batch % options.gradientAccumulationSteps !== 0 && batch !== savedBatches)) {
      throw new Error(`resumeFrom: ${dir}: data position batch ${batch} is not a step boundary of ${savedBatches} batches`);
    }
    // An fp16 run's (it has scaler.json) scheduler trails global_step by the steps the GradScaler skipped.
    const schedulerStep = checkpoint.scheduler.step;
    if (checkpoint.gradScaler === null ? schedulerStep !== state.global_step : schedulerStep > state.global_step) {
      throw new Error(
        `resumeFrom: ${dir}: scheduler.json step ${schedulerStep} ${checkpoint.gradScaler === null ? 'differs from' : 'is more than'} trainer_state.json global_step ${state.global_step}`,
      );
    }

    // Each rank continues its own generator (dropout) when the world size is the same; otherwise every rank takes
    // rank 0's (exact only without dropout). Restored first: a bad state file is rejected before any weight changes.
    const rank = plan.dist?.rank ?? 0;
    const ownRngState = rank > 0 && savedWorld === world;
    try {
      this.handle.setRngState(ownRngState ? await readRankRngState(dir, rank) : checkpoint.rngState);
    } catch (err) {
      const file = path.join(dir, rankRngStateFile(ownRngState ? rank : 0));
      throw withCodeOf(err, new Error(`resumeFrom: ${file}: ${(err as Error).message}`, { cause: err }));
    }
    await this.handle.loadWeights(checkpoint.weightsFiles);
    await this.handle.loadOptimizerState(checkpoint.optimizerFile);
    // fp16 goes on with the checkpoint's loss scale; without scaler.json (a checkpoint of an fp32 or bf16 run, or of
    // an older version) with a new GradScaler's, as configureOptimizer() left it. Other runs scale nothing.
    if (options.mixedPrecision === 'fp16' && checkpoint.gradScaler !== null) this.handle.setGradScalerState(checkpoint.gradScaler);

    this.globalStep = state.global_step;
    this.schedulerStep = schedulerStep;
    if (batch >= savedBatches) {
      this.position = { epoch: epoch + 1, batch: 0 };
    } else if (savedWorld === world) {
      this.position = { epoch, batch };
      if (savedStart > 0) this.startExample = { epoch, start: savedStart };
    } else {
      // Another world size: the saved ranks consumed the epoch order's first `consumed` positions (DistributedSampler
      // interleaves ranks, so whole batches of all ranks are a prefix of the order); the rest of the epoch is
      // sharded over the new ranks. Each example is still trained on once per epoch, but batches (and so the
      // weights) differ from an uninterrupted run.
      const consumed = savedStart + batch * options.batchSize * savedWorld;
      this.position = { epoch, batch: 0 };
      this.startExample = { epoch, start: consumed };
    }
    this.history = restoreHistory(own.history);
    this.lastEval = [...this.history].reverse().find((e): e is EvaluateEvent => e.type === 'evaluate')?.metrics;
    this.earlyStoppingCounter = own.earlyStoppingCounter ?? 0;
    if (own.metricForBestModel === options.metricForBestModel && own.greaterIsBetter === options.greaterIsBetter) {
      this.bestMetric = state.best_metric;
      this.bestStep = own.bestStep;
      // Kept only if that folder still exists beside the outputDir's checkpoints.
      if (own.bestCheckpointName !== null && options.outputDir !== undefined) {
        const bestDir = path.join(options.outputDir, own.bestCheckpointName);
        this.bestCheckpointName = (await readCheckpointFolder(bestDir).then(
          () => true,
          () => false,
        ))
          ? own.bestCheckpointName
          : null;
      }
    }
  }

  // --- the loop --------------------------------------------------------------------------------------------

  private async runEpoch(epoch: number, firstBatch: number): Promise<void> {
    const { options, plan } = this;
    const GA = options.gradientAccumulationSteps;
    await this.events.epochBegin(epoch, this.globalStep);
    let stepsThisEpoch = 0;
    let batchIndex = firstBatch;
    // Encoding the next batches overlaps with the current native step.
    const queue = new BatchPrefetcher(this.epochBatches(epoch, firstBatch), options.prefetchBatches);
    try {
      while (this.globalStep < plan.totalSteps) {
        // An optimizer step's micro-batches; the epoch's last group may be partial.
        const waitStarted = performance.now();
        const group: EncodedBatch[] = [];
        let last = false;
        while (group.length < GA && !last) {
          let item: IteratorResult<PipelineBatch, undefined>;
          try {
            item = await queue.next();
          } catch (err) {
            throw withPrefix(err, 'train');
          }
          if (item.done) last = true;
          else {
            group.push(item.value.batch);
            last = item.value.last;
          }
        }
        if (group.length === 0) break;
        await this.trainStep(group, last, performance.now() - waitStarted);
        stepsThisEpoch += 1;
        batchIndex += group.length;
        this.position = last ? { epoch: epoch + 1, batch: 0 } : { epoch, batch: batchIndex };
        await this.afterStep();
        await this.abortIfRequested();
        if (this.stopRequested || last) break;
      }
    } finally {
      await queue.close();
    }
    if (stepsThisEpoch === 0) return;

    const event: EpochEndEvent = { epoch: this.globalStep / plan.stepsPerEpoch, step: this.globalStep };
    await this.events.epochEnd(epoch, event);
    // Judged on an epoch this call ran from its start (not one resumed halfway).
    const flat = this.health.epochEnded(this.globalStep, event.epoch);
    if (firstBatch === 0) await this.warn(flat);
    if (plan.evalStrategy === 'epoch') await this.evaluate();
    if (options.saveStrategy === 'epoch') await this.saveCheckpoint();
    await this.abortIfRequested();
  }

  /**
   * The encoded micro-batches of an epoch from batch `firstBatch` on, in the epoch's order (see DataPosition): the
   * seeded permutation (length-grouped when groupByLength) of an in-memory dataset, or a stream's shuffle buffer.
   */
  private epochBatches(epoch: number, firstBatch: number): AsyncGenerator<PipelineBatch> {
    const { options, plan } = this;
    const { seed, shuffle, batchSize } = options;
    if (plan.dataset instanceof StreamingDataset) {
      const megaBatch = plan.groupByLength ? megaBatchSize(plan.numExamples, batchSize) : undefined;
      const shard = plan.dist ? { rank: plan.dist.rank, worldSize: plan.dist.worldSize } : undefined;
      return streamBatches(plan.dataset, { seed, epoch, shuffle, batchSize, skipBatches: firstBatch, megaBatch, shard }, plan.ctx);
    }
    const permutation = epochOrder(plan.dataset.length, seed, epoch, shuffle);
    let order = plan.lengths ? lengthGroupedOrder(plan.lengths, batchSize, permutation) : permutation;
    if (epoch === this.startExample.epoch) order = order.slice(this.startExample.start);
    // Data-parallel: DistributedSampler's shard of the (length-grouped) order, as transformers' distributed
    // length-grouped sampler takes it; batchSize is per process.
    if (plan.dist) order = shardOrder(order, plan.dist.rank, plan.dist.worldSize);
    return datasetBatches(plan.dataset, batchesOf(order, batchSize).slice(firstBatch), plan.ctx, plan.tokenCache);
  }

  /**
   * Whether optimizer step `step` (1-based) must read its loss back (and fp16's overflow verdict): at log points, and wherever the run may stop
   * or persist the weights (evaluation, checkpoint, epoch end, last step, abort), so that a non-finite loss is
   * caught before it reaches a checkpoint and no loss is left unread at the end. Elsewhere the native step keeps the
   * loss on the device (no CUDA synchronisation) and a later reading step returns it.
   */
  private mustReadLoss(step: number, lastOfEpoch: boolean): boolean {
    const { options, plan } = this;
    return (
      step % options.logEvery === 0 ||
      step === plan.totalSteps ||
      lastOfEpoch ||
      (plan.evalStrategy === 'steps' && step % (options.evalSteps as number) === 0) ||
      (options.saveStrategy === 'steps' && step % (options.saveSteps as number) === 0) ||
      this.signal?.aborted === true
    );
  }

  /** One optimizer step over `batches`; `waitMs`: how long the loop waited for them to be encoded. */
  private async trainStep(batches: EncodedBatch[], lastOfEpoch: boolean, waitMs: number): Promise<void> {
    const { options, plan } = this;
    // With the last step's verdict pending: the schedule's next learning rate, and its current one should that step
    // turn out skipped (see overflowPending).
    const pending = this.overflowPending;
    const learningRate = learningRateAt(this.schedulerStep + (pending ? 1 : 0), plan.schedule);
    const nativeStarted = performance.now();
    // A non-finite loss rejects with code ERR_NON_FINITE_LOSS and names the step; out of memory with ERR_OUT_OF_MEMORY.
    const result = await this.handle.trainStep(batches, {
      problemType: plan.ctx.problemType,
      learningRate,
      ...(pending ? { learningRateAfterSkip: learningRateAt(this.schedulerStep, plan.schedule) } : {}),
      maxGradNorm: options.maxGradNorm,
      // transformers divides each loss by the size of its accumulation group (the last one of an epoch may be partial).
      accumulationSteps: batches.length,
      classWeights: plan.classWeights,
      skipNonFinite: options.skipNonFiniteLoss,
      readLoss: this.mustReadLoss(this.globalStep + 1, lastOfEpoch),
      mixedPrecision: options.mixedPrecision,
      cudaGraphs: options.cudaGraphs,
    });
    this.globalStep += 1;
    if (pending) {
      if (result.previousOverflow === null) throw new Error(`internal: step ${this.globalStep} did not settle the previous step's overflow verdict`);
      this.settled(result.previousOverflow);
    }
    this.overflowPending = result.overflow === null;
    if (result.overflow !== null) this.settled(result.overflow);

    const iv = this.interval;
    const busyMs = waitMs + (performance.now() - nativeStarted);
    iv.waitMs += waitMs;
    iv.busyMs += busyMs;
    this.totals.waitMs += waitMs;
    this.totals.busyMs += busyMs;
    // Data-parallel: every rank's batches have this rank's sizes (equal shards), so the job's samples are W times
    // this rank's; its tokens are estimated the same way.
    const world = plan.dist?.worldSize ?? 1;
    for (const b of batches) {
      iv.samples += b.batchSize * world;
      iv.tokens += b.realTokens * world;
      this.totals.samples += b.batchSize * world;
      const positions = b.batchSize * b.sequenceLength;
      this.totals.positions += positions;
      this.totals.padding += positions - b.realTokens;
    }
    iv.skipped = iv.skipped || result.skipped || result.previousOverflow === true;
    if (result.logged.length === 0) {
      this.unreadSteps += 1;
      return;
    }
    // This step and the deferred ones before it, oldest first. Older entries than that would be left over from an
    // earlier fit() that failed between reads; they are not this run's.
    const read = result.logged.slice(-(this.unreadSteps + 1));
    this.unreadSteps = 0;
    for (const entry of read) {
      this.health.observeLoss(entry.loss);
      if (!Number.isFinite(entry.loss)) continue; // a skipped step (skipNonFiniteLoss)
      iv.losses += entry.loss;
      iv.lossCount += 1;
      this.totals.losses += entry.loss;
      this.totals.lossCount += 1;
    }
    if (this.globalStep % options.logEvery !== 0) return;

    const now = performance.now();
    const seconds = Math.max((now - iv.started) / 1000, 1e-9);
    const event: StepEvent = {
      type: 'step',
      step: this.globalStep,
      epoch: this.globalStep / plan.stepsPerEpoch,
      loss: iv.lossCount > 0 ? iv.losses / iv.lossCount : NaN,
      learningRate: result.learningRate,
      gradNorm: read[read.length - 1].gradNorm,
      samplesPerSecond: iv.samples / seconds,
      tokensPerSecond: iv.tokens / seconds,
      skipped: iv.skipped,
      dataWaitFraction: iv.busyMs > 0 ? iv.waitMs / iv.busyMs : 0,
    };
    this.interval = { losses: 0, lossCount: 0, samples: 0, tokens: 0, skipped: false, started: now, waitMs: 0, busyMs: 0 };
    this.history.push(event);
    await this.events.step(event);
  }

  /** A step's overflow verdict is known: the schedule advances unless the GradScaler skipped the step. */
  private settled(overflow: boolean): void {
    if (!overflow) this.schedulerStep += 1;
  }

  /** transformers' _maybe_log_save_evaluate for the 'steps' strategies. */
  private async afterStep(): Promise<void> {
    const { options, plan } = this;
    if (plan.evalStrategy === 'steps' && this.globalStep % (options.evalSteps as number) === 0) await this.evaluate();
    if (options.saveStrategy === 'steps' && this.globalStep % (options.saveSteps as number) === 0) await this.saveCheckpoint();
  }

  private async evaluate(): Promise<void> {
    const { options, plan } = this;
    const metrics = await evaluateDataset(
      this.handle,
      plan.evalDataset as Dataset | StreamingDataset,
      plan.ctx,
      options.evalBatchSize,
      plan.classWeights,
      this.model.labels,
      options.prefetchBatches,
      options.mixedPrecision,
      plan.dist,
      plan.evalTokenCache,
    );
    const event: EvaluateEvent = { type: 'evaluate', step: this.globalStep, epoch: this.globalStep / plan.stepsPerEpoch, metrics };
    this.history.push(event);
    this.lastEval = metrics;
    const value = (metrics as unknown as Record<string, unknown>)[options.metricForBestModel];
    const metric = typeof value === 'number' && Number.isFinite(value) ? value : null;
    const better = (a: number, b: number): boolean => (options.greaterIsBetter ? a > b : a < b);
    // EarlyStoppingCallback.on_evaluate runs before the best metric is updated: it compares with the previous best.
    const early = options.earlyStopping;
    if (early) {
      const improved =
        metric !== null && (this.bestMetric === null || (better(metric, this.bestMetric) && Math.abs(metric - this.bestMetric) > early.threshold));
      this.earlyStoppingCounter = improved ? 0 : this.earlyStoppingCounter + 1;
      if (this.earlyStoppingCounter >= early.patience) {
        this.stopRequested = true;
        this.stoppedEarly = this.globalStep < plan.totalSteps;
      }
    }
    if (metric !== null && (this.bestMetric === null || better(metric, this.bestMetric))) {
      this.bestMetric = metric;
      this.bestStep = this.globalStep;
    }
    await this.events.evaluate(event);
    await this.warn(this.health.evaluated(metrics, this.model.labels, event.step, event.epoch, plan.totalSteps));
  }

  private async warn(warning: WarningEvent | null): Promise<void> {
    if (warning === null) return;
    this.warnings.push(warning);
    await this.events.warning(warning);
  }

  private async saveCheckpoint(): Promise<string> {
    const { options, plan } = this;
    const outputDir = this.requireOutputDir('saving a checkpoint');
    const step = this.globalStep;
    const bestName = this.bestStep === step ? checkpointName(step) : this.bestCheckpointName;
    const dist = plan.dist;
    // A step stopped by an abort may not have read its verdict (it was not a save point when it started).
    if (this.overflowPending) {
      const overflow = this.handle.settleOverflow();
      if (overflow === null) throw new Error(`internal: step ${step}'s overflow verdict is not pending`);
      this.overflowPending = false;
      this.settled(overflow);
    }
    const rngState = this.handle.getRngState();
    // Data-parallel: rank 0 alone writes (weights and optimizer state are identical on every rank), with every
    // rank's generator state gathered to it; the others wait at the barrier until the folder is complete.
    const rankRngStates = dist ? await this.gatherRngStates(dist, rngState) : undefined;
    let dir = path.join(outputDir, checkpointName(step));
    if (!dist || dist.isMain) {
      dir = await writeCheckpoint(outputDir, step, {
        saveModel: (tmp) => this.model.saveForTrainer(this.owner, tmp, options.saveFormat),
        saveOptimizer: (file) => this.handle.saveOptimizerState(file),
        rngState,
        rankRngStates,
        gradScaler: this.handle.getGradScalerState(),
        scheduler: { ...plan.schedule, step: this.schedulerStep },
        trainerState: this.trainerState(bestName),
      });
      if (options.saveTotalLimit !== undefined) await rotateCheckpoints(outputDir, options.saveTotalLimit, bestName);
    }
    if (dist) await dist.barrier();
    this.bestCheckpointName = bestName;
    this.lastSavedStep = step;
    const event: CheckpointEvent = { step, path: dir };
    await this.events.checkpoint(event);
    return dir;
  }

  /** Every rank's generator state, gathered to all through one all-reduce; ranks 1.. of them (for rank 0 to save). */
  private async gatherRngStates(dist: DistributedContext, own: Uint8Array): Promise<Uint8Array[]> {
    const n = own.length;
    const table = new Float64Array(dist.worldSize * (n + 1));
    table[dist.rank * (n + 1)] = n;
    own.forEach((byte, i) => (table[dist.rank * (n + 1) + 1 + i] = byte));
    const all = await dist.allReduceSum(table);
    const states: Uint8Array[] = [];
    for (let r = 1; r < dist.worldSize; r++) {
      if (all[r * (n + 1)] !== n)
        throw new Error(`rank ${r}'s generator state has ${all[r * (n + 1)]} bytes, rank ${dist.rank}'s ${n}; the ranks run different LibTorch builds`);
      states.push(Uint8Array.from(all.subarray(r * (n + 1) + 1, (r + 1) * (n + 1))));
    }
    return states;
  }

  private trainerState(bestName: string | null): TrainerStateJson {
    const { options, plan } = this;
    const position: DataPosition = { ...this.position, seed: options.seed, shuffle: options.shuffle };
    if (plan.groupByLength) position.groupByLength = true;
    if (this.position.epoch === this.startExample.epoch && this.startExample.start > 0) position.startExample = this.startExample.start;
    if (plan.dataset instanceof StreamingDataset) {
      // The epoch's remaining examples follow the ones consumed: whole batches, as the position is a step boundary.
      position.examples = this.position.batch * options.batchSize;
      position.shuffleBuffer = plan.dataset.shuffleBuffer;
    }
    const own: ResumeState = {
      version: 1,
      dataPosition: position,
      numExamples: plan.numExamples,
      batchSize: options.batchSize,
      gradientAccumulationSteps: options.gradientAccumulationSteps,
      stepsPerEpoch: plan.stepsPerEpoch,
      history: this.history as unknown as Record<string, unknown>[],
      metricForBestModel: options.metricForBestModel,
      greaterIsBetter: options.greaterIsBetter,
      bestStep: this.bestStep,
      bestCheckpointName: bestName,
      earlyStoppingCounter: this.earlyStoppingCounter,
    };
    if (plan.dist) own.worldSize = plan.dist.worldSize;
    return {
      global_step: this.globalStep,
      epoch: this.globalStep / plan.stepsPerEpoch,
      max_steps: plan.totalSteps,
      num_train_epochs: plan.numEpochs,
      logging_steps: options.logEvery,
      eval_steps: options.evalSteps ?? null,
      save_steps: options.saveSteps ?? null,
      train_batch_size: options.batchSize,
      log_history: this.history.map(transformersLogEntry),
      best_metric: this.bestMetric,
      best_global_step: this.bestStep,
      best_model_checkpoint: bestName === null || options.outputDir === undefined ? null : path.join(options.outputDir, bestName),
      bert_trainer: own,
    };
  }

  /** At a step boundary: saves a checkpoint (when outputDir is set) and rejects with an AbortError. */
  private async abortIfRequested(): Promise<void> {
    const signal = this.signal;
    const dist = this.plan.dist;
    if (dist) {
      // Data-parallel: the ranks agree (one small all-reduce per step) so that all stop at the same step, and
      // rank 0's checkpoint is complete before any rank stops; a rank stopping alone would leave the others waiting.
      const anyAborted = (await dist.allReduceSum(Float64Array.of(signal?.aborted ? 1 : 0)))[0] > 0;
      if (!anyAborted) return;
    } else if (!signal?.aborted) return;
    let checkpoint: string | undefined;
    if (this.options.outputDir !== undefined && this.globalStep > this.startStep) {
      // This step's checkpoint may exist already (the stop came right after an epoch's or a save step's checkpoint).
      checkpoint = this.lastSavedStep === this.globalStep ? path.join(this.options.outputDir, checkpointName(this.globalStep)) : await this.saveCheckpoint();
    }
    const saved = checkpoint !== undefined ? `; checkpoint saved to ${checkpoint}` : '';
    const where = dist && !signal?.aborted ? ' (by another rank)' : '';
    throw new AbortError(`fit() was aborted at step ${this.globalStep}${where}${saved}`, { cause: signal?.reason, checkpoint, step: this.globalStep });
  }
}

/** The labels of a dataset's examples, in order. */
function* labelsOf(dataset: Dataset): Generator<Label | undefined> {
  for (const example of dataset) yield example.label;
}
