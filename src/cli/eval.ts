// `bert-trainer eval`: the metrics of a trained model on a labeled file — loss, accuracy, macro F1, per-label
// precision/recall/F1 and the confusion matrix — as tables, or as one JSON object with --json.
import { Command, Option } from 'commander';

import { Trainer } from '../train/trainer';
import type { DeviceOption } from '../engine/device';
import { addDataOptions, addThreadsOption, applyThreads, dataFlags } from './common-options';
import { HUB_SOURCE_SYNTAX, loadDataset, skippedNote } from './data';
import { EXIT_OK } from './errors';
import { checkEvalLabels } from './labels';
import { modelForInference, requireTrainedModel } from './model-source';
import { integer } from './option-parsers';
import { finiteOrNull } from './outputs';
import { confusionTable, metricsTable, perClassTable } from './summary';

export interface EvalFlags {
  model: string;
  eval: string;
  batchSize: number;
  maxLength?: number;
  json?: boolean;
  threads?: number;
  device: DeviceOption;
  [data: string]: unknown;
}

export function evalCommand(done: (code: number) => void): Command {
  const command = new Command('eval')
    .summary('evaluate a trained model on a labeled file')
    .description(
      'Evaluates a trained model on a labeled CSV, TSV, JSONL or Parquet file, or a Hugging Face dataset split: loss, accuracy, F1 (macro and micro), per-label metrics and the confusion matrix.',
    )
    .requiredOption('--model <model>', "a trained model directory (e.g. a train run's --output or a checkpoint) or a hub id")
    .requiredOption('--eval <file>', `labeled data: a .csv, .tsv, .jsonl or .parquet file, or ${HUB_SOURCE_SYNTAX}`);
  addDataOptions(command, true)
    .addOption(new Option('--batch-size <n>', 'examples per forward pass').argParser(integer()).default(32))
    .addOption(new Option('--max-length <n>', "truncate texts to this many tokens (default: the model's tokenizer length)").argParser(integer(2)))
    .option('--json', 'print the metrics as one JSON object');
  addThreadsOption(command);
  command.addHelpText(
    'after',
    '\nExamples:\n  bert-trainer eval --model runs/tiny --eval test.csv --json\n  bert-trainer eval --model runs/imdb --eval hub:stanfordnlp/imdb:test',
  );
  command.action(async (flags: EvalFlags) => done(await runEval(flags)));
  return command;
}

export async function runEval(f: EvalFlags): Promise<number> {
  requireTrainedModel(f.model);
  applyThreads(f.threads);
  // Everything but the result goes to stderr, so that --json output can be piped as it is.
  const log = (line: string): boolean => process.stderr.write(`${line}\n`);
  const dataset = await loadDataset(f.eval, '--eval', dataFlags(f), true, log);
  const skipped = skippedNote(dataset, f.eval);
  if (skipped) log(skipped);
  const model = await modelForInference(f.model, { maxLength: f.maxLength, device: f.device, log });
  try {
    checkEvalLabels(dataset, f.eval, model.labels);
    const trainer = new Trainer(model, { batchSize: f.batchSize, maxLength: f.maxLength });
    const result = await trainer.evaluate(dataset);
    if (f.json) {
      process.stdout.write(`${JSON.stringify({ ...result, labels: model.labels }, finiteOrNull, 2)}\n`);
      return EXIT_OK;
    }
    const out: string[] = [`${f.eval}: ${result.numExamples} examples, model ${f.model}`, metricsTable(result)];
    if (result.perClass) out.push('', perClassTable(result.perClass, model.labels));
    if (result.confusionMatrix) out.push('', 'confusion matrix (rows: true labels, columns: predicted)', confusionTable(result.confusionMatrix, model.labels));
    process.stdout.write(`${out.join('\n')}\n`);
    return EXIT_OK;
  } finally {
    model.dispose();
  }
}
