// The one dispatch of a run's events, like transformers' CallbackHandler: each event is emitted on the Trainer
// (an EventEmitter, synchronously) and then passed to the matching callback of TrainerOptions.callbacks (awaited).
// A listener or callback that throws rejects fit().
import type { EventEmitter } from 'events';

import type { CheckpointEvent, EpochEndEvent, EvaluateEvent, FitResult, StepEvent, TrainBeginLogs, WarningEvent } from './events';
import type { TrainerCallbacks } from './trainer-options';

export class TrainerEvents {
  constructor(
    private readonly emitter: EventEmitter,
    private readonly callbacks: TrainerCallbacks,
  ) {}

  async trainBegin(logs: TrainBeginLogs): Promise<void> {
    await this.callbacks.onTrainBegin?.(logs);
  }

  /** `epoch`: the 0-based epoch index. */
  async epochBegin(epoch: number, step: number): Promise<void> {
    await this.callbacks.onEpochBegin?.(epoch, { step });
  }

  async step(event: StepEvent): Promise<void> {
    this.emitter.emit('step', event);
    await this.callbacks.onStepEnd?.(event.step, event);
    await this.callbacks.onBatchEnd?.(event.step, event);
  }

  /** `epoch`: the 0-based index of the epoch that ended (event.epoch is the fractional epoch reached). */
  async epochEnd(epoch: number, event: EpochEndEvent): Promise<void> {
    this.emitter.emit('epochEnd', event);
    await this.callbacks.onEpochEnd?.(epoch, event);
  }

  async evaluate(event: EvaluateEvent): Promise<void> {
    this.emitter.emit('evaluate', event);
    await this.callbacks.onEvaluate?.(event.step, event);
  }

  async checkpoint(event: CheckpointEvent): Promise<void> {
    this.emitter.emit('checkpoint', event);
    await this.callbacks.onCheckpoint?.(event.step, event);
  }

  async warning(event: WarningEvent): Promise<void> {
    this.emitter.emit('warning', event);
    await this.callbacks.onWarning?.(event);
  }

  async trainEnd(result: FitResult): Promise<void> {
    await this.callbacks.onTrainEnd?.(result);
  }
}
