// Downloading a model's snapshot: config.json, the tokenizer files, one weights format (with its shards) and the
// files asked for, each linked into snapshots/{commit}/, then refs/{revision} written.
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';

import { WEIGHTS_FILES } from '../checkpoint/model-files';
import { writeFileAtomic } from '../util/atomic-write';
import { downloadKnownBlob, downloadUnknownBlob, type Target } from './blob-download';
import { cachedSnapshot, fileSize } from './cache';
import type { Context } from './context';
import { withLock } from './lock';
import { fetchRepoInfo, type Sibling } from './repo-listing';
import { inside, unsafePathReason } from './safe-path';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'];

/** Points snapshots/{commit}/{file} at `blob`: a relative symlink like huggingface_hub, or a copy when symlinks fail. */
async function linkIntoSnapshot(blob: string, pointer: string): Promise<void> {
  await fsp.mkdir(path.dirname(pointer), { recursive: true });
  const temp = `${pointer}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    try {
      await fsp.symlink(path.relative(path.dirname(pointer), blob), temp);
    } catch {
      await fsp.copyFile(blob, temp);
    }
    await fsp.rename(temp, pointer);
  } catch (err) {
    await fsp.rm(temp, { force: true });
    throw err;
  }
}

async function fetchFile(ctx: Context, commit: string, snapshotDir: string, sib: Sibling): Promise<void> {
  const pointer = inside(snapshotDir, sib.rfilename);
  const present = await fileSize(pointer);
  if (present !== undefined && (sib.size === undefined || present === sib.size)) return;
  const fileUrl = sib.rfilename.split('/').map(encodeURIComponent).join('/');
  const t: Target = { ctx, sib, url: `${ctx.endpoint}/${ctx.id}/resolve/${commit}/${fileUrl}` };
  const id = sib.sha256 ?? sib.blobId;
  const blob = id !== undefined ? await withLock(path.join(ctx.locksDir, `${id}.node.lock`), () => downloadKnownBlob(t, id)) : await downloadUnknownBlob(t);
  await linkIntoSnapshot(blob, pointer);
}

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

  if (revision !== commit) {
    const refFile = inside(path.join(repoDir, 'refs'), revision);
    await fsp.mkdir(path.dirname(refFile), { recursive: true });
    await writeFileAtomic(refFile, commit);
  }
  const done = await cachedSnapshot(repoDir, commit, files);
  if (done === undefined) throw new Error(`Hugging Face hub: "${id}": the downloaded snapshot ${snapshotDir} is incomplete`);
  return snapshotDir;
}
