// `bert-trainer train`: reads the data files, builds or loads the model (--model), fine-tunes it with the Trainer,
// and writes everything a run produces into --output: checkpoints while it trains, then the model directory,
// metrics.json and report.html / report.svg. Ctrl-C stops at the next step with a checkpoint (exit code 130).
import { Command, Option } from 'commander';

import * as os from 'os';

import { BertClassifier } from '../model/classifier';
import { distributedFromEnv } from '../engine/distributed';
import { native } from '../engine/native';
import type { Dataset } from '../data/dataset';
import { ReportData, writeReport } from '../report/report';
import { Trainer } from '../train/trainer';
import { latestCheckpoint } from '../checkpoint/trainer-checkpoint';
import { INTERVAL_STRATEGIES, MIXED_PRECISIONS } from '../train/trainer-options';
import { LR_SCHEDULER_TYPES, LrSchedulerType } from '../train/schedule';
import type { DeviceOption } from '../engine/device';
import { addDataOptions, addThreadsOption, applyThreads, dataFlags } from './common-options';
import { HUB_SOURCE_SYNTAX, loadDataset, skippedNote, textsOf } from './data';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, UsageError } from './errors';
import { onInterrupt } from './interrupt';
import { checkEvalLabels, trainingLabels } from './labels';
import { LoadedModel, ModelSource, SIZE_NAMES, describeArchitecture, describeSizes, modelForTraining, parseModelSource } from './model-source';
import { byteSize, choice, integer, number } from './option-parsers';
import { commandLine, reportHistory, writeMetrics } from './outputs';
import { TrainingProgress, createProgress } from './progress';
import { trainingSummary } from './summary';
import { formatLearningRate as lr } from './format';
import { PRETRAINED_DEFAULTS, SCRATCH_DEFAULTS, trainingDefaults } from './train-defaults';
import { FixValues, warningLine } from './warnings';
import { singleClassWarning } from '../train/training-health';
import { AbortError } from '../train/abort-error';
import { EvaluationResult, FitResult, HistoryEntry } from '../train/events';
import { MixedPrecision } from '../train/trainer-options';
import { WarningEvent } from '../train/events';

type Strategy = 'no' | 'steps' | 'epoch';

const DEFAULT_MAX_LENGTH = 128;
/** Curves in the report have at most about this many points when --log-every is not given. */
const LOGGED_STEPS_PER_RUN = 500;

export interface TrainFlags {
  model?: string;
  train: string;
  eval?: string;
  validationSplit?: number;
  output: string;
  epochs: number;
  batchSize: number;
  lr: number;
  maxLength?: number;
  warmupRatio: number;
  weightDecay: number;
  seed: number;
  gradAccum: number;
  scheduler: LrSchedulerType;
  maxGradNorm: number;
  mixedPrecision: MixedPrecision;
  cudaGraphs: boolean;
  groupByLength?: boolean;
  logEvery?: number;
  evalStrategy?: Strategy;
  evalSteps?: number;
  saveStrategy?: Strategy;
  saveSteps?: number;
  saveTotalLimit?: number;
  maxShardSize?: number;
  resume?: string | true;
  vocabSize?: number;
  threads?: number;
  device: DeviceOption;
  [data: string]: unknown;
}

/** A fraction in (0, 1) of the training file, or a whole number of examples. */
function validationSize(value: string): number {
  const n = number(0, Infinity, 'min')(value);
  if (n >= 1 && !Number.isInteger(n)) return integer()(value); // throws the integer message
  return n;
}

export function trainCommand(done: (code: number) => void): Command {
  const command = new Command('train')
    .summary('fine-tune a BERT classifier on a CSV, TSV, JSONL or Parquet file or a hub dataset (or train one from scratch)')
    .description(
      'Fine-tunes a BERT classifier, or trains a small one from scratch, and writes into --output: the model ' +
        '(a Hugging Face model directory), metrics.json, report.html and report.svg, and checkpoint-<step> folders.',
    )
    .optionsGroup('Model:')
    .option('--model <model>', `a model directory, a Hugging Face hub id, or a built-in size to train from scratch: ${SIZE_NAMES.join(', ')}`)
    .addOption(
      new Option('--vocab-size <n>', 'WordPiece vocabulary size of a built-in size (default: 8000 for tiny and mini, 30522 for small and base)').argParser(
        integer(10),
      ),
    )
    .optionsGroup('Data:')
    .requiredOption('--train <file>', `training data: a .csv, .tsv, .jsonl or .parquet file, or a Hugging Face dataset split, ${HUB_SOURCE_SYNTAX}`)
    .option('--eval <file>', `held-out data (a file or ${HUB_SOURCE_SYNTAX}), evaluated at each --eval-strategy point and at the end`)
    .addOption(
      new Option('--validation-split <size>', 'without --eval: hold out this fraction (e.g. 0.2) or number of training rows, stratified by label').argParser(
        validationSize,
      ),
    );
  addDataOptions(command, true);
  command
    .optionsGroup('Training:')
    .addOption(new Option('--epochs <n>', 'passes over the training data (may be fractional)').argParser(number(0, Infinity, 'min')).default(3))
    .addOption(
      new Option(
        '--batch-size <n>',
        `examples per step (per process under \`bert-trainer launch\`; default: ${PRETRAINED_DEFAULTS.batchSize} for pretrained models, ${SCRATCH_DEFAULTS.mini.batchSize} for built-in sizes)`,
      ).argParser(integer()),
    )
    .addOption(
      new Option(
        '--lr <rate>',
        `peak learning rate (default: ${lr(PRETRAINED_DEFAULTS.learningRate)} for pretrained models; for built-in sizes ${scratchLearningRates()})`,
      ).argParser(number(0, 1, 'min')),
    )
    .addOption(
      new Option('--max-length <n>', "truncate texts to this many tokens (default: 128, or the model's max_position_embeddings if smaller)").argParser(
        integer(2),
      ),
    )
    .addOption(
      new Option(
        '--warmup-ratio <r>',
        `fraction of the steps spent warming the learning rate up (default: ${PRETRAINED_DEFAULTS.warmupRatio} for pretrained models, ${SCRATCH_DEFAULTS.mini.warmupRatio} for built-in sizes)`,
      ).argParser(number(0, 1)),
    )
    .addOption(
      new Option(
        '--weight-decay <w>',
        `AdamW weight decay, never on biases and LayerNorm weights (default: ${PRETRAINED_DEFAULTS.weightDecay} for pretrained models, ${SCRATCH_DEFAULTS.mini.weightDecay} for built-in sizes)`,
      ).argParser(number(0, Infinity)),
    )
    .addOption(
      new Option('--scheduler <name>', `learning-rate schedule: ${LR_SCHEDULER_TYPES.join(', ')}`).argParser(choice(LR_SCHEDULER_TYPES)).default('linear'),
    )
    .addOption(new Option('--grad-accum <n>', 'batches accumulated per optimizer step').argParser(integer()).default(1))
    .addOption(new Option('--max-grad-norm <n>', 'gradient clipping norm (0: no clipping)').argParser(number(0, Infinity)).default(1))
    .addOption(new Option('--seed <n>', 'seed of the data order, dropout, the split and new weights').argParser(integer(0)).default(42))
    .addOption(
      new Option(
        '--mixed-precision <mode>',
        "'bf16': matrix products in bfloat16 (fp32 weights and loss; fast on GPUs and on CPUs with AMX/AVX512-BF16); 'fp16': float16 with dynamic loss scaling (GPUs); 'no': fp32",
      )
        .argParser(choice(MIXED_PRECISIONS))
        .default('no'),
    )
    .option('--no-cuda-graphs', 'on a GPU, launch every training step kernel by kernel instead of replaying a captured CUDA graph')
    .option(
      '--group-by-length',
      "batches of similar token lengths (transformers' group_by_length). Default: grouped when plain batches would be more than 20% padding",
    )
    .option('--no-group-by-length', 'batches in plain shuffled order')
    .addOption(new Option('--log-every <n>', 'record the loss every n steps (default: about 500 points per run)').argParser(integer()))
    .optionsGroup('Evaluation and checkpoints:')
    .addOption(
      new Option('--eval-strategy <when>', "when to evaluate: 'no', 'steps' (every --eval-steps) or 'epoch' (default with held-out data)").argParser(
        choice(INTERVAL_STRATEGIES),
      ),
    )
    .addOption(new Option('--eval-steps <n>', 'evaluate every n steps (implies --eval-strategy steps)').argParser(integer()))
    .addOption(
      new Option('--save-strategy <when>', "when to write a checkpoint: 'no', 'steps' (every --save-steps) or 'epoch' (default)").argParser(
        choice(INTERVAL_STRATEGIES),
      ),
    )
    .addOption(new Option('--save-steps <n>', 'checkpoint every n steps (implies --save-strategy steps)').argParser(integer()))
    .addOption(new Option('--save-total-limit <n>', 'keep at most n checkpoints (the oldest are deleted)').argParser(integer()))
    .option('--resume [checkpoint]', 'continue from a checkpoint folder (default: the newest in --output)')
    .optionsGroup('Output:')
    .requiredOption('--output <dir>', 'where the model, metrics.json, report.html and checkpoints go')
    .addOption(
      new Option(
        '--max-shard-size <size>',
        'the largest weights file of the saved model (default 50GB, as transformers): a bigger model is saved as shards and an index',
      ).argParser(byteSize),
    )
    .optionsGroup('Options:');
  addThreadsOption(command);
  command.addHelpText(
    'after',
    `
Built-in sizes (trained from scratch: a WordPiece vocabulary is learned from the training texts, the labels come
from the training data, max_position_embeddings is 512 or --max-length if larger):
${describeSizes()}

Labels: names (any text) become the model's labels, sorted; integer ids 0..k-1 give k labels LABEL_0..LABEL_{k-1};
a Hugging Face ClassLabel column (Parquet files, hub datasets) gives its names, in id order.
A pretrained model keeps its head when its labels are exactly the data's; otherwise it gets a new head.

Examples:
  bert-trainer train --model tiny --train data.csv --validation-split 0.2 --output runs/tiny
  bert-trainer train --model bert-base-uncased --train train.jsonl --eval dev.jsonl --epochs 3 --lr 2e-5 --output runs/base
  bert-trainer train --model tiny --train data.csv --output runs/tiny --resume      # after Ctrl-C
  bert-trainer train --model tiny --train hub:stanfordnlp/imdb:train --eval hub:stanfordnlp/imdb:test --output runs/imdb

Exit codes: 0 done, 1 error, 2 bad usage, 130 interrupted (a checkpoint was saved).`,
  );
  command.action(async (flags: TrainCommandFlags) => done(await runTrain(flags)));
  return command;
}

/** Flag combinations commander cannot check on its own. */
function checkFlags(f: TrainFlags, source: ModelSource | undefined): void {
  if (f.model === undefined && f.resume === undefined) throw new UsageError("required option '--model <model>' not specified (or --resume a checkpoint)");
  if (f.eval !== undefined && f.validationSplit !== undefined) throw new UsageError('--eval and --validation-split are alternatives; give one of them');
  const hasEval = f.eval !== undefined || f.validationSplit !== undefined;
  const evalStrategy = f.evalStrategy ?? (f.evalSteps !== undefined ? 'steps' : undefined);
  if (evalStrategy !== undefined && evalStrategy !== 'no' && !hasEval) {
    throw new UsageError(`--eval-strategy ${evalStrategy} needs held-out data: --eval FILE or --validation-split`);
  }
  if (evalStrategy === 'steps' && f.evalSteps === undefined) throw new UsageError('--eval-strategy steps needs --eval-steps N');
  if (f.saveStrategy === 'steps' && f.saveSteps === undefined) throw new UsageError('--save-strategy steps needs --save-steps N');
  if (f.vocabSize !== undefined && source?.kind !== 'size') throw new UsageError(`--vocab-size applies to the built-in sizes (${SIZE_NAMES.join(', ')}) only`);
}

/** Optimizer steps of the run, with the Trainer's arithmetic (for the default --log-every). */
function totalSteps(f: TrainFlags, examples: number): number {
  const batches = Math.ceil(examples / f.batchSize);
  return Math.ceil(f.epochs * Math.ceil(batches / f.gradAccum));
}

// Data-parallel workers other than rank 0 print nothing (rank 0 reports for the job); errors still go to stderr.
let quiet = false;

function say(line: string): void {
  if (!quiet) process.stdout.write(`${line}\n`);
}

/** Progress for ranks other than 0: nothing shown. */
const SILENT_PROGRESS: TrainingProgress = {
  begin: () => undefined,
  step: () => undefined,
  evaluate: () => undefined,
  checkpoint: () => undefined,
  note: () => undefined,
  stop: () => undefined,
};

/**
 * Under `bert-trainer launch`: the intra-op threads default to this machine's cores shared by its workers (like
 * torchrun's OMP_NUM_THREADS, which LibTorch here does not read), and a worker whose launcher died (killed with
 * SIGKILL, so it could not stop its workers) stops too instead of training on as an orphan.
 */
function launchedWorkerSetup(threads: number | undefined): void {
  const local = Number(process.env.LOCAL_WORLD_SIZE);
  if (threads === undefined && Number.isSafeInteger(local) && local > 1) native().setNumThreads(Math.max(1, Math.floor(os.cpus().length / local)));
  const launcher = Number(process.env.BERT_TRAINER_LAUNCHER_PID);
  if (Number.isSafeInteger(launcher) && launcher > 0) {
    setInterval(() => {
      if (process.ppid !== launcher) {
        process.stderr.write(`error (rank ${process.env.RANK}): the launcher (pid ${launcher}) exited; stopping\n`);
        process.exit(EXIT_RUNTIME);
      }
    }, 1000).unref();
  }
}

interface RunData {
  train: Dataset;
  evalSet: Dataset | undefined;
  evalName: string | undefined;
  /** The whole training file (before a validation split): its labels are the model's. */
  trainFile: Dataset;
  notes: string[];
}

async function readData(f: TrainFlags): Promise<RunData> {
  const flags = dataFlags(f);
  const notes: string[] = [];
  const trainFile = await loadDataset(f.train, '--train', flags, true, say);
  const skippedTrain = skippedNote(trainFile, f.train);
  if (skippedTrain) notes.push(skippedTrain);
  if (f.eval !== undefined) {
    const evalSet = await loadDataset(f.eval, '--eval', flags, true, say);
    const skippedEval = skippedNote(evalSet, f.eval);
    if (skippedEval) notes.push(skippedEval);
    return { train: trainFile, evalSet, evalName: f.eval, trainFile, notes };
  }
  if (f.validationSplit !== undefined) {
    const { train, validation } = trainFile.split({ validation: f.validationSplit, seed: f.seed });
    const share = f.validationSplit < 1 ? `${Number((f.validationSplit * 100).toFixed(2))}%` : `${f.validationSplit} rows`;
    return { train, evalSet: validation, evalName: `${share} held out from ${f.train}`, trainFile, notes };
  }
  return { train: trainFile, evalSet: undefined, evalName: undefined, trainFile, notes };
}

async function loadModel(f: TrainFlags, source: ModelSource | undefined, data: RunData, resumeFrom: string | undefined): Promise<LoadedModel> {
  if (resumeFrom !== undefined) {
    // A checkpoint is a model directory with the run's tokenizer and labels; the Trainer restores the rest.
    const model = await BertClassifier.fromPretrained(resumeFrom, { device: f.device });
    return { model, description: `${f.model ?? 'model'} resumed from ${resumeFrom} (${describeArchitecture(model)})` };
  }
  return modelForTraining(source as ModelSource, {
    labels: trainingLabels(data.trainFile, f.train),
    texts: () => textsOf(data.train),
    vocabSize: f.vocabSize,
    maxLength: f.maxLength ?? DEFAULT_MAX_LENGTH,
    seed: f.seed,
    device: f.device,
    log: say,
  });
}

/** The command line without its --resume (and the value after it), to print with a new --resume. */
function withoutResume(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--resume=')) continue;
    if (argv[i] === '--resume') {
      if (i + 1 < argv.length && !argv[i + 1].startsWith('-')) i += 1;
      continue;
    }
    out.push(argv[i]);
  }
  return out;
}

/** The options shown in the report (flag names, as typed). */
function reportOptions(f: TrainFlags, s: RunSettings): Record<string, string | number | boolean | undefined> {
  return {
    epochs: f.epochs,
    'batch size': f.batchSize,
    'learning rate': s.learningRate,
    'max length': s.maxLength,
    scheduler: f.scheduler,
    'warmup ratio': f.warmupRatio,
    'weight decay': f.weightDecay,
    'grad accumulation': f.gradAccum,
    'max grad norm': f.maxGradNorm,
    seed: f.seed,
    'log every': s.logEvery,
    'eval strategy': f.evalStrategy ?? (f.evalSteps !== undefined ? 'steps' : undefined),
    'eval steps': f.evalSteps,
    'save strategy': s.saveStrategy,
    'save steps': f.saveSteps,
    'vocab size': f.vocabSize,
    threads: f.threads,
    resume: f.resume === true ? 'newest' : f.resume,
  };
}

/** The run's settings once the model is known (defaults that depend on it filled in). */
interface RunSettings {
  learningRate: number;
  maxLength: number;
  logEvery: number;
  saveStrategy: Strategy;
}

function settingsFor(f: TrainFlags, source: ModelSource | undefined, model: BertClassifier, trainExamples: number): RunSettings {
  const positions = model.maxSequenceLength;
  if (f.maxLength !== undefined && f.maxLength > positions) {
    throw new Error(`--max-length ${f.maxLength} exceeds the model's max_position_embeddings (${positions})`);
  }
  return {
    learningRate: f.lr,
    maxLength: f.maxLength ?? Math.min(DEFAULT_MAX_LENGTH, positions),
    logEvery: f.logEvery ?? Math.max(1, Math.ceil(totalSteps(f, trainExamples) / LOGGED_STEPS_PER_RUN)),
    // --save-steps alone means "every n steps", like --eval-steps; otherwise a checkpoint per epoch.
    saveStrategy: f.saveStrategy ?? (f.saveSteps !== undefined ? 'steps' : 'epoch'),
  };
}

/** A Trainer whose events drive the progress display and are recorded in `seen` (the report of an interrupted run). */
function trainerFor(model: BertClassifier, f: TrainFlags, s: RunSettings, progress: TrainingProgress, seen: HistoryEntry[], warnings: WarningEvent[]): Trainer {
  const trainer = new Trainer(model, {
    epochs: f.epochs,
    batchSize: f.batchSize,
    learningRate: s.learningRate,
    maxLength: s.maxLength,
    warmupRatio: f.warmupRatio,
    weightDecay: f.weightDecay,
    lrScheduler: f.scheduler,
    gradientAccumulationSteps: f.gradAccum,
    maxGradNorm: f.maxGradNorm,
    mixedPrecision: f.mixedPrecision,
    cudaGraphs: f.cudaGraphs,
    groupByLength: f.groupByLength ?? 'auto',
    seed: f.seed,
    logEvery: s.logEvery,
    evalStrategy: f.evalStrategy,
    evalSteps: f.evalSteps,
    outputDir: f.output,
    saveStrategy: s.saveStrategy,
    saveSteps: f.saveSteps,
    saveTotalLimit: f.saveTotalLimit,
    callbacks: { onTrainBegin: (logs) => progress.begin(logs) },
  });
  trainer.on('step', (e) => {
    seen.push(e);
    progress.step(e);
  });
  trainer.on('evaluate', (e) => {
    seen.push(e);
    progress.evaluate(e);
  });
  trainer.on('checkpoint', (e) => progress.checkpoint(e));
  trainer.on('warning', (e) => {
    warnings.push(e);
    progress.note(warningLine(e, fixValues(f)));
  });
  return trainer;
}

/** After Ctrl-C: a report of the steps that ran, where the checkpoint is, and how to resume from it. */
async function reportInterruption(
  err: AbortError,
  f: TrainFlags,
  report: RunReport,
  seen: HistoryEntry[],
  warnings: WarningEvent[],
  main: boolean,
): Promise<number> {
  if (!main) return EXIT_INTERRUPTED;
  const files = await writeReport(f.output, { ...report, status: 'interrupted', finishedAt: new Date(), ...reportHistory(seen), warnings });
  // The step fit() stopped at (the logged steps lag behind it when --log-every > 1).
  say(`interrupted${err.step !== undefined ? ` at step ${err.step}` : ''}`);
  if (err.checkpoint !== undefined) {
    say(`checkpoint saved to ${err.checkpoint}`);
    const launched = process.env.BERT_TRAINER_LAUNCHER_PID !== undefined;
    // A launched worker's own command line lacks `bert-trainer launch` and its options; the resume may use another
    // --nproc-per-node (see README, "Data-parallel training").
    const command = commandLine(withoutResume(process.argv));
    say(`resume with: ${launched ? command.replace(/^bert-trainer /, 'bert-trainer launch [its options] ') : command} --resume ${err.checkpoint}`);
  } else {
    say('no checkpoint was saved (no step had finished)');
  }
  say(`report (partial): ${files.html}`);
  return EXIT_INTERRUPTED;
}

/** After a completed fit: the final held-out metrics, then the model, metrics.json, the report and the summary. */
async function writeOutputs(
  f: TrainFlags,
  s: RunSettings,
  trainer: Trainer,
  result: FitResult,
  evalSet: Dataset | undefined,
  report: RunReport,
  main: boolean,
): Promise<void> {
  // The last evaluation when it was at the last step, else one more evaluation (every rank takes part in it).
  let final: EvaluationResult | undefined = result.metrics.eval;
  const lastEval = [...result.history].reverse().find((e) => e.type === 'evaluate');
  const warnings = [...result.warnings];
  if (evalSet && (final === undefined || lastEval?.step !== result.metrics.steps)) {
    final = await trainer.evaluate(evalSet);
    // The final evaluation is the one the user reads: a collapse there is said even when fit()'s were not.
    const collapsed = singleClassWarning(final, trainer.model.labels, result.metrics.steps, result.metrics.epochs);
    if (collapsed && !warnings.some((w) => w.code === collapsed.code)) {
      warnings.push(collapsed);
      if (main) say(warningLine(collapsed, fixValues(f)));
    }
  }
  if (!main) return;

  const model = trainer.model;
  await model.save(f.output, { maxShardSize: f.maxShardSize });
  const metricsFile = await writeMetrics(f.output, final, result.metrics, model.labels, warnings);
  const m = result.metrics;
  const files = await writeReport(f.output, {
    ...report,
    status: 'completed',
    finishedAt: new Date(),
    ...reportHistory(result.history),
    summary: { steps: m.steps, epochs: m.epochs, trainLoss: m.trainLoss, runtimeSeconds: m.runtimeSeconds, samplesPerSecond: m.samplesPerSecond },
    final,
    warnings,
  });
  say(trainingSummary(m, final));
  say(`model:   ${f.output}`);
  say(`metrics: ${metricsFile}`);
  say(`report:  ${files.html}`);
}

/** What every report of this run shares (the rest comes from how it ended). */
type RunReport = Omit<ReportData, 'steps' | 'evaluations'>;

/** The flags as the command line gives them: the settings whose default depends on the model may be missing. */
export type TrainCommandFlags = Record<string, unknown> & Partial<Pick<TrainFlags, DefaultedFlag>>;
type DefaultedFlag = 'lr' | 'batchSize' | 'warmupRatio' | 'weightDecay';

/** The flags with trainingDefaults(source) where the user gave none. */
function withDefaults(flags: TrainCommandFlags, source: ModelSource | undefined): TrainFlags {
  const d = trainingDefaults(source);
  return {
    ...(flags as TrainFlags),
    lr: flags.lr ?? d.learningRate,
    batchSize: flags.batchSize ?? d.batchSize,
    warmupRatio: flags.warmupRatio ?? d.warmupRatio,
    weightDecay: flags.weightDecay ?? d.weightDecay,
  };
}

/** "5e-4 (tiny, mini), 3e-4 (small), 1e-4 (base)". */
function scratchLearningRates(): string {
  const bySize = new Map<string, string[]>();
  for (const size of SIZE_NAMES) {
    const rate = lr(SCRATCH_DEFAULTS[size].learningRate);
    bySize.set(rate, [...(bySize.get(rate) ?? []), size]);
  }
  return [...bySize].map(([rate, sizes]) => `${rate} (${sizes.join(', ')})`).join(', ');
}

/** This run's values of the settings a training warning names. */
function fixValues(f: TrainFlags): FixValues {
  return { learningRate: f.lr, batchSize: f.batchSize, warmupRatio: f.warmupRatio };
}

export async function runTrain(flags: TrainCommandFlags): Promise<number> {
  const source = typeof flags.model === 'string' ? parseModelSource(flags.model) : undefined;
  const f = withDefaults(flags, source);
  checkFlags(f, source);
  applyThreads(f.threads);
  // Under `bert-trainer launch` (or torchrun's variables set by hand): one rank of a data-parallel job.
  const dist = distributedFromEnv();
  const main = dist === undefined || dist.rank === 0;
  if (dist) launchedWorkerSetup(f.threads);
  quiet = !main;
  const startedAt = new Date();
  const resumeFrom = f.resume === undefined ? undefined : f.resume === true ? await latestCheckpoint(f.output) : f.resume;

  const data = await readData(f);
  for (const note of data.notes) say(note);
  const { model, description } = await loadModel(f, source, data, resumeFrom);
  try {
    if (f.eval !== undefined && data.evalSet) checkEvalLabels(data.evalSet, f.eval, model.labels);
    const settings = settingsFor(f, source, model, data.train.length);
    say(`model: ${description}`);
    say(
      `data: ${data.train.length} training examples, ${data.evalSet ? `${data.evalSet.length} held-out examples (${data.evalName})` : 'no held-out data'}; labels: ${model.labels.join(', ')}`,
    );

    if (dist) say(`data-parallel: ${dist.worldSize} processes (rank 0 of them reports), batch size ${f.batchSize} per process`);
    const progress = main ? createProgress(process.stdout) : SILENT_PROGRESS;
    const seen: HistoryEntry[] = [];
    const warnings: WarningEvent[] = [];
    const trainer = trainerFor(model, f, settings, progress, seen, warnings);
    const report: RunReport = {
      model: description,
      data: { train: f.train, trainExamples: data.train.length, eval: data.evalName, evalExamples: data.evalSet?.length },
      labels: model.labels,
      options: reportOptions(f, settings),
      command: commandLine(process.argv),
      output: f.output,
      startedAt,
      notes: [
        ...data.notes,
        ...(resumeFrom !== undefined ? [`resumed from ${resumeFrom}`] : []),
        ...(dist ? [`data-parallel: ${dist.worldSize} processes, batch size ${f.batchSize} per process (global batch ${dist.worldSize * f.batchSize})`] : []),
      ],
    };

    const interrupt = onInterrupt(
      () => progress.note('Ctrl-C: stopping after this step and saving a checkpoint (press Ctrl-C again to quit at once)'),
      () => progress.stop(),
    );
    let result: FitResult;
    try {
      result = await trainer.fit(data.train, { evalDataset: data.evalSet, resumeFrom, signal: interrupt.signal });
    } catch (err) {
      progress.stop();
      if (err instanceof AbortError) return await reportInterruption(err, f, report, seen, warnings, main);
      throw err;
    } finally {
      interrupt.dispose();
    }
    progress.stop();
    await writeOutputs(f, settings, trainer, result, data.evalSet, report, main);
    // Every rank leaves the job together (rank 0 hosts the rendezvous store the others still use until here).
    await trainer.close();
    return EXIT_OK;
  } finally {
    model.dispose();
    quiet = false;
  }
}
