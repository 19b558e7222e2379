// The files of a cached snapshot, for models and datasets alike: one repository file downloaded into blobs/ and
// linked into snapshots/{commit}/ as huggingface_hub links it, and refs/{revision} recording the commit.
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../util/atomic-write';
import { downloadKnownBlob, downloadUnknownBlob, type Target } from './blob-download';
import { fileSize } from './cache';
import type { Context } from './context';
import { withLock } from './lock';
import type { Sibling } from './repo-listing';
import { resolveUrl } from './repo-type';
import { inside } from './safe-path';

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

/**
 * Makes snapshots/{commit}/{file} hold `sib` (unless it already does, with its size): the blob downloaded (under a
 * lock, resumable, verified) or found in blobs/, then linked. Returns the file's path in the snapshot.
 */
export async function fetchFile(ctx: Context, commit: string, snapshotDir: string, sib: Sibling): Promise<string> {
  const pointer = inside(snapshotDir, sib.rfilename);
  const present = await fileSize(pointer);
  if (present !== undefined && (sib.size === undefined || present === sib.size)) return pointer;
  const t: Target = { ctx, sib, url: resolveUrl(ctx.endpoint, ctx.repoType, ctx.id, commit, sib.rfilename) };
  const id = sib.sha256 ?? sib.blobId;
  const blob = id !== undefined ? await withLock(path.join(ctx.locksDir, `${id}.node.lock`), () => downloadKnownBlob(t, id)) : await downloadUnknownBlob(t);
  await linkIntoSnapshot(blob, pointer);
  return pointer;
}

/** Writes refs/{revision} (e.g. refs/main, refs/refs/convert/parquet) to hold `commit`, unless the revision is that commit. */
export async function recordRevision(ctx: Context, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const refFile = inside(path.join(ctx.repoDir, 'refs'), revision);
  await fsp.mkdir(path.dirname(refFile), { recursive: true });
  await writeFileAtomic(refFile, commit);
}
