// Parquet rows as training examples, under the same options and row rules as CSV and JSONL (dataset-files.ts): the
// text, text-pair and label columns by name, labelType, requireLabels, limit, onBadRow. Read row group by row group,
// so memory holds one row group's columns. What is wrong with the file as a whole (no such column, a text column
// that cannot hold strings, a damaged footer) is always an Error naming the file and the column; what is wrong with
// one row (a null text or label, a label outside the ClassLabel's names) names the file, row group, row and column,
// or is skipped and counted. A 🤗 datasets ClassLabel column's ids become its names, which are the dataset's labels.
import type { SchemaTree } from 'hyparquet';

import { describeValue as show } from '../util/describe-value';
import { classLabelNames } from './class-label-names';
import { CellReader, ExampleSource, FileExample, ResolvedFileOptions, RowError, SkippedRows, badRow, rowToExample } from './dataset-files';
import type { TextExample } from './example';
import { LabelKinds, labelKindOf } from './label-kinds';
import { ParquetFile } from './parquet-file';

/** What a Parquet column holds, in words, when it cannot hold texts (undefined: it holds byte strings). */
function nonStringKind(column: SchemaTree): string | undefined {
  const { element } = column;
  if (column.children.length > 0) {
    const nested = element.logical_type?.type ?? element.converted_type;
    return nested === 'LIST' ? 'lists' : nested === 'MAP' || nested === 'MAP_KEY_VALUE' ? 'maps' : 'structs';
  }
  if (element.type === 'BYTE_ARRAY') return undefined;
  return `${element.type ?? 'untyped'} values`;
}

/** A value as the row rules take it: 64-bit integers as numbers (when exact), typed arrays as arrays. */
function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<unknown>, plainValue);
  if (Array.isArray(value)) return value.map(plainValue);
  return value;
}

export class ParquetExamples {
  /** The label column's ClassLabel names (ids are indices into them), else undefined. */
  readonly labelNames: string[] | undefined;
  /** The rows a pass reads: the file's rows, at most `limit`. */
  readonly rowCount: number;
  private readonly hasLabelColumn: boolean;

  private constructor(
    private readonly file: ParquetFile,
    private readonly o: ResolvedFileOptions,
  ) {
    const names = [...file.columns.keys()];
    const listed = `(columns: ${names.join(', ')})`;
    const textColumns = [o.textColumn, ...(o.textPairColumn !== undefined ? [o.textPairColumn] : [])];
    for (const name of [...textColumns, ...(o.requireLabels ? [o.labelColumn] : [])]) {
      if (!file.columns.has(name)) throw new Error(`${file.path}: no column ${JSON.stringify(name)} ${listed}`);
    }
    for (const name of textColumns) {
      const kind = nonStringKind(file.columns.get(name) as SchemaTree);
      if (kind !== undefined) throw new Error(`${file.path}: column ${JSON.stringify(name)} holds ${kind}, not strings: a text column must be a string column`);
    }
    this.hasLabelColumn = file.columns.has(o.labelColumn);
    this.labelNames = this.hasLabelColumn ? classLabelNames(file.keyValueMetadata, o.labelColumn, file.path) : undefined;
    this.rowCount = o.limit !== undefined ? Math.min(o.limit, file.rowCount) : file.rowCount;
  }

  /** Opens a Parquet file and checks its columns against the options (an Error naming the file and column). */
  static async open(path: string, o: ResolvedFileOptions): Promise<ParquetExamples> {
    const file = await ParquetFile.open(path);
    try {
      return new ParquetExamples(file, o);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  /** The examples in file order, one row group in memory at a time; closes the file when done (or abandoned). */
  async *read(skipped: SkippedRows): AsyncGenerator<FileExample> {
    const { file, o } = this;
    const columns = [o.textColumn, ...(o.textPairColumn !== undefined ? [o.textPairColumn] : []), ...(this.hasLabelColumn ? [o.labelColumn] : [])];
    const kinds = o.labelType === 'auto' ? new LabelKinds(file.path, o.labelColumn, 'column') : undefined;
    try {
      for (let group = 0; group < file.rowGroups.length; group++) {
        const { start, rows } = file.rowGroups[group];
        if (start >= this.rowCount) return;
        const values = new Map<string, unknown[]>();
        for (const column of columns) values.set(column, await file.readColumn(group, column));
        for (let i = 0; i < rows && start + i < this.rowCount; i++) {
          const position = { rowGroup: group, row: start + i };
          const cell: CellReader = (column) => {
            const value = values.get(column)?.[i];
            return column === o.labelColumn ? this.label(value) : plainValue(value);
          };
          let example: TextExample;
          try {
            example = rowToExample(cell, o, 'parquet', this.hasLabelColumn);
          } catch (err) {
            if (!(err instanceof RowError)) throw err;
            badRow(file.path, o, skipped, position, err.message);
            continue;
          }
          if (kinds) {
            const raw = cell(o.labelColumn);
            kinds.note(labelKindOf(raw, example.label), position, typeof raw === 'string' ? raw.trim() : raw);
          }
          yield { example, ...position };
        }
        values.clear();
      }
    } finally {
      await file.close();
    }
  }

  /** Closes the file without reading it. */
  close(): Promise<void> {
    return this.file.close();
  }

  /**
   * A label cell under the label rules: a ClassLabel's id becomes its name (labelType 'id' keeps the id; -1, the
   * 🤗 datasets id of "no label", is none), and labelType 'name' reads plain integers as names.
   */
  private label(raw: unknown): unknown {
    const value = plainValue(raw);
    const names = this.labelNames;
    const one = (v: unknown): unknown => {
      if (typeof v !== 'number' || !Number.isInteger(v)) return v;
      if (names === undefined) return this.o.labelType === 'name' ? String(v) : v;
      if (v === -1) return null;
      if (v < 0 || v >= names.length) {
        throw new RowError(
          `column ${JSON.stringify(this.o.labelColumn)}: class id ${v} is outside its ClassLabel's ${names.length} names (ids 0..${names.length - 1})`,
        );
      }
      return this.o.labelType === 'id' ? v : names[v];
    };
    if (Array.isArray(value)) {
      const labels = value.map(one);
      if (labels.some((l) => l === null)) throw new RowError(`column ${JSON.stringify(this.o.labelColumn)}: a list label holds ${show(null)}`);
      return labels;
    }
    return one(value);
  }
}

/** A Parquet file as a stream's source: each pass opens it anew; count() and labelNames() read only its footer. */
export function parquetSource(path: string, o: ResolvedFileOptions): ExampleSource {
  const footer = async <T>(get: (examples: ParquetExamples) => T): Promise<T> => {
    const examples = await ParquetExamples.open(path, o);
    try {
      return get(examples);
    } finally {
      await examples.close();
    }
  };
  return {
    async *read(skipped) {
      yield* (await ParquetExamples.open(path, o)).read(skipped);
    },
    count: () => footer((e) => e.rowCount),
    labelNames: () => footer((e) => e.labelNames),
  };
}
