// Sharded weights as transformers writes them: save_pretrained(max_shard_size) splits the state dict into
// "model-00001-of-00003.safetensors" files (huggingface_hub's split_torch_state_dict_into_shards; the split itself is
// native/checkpoint/shard_plan.cpp) and an index, model.safetensors.index.json, that maps each tensor to its file.
import { promises as fs } from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../util/atomic-write';
import { show } from '../util/is';
import { WEIGHTS_FILES } from './model-files';

/** transformers 5's default max_shard_size: a model smaller than this is one file. */
export const DEFAULT_MAX_SHARD_SIZE = '50GB';

// huggingface_hub's parse_size_to_int units (decimal), and the binary ones transformers 4 also read.
const SIZE_UNITS: Record<string, number> = {
  TB: 1e12,
  GB: 1e9,
  MB: 1e6,
  KB: 1e3,
  TIB: 2 ** 40,
  GIB: 2 ** 30,
  MIB: 2 ** 20,
  KIB: 2 ** 10,
};

/** Bytes per shard from a count of bytes or a size such as "5GB", "500MB" or "2GiB" (huggingface_hub's syntax). */
export function parseShardSize(value: unknown, name = 'maxShardSize'): number {
  if (value === undefined) return parseShardSize(DEFAULT_MAX_SHARD_SIZE, name);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive number of bytes, got ${show(value)}`);
    return value;
  }
  if (typeof value !== 'string') throw new TypeError(`${name} must be a number of bytes or a size such as "5GB", got ${show(value)}`);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*$/i.exec(value);
  const bytes = match ? Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toUpperCase()]) : NaN;
  if (!(bytes >= 1) || !Number.isSafeInteger(bytes)) {
    throw new RangeError(`${name} must be a positive size such as "500MB", "5GB" or "2GiB" (units KB, MB, GB, TB, KiB, MiB, GiB, TiB), got ${show(value)}`);
  }
  return bytes;
}

/** What the native writer reports for one sharded format: the index file's name and contents. */
export interface ShardIndex {
  file: string;
  totalSize: number;
  totalParameters: number;
  weightMap: Record<string, string>;
}

/** Writes each index as transformers does (json.dumps(indent=2, sort_keys=True) + "\n"); resolves with the paths. */
export async function writeShardIndexes(dir: string, indexes: readonly ShardIndex[]): Promise<string[]> {
  const written: string[] = [];
  for (const index of indexes) {
    const weightMap = Object.fromEntries(
      Object.keys(index.weightMap)
        .sort()
        .map((key) => [key, index.weightMap[key]]),
    );
    const json = { metadata: { total_parameters: index.totalParameters, total_size: index.totalSize }, weight_map: weightMap };
    const file = path.join(dir, index.file);
    await writeFileAtomic(file, `${JSON.stringify(json, null, 2)}\n`);
    written.push(path.resolve(file));
  }
  return written;
}

// Each weights format's unsharded file and index: the shard names are derived from the unsharded one.
const FORMAT_FILES = [
  { single: WEIGHTS_FILES.safetensors, index: WEIGHTS_FILES.safetensorsIndex },
  { single: WEIGHTS_FILES.pytorch, index: WEIGHTS_FILES.pytorchIndex },
] as const;

/**
 * Removes the weight files of a previous save that the one just written replaces, so that a loader never prefers a
 * stale file: for each format written, the shards it did not write (as transformers removes them) and the unsharded
 * file when it wrote shards, or the index when it wrote one file. Formats not written are left alone.
 */
export async function removeStaleWeightFiles(dir: string, written: readonly string[]): Promise<void> {
  const names = new Set(written.map((file) => path.basename(file)));
  const entries = await fs.readdir(dir);
  for (const { single, index } of FORMAT_FILES) {
    const ext = path.extname(single);
    const stem = single.slice(0, -ext.length);
    const shard = new RegExp(`^${stem}-\\d{5}-of-\\d{5}\\${ext}$`);
    const wroteSingle = names.has(single);
    const wroteIndex = names.has(index);
    if (!wroteSingle && !wroteIndex) continue;
    for (const entry of entries) {
      const stale = (shard.test(entry) && !names.has(entry)) || (wroteIndex && entry === single) || (wroteSingle && entry === index);
      if (stale) await fs.rm(path.join(dir, entry), { force: true });
    }
  }
}
