// A dataset repository's configs, as its card (README.md) declares them in its YAML header, the way 🤗 datasets
// reads them: `configs: [{ config_name, data_files, data_dir, default }]`, where data_files is a pattern, a list
// of patterns (both: the train split), a list of { split, path } or a { split: path } mapping.
import { parse as parseYaml } from 'yaml';

import { describeValue as show } from '../util/describe-value';

export interface DatasetConfig {
  name: string;
  default: boolean;
  /** Patterns of each split's files, by split name; undefined when the config names none (then: conventions). */
  dataFiles: Map<string, string[]> | undefined;
  /** The folder the config's files are in (data_dir), '' for the whole repository. */
  dataDir: string;
}

const FRONT_MATTER = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---\s*(?:\r?\n|$)/;

function patterns(value: unknown, where: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((p) => typeof p === 'string' && p !== '')) {
    throw new Error(`${where} must be a path pattern or a list of them, got ${show(value)}`);
  }
  return list as string[];
}

function dataFilesOf(value: unknown, where: string): Map<string, string[]> {
  const splits = new Map<string, string[]>();
  const add = (split: unknown, paths: unknown, at: string): void => {
    if (typeof split !== 'string' || split === '') throw new Error(`${at}.split must be a split name, got ${show(split)}`);
    splits.set(split, [...(splits.get(split) ?? []), ...patterns(paths, `${at}.path`)]);
  };
  if (typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
    splits.set('train', patterns(value, where));
  } else if (Array.isArray(value)) {
    value.forEach((entry: unknown, i) => {
      const at = `${where}[${i}]`;
      if (entry === null || typeof entry !== 'object') throw new Error(`${at} must be { split, path }, got ${show(entry)}`);
      add((entry as { split?: unknown }).split, (entry as { path?: unknown }).path, at);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [split, paths] of Object.entries(value)) add(split, paths, `${where}.${split}`);
  } else {
    throw new Error(`${where} must be patterns, a list of { split, path } or a { split: path } mapping, got ${show(value)}`);
  }
  return splits;
}

/**
 * The configs a dataset card declares, undefined when its YAML header has none (the repository then follows the
 * data-files conventions). `file` names the card in errors.
 */
export function datasetConfigs(card: string, file: string): DatasetConfig[] | undefined {
  const header = FRONT_MATTER.exec(card);
  if (header === null) return undefined;
  let yaml: unknown;
  try {
    yaml = parseYaml(header[1]);
  } catch (err) {
    throw new Error(`${file}: the YAML header of the dataset card cannot be read: ${(err as Error).message}`);
  }
  const configs = (yaml as { configs?: unknown } | null)?.configs;
  if (configs === undefined || configs === null) return undefined;
  if (!Array.isArray(configs)) throw new Error(`${file}: "configs" must be a list, got ${show(configs)}`);
  return configs.map((raw: unknown, i): DatasetConfig => {
    const where = `${file}: configs[${i}]`;
    if (raw === null || typeof raw !== 'object') throw new Error(`${where} must be an object, got ${show(raw)}`);
    const c = raw as { config_name?: unknown; data_files?: unknown; data_dir?: unknown; default?: unknown };
    const name = c.config_name ?? 'default';
    if (typeof name !== 'string' || name === '') throw new Error(`${where}.config_name must be a name, got ${show(name)}`);
    const dataDir = c.data_dir ?? '';
    if (typeof dataDir !== 'string') throw new Error(`${where}.data_dir must be a folder, got ${show(dataDir)}`);
    return {
      name,
      default: c.default === true,
      dataFiles: c.data_files === undefined || c.data_files === null ? undefined : dataFilesOf(c.data_files, `${where}.data_files`),
      dataDir: dataDir.replace(/^\/+|\/+$/g, ''),
    };
  });
}
