// `bert-trainer predict`: the label and score of each text, one line per text in input order — from --text flags,
// a plain text file (one text per line) or a CSV/TSV/JSONL file's text column; JSON Lines with --json.
import { promises as fs } from 'fs';

import { Command, Option } from 'commander';

import type { BertClassifier, Prediction } from '../model/classifier';
import type { DeviceOption } from '../engine/device';
import { addDataOptions, addThreadsOption, applyThreads, dataFlags } from './common-options';
import { DATA_FORMATS, loadDataset, requireFile, skippedNote } from './data';
import { EXIT_OK, UsageError } from './errors';
import { modelForInference, requireTrainedModel } from './model-source';
import { collect, integer } from './option-parsers';

const PREDICT_FORMATS = [...DATA_FORMATS, 'txt'] as const;
/** Texts per model.predict call: output streams out as it goes and memory stays bounded on large files. */
const CHUNK = 256;

export interface PredictFlags {
  model: string;
  input?: string;
  text?: string[];
  format?: (typeof PREDICT_FORMATS)[number];
  batchSize: number;
  maxLength?: number;
  json?: boolean;
  threads?: number;
  device: DeviceOption;
  [data: string]: unknown;
}

export function predictCommand(done: (code: number) => void): Command {
  const command = new Command('predict')
    .summary('predict labels for texts')
    .description('Prints the predicted label and its probability for each text, one line per text in input order (JSON Lines with --json).')
    .requiredOption('--model <model>', "a trained model directory (e.g. a train run's --output) or a hub id")
    .option('--input <file>', 'texts: a .txt file (one text per line) or a .csv, .tsv or .jsonl file (its --text-column)')
    .option('--text <text>', 'a text to classify (repeat for several)', collect);
  addDataOptions(command, false, PREDICT_FORMATS)
    .addOption(new Option('--batch-size <n>', 'texts per forward pass').argParser(integer()).default(32))
    .addOption(new Option('--max-length <n>', "truncate texts to this many tokens (default: the model's tokenizer length)").argParser(integer(2)))
    .option('--json', 'print JSON Lines: {"text", "label", "score", "scores"}');
  addThreadsOption(command);
  command.addHelpText(
    'after',
    `
Output: "<label><TAB><score>" per text, score being the label's probability.

Examples:
  bert-trainer predict --model runs/tiny --text "free money, click now" --text "see you at lunch"
  bert-trainer predict --model runs/tiny --input emails.jsonl --json > predictions.jsonl`,
  );
  command.action(async (flags: PredictFlags) => done(await runPredict(flags)));
  return command;
}

interface Inputs {
  texts: string[];
  pairs: string[] | undefined;
}

/** A .txt file is one text per line (a final newline does not add an empty text). */
async function readTextFile(file: string): Promise<string[]> {
  const lines = (await fs.readFile(file, 'utf8')).split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

async function readInputs(f: PredictFlags): Promise<Inputs> {
  if (f.text !== undefined) return { texts: f.text, pairs: undefined };
  const file = f.input as string;
  const isText = f.format === 'txt' || (f.format === undefined && /\.txt$/i.test(file));
  if (isText) {
    await requireFile(file, '--input');
    return { texts: await readTextFile(file), pairs: undefined };
  }
  const dataset = await loadDataset(file, '--input', dataFlags(f), false);
  const skipped = skippedNote(dataset, file);
  if (skipped) process.stderr.write(`${skipped}\n`);
  const texts: string[] = [];
  const pairs: string[] = [];
  for (const example of dataset) {
    if (!('text' in example)) continue;
    texts.push(example.text);
    pairs.push(example.textPair ?? '');
  }
  return { texts, pairs: f.textPairColumn !== undefined ? pairs : undefined };
}

function line(prediction: Prediction, text: string, pair: string | undefined, json: boolean): string {
  if (!json) return `${prediction.label}\t${prediction.score.toFixed(4)}`;
  return JSON.stringify({
    text,
    ...(pair !== undefined ? { textPair: pair } : {}),
    label: prediction.label,
    score: prediction.score,
    scores: prediction.scores,
  });
}

async function predictAll(model: BertClassifier, inputs: Inputs, f: PredictFlags): Promise<void> {
  for (let start = 0; start < inputs.texts.length; start += CHUNK) {
    const texts = inputs.texts.slice(start, start + CHUNK);
    const pairs = inputs.pairs?.slice(start, start + CHUNK);
    const predictions = await model.predict(texts, { batchSize: f.batchSize, pairs });
    const out = predictions.map((p, i) => line(p, texts[i], pairs?.[i], f.json === true)).join('\n');
    if (!process.stdout.write(`${out}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

export async function runPredict(f: PredictFlags): Promise<number> {
  if ((f.input === undefined) === (f.text === undefined)) throw new UsageError('give either --input FILE or --text "..." (one of them)');
  requireTrainedModel(f.model);
  applyThreads(f.threads);
  const inputs = await readInputs(f);
  const model = await modelForInference(f.model, { maxLength: f.maxLength, device: f.device, log: (l) => process.stderr.write(`${l}\n`) });
  try {
    await predictAll(model, inputs, f);
    return EXIT_OK;
  } finally {
    model.dispose();
  }
}
