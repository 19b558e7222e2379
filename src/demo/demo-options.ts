// The demo's command line (`npm run demo -- [options]`): its flags, their checks (commander, with the CLI's
// argument parsers, so a bad value reads as it does in `bert-trainer train`), and the run settings they resolve to.
import { Command, InvalidArgumentError, Option, OutputConfiguration } from 'commander';

import { formatLearningRate as lr } from '../cli/format';
import { choice, integer, number } from '../cli/option-parsers';
import { MIXED_PRECISIONS, MixedPrecision } from '../train/trainer-options';

/** The BERT the demo trains from scratch: Google's BERT-Tiny shape, with positions for 128 tokens only. */
export const DEMO_ARCHITECTURE = {
  layers: 2,
  hidden: 128,
  heads: 2,
  intermediate: 512,
  maxPositions: 128,
} as const;

/** config.json fields of the demo's BERT for a learned vocabulary (the rest: transformers' defaults). */
export function demoModelConfig(vocabSize: number): Record<string, number> {
  const a = DEMO_ARCHITECTURE;
  return {
    vocab_size: vocabSize,
    hidden_size: a.hidden,
    num_hidden_layers: a.layers,
    num_attention_heads: a.heads,
    intermediate_size: a.intermediate,
    max_position_embeddings: a.maxPositions,
  };
}

/** Tokens per e-mail the model reads (the Subject line and the start of the body). */
export const DEMO_MAX_LENGTH = 128;

/** The full run (2-3 minutes on 2 busy cores): all e-mails, 3 epochs; held-out accuracy 0.974-0.987 over seeds 1-5 and 42. */
const FULL = { maxExamples: undefined, vocabSize: 8000, batchSize: 32, scratchLearningRate: 5e-4, epochs: 3 };

/**
 * --quick, for CI (under a minute): 1,200 e-mails and a smaller vocabulary. From scratch the model needs optimizer
 * steps more than it needs examples, so the batch is halved and the learning rate doubled (the CLI's default for models
 * trained from scratch), over 4 epochs: 240 steps. Held-out accuracy (240 e-mails) over seeds 1-7 and 42: 0.925-0.971,
 * mean 0.950; with 3 epochs 0.908-0.967; with the full run's batch 32, learning rate 5e-4 and 3 epochs, 0.87-0.92 (seeds 1-3).
 */
const QUICK = { maxExamples: 1200, vocabSize: 2000, batchSize: 16, scratchLearningRate: 1e-3, epochs: 4 };

/** A pretrained BERT is fine-tuned at transformers' default learning rate; more would undo its pretraining. */
const PRETRAINED_LEARNING_RATE = 5e-5;
const DEFAULT_SEED = 42;
export const DEFAULT_OUTPUT = './demo-output';
/** Fewer e-mails than this leave a held-out set of under 10. */
const MIN_EXAMPLES = 50;

export interface DemoSettings {
  /** A pretrained model directory or hub id to fine-tune; undefined: a small BERT trained from scratch. */
  model: string | undefined;
  output: string;
  quick: boolean;
  seed: number;
  /** At most this many e-mails (a stratified sample); undefined: all of them. */
  maxExamples: number | undefined;
  epochs: number;
  batchSize: number;
  learningRate: number;
  warmupRatio: number;
  weightDecay: number;
  maxLength: number;
  /** WordPiece vocabulary size of the model trained from scratch. */
  vocabSize: number;
  /** 'bf16': the Trainer's mixedPrecision (matrix products in bfloat16); 'no': fp32. */
  mixedPrecision: MixedPrecision;
}

interface DemoFlags {
  epochs?: number;
  output: string;
  quick?: boolean;
  model?: string;
  seed: number;
  maxExamples?: number;
  mixedPrecision?: MixedPrecision;
}

/** Fills in what the flags leave open: the full or the quick recipe, from scratch or pretrained. */
export function demoSettings(flags: Partial<DemoFlags> = {}): DemoSettings {
  const quick = flags.quick === true;
  const recipe = quick ? QUICK : FULL;
  return {
    model: flags.model,
    output: flags.output ?? DEFAULT_OUTPUT,
    quick,
    seed: flags.seed ?? DEFAULT_SEED,
    maxExamples: flags.maxExamples ?? recipe.maxExamples,
    epochs: flags.epochs ?? recipe.epochs,
    batchSize: recipe.batchSize,
    learningRate: flags.model !== undefined ? PRETRAINED_LEARNING_RATE : recipe.scratchLearningRate,
    warmupRatio: 0.1,
    weightDecay: 0.01,
    maxLength: DEMO_MAX_LENGTH,
    vocabSize: recipe.vocabSize,
    mixedPrecision: flags.mixedPrecision ?? 'no',
  };
}

function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Expected a non-empty value.');
  return value;
}

function demoCommand(): Command {
  const a = DEMO_ARCHITECTURE;
  // The usage line reads as the command people type: "Usage: npm run demo -- [options]".
  return new Command('npm run demo --')
    .description(
      'Trains a spam filter on the SpamAssassin public corpus (bundled: nothing is downloaded) and evaluates it on a ' +
        'stratified 20% held out. By default a small BERT is trained from scratch, with a WordPiece vocabulary learned ' +
        'from the training split; --model fine-tunes a pretrained BERT instead. Writes the model (a Hugging Face model ' +
        'directory), metrics.json, report.html and report.svg into --output.',
    )
    .addOption(
      new Option('--epochs <n>', `passes over the training split (default ${FULL.epochs}; ${QUICK.epochs} with --quick; may be fractional)`).argParser(
        number(0, Infinity, 'min'),
      ),
    )
    .addOption(new Option('--output <dir>', 'where the model, metrics.json and the report go').argParser(nonEmpty).default(DEFAULT_OUTPUT))
    .option('--quick', `a short run for CI (under a minute): ${QUICK.maxExamples} e-mails, vocabulary ${QUICK.vocabSize}, batch ${QUICK.batchSize}`)
    .addOption(new Option('--model <dir-or-hub-id>', 'fine-tune this pretrained BERT (a model directory or a Hugging Face hub id) instead').argParser(nonEmpty))
    .addOption(
      new Option('--seed <n>', 'seed of the sample, the split, the initial weights, dropout and the data order').argParser(integer(0)).default(DEFAULT_SEED),
    )
    .addOption(
      new Option(
        '--mixed-precision <mode>',
        "'bf16': matrix products in bfloat16 (fp32 weights and loss); 'fp16': float16 with dynamic loss scaling; 'no' (default): fp32",
      ).argParser(choice(MIXED_PRECISIONS)),
    )
    .addOption(
      new Option('--max-examples <n>', `use at most n e-mails, a stratified sample (default: all; ${QUICK.maxExamples} with --quick)`).argParser(
        integer(MIN_EXAMPLES),
      ),
    )
    .addHelpText(
      'after',
      `
Model trained from scratch: BERT with ${a.layers} layers, hidden ${a.hidden}, ${a.heads} heads, intermediate ${a.intermediate},
max_position_embeddings ${a.maxPositions}, vocabulary ${FULL.vocabSize} (${QUICK.vocabSize} with --quick); e-mails truncated to ${DEMO_MAX_LENGTH} tokens.
Training: AdamW, batch ${FULL.batchSize}, learning rate ${lr(FULL.scratchLearningRate)} (${lr(PRETRAINED_LEARNING_RATE)} with --model), linear schedule with 10% warm-up,
weight decay 0.01, ${FULL.epochs} epochs; --quick: batch ${QUICK.batchSize}, learning rate ${lr(QUICK.scratchLearningRate)}, ${QUICK.epochs} epochs.

Examples:
  npm run demo
  npm run demo -- --quick --output /tmp/demo
  npm run demo -- --model ./bert-base-uncased --epochs 1`,
    )
    .configureHelp({ helpWidth: 110 })
    .exitOverride()
    .showHelpAfterError("(run 'npm run demo -- --help' for the options)");
}

/**
 * The settings of a demo command line (`args` without node and the script). A bad flag, or --help, throws
 * commander's CommanderError (exitCode 0 for --help) after writing its message through `output` (default:
 * stdout/stderr).
 */
export function parseDemoArgs(args: readonly string[], output?: OutputConfiguration): DemoSettings {
  const command = demoCommand();
  if (output) command.configureOutput(output);
  command.parse([...args], { from: 'user' });
  return demoSettings(command.opts<DemoFlags>());
}

/** The command that reproduces these settings (the flags that differ from their defaults), for the report. */
export function demoCommandLine(s: DemoSettings): string {
  const defaults = demoSettings({ quick: s.quick, model: s.model });
  const args: string[] = [];
  if (s.quick) args.push('--quick');
  if (s.model !== undefined) args.push('--model', s.model);
  if (s.epochs !== defaults.epochs) args.push('--epochs', String(s.epochs));
  if (s.maxExamples !== defaults.maxExamples && s.maxExamples !== undefined) args.push('--max-examples', String(s.maxExamples));
  if (s.seed !== defaults.seed) args.push('--seed', String(s.seed));
  if (s.mixedPrecision !== defaults.mixedPrecision) args.push('--mixed-precision', s.mixedPrecision);
  if (s.output !== defaults.output) args.push('--output', s.output);
  const quote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);
  return ['npm run demo', ...(args.length > 0 ? ['--', ...args.map(quote)] : [])].join(' ');
}
