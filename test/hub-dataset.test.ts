// Dataset.fromHub against the fake hub (test/helpers/fake-hub.ts) serving dataset repositories whose Parquet files
// pyarrow writes at test time: the repository's own files by the data-files conventions and by its card's configs,
// the refs/convert/parquet conversion of a repository without Parquet files, the huggingface_hub cache layout
// (datasets--org--name), offline mode, HF_TOKEN, and the coded errors for a missing split, config or repository.
import { promises as fsp } from 'fs';
import * as fs from 'fs';
import * as path from 'path';

import { Dataset } from '../src/data/dataset';
import { HubError } from '../src/hub/hub-error';
import { resolveDatasetSplit } from '../src/hub/resolve-dataset';
import { failingFetch, sha256, useFakeHub } from './helpers/fake-hub';
import { ParquetRow, writeParquetFixtures } from './helpers/parquet-fixtures';

const { hub, root, freshCache } = useFakeHub('bert-trainer-hub-dataset-');
let endpoint: string;

const rows = (prefix: string, count: number, labels = ['neg', 'pos']): ParquetRow[] =>
  Array.from({ length: count }, (_, i) => ({ text: `${prefix} text ${i}`, pair: `${prefix} pair ${i}`, label: labels[i % labels.length] }));
const TRAIN_A = rows('train-a', 12);
const TRAIN_B = rows('train-b', 10);
const TEST = rows('test', 11);
const examples = (list: ParquetRow[]): { text: string; label: string }[] => list.map((r) => ({ text: r.text, label: r.label }));

/** The generator's files for each row set: `.snappy` and `.classlabel` contents. */
const files: Record<string, { snappy: Buffer; classlabel: Buffer }> = {};

beforeAll(() => {
  endpoint = hub.endpoint;
  for (const [name, list] of Object.entries({ trainA: TRAIN_A, trainB: TRAIN_B, test: TEST })) {
    const fx = writeParquetFixtures(list, path.join(root(), 'fixtures', name));
    files[name] = { snappy: fs.readFileSync(fx.file('snappy')), classlabel: fs.readFileSync(fx.file('classlabel')) };
  }
});

const card = (yaml: string): string => `---\n${yaml}\n---\n# A dataset\n`;

/** What a promise rejects with (an Error saying it resolved, when it does). */
const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => new Error('resolved'),
    (err: Error) => err,
  );

describe("a repository's own Parquet files", () => {
  it('finds a split by the data-files conventions, downloads only its shards into the huggingface_hub layout, and reads them in order', async () => {
    const cacheDir = await freshCache();
    const sha = hub.addRepo('datasets/org/own', {
      '.gitattributes': '*.parquet filter=lfs',
      'README.md': card('license: mit'),
      'data/train-00000-of-00002.parquet': files.trainA.snappy,
      'data/train-00001-of-00002.parquet': files.trainB.snappy,
      'data/test-00000-of-00001.parquet': files.test.snappy,
    });
    const ds = await Dataset.fromHub('org/own', { split: 'train', cacheDir, endpoint });
    expect(ds.toArray()).toEqual(examples([...TRAIN_A, ...TRAIN_B]));
    expect(ds.labelNames).toEqual(['neg', 'pos']);

    const repoDir = path.join(cacheDir, 'datasets--org--own');
    expect(await fsp.readFile(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(sha);
    const shard = path.join(repoDir, 'snapshots', sha, 'data', 'train-00000-of-00002.parquet');
    expect(await fsp.readlink(shard)).toBe(path.join('..', '..', '..', 'blobs', sha256(files.trainA.snappy)));
    expect(hub.seen[0].path).toBe('/api/datasets/org/own/revision/main');
    expect(hub.fileRequests('test-00000-of-00001.parquet')).toHaveLength(0);
    expect(hub.seen.filter((s) => s.path.includes('/resolve/')).every((s) => s.path.startsWith(`/datasets/org/own/resolve/${sha}/`))).toBe(true);

    // Cached: no request at all, online or offline; another split is downloaded beside it.
    hub.reset();
    expect((await Dataset.fromHub('org/own', { split: 'train', cacheDir, endpoint })).length).toBe(22);
    expect(hub.seen).toHaveLength(0);
    expect((await Dataset.fromHub('org/own', { split: 'test', cacheDir, endpoint, limit: 4 })).toArray()).toEqual(examples(TEST.slice(0, 4)));
    const split = await resolveDatasetSplit('org/own', { split: 'test', cacheDir, offline: true, fetch: failingFetch });
    expect(split).toEqual({
      config: 'default',
      source: 'repository',
      commit: sha,
      files: [path.join(repoDir, 'snapshots', sha, 'data', 'test-00000-of-00001.parquet')],
    });
  });

  it("follows the card's configs: a config's split patterns, the default config, a ClassLabel's names", async () => {
    const cacheDir = await freshCache();
    hub.addRepo('datasets/org/configs', {
      'README.md': card(
        [
          'configs:',
          '- config_name: plain_text',
          '  data_files:',
          '  - split: train',
          '    path: plain_text/train-*',
          '  - split: unsupervised',
          '    path: plain_text/extra/*.parquet',
          '  default: true',
          '- config_name: labelled',
          '  data_files: labelled/*.parquet',
        ].join('\n'),
      ),
      'plain_text/train-00000-of-00001.parquet': files.trainA.snappy,
      'plain_text/extra/x.parquet': files.test.snappy,
      'labelled/all.parquet': files.trainB.classlabel,
    });
    expect((await Dataset.fromHub('org/configs', { split: 'train', cacheDir, endpoint })).toArray()).toEqual(examples(TRAIN_A));
    expect((await Dataset.fromHub('org/configs', { split: 'unsupervised', cacheDir, endpoint, labelColumn: 'none', requireLabels: false })).length).toBe(11);
    const labelled = await Dataset.fromHub('org/configs', {
      config: 'labelled',
      split: 'train',
      cacheDir,
      endpoint,
      textPairColumn: 'pair',
      requireLabels: false,
    });
    expect(labelled.labelNames).toEqual(['neg', 'pos']);
    expect(labelled.get(0)).toEqual({ text: TRAIN_B[0].text, textPair: TRAIN_B[0].pair, label: TRAIN_B[0].label });

    const missingSplit = await failure(Dataset.fromHub('org/configs', { split: 'validation', cacheDir, endpoint }));
    expect(missingSplit).toBeInstanceOf(HubError);
    expect((missingSplit as HubError).code).toBe('HUB_NOT_FOUND');
    expect(missingSplit.message).toMatch(/no split "validation" .*config "plain_text".*\(splits: "train", "unsupervised"\)/);
    const missingConfig = (await failure(Dataset.fromHub('org/configs', { config: 'sst2', split: 'train', cacheDir, endpoint }))) as HubError;
    expect([missingConfig.code, missingConfig.message]).toEqual([
      'HUB_NOT_FOUND',
      expect.stringMatching(/no config "sst2" \(configs: "labelled", "plain_text"\)/),
    ]);
  });
});

describe('the Parquet conversion (refs/convert/parquet)', () => {
  it('is used when the repository has no Parquet files: {config}/{split}/*.parquet, cached under refs/refs/convert/parquet', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('datasets/org/csv', { 'README.md': card('license: mit'), 'train.csv': 'text,label\na,b\n' });
    const converted = hub.addRepo(
      'datasets/org/csv',
      { 'default/train/0000.parquet': files.trainA.snappy, 'default/train/0001.parquet': files.trainB.snappy, 'default/test/0000.parquet': files.test.snappy },
      ['refs/convert/parquet'],
    );
    const ds = await Dataset.fromHub('org/csv', { split: 'train', cacheDir, endpoint });
    expect(ds.toArray()).toEqual(examples([...TRAIN_A, ...TRAIN_B]));
    expect(hub.seen.map((s) => s.path)).toContain('/api/datasets/org/csv/revision/refs%2Fconvert%2Fparquet');
    const repoDir = path.join(cacheDir, 'datasets--org--csv');
    expect(await fsp.readFile(path.join(repoDir, 'refs', 'refs', 'convert', 'parquet'), 'utf8')).toBe(converted);
    expect(await fsp.readdir(path.join(repoDir, 'snapshots'))).toEqual([converted]);

    hub.reset();
    const offline = await resolveDatasetSplit('org/csv', { split: 'train', cacheDir, offline: true, fetch: failingFetch });
    expect(offline.source).toBe('conversion');
    expect(offline.files.map((f) => path.relative(repoDir, f))).toEqual([
      path.join('snapshots', converted, 'default', 'train', '0000.parquet'),
      path.join('snapshots', converted, 'default', 'train', '0001.parquet'),
    ]);
    expect(hub.seen).toHaveLength(0);
  });

  it('the older {config}/{name}-{split}.parquet layout; several configs need a config, else a RangeError naming it', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('datasets/org/multi', { 'data.jsonl': '{}' });
    hub.addRepo('datasets/org/multi', { 'a/multi-train.parquet': files.trainA.snappy, 'b/multi-test-00000-of-00001.parquet': files.test.snappy }, [
      'refs/convert/parquet',
    ]);
    const noConfig = await failure(Dataset.fromHub('org/multi', { split: 'train', cacheDir, endpoint }));
    expect(noConfig).toBeInstanceOf(RangeError);
    expect(noConfig.message).toMatch(/^config: dataset "org\/multi" has several configs \("a", "b"\)/);
    expect((await Dataset.fromHub('org/multi', { config: 'b', split: 'test', cacheDir, endpoint })).toArray()).toEqual(examples(TEST));
    expect(((await failure(Dataset.fromHub('org/multi', { config: 'a', split: 'test', cacheDir, endpoint }))) as HubError).message).toMatch(
      /no split "test" in config "a" of its Parquet conversion.*\(splits: "train"\)/,
    );
  });
});

describe('offline mode, tokens and errors', () => {
  it('offline and not cached: HUB_OFFLINE naming the split, the cache and how to download it', async () => {
    const cacheDir = await freshCache();
    process.env.HF_HUB_OFFLINE = '1';
    const err = (await failure(Dataset.fromHub('org/own', { split: 'train', config: 'plain_text', cacheDir, endpoint }))) as HubError;
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe('HUB_OFFLINE');
    expect(err.message).toContain('Split "train" of config "plain_text" of dataset "org/own"');
    expect(err.message).toContain(cacheDir);
    expect(err.message).toContain('huggingface-cli download org/own --repo-type dataset');
    expect(hub.seen).toHaveLength(0);
  });

  it('sends HF_TOKEN to the hub for a private dataset; without it, HUB_UNAUTHORIZED naming the dataset', async () => {
    const cacheDir = await freshCache();
    const token = `hf_${'a'.repeat(30)}`;
    hub.addRepo('datasets/org/private', { 'data/train.parquet': files.test.snappy });
    hub.repos.get('datasets/org/private')!.access = { token };
    const refused = (await failure(Dataset.fromHub('org/private', { split: 'train', cacheDir, endpoint }))) as HubError;
    expect([refused.code, refused.message]).toEqual([
      'HUB_UNAUTHORIZED',
      expect.stringContaining('dataset "org/private" (revision "main") needs authentication'),
    ]);
    hub.reset();
    process.env.HF_TOKEN = token;
    expect((await Dataset.fromHub('org/private', { split: 'train', cacheDir, endpoint })).length).toBe(11);
    expect(hub.seen.length).toBeGreaterThan(0);
    expect(hub.seen.every((s) => s.auth === `Bearer ${token}`)).toBe(true);
  });

  it('a missing dataset is HUB_NOT_FOUND; bad arguments are TypeErrors and RangeErrors naming them', async () => {
    const cacheDir = await freshCache();
    const missing = (await failure(Dataset.fromHub('org/absent', { split: 'train', cacheDir, endpoint }))) as HubError;
    expect([missing.code, missing.message]).toEqual(['HUB_NOT_FOUND', expect.stringContaining('dataset "org/absent"')]);
    await expect(Dataset.fromHub('org/own', {} as never)).rejects.toThrow(/split must be given/);
    await expect(Dataset.fromHub('org/own', { split: '../x' })).rejects.toThrow(RangeError);
    await expect(Dataset.fromHub('org/bad--id', { split: 'train' })).rejects.toThrow(RangeError);
    await expect(Dataset.fromHub('org/own', { split: 'train', revison: 'v1' } as never)).rejects.toThrow(/unknown option "revison"/);
    await expect(Dataset.fromHub('org/own', { split: 'train', delimiter: ',' } as never)).rejects.toThrow(/unknown option "delimiter"/);
  });
});
