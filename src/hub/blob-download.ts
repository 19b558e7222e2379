// Downloading one file into the cache's blobs/: resumed with Range from a .incomplete file, with an idle timeout,
// its size and sha256 checked before the rename, progress reported.
import { createHash, randomBytes, type Hash } from 'crypto';
import { createReadStream, promises as fsp } from 'fs';
import * as path from 'path';

import { fileSize } from './cache';
import type { Context, Failure } from './context';
import { accessError } from './error-messages';
import { discard, errorText, httpGet, IdleTimeout } from './http';
import { withLock } from './lock';
import type { Sibling } from './repo-listing';

// The downloads are ours, not @huggingface/hub's: that library's downloadFileToCacheDir/snapshotDownload
// neither resume (Range), verify sha256, lock across processes, time out, report progress nor work offline,
// and snapshotDownload fetches every file of a repository.

const SAFE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface Target {
  ctx: Context;
  sib: Sibling;
  url: string;
}

/** The Error for a download answered with a status that is not 200/206 (coded for 401, 403, 404). */
function downloadHttpError(t: Target, res: Response): Error {
  const failure: Failure = {
    status: res.status,
    errorCode: res.headers.get('x-error-code') ?? undefined,
    errorMessage: res.headers.get('x-error-message') ?? undefined,
  };
  return (
    accessError(t.ctx, failure, t.sib.rfilename) ??
    new Error(`Hugging Face hub: download of "${t.sib.rfilename}" from ${t.url} failed: HTTP ${res.status} ${res.statusText}`)
  );
}

/** Feeds the first `length` bytes of `file` to `hash`. */
async function hashPrefix(file: string, length: number, hash: Hash): Promise<void> {
  if (length <= 0) return;
  const stream = createReadStream(file, { start: 0, end: length - 1 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

/**
 * Streams `res` into `file` starting at byte `offset`, hashing as it goes. Returns the final size.
 * On a network error the partial file is kept when it is still a valid prefix (not longer than the
 * expected size); on an overrun it is deleted.
 */
async function writeBody(t: Target, res: Response, idle: IdleTimeout, file: string, offset: number, hash: Hash): Promise<number> {
  const { sib } = t;
  const expected = sib.size;
  const handle = await fsp.open(file, offset > 0 ? 'r+' : 'w');
  let position = offset;
  let failure: Error | undefined;
  let completed = false;
  const reader = res.body?.getReader();
  try {
    if (offset > 0) await handle.truncate(offset);
    t.ctx.onProgress?.({ file: sib.rfilename, bytes: position, total: expected });
    if (reader) {
      for (;;) {
        idle.arm();
        let chunk: { done: boolean; value?: Uint8Array };
        try {
          chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
        } catch (err) {
          failure = new Error(
            `Hugging Face hub: download of "${sib.rfilename}" from ${t.url} was interrupted after ${position} of ` +
              `${expected ?? 'unknown'} bytes: ${errorText(err)}`,
          );
          break;
        } finally {
          idle.disarm();
        }
        if (chunk.done || chunk.value === undefined) break;
        const data = chunk.value;
        if (expected !== undefined && position + data.byteLength > expected) {
          failure = new Error(
            `Hugging Face hub: "${sib.rfilename}" from ${t.url}: expected ${expected} bytes, but the server sent more ` +
              `(at least ${position + data.byteLength}); the download was deleted`,
          );
          position = position + data.byteLength;
          break;
        }
        hash.update(data);
        let written = 0;
        while (written < data.byteLength) {
          const { bytesWritten } = await handle.write(data, written, data.byteLength - written, position + written);
          written += bytesWritten;
        }
        position += data.byteLength;
        t.ctx.onProgress?.({ file: sib.rfilename, bytes: position, total: expected });
      }
    }
    if (failure === undefined) {
      await handle.sync();
      completed = true;
    }
  } finally {
    if (!completed && reader) {
      // Interrupted, overrun, or a disk error: stop the transfer (the partial file stays for resume).
      idle.disarm();
      idle.controller.abort();
      await reader.cancel().catch(() => undefined);
    }
    await handle.close();
  }
  if (failure !== undefined) {
    if (expected !== undefined && position > expected) await fsp.rm(file, { force: true });
    throw failure;
  }
  return position;
}

/** Checks the size and hash of a fully written `.incomplete` file, then renames it to `blob`. */
async function finalize(t: Target, incomplete: string, blob: string, size: number, digest: string): Promise<void> {
  const { sib } = t;
  if (sib.size !== undefined && size !== sib.size) {
    // Shorter than stated: a valid prefix, kept for the next call to resume.
    throw new Error(
      `Hugging Face hub: download of "${sib.rfilename}" from ${t.url} is incomplete: expected ${sib.size} bytes, got ${size}; ` +
        `the partial file ${incomplete} is kept and the next call resumes it`,
    );
  }
  if (sib.sha256 !== undefined && digest !== sib.sha256) {
    await fsp.rm(incomplete, { force: true });
    throw new Error(`Hugging Face hub: "${sib.rfilename}" from ${t.url} is corrupt: sha256 expected ${sib.sha256}, got ${digest}; the download was deleted`);
  }
  const onDisk = await fileSize(incomplete);
  if (onDisk !== size) {
    await fsp.rm(incomplete, { force: true });
    throw new Error(`Hugging Face hub: "${sib.rfilename}": ${incomplete} holds ${onDisk ?? 'no'} bytes, expected ${size} (written concurrently?); deleted`);
  }
  await fsp.rename(incomplete, blob);
}

/** Downloads into blobs/{id} (id known beforehand), resuming from blobs/{id}.incomplete. Caller holds the lock. */
export async function downloadKnownBlob(t: Target, id: string): Promise<string> {
  const { ctx, sib } = t;
  const blob = path.join(ctx.blobsDir, id);
  const existing = await fileSize(blob);
  if (existing !== undefined && (sib.size === undefined || existing === sib.size)) return blob;
  const incomplete = `${blob}.incomplete`;
  await fsp.mkdir(ctx.blobsDir, { recursive: true });

  for (let attempt = 0; ; attempt++) {
    let offset = (await fileSize(incomplete)) ?? 0;
    if (sib.size !== undefined && offset > sib.size) {
      await fsp.rm(incomplete, { force: true });
      offset = 0;
    }
    let hash = createHash('sha256');
    await hashPrefix(incomplete, offset, hash);
    if (sib.size !== undefined && offset === sib.size && offset > 0) {
      // Fully downloaded by an earlier run that stopped before the rename.
      await finalize(t, incomplete, blob, offset, hash.digest('hex'));
      return blob;
    }
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let res: Response;
    let idle: IdleTimeout;
    try {
      ({ res, idle } = await httpGet(ctx, t.url, headers));
    } catch (err) {
      throw new Error(`Hugging Face hub: download of "${sib.rfilename}" from ${t.url} failed: ${errorText(err)}`);
    }
    if (offset > 0 && res.status === 416 && attempt === 0) {
      // The server cannot serve our range: the partial file is not a prefix of this file. Start over.
      await discard(res);
      await fsp.rm(incomplete, { force: true });
      continue;
    }
    if (!res.ok) {
      await discard(res);
      throw downloadHttpError(t, res);
    }
    if (res.status === 206) {
      const start = /^bytes\s+(\d+)-/.exec(res.headers.get('content-range') ?? '');
      if (start === null || Number(start[1]) !== offset) {
        await discard(res);
        if (attempt > 0) {
          throw new Error(`Hugging Face hub: "${sib.rfilename}": asked for bytes ${offset}- but got Content-Range ${res.headers.get('content-range')}`);
        }
        await fsp.rm(incomplete, { force: true });
        continue;
      }
    } else if (offset > 0) {
      // 200: the server ignored the Range header and sends the whole file; restart from byte 0.
      offset = 0;
      hash = createHash('sha256');
    }
    const size = await writeBody(t, res, idle, incomplete, offset, hash);
    await finalize(t, incomplete, blob, size, hash.digest('hex'));
    return blob;
  }
}

/** Downloads a file whose blob id is only known from the response (its ETag, or the sha256 of its content). */
export async function downloadUnknownBlob(t: Target): Promise<string> {
  const { ctx, sib } = t;
  let res: Response;
  let idle: IdleTimeout;
  try {
    ({ res, idle } = await httpGet(ctx, t.url, { 'accept-encoding': 'identity' }));
  } catch (err) {
    throw new Error(`Hugging Face hub: download of "${sib.rfilename}" from ${t.url} failed: ${errorText(err)}`);
  }
  if (!res.ok || res.status === 206) {
    await discard(res);
    throw downloadHttpError(t, res);
  }
  await fsp.mkdir(ctx.blobsDir, { recursive: true });
  const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '').trim().replace(/^W\//, '').replace(/"/g, '');
  if (SAFE_ID_RE.test(etag) && !etag.includes('..')) {
    const blob = path.join(ctx.blobsDir, etag);
    return withLock(path.join(ctx.locksDir, `${etag}.node.lock`), async () => {
      const existing = await fileSize(blob);
      if (existing !== undefined && (sib.size === undefined || existing === sib.size)) {
        await discard(res);
        return blob;
      }
      const incomplete = `${blob}.incomplete`;
      const hash = createHash('sha256');
      const size = await writeBody(t, res, idle, incomplete, 0, hash);
      await finalize(t, incomplete, blob, size, hash.digest('hex'));
      return blob;
    });
  }
  // No usable ETag: name the blob after the sha256 of its content.
  const temp = path.join(ctx.blobsDir, `tmp-${process.pid}-${randomBytes(6).toString('hex')}.incomplete`);
  try {
    const hash = createHash('sha256');
    const size = await writeBody(t, res, idle, temp, 0, hash);
    const digest = hash.digest('hex');
    const blob = path.join(ctx.blobsDir, digest);
    await finalize(t, temp, blob, size, digest);
    return blob;
  } finally {
    await fsp.rm(temp, { force: true });
  }
}
