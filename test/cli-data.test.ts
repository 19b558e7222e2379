// The command line's data sources, run as users run them (`node dist/cli/main.js`, compiled in beforeAll): a Parquet
// file by its extension for --train, a split of a hub dataset (hub:ORG/NAME[:CONFIG]:SPLIT, from the fake hub through
// HF_ENDPOINT) for --eval and for `eval`, the syntax in --help, and a malformed hub source as a usage error.
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { useFakeHub } from './helpers/fake-hub';
import { ParquetRow, writeParquetFixtures } from './helpers/parquet-fixtures';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');
const { hub, root } = useFakeHub('bert-trainer-cli-data-');

/** Runs the CLI with the fake hub as HF_ENDPOINT and the test's cache. */
function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, OMP_NUM_THREADS: '2', HF_ENDPOINT: hub.endpoint };
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd: ROOT, env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Sentences whose label shows in their words. */
const rows = (count: number): ParquetRow[] =>
  Array.from({ length: count }, (_, i) => {
    const label = i % 2 === 0 ? 'good' : 'bad';
    return { text: `the film was ${label === 'good' ? 'great lovely' : 'awful boring'} number ${i}`, pair: '', label };
  });

let trainFile: string;
beforeAll(() => {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  trainFile = writeParquetFixtures(rows(40), path.join(root(), 'train')).file('zstd');
  const test = writeParquetFixtures(rows(12), path.join(root(), 'test'));
  hub.addRepo('datasets/org/films', { 'data/test-00000-of-00001.parquet': fs.readFileSync(test.file('snappy')) });
});

it('--help names the Parquet files and the hub syntax', async () => {
  const { code, stdout } = await run(['train', '--help']);
  expect(code).toBe(0);
  expect(stdout).toContain('.parquet');
  expect(stdout).toContain('hub:ORG/NAME[@REVISION][:CONFIG]:SPLIT');
  expect(stdout).toContain('--train hub:stanfordnlp/imdb:train');
});

it('trains on a Parquet file, evaluates on a hub split downloaded into the cache, and `eval` reads the split again', async () => {
  const output = path.join(root(), 'run');
  const trained = await run([
    'train',
    '--model',
    'tiny',
    '--train',
    trainFile,
    '--eval',
    'hub:org/films:test',
    '--epochs',
    '1',
    '--vocab-size',
    '60',
    '--save-strategy',
    'no',
    '--output',
    output,
  ]);
  expect(trained.stderr).toBe('');
  expect(trained.code).toBe(0);
  expect(trained.stdout).toContain('downloading hub:org/films:test: data/test-00000-of-00001.parquet');
  expect(trained.stdout).toMatch(/data: 40 training examples, 12 held-out examples \(hub:org\/films:test\); labels: bad, good/);
  expect(fs.existsSync(path.join(output, 'metrics.json'))).toBe(true);
  expect(fs.readdirSync(path.join(root(), 'default-cache'))).toContain('datasets--org--films');

  hub.reset();
  const evaluated = await run(['eval', '--model', output, '--eval', 'hub:org/films:test', '--json']);
  expect(evaluated.code).toBe(0);
  expect(JSON.parse(evaluated.stdout).numExamples).toBe(12);
  expect(hub.seen).toHaveLength(0); // cached
});

it('a malformed hub source is a usage error (exit 2) showing the syntax', async () => {
  const { code, stderr } = await run(['train', '--model', 'tiny', '--train', 'hub:org/films', '--output', path.join(root(), 'x')]);
  expect(code).toBe(2);
  expect(stderr).toContain('a hub dataset is written hub:ORG/NAME[@REVISION][:CONFIG]:SPLIT');
});
