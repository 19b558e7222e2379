// Where a row stands in its file, for messages and skip lists: the 1-based line a CSV/TSV/JSONL row starts on, or a
// Parquet row's 0-based index in the file (as pyarrow and 🤗 datasets number rows) and the row group that holds it.

export interface RowPosition {
  /** CSV, TSV, JSONL: the 1-based line the row starts on. */
  line?: number;
  /** Parquet: the row's 0-based index in the file. */
  row?: number;
  /** Parquet: the 0-based row group holding the row. */
  rowGroup?: number;
}

/** "line 7", or "row group 1, row 17" (Parquet). */
export function describePosition(p: RowPosition): string {
  if (p.line !== undefined) return `line ${p.line}`;
  return `row group ${p.rowGroup ?? '?'}, row ${p.row ?? '?'}`;
}
