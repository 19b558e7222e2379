import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';

/**
 * Temporary name used next to `filePath` while it is being written:
 * `.<name>.tmp-<pid>-<random>` in the same folder (so the final rename stays
 * on one filesystem and is atomic).
 */
export function atomicTempPath(filePath: string): string {
  const dir = path.dirname(filePath);
  const base = path.basename(filePath);
  return path.join(dir, `.${base}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `data` to `filePath` so that a crash never leaves a half-written file
 * under the final name: the data goes to a temporary file in the same folder,
 * is flushed to disk, and is then renamed over `filePath`. On failure the
 * temporary file is removed and the previous content of `filePath` (if any)
 * is left untouched. Strings are written as UTF-8.
 */
export async function writeFileAtomic(filePath: string, data: string | Uint8Array): Promise<void> {
  if (typeof filePath !== 'string' || filePath.length === 0) {
    throw new TypeError('writeFileAtomic: path must be a non-empty string');
  }
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new TypeError('writeFileAtomic: data must be a string or a Uint8Array');
  }
  const tmp = atomicTempPath(filePath);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, filePath);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  // Best effort: persist the rename itself (not supported on every platform).
  try {
    const dirHandle = await fsp.open(path.dirname(filePath), 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    /* ignore: directory fsync is unavailable on some platforms (e.g. Windows) */
  }
}
