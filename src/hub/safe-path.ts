// Repository-relative paths (file names, revisions, shard names) checked before they are joined under a cache folder.
import * as path from 'path';

/** Why `name` may not be used as a relative path inside the cache, or undefined when it is safe. */
export function unsafePathReason(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'not a string';
  if (name === '') return 'empty';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.startsWith('/') || path.posix.isAbsolute(name) || path.win32.isAbsolute(name) || /^[A-Za-z]:/.test(name)) {
    return 'is an absolute path';
  }
  const segments = name.split('/');
  if (segments.some((s) => s === '')) return 'has an empty path segment';
  if (segments.some((s) => s === '.' || s === '..')) return 'has a "." or ".." path segment';
  return undefined;
}

/** Joins a checked relative repo path under `dir`, double-checking that it stays inside. */
export function inside(dir: string, relative: string): string {
  const full = path.join(dir, ...relative.split('/'));
  const rel = path.relative(dir, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`refusing path "${relative}": it leaves ${dir}`);
  return full;
}
