// Training progress in the terminal. On a TTY: one live bar (cli-progress) with the step, ETA, loss, learning rate
// and throughput, evaluation and checkpoint lines printed above it. Otherwise (a pipe, a log file, CI): plain lines,
// about twenty per run whatever its length, so a log stays short; evaluations and checkpoints always get a line.
import { MultiBar, Presets, SingleBar } from 'cli-progress';

import { formatDuration, formatEpoch, formatLearningRate, formatMetric, formatRate } from './format';
import type { CheckpointEvent, EvaluateEvent, StepEvent, TrainBeginLogs } from '../train/events';

export interface TrainingProgress {
  begin(logs: TrainBeginLogs): void;
  step(event: StepEvent): void;
  evaluate(event: EvaluateEvent): void;
  checkpoint(event: CheckpointEvent): void;
  /** A line of its own (kept above the bar on a TTY). */
  note(line: string): void;
  /** Removes the bar (restoring the cursor); later notes print as plain lines. */
  stop(): void;
}

/** Plain-mode lines per run: a step line every ceil(totalSteps / LINES_PER_RUN) steps, and the last step. */
const LINES_PER_RUN = 20;

/** Elapsed time and ETA from the steps this process ran (a resumed run's earlier steps are not counted). */
class Clock {
  private started = performance.now();
  private firstStep = 0;

  begin(startStep: number): void {
    this.started = performance.now();
    this.firstStep = startStep;
  }

  elapsedSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  etaSeconds(step: number, totalSteps: number): number {
    const done = step - this.firstStep;
    return done > 0 ? (this.elapsedSeconds() / done) * (totalSteps - step) : NaN;
  }
}

function evaluationLine(e: EvaluateEvent): string {
  const m = e.metrics;
  const scores = m.accuracy !== undefined ? `  accuracy ${formatMetric(m.accuracy)}  f1 ${formatMetric(m.f1)}` : '';
  return `eval   step ${e.step}  epoch ${formatEpoch(e.epoch)}  loss ${formatMetric(m.loss)}${scores}`;
}

function checkpointLine(e: CheckpointEvent): string {
  return `saved  step ${e.step}  checkpoint ${e.path}`;
}

/** Plain lines for logs: "step  40/400 (10%)  epoch 0.50  loss 0.6523  lr 4.50e-5  312 samples/s  0:12 elapsed  1:48 left". */
class LineProgress implements TrainingProgress {
  private totalSteps = 0;
  private every = 1;
  private lastPrinted = 0;
  private lossSum = 0;
  private lossCount = 0;
  private readonly clock = new Clock();

  constructor(private readonly write: (line: string) => void) {}

  begin(logs: TrainBeginLogs): void {
    this.totalSteps = logs.totalSteps;
    this.every = Math.max(1, Math.ceil(logs.totalSteps / LINES_PER_RUN));
    this.lastPrinted = logs.startStep;
    this.clock.begin(logs.startStep);
    const resumed = logs.startStep > 0 ? `, resuming at step ${logs.startStep}` : '';
    this.write(`training: ${logs.numExamples} examples, ${logs.epochs} epoch${logs.epochs === 1 ? '' : 's'}, ${logs.totalSteps} steps${resumed}`);
  }

  step(e: StepEvent): void {
    // The line shows the mean loss since the previous line, not just the last logged step's.
    if (Number.isFinite(e.loss)) {
      this.lossSum += e.loss;
      this.lossCount += 1;
    }
    if (e.step - this.lastPrinted < this.every && e.step !== this.totalSteps) return;
    const width = String(this.totalSteps).length;
    const pct = Math.floor((100 * e.step) / this.totalSteps);
    const loss = this.lossCount > 0 ? this.lossSum / this.lossCount : NaN;
    this.write(
      `step   ${String(e.step).padStart(width)}/${this.totalSteps} (${pct}%)  epoch ${formatEpoch(e.epoch)}  loss ${formatMetric(loss)}  ` +
        `lr ${formatLearningRate(e.learningRate)}  ${formatRate(e.samplesPerSecond)} samples/s  ` +
        `${formatDuration(this.clock.elapsedSeconds())} elapsed  ${formatDuration(this.clock.etaSeconds(e.step, this.totalSteps))} left`,
    );
    this.lastPrinted = e.step;
    this.lossSum = 0;
    this.lossCount = 0;
  }

  evaluate(e: EvaluateEvent): void {
    this.write(evaluationLine(e));
  }

  checkpoint(e: CheckpointEvent): void {
    this.write(checkpointLine(e));
  }

  note(line: string): void {
    this.write(line);
  }

  stop(): void {
    // nothing to clean up
  }
}

/** The live bar for a terminal. */
class BarProgress implements TrainingProgress {
  private multibar: MultiBar | undefined;
  private bar: SingleBar | undefined;
  private totalSteps = 0;
  private readonly clock = new Clock();

  constructor(private readonly stream: NodeJS.WriteStream) {}

  begin(logs: TrainBeginLogs): void {
    this.totalSteps = logs.totalSteps;
    this.clock.begin(logs.startStep);
    // The bar line is cut at the terminal's width: narrow terminals get shorter words and a shorter bar.
    const columns = this.stream.columns || 80;
    const wide = columns >= 120;
    const format = wide
      ? ' {bar} {percentage}% | step {value}/{total} | epoch {epoch} | ETA {etaText} | loss {loss} | lr {lr} | {rate} samples/s'
      : ' {bar} {percentage}% {value}/{total} ep {epoch} ETA {etaText} loss {loss} lr {lr} {rate}/s';
    const textWidth = (wide ? 100 : 68) + 2 * String(logs.totalSteps).length;
    this.multibar = new MultiBar(
      {
        stream: this.stream,
        format,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        barsize: Math.max(6, Math.min(30, columns - textWidth)),
        fps: 8,
        autopadding: true,
      },
      Presets.shades_classic,
    );
    this.multibar.log(`training: ${logs.numExamples} examples, ${logs.epochs} epoch${logs.epochs === 1 ? '' : 's'}, ${logs.totalSteps} steps\n`);
    this.bar = this.multibar.create(logs.totalSteps, logs.startStep, { epoch: '0', etaText: '-', loss: '-', lr: '-', rate: '-' });
  }

  step(e: StepEvent): void {
    this.bar?.update(e.step, {
      epoch: formatEpoch(e.epoch),
      etaText: formatDuration(this.clock.etaSeconds(e.step, this.totalSteps)),
      loss: formatMetric(e.loss),
      lr: formatLearningRate(e.learningRate),
      rate: formatRate(e.samplesPerSecond),
    });
  }

  evaluate(e: EvaluateEvent): void {
    this.note(evaluationLine(e));
  }

  checkpoint(e: CheckpointEvent): void {
    this.note(checkpointLine(e));
  }

  note(line: string): void {
    if (this.multibar) {
      this.multibar.log(`${line}\n`);
      // Logged lines are flushed on the next redraw; force one so they show now.
      this.multibar.update();
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  stop(): void {
    this.multibar?.stop();
    this.multibar = undefined;
    this.bar = undefined;
  }
}

/** A bar when `stream` is a terminal, plain lines otherwise. */
export function createProgress(stream: NodeJS.WriteStream): TrainingProgress {
  return stream.isTTY ? new BarProgress(stream) : new LineProgress((line) => stream.write(`${line}\n`));
}
