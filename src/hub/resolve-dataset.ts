// Datasets by name: the Parquet files of one split of a Hugging Face dataset ("stanfordnlp/imdb", split "train"),
// in the cache Python's huggingface_hub uses (datasets--{org}--{name}: one copy for both), downloaded when missing.
// The repository's own Parquet files are used when it has any, else the hub's Parquet conversion on the
// refs/convert/parquet revision; which files make up the split is decided by dataset-split-files.ts, from the
// hub's file list online and from the cached snapshot's files offline.
import { promises as fsp } from 'fs';
import * as path from 'path';

import { nonEmptyString } from '../util/is';
import { cachedCommit } from './cache';
import type { Context } from './context';
import { datasetConfigs, type DatasetConfig } from './dataset-configs';
import { convertedSplitFiles, ownSplitFiles, shardsComplete, type SplitQuery } from './dataset-split-files';
import { hubContext, hubTarget, offlineError, type HubTarget } from './hub-context';
import { HubError } from './hub-error';
import { fetchRepoInfo, type Sibling } from './repo-listing';
import { HUB_ACCESS_OPTION_NAMES, type HubAccessOptions } from './resolve-options';
import { isHubId } from './resolve-model';
import { unsafePathReason } from './safe-path';
import { fetchFile, recordRevision } from './snapshot-files';
import { redact } from './token';

/** The hub's Parquet conversion of a dataset's main revision. */
export const CONVERTED_REVISION = 'refs/convert/parquet';
const CARD = 'README.md';

export interface ResolveDatasetOptions extends HubAccessOptions {
  /** The split, e.g. "train", "test", "validation". */
  split: string;
  /** The config (subset), e.g. "plain_text" or glue's "sst2"; default: the card's default config, or the only one. */
  config?: string;
}

export const DATASET_HUB_OPTION_NAMES: readonly string[] = ['split', 'config', ...HUB_ACCESS_OPTION_NAMES];

/** One split's Parquet files in the cache. */
export interface DatasetSplit {
  /** The files, in their order (local paths in the cache's snapshot). */
  files: string[];
  config: string;
  /** 'repository': the repository's own Parquet files; 'conversion': the hub's (refs/convert/parquet). */
  source: 'repository' | 'conversion';
  commit: string;
}

const isParquet = (p: string): boolean => p.toLowerCase().endsWith('.parquet');

/** The files under a snapshot folder as repository paths ("data/train-00000-of-00001.parquet"), links followed. */
async function snapshotFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dir, { recursive: true });
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    const stat = await fsp.stat(path.join(dir, entry)).catch(() => undefined);
    if (stat?.isFile()) files.push(entry.split(path.sep).join('/'));
  }
  return files.sort();
}

/** The card's configs when the snapshot (or download) has the card. */
async function cardConfigs(cardFile: string | undefined, id: string): Promise<DatasetConfig[] | undefined> {
  return cardFile === undefined ? undefined : datasetConfigs(await fsp.readFile(cardFile, 'utf8'), `dataset "${id}": ${CARD}`);
}

/** The split's files in the cached snapshot of `revision` when it holds all of them, else undefined. */
async function cachedSplitAt(target: HubTarget, q: SplitQuery, source: DatasetSplit['source']): Promise<DatasetSplit | undefined> {
  const commit = await cachedCommit(target.repoDir, source === 'repository' ? target.revision : CONVERTED_REVISION);
  if (commit === undefined) return undefined;
  const dir = path.join(target.repoDir, 'snapshots', commit);
  const files = await snapshotFiles(dir);
  const parquet = files.filter(isParquet);
  if (parquet.length === 0) return undefined;
  try {
    const split =
      source === 'repository'
        ? ownSplitFiles(parquet, await cardConfigs(files.includes(CARD) ? path.join(dir, CARD) : undefined, q.id), q)
        : convertedSplitFiles(parquet, q);
    if (!shardsComplete(split.files)) return undefined;
    return { ...split, files: split.files.map((f) => path.join(dir, ...f.split('/'))), source, commit };
  } catch (err) {
    if (err instanceof HubError) return undefined; // this split is not in the cache
    throw err;
  }
}

/** Downloads `names` (repository paths) of the listing into the snapshot of `commit`; their local paths, in order. */
async function fetchAll(ctx: Context, commit: string, siblings: Sibling[], names: string[]): Promise<string[]> {
  const snapshotDir = path.join(ctx.repoDir, 'snapshots', commit);
  const byName = new Map(siblings.map((s) => [s.rfilename, s] as const));
  const local: string[] = [];
  for (const name of names) local.push(await fetchFile(ctx, commit, snapshotDir, byName.get(name) as Sibling));
  await recordRevision(ctx, ctx.revision, commit);
  return local;
}

/** Lists the repository (then, without Parquet files of its own, its conversion) and downloads the split's files. */
async function downloadSplit(ctx: Context, q: SplitQuery): Promise<DatasetSplit> {
  const { commit, siblings } = await fetchRepoInfo(ctx);
  const parquet = siblings.map((s) => s.rfilename).filter(isParquet);
  if (parquet.length > 0) {
    const card = siblings.find((s) => s.rfilename === CARD);
    const cardFile = card !== undefined ? await fetchFile(ctx, commit, path.join(ctx.repoDir, 'snapshots', commit), card) : undefined;
    const split = ownSplitFiles(parquet, await cardConfigs(cardFile, q.id), q);
    return { ...split, files: await fetchAll(ctx, commit, siblings, split.files), source: 'repository', commit };
  }
  ctx.revision = CONVERTED_REVISION;
  const converted = await fetchRepoInfo(ctx);
  const split = convertedSplitFiles(
    converted.siblings.map((s) => s.rfilename),
    q,
  );
  return { ...split, files: await fetchAll(ctx, converted.commit, converted.siblings, split.files), source: 'conversion', commit: converted.commit };
}

/**
 * The Parquet files of one split of a hub dataset, in the hub cache (see the file comment for which files). A split
 * the cache holds is returned without network access; offline, one it does not hold is a HubError HUB_OFFLINE that
 * says how to download it. A config or split the dataset lacks is HUB_NOT_FOUND (naming those it has); refusals are
 * HUB_UNAUTHORIZED / HUB_GATED, as for models.
 */
export async function resolveDatasetSplit(id: string, options: ResolveDatasetOptions): Promise<DatasetSplit> {
  if (typeof id !== 'string' || !isHubId(id)) {
    throw new (typeof id === 'string' ? RangeError : TypeError)(
      `Dataset.fromHub: expected a Hugging Face dataset id ("name" or "org/name"), got ${JSON.stringify(id) ?? String(id)}`,
    );
  }
  const caller = `Dataset.fromHub("${id}")`;
  if (options === null || typeof options !== 'object') throw new TypeError(`${caller}: options must be an object with a split`);
  const split = nonEmptyString(options.split, 'split');
  if (split === undefined) throw new TypeError(`${caller}: split must be given, e.g. { split: 'train' }`);
  const config = nonEmptyString(options.config, 'config');
  for (const [name, value] of [
    ['split', split],
    ['config', config],
  ] as const) {
    const problem = value === undefined ? undefined : (unsafePathReason(value) ?? (value.includes('/') ? 'contains "/"' : undefined));
    if (problem !== undefined) throw new RangeError(`${caller}: invalid ${name} ${JSON.stringify(value)}: it ${problem}`);
  }
  const target = hubTarget(caller, id, 'dataset', options);
  const q: SplitQuery = { id, split, config };
  const cached = (await cachedSplitAt(target, q, 'repository')) ?? (await cachedSplitAt(target, q, 'conversion'));
  if (cached !== undefined) return cached;
  if (target.offline) throw offlineError(target, `Split "${split}"${config !== undefined ? ` of config "${config}"` : ''} of dataset "${id}"`);
  const ctx = hubContext(caller, target, options);
  try {
    return await downloadSplit(ctx, q);
  } catch (err) {
    throw redact(err, ctx.token);
  }
}
