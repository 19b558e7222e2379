// Training examples from files: CSV / TSV (csv-parse, RFC 4180 quoting) and JSON Lines, and the row rules every
// file reader shares (Parquet's reader, src/data/parquet-examples.ts, too): options, columns to an example, labels.
// One reader serves both the in-memory datasets (Dataset.fromCsv, ...) and the streaming ones (Dataset.streamJsonl,
// ...), so a row means the same thing either way. Every problem with a row is an Error naming the file and the row's
// 1-based starting line; with onBadRow: 'skip' such rows are counted and skipped instead (a bad header is always an
// error).
import { describeValue as show } from '../util/describe-value';
import { boolean, nonEmptyString, oneOf, optionsObject, positiveInteger } from '../util/is';
import { createReadStream } from 'fs';
import { Options as CsvOptions, parse } from 'csv-parse';
import type { Example, Label, TextExample } from './example';
import { LabelKinds, labelKindOf } from './label-kinds';
import { RowPosition, describePosition } from './row-position';

/** The formats read as text, row by row. */
export type TextFileFormat = 'csv' | 'tsv' | 'jsonl';
export type FileFormat = TextFileFormat | 'parquet';

export interface FileDatasetOptions {
  /** Column (CSV/TSV) or field (JSONL) of the text; default 'text'. */
  textColumn?: string;
  /** Column or field of an optional second text (sentence pairs). */
  textPairColumn?: string;
  /** Column or field of the label; default 'label'. May be absent from the file when requireLabels is false. */
  labelColumn?: string;
  /** Default true: every row needs a label. */
  requireLabels?: boolean;
  /** Field delimiter: fromCsv ',', fromTsv '\t'. */
  delimiter?: string;
  /** Default true: the first record names the columns; false: columns are named '0', '1', ... by position. */
  header?: boolean;
  /** Default 'error': a bad row is an Error naming file and line; 'skip': it is skipped and counted in `skipped`. */
  onBadRow?: 'error' | 'skip';
  /** Default 'auto': integer-looking labels are class ids, anything else a label name; 'name': always names; 'id': always ids. */
  labelType?: 'auto' | 'name' | 'id';
  /** Read at most this many data rows (bad rows included; the header and blank lines are not rows). */
  limit?: number;
}

export interface ResolvedFileOptions {
  textColumn: string;
  textPairColumn: string | undefined;
  labelColumn: string;
  requireLabels: boolean;
  delimiter: string;
  header: boolean;
  onBadRow: 'error' | 'skip';
  labelType: 'auto' | 'name' | 'id';
  /** Under 'auto': this file's text labels are not all integers, so all of them are names (set on a second read). */
  textLabelsAreNames?: boolean;
  limit: number | undefined;
}

/** A row left out with onBadRow: 'skip': where it is (its line, or its Parquet row and row group) and why. */
export interface SkippedRow extends RowPosition {
  reason: string;
}

/** Rows left out with onBadRow: 'skip': how many, and the first MAX_LISTED_SKIPS of them. */
export interface SkippedRows {
  count: number;
  examples: SkippedRow[];
}

/** An example read from a file with where its row is: the 1-based line it starts on, or its Parquet row. */
export interface FileExample extends RowPosition {
  example: TextExample;
}

/** A file's examples as a stream reads them, pass after pass (CSV/TSV/JSONL here; Parquet: parquet-examples.ts). */
export interface ExampleSource {
  /** One pass over the examples in file order; bad rows throw, or are counted into `skipped` (onBadRow 'skip'). */
  read(skipped: SkippedRows): AsyncGenerator<FileExample>;
  /** The rows a pass reads (bad ones included, at most `limit`): an upper bound of its examples, found cheaply. */
  count(): Promise<number>;
  /** The label names the file itself declares (a Parquet file's ClassLabel), else undefined. */
  labelNames(): Promise<string[] | undefined>;
}

export const MAX_LISTED_SKIPS = 20;
const OPTION_NAMES = ['textColumn', 'textPairColumn', 'labelColumn', 'requireLabels', 'delimiter', 'header', 'onBadRow', 'labelType', 'limit'];
/** Options of the text formats only: a Parquet file has typed, named columns. */
const TEXT_ONLY_OPTION_NAMES = ['delimiter', 'header'];
const READ_CHUNK = 1 << 20;

export function emptySkipLog(): SkippedRows {
  return { count: 0, examples: [] };
}

function logSkip(skipped: SkippedRows, position: RowPosition, reason: string): void {
  skipped.count += 1;
  if (skipped.examples.length < MAX_LISTED_SKIPS) skipped.examples.push({ ...position, reason });
}

/** A problem with one row: becomes `file: line N: reason` (or `file: row group G, row R: reason`), or a skip. */
export class RowError extends Error {}

export function rowError(file: string, position: RowPosition, reason: string): Error {
  return new Error(`${file}: ${describePosition(position)}: ${reason}`);
}

/** A bad row: an Error naming the file and the row (onBadRow 'error'), or counted into `skipped` ('skip'). */
export function badRow(file: string, o: ResolvedFileOptions, skipped: SkippedRows, position: RowPosition, reason: string): void {
  if (o.onBadRow === 'error') throw rowError(file, position, reason);
  logSkip(skipped, position, reason);
}

// ---------------------------------------------------------------------------------------------------------------
// options

/** Checks the options (TypeError / RangeError naming the option) and fills in the defaults of the format. */
export function resolveFileOptions(options: unknown, format: FileFormat, extraKeys: readonly string[] = []): ResolvedFileOptions {
  const names = format === 'parquet' ? OPTION_NAMES.filter((n) => !TEXT_ONLY_OPTION_NAMES.includes(n)) : OPTION_NAMES;
  const o = optionsObject(options, 'options', [...names, ...extraKeys]);
  const delimiter = nonEmptyString(o.delimiter, 'delimiter', format === 'tsv' ? '\t' : ',');
  if (/["\r\n]/.test(delimiter)) throw new RangeError(`delimiter must not contain a quote or a line break, got ${show(delimiter)}`);
  return {
    textColumn: nonEmptyString(o.textColumn, 'textColumn', 'text'),
    textPairColumn: nonEmptyString(o.textPairColumn, 'textPairColumn'),
    labelColumn: nonEmptyString(o.labelColumn, 'labelColumn', 'label'),
    requireLabels: boolean(o.requireLabels, 'requireLabels', true),
    delimiter,
    header: boolean(o.header, 'header', true),
    onBadRow: oneOf(o.onBadRow, 'onBadRow', ['error', 'skip'] as const, 'error'),
    labelType: oneOf(o.labelType, 'labelType', ['auto', 'name', 'id'] as const, 'auto'),
    limit: positiveInteger(o.limit, 'limit'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// labels and rows

const INTEGER = /^[+-]?\d+$/;

/** A label given as text (a CSV cell, or a JSON string) under the labelType rule. */
function labelFromText(raw: string, labelType: ResolvedFileOptions['labelType']): string | number {
  const value = raw.trim();
  if (labelType === 'name') return value;
  if (INTEGER.test(value)) {
    const id = Number(value);
    if (!Number.isSafeInteger(id)) throw new RowError(`label ${JSON.stringify(value)} is too large for a class id`);
    if (id < 0) {
      throw new RowError(`label ${JSON.stringify(value)} is negative, not a class id (ids are 0, 1, ...; use labelType: 'name' to read labels as names)`);
    }
    return id;
  }
  if (labelType === 'id') throw new RowError(`label ${JSON.stringify(value)} is not a class id (a non-negative integer), as labelType 'id' requires`);
  return value;
}

/** A JSON label that is no string: a number, or an array of numbers (multi-hot, regression targets) or of names. */
function labelFromJson(raw: unknown, labelType: ResolvedFileOptions['labelType']): Label {
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) throw new RowError(`label must be a finite number, got ${raw}`);
    if (labelType === 'name') throw new RowError(`label must be a label name (a string) for labelType 'name', got ${show(raw)}`);
    if (labelType === 'id' && !(Number.isInteger(raw) && raw >= 0))
      throw new RowError(`label ${raw} is not a class id (a non-negative integer), as labelType 'id' requires`);
    return raw;
  }
  if (Array.isArray(raw)) {
    if (raw.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      if (labelType === 'name') throw new RowError("label must be label names for labelType 'name', got an array of numbers");
      return [...(raw as number[])];
    }
    if (raw.every((v) => typeof v === 'string')) return (raw as string[]).map((v) => String(labelFromText(v, 'name')));
    throw new RowError('label array must hold only finite numbers or only label names (strings)');
  }
  throw new RowError(`label must be a class id, a label name or an array, got ${show(raw)}`);
}

/**
 * How a reader's rows hold their values: CSV/TSV cells are text; JSON fields and Parquet columns are typed (a label
 * may be a number or a list), and a Parquet reason names the label column, as a Parquet error names its column.
 */
export type RowKind = 'csv' | 'json' | 'parquet';

function textField(value: unknown, column: string, kind: 'column' | 'field'): string {
  if (value === undefined) throw new RowError(`no ${kind} ${JSON.stringify(column)}`);
  if (value === null) throw new RowError(`no text in ${kind} ${JSON.stringify(column)} (null)`);
  if (typeof value !== 'string') throw new RowError(`${JSON.stringify(column)} must be a string, got ${show(value)}`);
  if (value.trim() === '') throw new RowError(`empty text in ${kind} ${JSON.stringify(column)}`);
  return value;
}

/** A row's cells by column name, `undefined` where the row has no such column (JSONL) or the cell is blank/null. */
export type CellReader = (column: string) => unknown;

/** A row as an example under the options' columns and label rules; a RowError says what is wrong with it. */
export function rowToExample(cell: CellReader, o: ResolvedFileOptions, rowKind: RowKind, hasLabelColumn: boolean): TextExample {
  const kind = rowKind === 'json' ? 'field' : 'column';
  const example: TextExample = { text: textField(cell(o.textColumn), o.textColumn, kind) };
  if (o.textPairColumn !== undefined) example.textPair = textField(cell(o.textPairColumn), o.textPairColumn, kind);
  const raw = hasLabelColumn ? cell(o.labelColumn) : undefined;
  const missing = raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
  if (missing) {
    if (o.requireLabels)
      throw new RowError(hasLabelColumn ? `no label in ${kind} ${JSON.stringify(o.labelColumn)}` : `no ${kind} ${JSON.stringify(o.labelColumn)}`);
    return example;
  }
  try {
    const textType = o.textLabelsAreNames && o.labelType === 'auto' ? 'name' : o.labelType;
    if (typeof raw === 'string') {
      if (rowKind !== 'csv' && raw.trim() === '') throw new RowError('empty label');
      example.label = labelFromText(raw, textType);
    } else {
      example.label = labelFromJson(raw, o.labelType);
    }
  } catch (err) {
    if (err instanceof RowError && rowKind === 'parquet') throw new RowError(`column ${JSON.stringify(o.labelColumn)}: ${err.message}`);
    throw err;
  }
  return example;
}

// ---------------------------------------------------------------------------------------------------------------
// CSV / TSV

/**
 * Counts the line breaks of `raw` (CRLF once), and those before its first other character. csv-parse's own
 * `info.lines` counts a CRLF inside a quoted field twice, and its raw records leave out the LF of a CRLF record
 * delimiter, so we count ourselves: `afterCr` says the previous piece ended with a CR, which a leading LF completes.
 */
function lineBreaks(raw: string, afterCr: boolean): { total: number; leading: number; endsWithCr: boolean } {
  let total = 0;
  let leading = 0;
  let content = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 13 || (c === 10 && !(i === 0 ? afterCr : raw.charCodeAt(i - 1) === 13))) {
      total += 1;
      if (!content) leading += 1;
    } else if (c !== 10 && c !== 0xfeff) {
      content = true;
    }
  }
  return { total, leading, endsWithCr: raw.length > 0 && raw.charCodeAt(raw.length - 1) === 13 };
}

/** csv-parse's message without its own (CRLF-miscounted) line number. */
function csvReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+(on|at) line \d+\.?$/, '').replace(/\.$/, '');
}

interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * The records of a CSV/TSV file in order, with their starting lines. Records csv-parse rejects (wrong number of
 * fields, a broken quote) are reported through `onBad(line, reason)` as it meets them, which is ahead of the
 * records it has already parsed but we have not consumed yet.
 */
async function* csvRecords(file: string, delimiter: string, onBad: (line: number, reason: string) => void): AsyncGenerator<CsvRecord> {
  let linesBefore = 0;
  let afterCr = false;
  const startLine = (raw: string): number => {
    const breaks = lineBreaks(raw, afterCr);
    const line = linesBefore + breaks.leading + 1;
    linesBefore += breaks.total;
    afterCr = breaks.endsWithCr;
    return line;
  };
  const options: CsvOptions<CsvRecord, { record: string[]; raw: string }> = {
    delimiter,
    bom: true,
    raw: true,
    relax_column_count: false,
    // A quote inside an unquoted field (say "hi") is kept as text, as TSV files and hand-written CSV expect.
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    // Both callbacks run synchronously, in file order, as csv-parse meets each record: the line count stays exact.
    // With `raw`, a record arrives as { record, raw }.
    on_record: ({ record, raw }) => ({ fields: record, line: startLine(raw) }),
    on_skip: (err, raw) => {
      onBad(startLine(raw ?? ''), csvReason(err));
      return undefined;
    },
  };
  const parser = parse(options as unknown as CsvOptions);
  const input = createReadStream(file, { highWaterMark: READ_CHUNK });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    for await (const record of parser as AsyncIterable<CsvRecord>) yield record;
  } finally {
    input.destroy();
    parser.destroy();
  }
}

async function* csvExamples(file: string, o: ResolvedFileOptions, skipped: SkippedRows): AsyncGenerator<FileExample> {
  let columns: Map<string, number> | undefined;
  let hasLabelColumn = false;
  let rows = 0; // data rows met, bad ones included (limit)
  const full = (): boolean => o.limit !== undefined && rows >= o.limit;
  const onBad = (line: number, reason: string): void => badRow(file, o, skipped, { line }, reason);
  // Rows csv-parse rejected, held until the records before them are consumed, so that problems are met in file
  // order: the error is the first bad row's, the skip list lists the first ones. csv-parse reads ahead by at most a
  // chunk of records, but a long run of rejected rows (which produce no records) is held whole.
  const rejected: { line: number; reason: string }[] = [];
  const flushRejected = (beforeLine: number): void => {
    while (rejected.length > 0 && rejected[0].line < beforeLine && !full()) {
      const { line, reason } = rejected.shift() as { line: number; reason: string };
      rows += 1;
      onBad(line, reason);
    }
  };
  const setColumns = (names: string[], line: number): void => {
    columns = new Map();
    names.forEach((name, i) => {
      if (columns?.has(name)) throw rowError(file, { line }, `column ${JSON.stringify(name)} appears twice in the header`);
      columns?.set(name, i);
    });
    const listed = `(columns: ${names.join(', ')})`;
    const required = [o.textColumn, ...(o.textPairColumn !== undefined ? [o.textPairColumn] : [])];
    if (o.requireLabels) required.push(o.labelColumn);
    for (const name of required) if (!columns.has(name)) throw rowError(file, { line }, `no column ${JSON.stringify(name)} ${listed}`);
    hasLabelColumn = columns.has(o.labelColumn);
  };

  const kinds = o.labelType === 'auto' ? new LabelKinds(file, o.labelColumn, 'column') : undefined;
  for await (const record of csvRecords(file, o.delimiter, (line, reason) => rejected.push({ line, reason }))) {
    flushRejected(record.line);
    if (columns === undefined) {
      if (o.header) {
        setColumns(
          record.fields.map((f) => f.trim()),
          record.line,
        );
        continue;
      }
      setColumns(
        record.fields.map((_, i) => String(i)),
        record.line,
      );
    }
    if (full()) return;
    rows += 1;
    const index = columns as Map<string, number>;
    const cell: CellReader = (column) => {
      const i = index.get(column);
      return i === undefined ? undefined : record.fields[i];
    };
    let example: TextExample;
    try {
      example = rowToExample(cell, o, 'csv', hasLabelColumn);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      onBad(record.line, err.message);
      continue;
    }
    if (kinds && example.label !== undefined)
      kinds.note(labelKindOf(cell(o.labelColumn), example.label), { line: record.line }, String(cell(o.labelColumn)).trim());
    yield { example, line: record.line };
  }
  flushRejected(Infinity);
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Lines

/**
 * The lines of a file with their 1-based numbers (LF or CRLF), read in 1 MiB chunks; a leading BOM is dropped. A
 * line spanning chunks is joined once, when its end arrives (no re-copying of a long line per chunk).
 */
async function* fileLines(file: string): AsyncGenerator<{ text: string; line: number }> {
  const input = createReadStream(file, { highWaterMark: READ_CHUNK });
  let pending: Buffer[] = []; // the start of the current line, from earlier chunks
  let line = 0;
  const decode = (buf: Buffer, start: number, end: number): string => {
    if (end > start && buf[end - 1] === 13) end -= 1;
    let text = buf.toString('utf8', start, end);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return text;
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        line += 1;
        if (pending.length > 0) {
          const joined = Buffer.concat([...pending, chunk.subarray(start, nl)]);
          pending = [];
          yield { text: decode(joined, 0, joined.length), line };
        } else {
          yield { text: decode(chunk, start, nl), line };
        }
        start = nl + 1;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
    if (pending.length > 0) {
      line += 1;
      const rest = Buffer.concat(pending);
      yield { text: decode(rest, 0, rest.length), line };
    }
  } finally {
    input.destroy();
  }
}

async function* jsonlExamples(file: string, o: ResolvedFileOptions, skipped: SkippedRows): AsyncGenerator<FileExample> {
  let rows = 0;
  const kinds = o.labelType === 'auto' ? new LabelKinds(file, o.labelColumn, 'field') : undefined;
  for await (const { text, line } of fileLines(file)) {
    if (text.trim() === '') continue;
    if (o.limit !== undefined && rows >= o.limit) return;
    rows += 1;
    let example: TextExample;
    let rawLabel: unknown;
    try {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new RowError(`broken JSON (${(err as Error).message})`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RowError(`expected a JSON object, got ${show(value)}`);
      const object = value as Record<string, unknown>;
      const cell: CellReader = (field) => (Object.prototype.hasOwnProperty.call(object, field) ? object[field] : undefined);
      example = rowToExample(cell, o, 'json', true);
      rawLabel = cell(o.labelColumn);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      badRow(file, o, skipped, { line }, err.message);
      continue;
    }
    if (kinds) kinds.note(labelKindOf(rawLabel, example.label), { line }, typeof rawLabel === 'string' ? rawLabel.trim() : rawLabel);
    yield { example, line };
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * The examples of a file in order, read with bounded memory. Bad rows throw (onBadRow 'error') or are logged
 * into `skipped`; a missing file or a bad header always throws.
 */
export function readFileExamples(file: string, format: TextFileFormat, o: ResolvedFileOptions, skipped: SkippedRows): AsyncGenerator<FileExample> {
  return format === 'jsonl' ? jsonlExamples(file, o, skipped) : csvExamples(file, o, skipped);
}

/** A CSV, TSV or JSONL file as a stream's source. */
export function textFileSource(file: string, format: TextFileFormat, o: ResolvedFileOptions): ExampleSource {
  return {
    read: (skipped) => readFileExamples(file, format, o, skipped),
    count: () => countFileRecords(file, format, o),
    labelNames: () => Promise.resolve(undefined),
  };
}

/** The distinct label names (string labels, also inside multi-label arrays) of some examples, sorted. */
export function labelNamesOf(examples: Iterable<Example>): string[] | undefined {
  const names = new Set<string>();
  for (const e of examples) {
    const label = e.label;
    if (typeof label === 'string') names.add(label);
    else if (Array.isArray(label)) for (const v of label) if (typeof v === 'string') names.add(v);
  }
  return names.size === 0 ? undefined : [...names].sort();
}

/** Whether buf[start, end) holds anything but ASCII blanks (and the UTF-8 BOM). */
function hasContent(buf: Buffer, start: number, end: number, spacesAreContent: boolean): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === 13 || c === 0xef || c === 0xbb || c === 0xbf) continue;
    if (!spacesAreContent && (c === 32 || c === 9)) continue;
    return true;
  }
  return false;
}

/**
 * How many records (data rows) a file holds, by a byte scan that neither parses nor keeps the file: JSONL counts
 * its non-blank lines; CSV/TSV counts the non-empty lines that end outside a quoted field (quoted newlines do not
 * end a record), minus the header. Bad rows are counted too: with skipped rows it is an upper bound of the examples.
 */
export async function countFileRecords(file: string, format: TextFileFormat, o: ResolvedFileOptions): Promise<number> {
  const csv = format !== 'jsonl';
  let records = 0;
  let lineHasContent = false; // of the line (JSONL) or record (CSV) not yet ended by a line break
  // CSV: where the scan stands in a record (a quoted field's newlines do not end it). A multi-character delimiter
  // is matched by its first byte: it only decides where a field starts, i.e. whether a quote opens quoting.
  const [FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED] = [0, 1, 2, 3];
  let state = FIELD_START;
  const delimiter = Buffer.from(o.delimiter)[0];
  const input = createReadStream(file, { highWaterMark: READ_CHUNK });
  for await (const chunk of input as AsyncIterable<Buffer>) {
    if (!csv) {
      // JSON lines hold no raw line breaks: memchr-speed search for them, look at a line's bytes only while blank.
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        if (lineHasContent || hasContent(chunk, start, nl, false)) records += 1;
        lineHasContent = false;
        start = nl + 1;
      }
      lineHasContent = lineHasContent || hasContent(chunk, start, chunk.length, false);
      continue;
    }
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === 10) {
        if (state === QUOTED) continue; // a newline inside a quoted field
        if (lineHasContent) records += 1;
        lineHasContent = false;
        state = FIELD_START;
        continue;
      }
      if (c === 13 || c === 0xef || c === 0xbb || c === 0xbf) continue; // CR of CRLF, the UTF-8 BOM
      lineHasContent = true; // csv-parse skips only empty lines: a line of spaces is a (bad) record
      if (state === QUOTED) {
        if (c === 34) state = QUOTE_IN_QUOTED;
      } else if (state === QUOTE_IN_QUOTED) {
        state = c === 34 ? QUOTED : c === delimiter ? FIELD_START : UNQUOTED; // "" is an escaped quote
      } else if (c === delimiter) {
        state = FIELD_START;
      } else if (state === FIELD_START) {
        state = c === 34 ? QUOTED : UNQUOTED; // only a field's first character opens a quote (relax_quotes)
      }
    }
  }
  if (lineHasContent) records += 1;
  if (csv && o.header) records = Math.max(0, records - 1);
  return o.limit !== undefined ? Math.min(records, o.limit) : records;
}
