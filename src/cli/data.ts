// Reading the CLI's data sources into Datasets: a file, its format from --format or its extension, or a split of a
// Hugging Face hub dataset (hub:ORG/NAME[@REVISION][:CONFIG]:SPLIT); the column flags, --skip-bad-rows. Parsing
// itself (and its errors, which name the file and line or row) belongs to Dataset.fromCsv / fromTsv / fromJsonl /
// fromParquet / fromHub.
import { promises as fs } from 'fs';
import * as path from 'path';

import { Dataset } from '../data/dataset';
import type { SkippedRows } from '../data/dataset-files';
import { describePosition } from '../data/row-position';
import { isHubId } from '../hub/resolve-model';
import { UsageError } from './errors';
import { formatCount } from './format';

export const DATA_FORMATS = ['csv', 'tsv', 'jsonl', 'parquet'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

const EXTENSIONS: Record<string, DataFormat> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

/** How --train, --eval and --input name a split of a hub dataset. */
export const HUB_SOURCE_SYNTAX = 'hub:ORG/NAME[@REVISION][:CONFIG]:SPLIT';
const HUB_SOURCE_RE = /^hub:([^@:]+)(?:@([^:]+))?(?::([^:]+))?:([^:]+)$/;

/** A split of a hub dataset named on the command line. */
export interface HubSource {
  id: string;
  revision?: string;
  config?: string;
  split: string;
}

/** The hub dataset split a data argument names ("hub:stanfordnlp/imdb:train"), undefined for a file path. */
export function parseHubSource(source: string, flag: string): HubSource | undefined {
  if (!source.startsWith('hub:')) return undefined;
  const m = HUB_SOURCE_RE.exec(source);
  if (m === null || !isHubId(m[1])) {
    throw new UsageError(
      `${flag} ${source}: a hub dataset is written ${HUB_SOURCE_SYNTAX}, e.g. hub:stanfordnlp/imdb:train or hub:nyu-mll/glue:sst2:validation`,
    );
  }
  return { id: m[1], revision: m[2], config: m[3], split: m[4] };
}

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
    throw new UsageError(`cannot tell the format of ${file} from its extension${ext ? ` "${ext}"` : ''}; pass ${flag} csv, tsv, jsonl or parquet`);
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

/** Downloads of a hub dataset's files, announced once per file through `log`. */
function downloadNotes(source: string, log: (line: string) => void): (e: { file: string; total?: number }) => void {
  const announced = new Set<string>();
  return (e) => {
    if (announced.has(e.file)) return;
    announced.add(e.file);
    log(`downloading ${source}: ${e.file}${e.total !== undefined ? ` (${formatCount(e.total)}B)` : ''}`);
  };
}

/**
 * Reads a data file, or a hub dataset's split (downloaded into the hub cache, progress through `log`).
 * `requireLabels: false` for predict's inputs, which may have no label column.
 */
export async function loadDataset(
  file: string,
  flag: string,
  flags: DataFlags,
  requireLabels = true,
  log: (line: string) => void = () => undefined,
): Promise<Dataset> {
  const columns = {
    textColumn: flags.textColumn,
    textPairColumn: flags.textPairColumn,
    labelColumn: flags.labelColumn,
    requireLabels,
    onBadRow: flags.skipBadRows ? ('skip' as const) : ('error' as const),
    labelType: flags.labelType,
    limit: flags.limit,
  };
  const hub = parseHubSource(file, flag);
  let dataset: Dataset;
  if (hub !== undefined) {
    const { id, ...split } = hub;
    dataset = await Dataset.fromHub(id, { ...split, ...columns, onProgress: downloadNotes(file, log) });
  } else {
    await requireFile(file, flag);
    const format = formatOf(file, flags.format);
    const options = { ...columns, ...(flags.delimiter !== undefined && format === 'csv' ? { delimiter: flags.delimiter } : {}) };
    dataset =
      format === 'csv'
        ? await Dataset.fromCsv(file, options)
        : format === 'tsv'
          ? await Dataset.fromTsv(file, options)
          : format === 'parquet'
            ? await Dataset.fromParquet(file, columns)
            : await Dataset.fromJsonl(file, options);
  }
  if (dataset.length === 0)
    throw new Error(`${file}: no examples${dataset.skipped.count > 0 ? ` (all ${dataset.skipped.count} rows were bad and skipped)` : ''}`);
  return dataset;
}

/** "skipped 3 bad rows of train.csv (first: line 7: ...)" when --skip-bad-rows dropped any, else undefined. */
export function skippedNote(dataset: { skipped: SkippedRows }, file: string): string | undefined {
  const { count, examples } = dataset.skipped;
  if (count === 0) return undefined;
  const first = examples[0];
  return `skipped ${count} bad row${count === 1 ? '' : 's'} of ${file}${first ? ` (first: ${describePosition(first)}: ${first.reason})` : ''}`;
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
