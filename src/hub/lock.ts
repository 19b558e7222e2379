// Lock files: one downloader per blob across processes (and concurrent calls in one process); a lock whose
// owner died or stopped touching it is taken over.
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';

const LOCK_STALE_MS = 60_000;
const LOCK_TOUCH_MS = 5_000;
const LOCK_POLL_MS = 100;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

async function lockIsStale(lockFile: string): Promise<boolean> {
  let st;
  try {
    st = await fsp.stat(lockFile);
  } catch {
    return false; // gone: the next try takes it
  }
  if (Date.now() - st.mtimeMs > LOCK_STALE_MS) return true;
  try {
    const owner = JSON.parse(await fsp.readFile(lockFile, 'utf8')) as { pid?: unknown; host?: unknown };
    return owner.host === os.hostname() && typeof owner.pid === 'number' && owner.pid !== process.pid && !pidAlive(owner.pid);
  } catch {
    return false; // being written right now
  }
}

export async function withLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  await fsp.mkdir(path.dirname(lockFile), { recursive: true });
  const token = randomBytes(8).toString('hex');
  for (;;) {
    try {
      await fsp.writeFile(lockFile, JSON.stringify({ pid: process.pid, host: os.hostname(), token }), { flag: 'wx' });
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (await lockIsStale(lockFile)) await fsp.rm(lockFile, { force: true });
      else await sleep(LOCK_POLL_MS);
    }
  }
  const touch = setInterval(() => {
    const now = new Date();
    fsp.utimes(lockFile, now, now).catch(() => undefined);
  }, LOCK_TOUCH_MS);
  touch.unref();
  try {
    return await fn();
  } finally {
    clearInterval(touch);
    try {
      const owner = JSON.parse(await fsp.readFile(lockFile, 'utf8')) as { token?: unknown };
      if (owner.token === token) await fsp.rm(lockFile, { force: true });
    } catch {
      /* already gone */
    }
  }
}
