// Flags shared by several commands: the data-file flags (train, eval, predict), --threads and --device.
import { Command, Option } from 'commander';

import { native } from '../engine/native';
import { DATA_FORMATS, DataFlags } from './data';
import { choice, integer } from './option-parsers';

/**
 * --format, the column flags, --label-type, --skip-bad-rows, --delimiter and --limit. `formats` are the values
 * --format takes (predict also reads plain text files).
 */
export function addDataOptions(command: Command, withLabels: boolean, formats: readonly string[] = DATA_FORMATS): Command {
  command
    .addOption(new Option('--format <format>', `file format: ${formats.join(', ')} (default: from the extension)`).argParser(choice(formats)))
    .option('--text-column <name>', 'column (JSONL: field) of the text', 'text')
    .option('--text-pair-column <name>', 'column of a second text, for sentence-pair tasks');
  if (withLabels) {
    command
      .option('--label-column <name>', 'column of the label (a name, or an integer class id)', 'label')
      .addOption(
        new Option('--label-type <type>', "how to read labels: 'name', 'id', or 'auto' (integers are ids)")
          .argParser(choice(['auto', 'name', 'id'] as const))
          .default('auto'),
      );
  }
  return command
    .option('--skip-bad-rows', 'skip malformed rows (counted and reported) instead of stopping at the first one')
    .option('--delimiter <char>', 'CSV field delimiter (default ",")')
    .addOption(new Option('--limit <n>', 'read at most this many rows of each file').argParser(integer()));
}

/** The DataFlags of parsed options (commander's camelCase names). */
export function dataFlags(o: Record<string, unknown>): DataFlags {
  return {
    format: o.format as DataFlags['format'],
    textColumn: o.textColumn as string,
    textPairColumn: o.textPairColumn as string | undefined,
    labelColumn: (o.labelColumn as string | undefined) ?? 'label',
    labelType: o.labelType as DataFlags['labelType'],
    skipBadRows: o.skipBadRows === true,
    delimiter: o.delimiter as string | undefined,
    limit: o.limit as number | undefined,
  };
}

/** --threads and --device. */
export function addThreadsOption(command: Command): Command {
  return command
    .addOption(new Option('--threads <n>', 'LibTorch intra-op threads (default: one per core)').argParser(integer()))
    .option('--device <device>', 'where the model computes: cpu, cuda, cuda:N, or auto (a GPU when there is one)', 'cpu');
}

/** Applies --threads before any native work. */
export function applyThreads(threads: number | undefined): void {
  if (threads !== undefined) native().setNumThreads(threads);
}
