// Which Parquet files of a dataset repository make up one split, from its file list alone (the same rules online,
// over the hub's listing, and offline, over a cached snapshot's files):
// - the repository's own Parquet files: by its card's configs (README.md's YAML `configs`: data_files patterns per
//   split, or a data_dir), else by 🤗 datasets' data-files conventions (data/{split}-00000-of-00002.parquet names a
//   split; else a folder or file name holding a split keyword: train/, data/train-*.parquet, train.parquet,
//   plain_text/test-*.parquet, ...; else every file is the train split);
// - the hub's conversion on the refs/convert/parquet revision: {config}/{split}/*.parquet (also partial-{split}/),
//   or the older {config}/{split}-*.parquet and {config}/{name}-{split}.parquet layouts.
// A config or split that is not there is a HubError HUB_NOT_FOUND naming the ones that are.
import type { DatasetConfig } from './dataset-configs';
import { HubError } from './hub-error';
import { matchingPaths } from './path-glob';

/** The split asked for, and the config when given. */
export interface SplitQuery {
  id: string;
  split: string;
  config?: string;
}

/** 🤗 datasets' split keywords, and the characters that may stand around them in a name. */
const SPLIT_KEYWORDS: Record<string, string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'dev', 'val'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};
const SEP = '[-._ 0-9]';
const KEYWORDS_IN_DIR_NAME = ['**/{k}/**', `**/{k}${SEP}*/**`, `**/*${SEP}{k}/**`, `**/*${SEP}{k}${SEP}*/**`];
const KEYWORDS_IN_FILE_NAME = [`**/{k}${SEP}*`, `**/*${SEP}{k}${SEP}*`];
const SHARDED_SPLIT = /^data\/([^/]+?)-\d{5}-of-\d{5}[^/]*$/;

const quoted = (names: Iterable<string>): string =>
  [...names]
    .sort()
    .map((n) => JSON.stringify(n))
    .join(', ') || 'none';

function noSuchSplit(q: SplitQuery, where: string, splits: Iterable<string>): HubError {
  return new HubError(`Hugging Face hub: dataset "${q.id}" has no split "${q.split}" ${where} (splits: ${quoted(splits)})`, 'HUB_NOT_FOUND', 404);
}

/** Files of a data folder that 🤗 datasets reads: none hidden (".x") or private ("__x") on the way. */
function visible(paths: readonly string[]): string[] {
  return paths.filter((p) => !p.split('/').some((part) => part.startsWith('.') || part.startsWith('__')));
}

/** Each split's files under 🤗 datasets' conventions, over paths relative to the data folder. */
function conventionalSplits(paths: readonly string[]): Map<string, string[]> {
  const sharded = new Map<string, string[]>();
  for (const p of paths) {
    const split = SHARDED_SPLIT.exec(p)?.[1];
    if (split !== undefined) sharded.set(split, [...(sharded.get(split) ?? []), p]);
  }
  if (sharded.size > 0) return sharded;
  for (const base of [KEYWORDS_IN_DIR_NAME, KEYWORDS_IN_FILE_NAME]) {
    const splits = new Map<string, string[]>();
    for (const [split, keywords] of Object.entries(SPLIT_KEYWORDS)) {
      const files = matchingPaths(
        paths,
        keywords.flatMap((k) => base.map((pattern) => pattern.replace('{k}', k))),
      );
      if (files.length > 0) splits.set(split, files);
    }
    if (splits.size > 0) return splits;
  }
  return new Map(paths.length > 0 ? [['train', [...paths]]] : []);
}

/** The config a query means: the one named, else the card's default, else "default", else the only one. */
function pickConfig<T>(q: SplitQuery, configs: ReadonlyMap<string, T>, defaultName: string | undefined): [string, T] {
  const name = q.config ?? defaultName ?? (configs.has('default') ? 'default' : configs.size === 1 ? [...configs.keys()][0] : undefined);
  if (name === undefined) {
    throw new RangeError(`config: dataset "${q.id}" has several configs (${quoted(configs.keys())}) and none is the default; name one`);
  }
  const config = configs.get(name);
  if (config === undefined)
    throw new HubError(`Hugging Face hub: dataset "${q.id}" has no config "${name}" (configs: ${quoted(configs.keys())})`, 'HUB_NOT_FOUND', 404);
  return [name, config];
}

/**
 * The repository's own Parquet files of the split (repository paths, sorted), by the card's configs or the
 * conventions. `paths` are the repository's Parquet files.
 */
export function ownSplitFiles(paths: readonly string[], configs: DatasetConfig[] | undefined, q: SplitQuery): { config: string; files: string[] } {
  const files = visible(paths);
  let config: DatasetConfig = { name: 'default', default: true, dataFiles: undefined, dataDir: '' };
  if (configs !== undefined && configs.length > 0) {
    [, config] = pickConfig(q, new Map(configs.map((c) => [c.name, c] as const)), configs.find((c) => c.default)?.name);
  } else if (q.config !== undefined && q.config !== 'default') {
    // No configs declared: a config is a top-level folder (e.g. glue's cola/, sst2/).
    const folders = new Set(files.filter((p) => p.includes('/')).map((p) => p.split('/')[0]));
    if (!folders.has(q.config))
      throw new HubError(`Hugging Face hub: dataset "${q.id}" has no config "${q.config}" (folders: ${quoted(folders)})`, 'HUB_NOT_FOUND', 404);
    config = { ...config, name: q.config, dataDir: q.config };
  }
  const prefix = config.dataDir === '' ? '' : `${config.dataDir}/`;
  const inDir = files.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
  const splits = config.dataFiles ?? conventionalSplits(inDir);
  const chosen = splits.get(q.split);
  const where = `in its own Parquet files${config.name !== 'default' ? ` of config "${config.name}"` : ''}`;
  if (chosen === undefined) throw noSuchSplit(q, where, splits.keys());
  const matched = config.dataFiles !== undefined ? matchingPaths(inDir, chosen) : chosen;
  if (matched.length === 0) {
    throw new HubError(`Hugging Face hub: dataset "${q.id}": no Parquet file matches split "${q.split}" (${chosen.join(', ')})`, 'HUB_NOT_FOUND', 404);
  }
  return { config: config.name, files: matched.map((p) => prefix + p).sort() };
}

/** The layouts of refs/convert/parquet, within a config's folder. */
function convertedSplitOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts.length === 2) return parts[0].replace(/^partial-/, '');
  const name = parts[0]
    .replace(/\.parquet$/, '')
    .replace(/-\d{5}-of-\d{5}$/, '')
    .replace(/-\d+$/, '');
  return name.slice(name.lastIndexOf('-') + 1) || undefined;
}

/** The converted Parquet files of the split on refs/convert/parquet (repository paths, sorted). */
export function convertedSplitFiles(paths: readonly string[], q: SplitQuery): { config: string; files: string[] } {
  const byConfig = new Map<string, string[]>();
  for (const p of visible(paths)) {
    const slash = p.indexOf('/');
    if (slash <= 0 || !p.endsWith('.parquet')) continue;
    const config = p.slice(0, slash);
    byConfig.set(config, [...(byConfig.get(config) ?? []), p.slice(slash + 1)]);
  }
  if (byConfig.size === 0)
    throw new HubError(
      `Hugging Face hub: dataset "${q.id}" has no Parquet files, neither its own nor converted ones (refs/convert/parquet)`,
      'HUB_NOT_FOUND',
      404,
    );
  const [config, files] = pickConfig(q, byConfig, undefined);
  const splits = new Map<string, string[]>();
  for (const f of files) {
    const split = convertedSplitOf(f);
    if (split !== undefined) splits.set(split, [...(splits.get(split) ?? []), `${config}/${f}`]);
  }
  const chosen = splits.get(q.split);
  if (chosen === undefined) throw noSuchSplit(q, `in config "${config}" of its Parquet conversion (refs/convert/parquet)`, splits.keys());
  return { config, files: chosen.sort() };
}

/** Whether sharded names (x-00001-of-00003.parquet) are all there; names without a shard count pass. */
export function shardsComplete(files: readonly string[]): boolean {
  const groups = new Map<string, Set<number>>();
  for (const f of files) {
    const m = /^(.*)-(\d{5})-of-(\d{5})([^/]*)$/.exec(f);
    if (m === null) continue;
    const key = `${m[1]}|${m[3]}|${m[4]}`;
    groups.set(key, (groups.get(key) ?? new Set()).add(Number(m[2])));
  }
  for (const [key, shards] of groups) {
    const total = Number(key.split('|')[1]);
    for (let i = 0; i < total; i++) if (!shards.has(i)) return false;
  }
  return true;
}
