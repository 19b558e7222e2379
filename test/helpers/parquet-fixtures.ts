// Parquet files for the tests, written by pyarrow (test/fixtures/parquet_fixtures.py, run with the project's
// .venv Python) from rows the test chooses, into a folder of the test's: see that script for the files it writes.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { PYTHON } from './paths';

const GENERATOR = path.resolve(__dirname, '..', 'fixtures', 'parquet_fixtures.py');

export interface ParquetRow {
  text: string;
  pair: string;
  label: string;
}

export interface ParquetFixtures {
  dir: string;
  /** Sorted label names of the rows. */
  labelNames: string[];
  /** The ClassLabel's names: the labels in order of first appearance. */
  classLabelNames: string[];
  file(name: string): string;
}

/** Writes `rows` as the generator's Parquet files into `dir`. */
export function writeParquetFixtures(rows: ParquetRow[], dir: string): ParquetFixtures {
  fs.mkdirSync(dir, { recursive: true });
  const rowsFile = path.join(dir, 'rows.json');
  fs.writeFileSync(rowsFile, JSON.stringify(rows));
  execFileSync(PYTHON, [GENERATOR, rowsFile, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { labelNames: string[]; classLabelNames: string[] };
  return { dir, ...manifest, file: (name) => path.join(dir, `${name}.parquet`) };
}
