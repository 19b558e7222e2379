// The parity references (test/reference/*.py: transformers 5.18 on torch 2.13) behind one long-lived Python process,
// test/reference/server.py, so that a test file imports torch and transformers once (about 10 s) rather than per call.
import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';

import type { ResolvedTrainerOptions } from '../../src/train/trainer-options';
import { PYTHON, REFERENCE_DIR } from './paths';

export type AttnImplementation = 'eager' | 'sdpa';

/**
 * The optimizer and schedule settings a reference trains with (test/reference/train_reference.py's spec,
 * bench/gpu_reference.py's hyperparameters), under the Trainer's option names: the part of both parity specs
 * that the Trainer takes as it is.
 */
export type OptimizerHyperparameters = Pick<
  ResolvedTrainerOptions,
  'learningRate' | 'weightDecay' | 'adamBeta1' | 'adamBeta2' | 'adamEpsilon' | 'maxGradNorm' | 'warmupSteps'
>;

/** The Trainer options of `h`: the same names and values, and nothing else of an object that has more. */
export function optimizerOptions(h: OptimizerHyperparameters): OptimizerHyperparameters {
  const { learningRate, weightDecay, adamBeta1, adamBeta2, adamEpsilon, maxGradNorm, warmupSteps } = h;
  return { learningRate, weightDecay, adamBeta1, adamBeta2, adamEpsilon, maxGradNorm, warmupSteps };
}

export interface PredictResult {
  logits: number[][];
  keys: string[];
  dtypes: Record<string, string>;
  attnImplementation: AttnImplementation;
}

export interface TrainResult {
  losses: number[];
  microLosses: number[];
  learningRates: number[];
  /** A non-finite one (of an fp16 step the GradScaler skipped) arrives as null, as JSON has no Infinity or NaN. */
  gradNorms: number[];
  /** fp16: whether the GradScaler skipped the step's update (then the scheduler does not step); false otherwise. */
  skipped: boolean[];
  /** fp16: the GradScaler's scale after each step; null otherwise. */
  scales: (number | null)[];
  steps: number;
  versions: { torch: string; transformers: string };
}

export interface CompareWeightsResult {
  file: string;
  compared: number;
  saved: number;
  differing: string[];
  notF32: string[];
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class PythonReference {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private exited: Error | undefined;

  constructor() {
    this.child = spawn(PYTHON, [path.join(REFERENCE_DIR, 'server.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => this.answer(line));
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`test/reference/server.py exited (${signal ?? code}): ${this.stderrTail}`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  private answer(line: string): void {
    const message = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    if (message.ok) waiting.resolve(message.result);
    else waiting.reject(new Error(`reference ${message.error}`));
  }

  private call<T>(request: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  versions(): Promise<{ torch: string; transformers: string }> {
    return this.call({ cmd: 'versions' });
  }

  /** transformers' BertForSequenceClassification.from_pretrained(modelDir) (strict, float32): its logits on `inputs`. */
  predict(modelDir: string, inputs: object, attnImplementation: AttnImplementation = 'eager'): Promise<PredictResult> {
    return this.call({ cmd: 'predict', modelDir, inputs, attnImplementation });
  }

  /** test/reference/train_reference.py on a spec (see test/reference/README.md). */
  train(spec: object): Promise<TrainResult> {
    return this.call({ cmd: 'train', spec });
  }

  /** test/reference/compare_weights.py: the saved directory's tensors against the original's, bit for bit. */
  compareWeights(original: string, saved: string): Promise<CompareWeightsResult> {
    return this.call({ cmd: 'compareWeights', original, saved });
  }

  /** Ends the process (its stdin closes; it exits when the current request is done). */
  close(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
    });
  }
}
