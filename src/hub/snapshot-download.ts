// Downloading a model's snapshot: config.json, the tokenizer files, one weights format (with its shards) and the
// files asked for, each linked into snapshots/{commit}/, then refs/{revision} written.
import { promises as fsp } from 'fs';
import * as path from 'path';

import { WEIGHTS_FILES } from '../checkpoint/model-files';
import { cachedSnapshot } from './cache';
import type { Context } from './context';
import { fetchRepoInfo, type Sibling } from './repo-listing';
import { unsafePathReason } from './safe-path';
import { fetchFile, recordRevision } from './snapshot-files';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'];

/** Shard file names named by a downloaded index, each once. */
async function shardsOf(indexFile: string, indexName: string): Promise<string[]> {
  let index: unknown;
  try {
    index = JSON.parse(await fsp.readFile(indexFile, 'utf8'));
  } catch (err) {
    throw new Error(`Hugging Face hub: ${indexName}: malformed JSON (${(err as Error).message})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
    throw new Error(`Hugging Face hub: ${indexName}: "weight_map" must be an object of tensor name -> shard file`);
  }
  const shards: string[] = [];
  for (const shard of Object.values(weightMap as Record<string, unknown>)) {
    const reason = unsafePathReason(shard) ?? ((shard as string).includes('/') ? 'is not a plain file name' : undefined);
    if (reason !== undefined) throw new Error(`Hugging Face hub: refusing shard file name ${JSON.stringify(shard)} in ${indexName}: it ${reason}`);
    if (!shards.includes(shard as string)) shards.push(shard as string);
  }
  if (shards.length === 0) throw new Error(`Hugging Face hub: ${indexName}: "weight_map" is empty`);
  return shards;
}

/** Lists the repository at ctx.revision and downloads what a model needs (plus `files`) into its snapshot. */
export async function downloadSnapshot(ctx: Context, files: readonly string[]): Promise<string> {
  const { id, revision, repoDir } = ctx;
  const { commit, siblings } = await fetchRepoInfo(ctx);
  const byName = new Map(siblings.map((s) => [s.rfilename, s] as const));
  const snapshotDir = path.join(repoDir, 'snapshots', commit);
  const listing = (): string => {
    const names = siblings.map((s) => s.rfilename);
    return names.slice(0, 30).join(', ') + (names.length > 30 ? `, ... (${names.length} files)` : '');
  };
  const need = (name: string, why: string): Sibling => {
    const sib = byName.get(name);
    if (sib === undefined) throw new Error(`Hugging Face hub: "${id}" at ${commit} has no ${name} (${why}); it has: ${listing() || 'no files'}`);
    return sib;
  };

  const plan: Sibling[] = [need('config.json', 'required')];
  for (const f of TOKENIZER_FILES) {
    const sib = byName.get(f);
    if (sib !== undefined) plan.push(sib);
  }
  for (const f of files) if (!plan.some((s) => s.rfilename === f)) plan.push(need(f, 'asked for in options.files'));
  for (const sib of plan) await fetchFile(ctx, commit, snapshotDir, sib);

  const weights = [WEIGHTS_FILES.safetensors, WEIGHTS_FILES.safetensorsIndex, WEIGHTS_FILES.pytorch, WEIGHTS_FILES.pytorchIndex].find((w) => byName.has(w));
  if (weights === undefined) {
    throw new Error(
      `Hugging Face hub: "${id}" at ${commit} has no PyTorch weights (looked for ${Object.values(WEIGHTS_FILES).join(', ')}); it has: ${listing()}`,
    );
  }
  await fetchFile(ctx, commit, snapshotDir, need(weights, 'weights'));
  if (weights === WEIGHTS_FILES.safetensorsIndex || weights === WEIGHTS_FILES.pytorchIndex) {
    for (const shard of await shardsOf(path.join(snapshotDir, weights), weights)) {
      await fetchFile(ctx, commit, snapshotDir, need(shard, `a shard named by ${weights}`));
    }
  }

  await recordRevision(ctx, revision, commit);
  const done = await cachedSnapshot(repoDir, commit, files);
  if (done === undefined) throw new Error(`Hugging Face hub: "${id}": the downloaded snapshot ${snapshotDir} is incomplete`);
  return snapshotDir;
}
