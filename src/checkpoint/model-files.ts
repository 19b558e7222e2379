// Which weights files a Hugging Face model directory holds, in transformers' order of preference:
// model.safetensors, its sharded index, pytorch_model.bin, its sharded index.
import { promises as fs } from 'fs';
import * as path from 'path';

export const WEIGHTS_FILES = {
  safetensors: 'model.safetensors',
  safetensorsIndex: 'model.safetensors.index.json',
  pytorch: 'pytorch_model.bin',
  pytorchIndex: 'pytorch_model.bin.index.json',
} as const;

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The shard files an index names, each once, in order of first appearance. */
async function shardsOfIndex(dir: string, indexName: string): Promise<string[]> {
  const indexFile = path.join(dir, indexName);
  let index: unknown;
  try {
    index = JSON.parse(await fs.readFile(indexFile, 'utf8'));
  } catch (err) {
    throw new Error(`${indexFile}: malformed JSON (${(err as Error).message})`);
  }
  const weightMap = (index as { weight_map?: unknown })?.weight_map;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
    throw new Error(`${indexFile}: "weight_map" must be an object of tensor name -> shard file`);
  }
  const shards: string[] = [];
  for (const [key, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    // A shard name is a plain file name beside the index: never a path that leaves the directory.
    if (typeof shard !== 'string' || shard === '' || shard !== path.basename(shard) || shard === '.' || shard === '..') {
      throw new Error(`${indexFile}: "weight_map"["${key}"] must be a file name in the same directory, got ${JSON.stringify(shard)}`);
    }
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (shards.length === 0) throw new Error(`${indexFile}: "weight_map" is empty`);
  const files = shards.map((s) => path.join(dir, s));
  for (const file of files) {
    if (!(await isFile(file))) throw new Error(`${indexFile}: shard ${path.basename(file)} does not exist in ${dir}`);
  }
  return files;
}

/** Absolute paths of the weights files to load, or an Error naming the directory and what was looked for. */
export async function findWeightsFiles(dir: string): Promise<string[]> {
  if (await isFile(path.join(dir, WEIGHTS_FILES.safetensors))) return [path.join(dir, WEIGHTS_FILES.safetensors)];
  if (await isFile(path.join(dir, WEIGHTS_FILES.safetensorsIndex))) return shardsOfIndex(dir, WEIGHTS_FILES.safetensorsIndex);
  if (await isFile(path.join(dir, WEIGHTS_FILES.pytorch))) return [path.join(dir, WEIGHTS_FILES.pytorch)];
  if (await isFile(path.join(dir, WEIGHTS_FILES.pytorchIndex))) return shardsOfIndex(dir, WEIGHTS_FILES.pytorchIndex);
  throw new Error(`${dir}: no weights file (looked for ${Object.values(WEIGHTS_FILES).join(', ')})`);
}

/** Errors early, naming the path, when `dir` is not a readable directory. */
export async function requireDirectory(dir: unknown, name = 'path'): Promise<string> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`${name} must be a non-empty string`);
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch {
    throw new Error(`${dir}: model directory does not exist`);
  }
  if (!stat.isDirectory()) throw new Error(`${dir}: is not a directory (expected a Hugging Face model directory)`);
  return path.resolve(dir);
}
