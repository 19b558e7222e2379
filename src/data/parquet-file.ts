// One Parquet file opened for reading through hyparquet: its footer (schema, row groups, key-value metadata) read
// and checked, its top-level columns, and one column of one row group at a time, so that memory holds a row group's
// columns and never the whole file. Compressed pages are inflated by hyparquet (snappy) and hyparquet-compressors
// (zstd, gzip, brotli, lz4). Errors name the file, and the row group and column where reading failed.
import { promises as fsp, type Stats } from 'fs';
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData, type SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

/** The smallest Parquet file: "PAR1", a footer length and "PAR1" again around at least one byte of footer. */
const MIN_PARQUET_BYTES = 12;

/** A row group's place among the file's rows. */
export interface RowGroupRange {
  /** 0-based index of the first row of the group in the file. */
  start: number;
  rows: number;
}

/** hyparquet's view of a file: slices read from an open handle at their offsets. */
function handleBuffer(handle: fsp.FileHandle, byteLength: number): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
      const buffer = new ArrayBuffer(Math.max(0, end - start));
      const view = new Uint8Array(buffer);
      let filled = 0;
      while (filled < view.length) {
        const { bytesRead } = await handle.read(view, filled, view.length - filled, start + filled);
        if (bytesRead === 0) throw new Error(`the file ended at byte ${start + filled}, before byte ${end} (truncated while being read?)`);
        filled += bytesRead;
      }
      return buffer;
    },
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ParquetFile {
  /** The top-level columns by name, in the file's order. */
  readonly columns: ReadonlyMap<string, SchemaTree>;
  readonly rowGroups: readonly RowGroupRange[];
  readonly rowCount: number;

  private constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
    private readonly buffer: AsyncBuffer,
    readonly metadata: FileMetaData,
  ) {
    this.columns = new Map(parquetSchema(metadata).children.map((child) => [child.element.name, child] as const));
    let start = 0;
    this.rowGroups = metadata.row_groups.map((group) => {
      const range = { start, rows: Number(group.num_rows) };
      start += range.rows;
      return range;
    });
    this.rowCount = start;
  }

  /** Opens `path` and reads its footer: an Error naming the file when it is missing or not a (readable) Parquet file. */
  static async open(path: string): Promise<ParquetFile> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(path, 'r');
    } catch (err) {
      throw new Error(`${path}: cannot open: ${message(err)}`, { cause: err });
    }
    try {
      const stat: Stats = await handle.stat();
      if (!stat.isFile()) throw new Error(`${path}: not a file`);
      if (stat.size < MIN_PARQUET_BYTES) throw new Error(`${path}: not a Parquet file (${stat.size} bytes, too short for a Parquet footer)`);
      const buffer = handleBuffer(handle, stat.size);
      let metadata: FileMetaData;
      try {
        metadata = await parquetMetadataAsync(buffer);
      } catch (err) {
        throw new Error(`${path}: not a Parquet file, or its footer is damaged: ${message(err)}`, { cause: err });
      }
      return new ParquetFile(path, handle, buffer, metadata);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** The key-value metadata of the footer (e.g. "huggingface": 🤗 datasets' features). */
  get keyValueMetadata(): { key: string; value?: string }[] | undefined {
    return this.metadata.key_value_metadata;
  }

  /** The values of top-level `column` in row group `group`, one per row (null where the row has none). */
  async readColumn(group: number, column: string): Promise<unknown[]> {
    const range = this.rowGroups[group];
    const values = new Array<unknown>(range.rows).fill(null);
    try {
      await parquetRead({
        file: this.buffer,
        metadata: this.metadata,
        columns: [column],
        rowStart: range.start,
        rowEnd: range.start + range.rows,
        compressors,
        onChunk: ({ columnData, rowStart }) => {
          for (let i = 0; i < columnData.length; i++) {
            const at = rowStart - range.start + i;
            if (at >= 0 && at < range.rows) values[at] = columnData[i];
          }
        },
      });
    } catch (err) {
      throw new Error(`${this.path}: row group ${group}, column ${JSON.stringify(column)}: cannot be read: ${message(err)}`, { cause: err });
    }
    return values;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
