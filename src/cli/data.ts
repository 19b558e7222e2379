// Reading the CLI's data files into Datasets: the format from --format or the file's extension, the column flags,
// --skip-bad-rows, and the held-out split when --validation-split is given instead of --eval. Parsing itself (and
// its errors, which name the file and line) belongs to Dataset.fromCsv / fromTsv / fromJsonl.
import { promises as fs } from 'fs';
import * as path from 'path';

import { Dataset } from '../data/dataset';
import { UsageError } from './errors';

export const DATA_FORMATS = ['csv', 'tsv', 'jsonl'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

const EXTENSIONS: Record<string, DataFormat> = { '.csv': 'csv', '.tsv': 'tsv', '.tab': 'tsv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };

/** The column and row flags shared by train, eval and predict. */
export interface DataFlags {
  format?: DataFormat;
  textColumn: string;
  textPairColumn?: string;
  labelColumn: string;
  labelType?: 'auto' | 'name' | 'id';
  skipBadRows?: boolean;
  delimiter?: string;
  limit?: number;
}

/** The format of `file`: --format when given, else its extension (.csv, .tsv/.tab, .jsonl/.ndjson, any case). */
export function formatOf(file: string, explicit: DataFormat | undefined, flag = '--format'): DataFormat {
  if (explicit !== undefined) return explicit;
  const ext = path.extname(file).toLowerCase();
  const format = EXTENSIONS[ext];
  if (format === undefined) {
    throw new UsageError(`cannot tell the format of ${file} from its extension${ext ? ` "${ext}"` : ''}; pass ${flag} csv, tsv or jsonl`);
  }
  return format;
}

/** A readable file, or an Error that says which flag named it. */
export async function requireFile(file: string, flag: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new Error(`${flag} ${file}: no such file`);
  }
  if (!stat.isFile()) throw new Error(`${flag} ${file}: not a file`);
}

/** Reads a data file. `requireLabels: false` for predict's inputs, which may have no label column. */
export async function loadDataset(file: string, flag: string, flags: DataFlags, requireLabels = true): Promise<Dataset> {
  await requireFile(file, flag);
  const format = formatOf(file, flags.format);
  const options = {
    textColumn: flags.textColumn,
    textPairColumn: flags.textPairColumn,
    labelColumn: flags.labelColumn,
    requireLabels,
    onBadRow: flags.skipBadRows ? ('skip' as const) : ('error' as const),
    labelType: flags.labelType,
    limit: flags.limit,
    ...(flags.delimiter !== undefined && format === 'csv' ? { delimiter: flags.delimiter } : {}),
  };
  const dataset =
    format === 'csv' ? await Dataset.fromCsv(file, options) : format === 'tsv' ? await Dataset.fromTsv(file, options) : await Dataset.fromJsonl(file, options);
  if (dataset.length === 0)
    throw new Error(`${file}: no examples${dataset.skipped.count > 0 ? ` (all ${dataset.skipped.count} rows were bad and skipped)` : ''}`);
  return dataset;
}

/** "skipped 3 bad rows of train.csv (line 7: ...)" when --skip-bad-rows dropped any, else undefined. */
export function skippedNote(dataset: Dataset, file: string): string | undefined {
  const { count, examples } = dataset.skipped;
  if (count === 0) return undefined;
  const first = examples[0];
  return `skipped ${count} bad row${count === 1 ? '' : 's'} of ${file}${first ? ` (first: line ${first.line}: ${first.reason})` : ''}`;
}

/** Every text of a dataset, pairs included (for learning a vocabulary). */
export function* textsOf(dataset: Dataset): Generator<string> {
  for (const example of dataset) {
    if ('text' in example) {
      yield example.text;
      if (example.textPair !== undefined) yield example.textPair;
    }
  }
}
