// `bert-trainer bench`: the training speed of a built-in size — N timed optimizer steps (forward, backward, clipping,
// AdamW) at a fixed batch size and sequence length, after a few untimed warm-up steps — as ms/step, samples/s and
// tokens/s. The inputs are random token ids of exactly --seq-len tokens, so no data or tokenizer is involved.
import { mulberry32 as random } from '../util/random';
import { Command, Option } from 'commander';

import { BertClassifier } from '../model/classifier';
import { native } from '../engine/native';
import { Trainer } from '../train/trainer';
import { addThreadsOption, applyThreads } from './common-options';
import { EXIT_OK } from './errors';
import { formatCount, formatRate } from './format';
import { DEFAULT_MAX_POSITIONS, MODEL_SIZES, SIZE_NAMES, SizeName, describeSizes, parameterCount, sizeConfig } from './model-source';
import { choice, integer } from './option-parsers';
import { newTable } from './summary';

export interface BenchFlags {
  size: SizeName;
  batchSize: number;
  seqLen: number;
  steps: number;
  warmup: number;
  vocabSize?: number;
  seed: number;
  threads?: number;
  json?: boolean;
}

export function benchCommand(done: (code: number) => void): Command {
  const command = new Command('bench')
    .summary('time training steps of a built-in model size')
    .description('Times --steps optimizer steps of a freshly initialised built-in size on random token ids and prints ms/step and throughput.')
    .addOption(new Option('--size <size>', `model size: ${SIZE_NAMES.join(', ')}`).argParser(choice(SIZE_NAMES)).default('tiny'))
    .addOption(new Option('--batch-size <n>', 'examples per step').argParser(integer()).default(8))
    .addOption(new Option('--seq-len <n>', 'tokens per example').argParser(integer(2)).default(128))
    .addOption(new Option('--steps <n>', 'timed steps').argParser(integer()).default(20))
    .addOption(new Option('--warmup <n>', 'untimed steps first (allocations, caches)').argParser(integer(0)).default(3))
    .addOption(new Option('--vocab-size <n>', "vocabulary size (default: the size's)").argParser(integer(10)))
    .addOption(new Option('--seed <n>', 'seed of the weights and inputs').argParser(integer(0)).default(42))
    .option('--json', 'print the result as one JSON object');
  addThreadsOption(command);
  command.addHelpText('after', `\nSizes:\n${describeSizes()}\n\nExample:\n  bert-trainer bench --size mini --batch-size 16 --seq-len 128 --steps 30`);
  command.action(async (flags: BenchFlags) => done(await runBench(flags)));
  return command;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export async function runBench(f: BenchFlags): Promise<number> {
  applyThreads(f.threads);
  const size = MODEL_SIZES[f.size];
  const vocabSize = f.vocabSize ?? size.vocabSize;
  const config = sizeConfig(f.size, vocabSize, Math.max(DEFAULT_MAX_POSITIONS, f.seqLen));
  const model = await BertClassifier.fromConfig(config, { numLabels: 2, seed: f.seed });
  try {
    const next = random(f.seed);
    // ids from 5 up: 0..4 are the special tokens of the built-in vocabularies.
    const examples = Array.from({ length: (f.warmup + f.steps) * f.batchSize }, (_, i) => ({
      inputIds: Array.from({ length: f.seqLen }, () => 5 + Math.floor(next() * (vocabSize - 5))),
      label: i % 2,
    }));
    const threads = native().numThreads();
    if (!f.json) {
      process.stdout.write(
        `bench: ${f.size} (${formatCount(parameterCount(model))} parameters), batch ${f.batchSize} x ${f.seqLen} tokens, ${f.warmup} warm-up + ${f.steps} timed steps, ${threads} threads\n`,
      );
    }
    let last = 0;
    const trainer = new Trainer(model, {
      epochs: 1,
      batchSize: f.batchSize,
      shuffle: false,
      logEvery: 1,
      learningRate: 1e-4,
      seed: f.seed,
      callbacks: {
        onTrainBegin: () => {
          last = performance.now();
        },
      },
    });
    // Each step's time: from the previous step's event (or the start) to its own.
    const stepMs: number[] = [];
    trainer.on('step', () => {
      const now = performance.now();
      stepMs.push(now - last);
      last = now;
    });
    await trainer.fit(examples);
    const timed = stepMs.slice(f.warmup);
    const msPerStep = timed.reduce((a, b) => a + b, 0) / timed.length;
    const result = {
      size: f.size,
      layers: size.layers,
      hidden: size.hidden,
      heads: size.heads,
      parameters: parameterCount(model),
      batchSize: f.batchSize,
      seqLen: f.seqLen,
      steps: timed.length,
      warmup: f.warmup,
      threads,
      msPerStep,
      msPerStepMedian: median(timed),
      samplesPerSecond: (1000 * f.batchSize) / msPerStep,
      tokensPerSecond: (1000 * f.batchSize * f.seqLen) / msPerStep,
    };
    if (f.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return EXIT_OK;
    }
    const table = newTable({ head: ['ms/step', 'median ms/step', 'samples/s', 'tokens/s'], colAligns: ['right', 'right', 'right', 'right'] });
    table.push([msPerStep.toFixed(1), result.msPerStepMedian.toFixed(1), formatRate(result.samplesPerSecond), formatRate(result.tokensPerSecond)]);
    process.stdout.write(`${table.toString()}\n`);
    return EXIT_OK;
  } finally {
    model.dispose();
  }
}
