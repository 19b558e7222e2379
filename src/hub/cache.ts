// The hub cache on disk, shared with Python's huggingface_hub: where it is, a repository's folder in it (models and
// datasets alike), the commit a revision was last resolved to, and the look-up of a complete model snapshot.
import { promises as fsp } from 'fs';
import * as path from 'path';

import { findWeightsFiles } from '../checkpoint/model-files';
import { envValue, expandPath, hfHomeDir } from './environment';
import type { RepoType } from './repo-type';
import { inside } from './safe-path';

// Cache layout (huggingface_hub's; datasets--{org}--{name} alike):
//   {cache}/models--{org}--{name}/refs/{revision}          file holding a 40-hex commit hash (refs/convert/parquet: nested)
//   {cache}/models--{org}--{name}/snapshots/{commit}/{file} relative symlink into blobs/ (or a plain copy)
//   {cache}/models--{org}--{name}/blobs/{sha256-or-etag}     the content
//   {cache}/.locks/models--{org}--{name}/...                  lock files (ours end in .node.lock)

/** A 40-hex commit hash (what refs/{revision} holds). */
export const COMMIT_RE = /^[0-9a-f]{40}$/;

/**
 * The hub cache folder huggingface_hub uses: HF_HUB_CACHE (or the legacy HUGGINGFACE_HUB_CACHE), else
 * $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. "~" and $VARS are
 * expanded like Python does; empty variables count as unset. Always an absolute path.
 */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = envValue(env, 'HF_HUB_CACHE') ?? envValue(env, 'HUGGINGFACE_HUB_CACHE');
  if (explicit !== undefined) return expandPath(explicit, env);
  return path.join(hfHomeDir(env), 'hub');
}

/** "org/name" -> "models--org--name" or "datasets--org--name" (huggingface_hub's repo_folder_name). */
export function repoFolderName(id: string, type: RepoType = 'model'): string {
  return [`${type}s`, ...id.split('/')].join('--');
}

/** The size of a regular file, undefined when it is missing or not a file. */
export async function fileSize(file: string): Promise<number | undefined> {
  try {
    const st = await fsp.stat(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** The commit `revision` was resolved to when last downloaded (refs/{revision}; a commit is its own), else undefined. */
export async function cachedCommit(repoDir: string, revision: string): Promise<string | undefined> {
  try {
    const ref = (await fsp.readFile(inside(path.join(repoDir, 'refs'), revision), 'utf8')).trim();
    if (COMMIT_RE.test(ref)) return ref;
  } catch {
    /* no ref for this revision */
  }
  return COMMIT_RE.test(revision) ? revision : undefined;
}

/** The snapshot directory for `revision` when it holds config.json, a weights file (or index + shards) and `files`. */
export async function cachedSnapshot(repoDir: string, revision: string, files: readonly string[]): Promise<string | undefined> {
  const commit = await cachedCommit(repoDir, revision);
  if (commit === undefined) return undefined;
  const snapshot = path.join(repoDir, 'snapshots', commit);
  if ((await fileSize(path.join(snapshot, 'config.json'))) === undefined) return undefined;
  try {
    await findWeightsFiles(snapshot);
  } catch {
    return undefined;
  }
  for (const f of files) if ((await fileSize(inside(snapshot, f))) === undefined) return undefined;
  return snapshot;
}
