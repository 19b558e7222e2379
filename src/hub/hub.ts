// Models by name: resolves a Hugging Face hub id ("bert-base-uncased", "org/name") to a model directory
// in the same cache that Python's huggingface_hub uses, so Python and Node share one copy, and
// downloads what is missing into it.
//
// The hub API (revision -> commit, the repository's file list with sizes and LFS sha256) goes through
// @huggingface/hub (modelInfo, listFiles), with a token from the `token` option, HF_TOKEN or the token file
// huggingface_hub writes. The downloads stay ours: that library's downloadFileToCacheDir/snapshotDownload
// neither resume (Range), verify sha256, lock across processes, time out, report progress nor work offline,
// and snapshotDownload fetches every file of a repository.
//
// Cache layout (huggingface_hub's):
//   {cache}/models--{org}--{name}/refs/{revision}          file holding a 40-hex commit hash
//   {cache}/models--{org}--{name}/snapshots/{commit}/{file} relative symlink into blobs/ (or a plain copy)
//   {cache}/models--{org}--{name}/blobs/{sha256-or-etag}     the content
//   {cache}/.locks/models--{org}--{name}/...                  lock files (ours end in .node.lock)
import { createHash, randomBytes, type Hash } from 'crypto';
import { createReadStream, readFileSync, promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { HubApiError, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';

import { writeFileAtomic } from '../util/atomic-write';
import { findWeightsFiles, WEIGHTS_FILES } from '../checkpoint/model-files';

export interface DownloadProgress {
  /** Path of the file inside the repository, e.g. "model.safetensors". */
  file: string;
  /** Bytes of this file on disk so far (a resumed download starts at the resumed size). */
  bytes: number;
  /** Size of the file when known. */
  total?: number;
}

export interface ResolveModelOptions {
  /** Branch, tag or 40-hex commit; default "main". */
  revision?: string;
  /** Hub cache folder; default {@link hubCacheDir}(). */
  cacheDir?: string;
  /** Hub URL; default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Never touch the network; default true when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/true/yes/on. */
  offline?: boolean;
  /**
   * Hugging Face access token for private and gated models (sent as `Authorization: Bearer`, never logged).
   * Default: HF_TOKEN (or the legacy HUGGING_FACE_HUB_TOKEN), else the token file huggingface_hub's login writes
   * (HF_TOKEN_PATH, default $HF_HOME/token); none when HF_HUB_DISABLE_IMPLICIT_TOKEN is set. `false`: send none.
   */
  token?: string | false;
  /** Extra repository files that must be present too (fetched if missing), e.g. ["added_tokens.json"]. */
  files?: string[];
  /** HTTP client; default Node's global fetch. */
  fetch?: typeof fetch;
  /** Called as bytes arrive (once per chunk). */
  onProgress?: (e: DownloadProgress) => void;
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'];
const COMMIT_RE = /^[0-9a-f]{40}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const SAFE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAME_SEGMENT_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const LOCK_STALE_MS = 60_000;
const LOCK_TOUCH_MS = 5_000;
const LOCK_POLL_MS = 100;

// ---------------------------------------------------------------------------------------------
// Environment

function envValue(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const v = env[key];
  return v !== undefined && v !== '' ? v : undefined;
}

/** huggingface_hub's `_is_true`: 1 / ON / YES / TRUE, any case. */
function envIsTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.trim().toUpperCase());
}

/** Python's os.path.expanduser for "~" and "~/..." (not "~user"). */
function expandUser(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/') || (path.sep === '\\' && p.startsWith('~\\'))) return path.join(home, p.slice(2));
  return p;
}

/** Python's os.path.expandvars: $NAME and ${NAME} when defined, left as written otherwise. */
function expandVars(p: string, env: NodeJS.ProcessEnv): string {
  return p.replace(/\$(?:(\w+)|\{([^}]*)\})/g, (whole, a: string | undefined, b: string | undefined) => {
    const value = env[(a ?? b) as string];
    return value !== undefined ? value : whole;
  });
}

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

/** "~" and $VARS expanded like Python does, made absolute. */
function expandPath(p: string, env: NodeJS.ProcessEnv): string {
  const home = envValue(env, 'HOME') ?? envValue(env, 'USERPROFILE') ?? os.homedir();
  return path.resolve(expandVars(expandUser(p, home), env));
}

/** huggingface_hub's HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
function hfHomeDir(env: NodeJS.ProcessEnv): string {
  return expandPath(envValue(env, 'HF_HOME') ?? path.join(envValue(env, 'XDG_CACHE_HOME') ?? path.join('~', '.cache'), 'huggingface'), env);
}

/** A token and where it came from (for messages: the token itself is never shown). */
export interface HubToken {
  token: string;
  source: string;
}

/** huggingface_hub's _clean_token: no CR/LF, trimmed; empty is none. */
function cleanToken(raw: string | undefined): string | undefined {
  const t = raw?.replace(/[\r\n]/g, '').trim();
  return t ? t : undefined;
}

/**
 * The token huggingface_hub's get_token() finds: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file
 * (HF_TOKEN_PATH, default $HF_HOME/token, written by `huggingface-cli login` / `hf auth login`). None when
 * HF_HUB_DISABLE_IMPLICIT_TOKEN is true.
 */
export function hubToken(env: NodeJS.ProcessEnv = process.env): HubToken | undefined {
  if (envIsTrue(env.HF_HUB_DISABLE_IMPLICIT_TOKEN)) return undefined;
  for (const key of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const token = cleanToken(env[key]);
    if (token !== undefined) return { token, source: key };
  }
  const explicitPath = envValue(env, 'HF_TOKEN_PATH');
  const file = explicitPath !== undefined ? expandPath(explicitPath, env) : path.join(hfHomeDir(env), 'token');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // no token file: anonymous, as huggingface_hub
  }
  const token = cleanToken(text);
  return token !== undefined ? { token, source: `the token file ${file}` } : undefined;
}

/**
 * Whether `s` is a valid hub model id by huggingface_hub's rules: "name" or "org/name", each part made
 * of letters, digits, "-", "_", "." and starting and ending with a letter, digit or "_"; no "--" or
 * "..", no ".git" ending, the name at most 96 characters.
 */
export function isHubId(s: string): boolean {
  if (typeof s !== 'string') return false;
  const parts = s.split('/');
  if (parts.length > 2) return false;
  if (parts[parts.length - 1].length > 96) return false;
  if (!parts.every((p) => NAME_SEGMENT_RE.test(p))) return false;
  return !s.includes('--') && !s.includes('..') && !s.endsWith('.git');
}

/** "org/name" -> "models--org--name" (huggingface_hub's repo_folder_name). */
function repoFolderName(id: string): string {
  return ['models', ...id.split('/')].join('--');
}

// ---------------------------------------------------------------------------------------------
// Paths and files

/** Why `name` may not be used as a relative path inside the cache, or undefined when it is safe. */
function unsafePathReason(name: unknown): string | undefined {
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
function inside(dir: string, relative: string): string {
  const full = path.join(dir, ...relative.split('/'));
  const rel = path.relative(dir, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`refusing path "${relative}": it leaves ${dir}`);
  return full;
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    const st = await fsp.stat(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : '';
  return causeText && !err.message.includes(causeText) ? `${err.message} (${causeText})` : err.message;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Feeds the first `length` bytes of `file` to `hash`. */
async function hashPrefix(file: string, length: number, hash: Hash): Promise<void> {
  if (length <= 0) return;
  const stream = createReadStream(file, { start: 0, end: length - 1 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

// ---------------------------------------------------------------------------------------------
// Cache look-up

/** The snapshot directory for `revision` when it holds config.json, a weights file (or index + shards) and `files`. */
async function cachedSnapshot(repoDir: string, revision: string, files: readonly string[]): Promise<string | undefined> {
  let commit: string | undefined;
  try {
    const ref = (await fsp.readFile(inside(path.join(repoDir, 'refs'), revision), 'utf8')).trim();
    if (COMMIT_RE.test(ref)) commit = ref;
  } catch {
    /* no ref for this revision */
  }
  if (commit === undefined && COMMIT_RE.test(revision)) commit = revision;
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

// ---------------------------------------------------------------------------------------------
// Locks: one downloader per blob across processes (and concurrent calls in one process).

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

async function withLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
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

// ---------------------------------------------------------------------------------------------
// HTTP

/** Aborts a request when no progress is made for `ms` (while armed). */
class IdleTimeout {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly url: string,
  ) {}

  arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.controller.abort(new Error(`no response from ${this.url} for ${this.ms / 1000}s (HF_HUB_DOWNLOAD_TIMEOUT)`));
    }, this.ms);
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Hub failures that callers may branch on. */
export type HubErrorCode = 'HUB_UNAUTHORIZED' | 'HUB_GATED' | 'HUB_NOT_FOUND' | 'HUB_BAD_TOKEN';

/** An Error from the hub with a `code` (and the HTTP status when there was one). Its message never holds the token. */
export class HubError extends Error {
  constructor(
    message: string,
    readonly code: HubErrorCode,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** The last failed response's status and huggingface's X-Error-Code / X-Error-Message headers. */
interface Failure {
  status: number;
  errorCode?: string;
  errorMessage?: string;
}

interface Context {
  id: string;
  revision: string;
  endpoint: string;
  fetch: typeof fetch;
  /** `fetch` for @huggingface/hub: our user agent, idle timeout and size limit, and a record of failures. */
  apiFetch: typeof fetch;
  lastFailure?: Failure;
  token?: HubToken;
  timeoutMs: number;
  cacheRoot: string;
  repoDir: string;
  blobsDir: string;
  locksDir: string;
  onProgress?: (e: DownloadProgress) => void;
}

const USER_AGENT = `bert-trainer; node/${process.versions.node}`;

async function httpGet(ctx: Context, url: string, headers: Record<string, string>): Promise<{ res: Response; idle: IdleTimeout }> {
  const idle = new IdleTimeout(ctx.timeoutMs, url);
  idle.arm();
  try {
    // fetch drops Authorization when a redirect leaves the hub's origin (to a CDN's signed URL).
    const auth: Record<string, string> = ctx.token !== undefined ? { authorization: `Bearer ${ctx.token.token}` } : {};
    const res = await ctx.fetch(url, {
      headers: { 'user-agent': USER_AGENT, ...headers, ...auth },
      redirect: 'follow',
      signal: idle.controller.signal,
    });
    idle.disarm();
    return { res, idle };
  } catch (err) {
    idle.disarm();
    throw err;
  }
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/** A request to the hub API failed before an HTTP status (refused, reset, timed out). */
class NetworkError extends Error {}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** Wraps `ctx.fetch` for @huggingface/hub's API calls: user agent, idle timeout, JSON size limit, failure headers. */
function apiFetchFor(ctx: Context): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    headers.set('user-agent', USER_AGENT);
    const idle = new IdleTimeout(ctx.timeoutMs, url.split('?')[0]);
    idle.arm();
    let res: Response;
    try {
      res = await ctx.fetch(url, { ...init, headers, redirect: 'follow', signal: idle.controller.signal });
    } catch (err) {
      throw new NetworkError(errorText(err));
    } finally {
      idle.disarm();
    }
    if (!res.ok) {
      ctx.lastFailure = {
        status: res.status,
        errorCode: res.headers.get('x-error-code') ?? undefined,
        errorMessage: res.headers.get('x-error-message') ?? undefined,
      };
    }
    if (res.body === null || NULL_BODY_STATUSES.has(res.status)) return res;
    const reader = res.body.getReader();
    let total = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        idle.arm();
        try {
          const { done, value } = await reader.read();
          idle.disarm();
          if (done) return controller.close();
          total += value.byteLength;
          if (total > MAX_JSON_BYTES) {
            idle.controller.abort();
            await reader.cancel().catch(() => undefined);
            return controller.error(new NetworkError(`${url.split('?')[0]}: response larger than ${MAX_JSON_BYTES} bytes`));
          }
          controller.enqueue(value);
        } catch (err) {
          idle.disarm();
          controller.error(new NetworkError(errorText(err)));
        }
      },
      cancel(reason) {
        idle.disarm();
        return reader.cancel(reason);
      },
    });
    const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(wrapped, 'url', { value: res.url || url });
    return wrapped;
  }) as typeof fetch;
}

// ---------------------------------------------------------------------------------------------
// Errors

function offlineHelp(id: string, revision: string): string {
  const rev = revision === 'main' ? '' : ` --revision ${revision}`;
  return `To get it, run once with network access (not offline, HF_HUB_OFFLINE unset), or download it with Python: huggingface-cli download ${id}${rev}`;
}

function tokenHelp(): string {
  return (
    'Set HF_TOKEN to a Hugging Face access token (https://huggingface.co/settings/tokens) of an account that can read it, ' +
    'or log in with `huggingface-cli login` (the token file), or pass the `token` option'
  );
}

/**
 * The coded Error for a 401 / 403 / 404 from the hub (`file` when it came from downloading that file), else undefined.
 * Names the repository, revision and file; never the token.
 */
function accessError(ctx: Context, failure: Failure, file?: string): HubError | undefined {
  const { status, errorCode } = failure;
  const what = `model "${ctx.id}" (revision "${ctx.revision}")`;
  const during = file !== undefined ? ` while downloading "${file}"` : '';
  const hubSays = failure.errorMessage ? ` The hub says: ${failure.errorMessage}` : '';
  const sent = ctx.token !== undefined ? `a token was sent (from ${ctx.token.source})` : 'no token was sent';
  if (errorCode === 'GatedRepo' || (status === 403 && /\bgated\b|\brestricted\b/i.test(failure.errorMessage ?? ''))) {
    return new HubError(
      `Hugging Face hub: ${what} is gated (HTTP ${status}${during}): ${sent}. Accept the model's terms at ` +
        `${ctx.endpoint}/${ctx.id} while logged in, then use a token of that account: ${tokenHelp()}.${hubSays}`,
      'HUB_GATED',
      status,
    );
  }
  if (status === 401) {
    const why =
      ctx.token !== undefined
        ? `the token (from ${ctx.token.source}) was refused: it may be invalid or expired, or the repository does not exist or is private to an account the token cannot read`
        : 'no token was sent, and the repository is private or gated, or does not exist (the hub answers 401 to anonymous requests for all three)';
    return new HubError(`Hugging Face hub: ${what} needs authentication (HTTP 401${during}): ${why}. ${tokenHelp()}.${hubSays}`, 'HUB_UNAUTHORIZED', 401);
  }
  if (status === 403) {
    return new HubError(
      `Hugging Face hub: access to ${what} was refused (HTTP 403${during}): ${sent}; it lacks the permission to read this repository ` +
        `(a fine-grained token needs read access to it). ${tokenHelp()}.${hubSays}`,
      'HUB_UNAUTHORIZED',
      403,
    );
  }
  if (status === 404) {
    if (file !== undefined || errorCode === 'EntryNotFound') {
      return new HubError(`Hugging Face hub: file "${file ?? '?'}" of ${what} was not found at ${ctx.endpoint} (HTTP 404).${hubSays}`, 'HUB_NOT_FOUND', 404);
    }
    const which =
      errorCode === 'RevisionNotFound'
        ? `the revision "${ctx.revision}" does not exist in "${ctx.id}"`
        : `the id or revision may be wrong, or the repository is private or gated (${sent})`;
    return new HubError(
      `Hugging Face hub: ${what} was not found at ${ctx.endpoint} (HTTP 404): ${which}. "${ctx.id}" is not a local directory either.${hubSays}`,
      'HUB_NOT_FOUND',
      404,
    );
  }
  return undefined;
}

/** An Error for a failed call of @huggingface/hub's API functions (`what`: which call, for the message). */
function apiError(ctx: Context, err: unknown, what: string): Error {
  if (err instanceof HubApiError) {
    const failure: Failure = ctx.lastFailure?.status === err.statusCode ? ctx.lastFailure : { status: err.statusCode };
    return accessError(ctx, failure) ?? new Error(`Hugging Face hub: ${what} for "${ctx.id}" failed: HTTP ${err.statusCode}: ${err.message}`);
  }
  if (err instanceof NetworkError || (err instanceof Error && err.name === 'AbortError')) {
    return new Error(
      `Hugging Face hub: could not reach ${ctx.endpoint} to download "${ctx.id}" (${err.message}), and it is not in the cache at ${ctx.repoDir}. ` +
        offlineHelp(ctx.id, ctx.revision),
    );
  }
  if (err instanceof SyntaxError) return new Error(`Hugging Face hub: ${what} for "${ctx.id}": malformed JSON (${err.message})`);
  return new Error(`Hugging Face hub: ${what} for "${ctx.id}" failed: ${errorText(err)}`);
}

/** Replaces the token wherever it might appear in an error's message (a last guard: no message should hold it). */
function redact<T>(err: T, token: HubToken | undefined): T {
  if (token !== undefined && err instanceof Error && err.message.includes(token.token)) {
    err.message = err.message.split(token.token).join('hf_***');
    if (err.stack !== undefined) err.stack = err.stack.split(token.token).join('hf_***');
  }
  return err;
}

// ---------------------------------------------------------------------------------------------
// Repository listing

interface Sibling {
  rfilename: string;
  size?: number;
  sha256?: string;
  blobId?: string;
}

function optionalSize(value: unknown, what: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${what}: invalid size ${JSON.stringify(value)}`);
  }
  return value;
}

/** The files of a tree listing (listFiles' entries), each path checked before anything is written. */
function parseTree(raw: readonly ListFileEntry[], source: string): Sibling[] {
  const seen = new Set<string>();
  const out: Sibling[] = [];
  for (const entry of raw) {
    const e = (entry ?? {}) as { type?: unknown; path?: unknown; size?: unknown; lfs?: unknown; oid?: unknown };
    if (e.type === 'directory') continue;
    const name = e.path;
    const reason = unsafePathReason(name);
    if (reason !== undefined) {
      throw new Error(`Hugging Face hub: refusing file name ${JSON.stringify(name)} listed by ${source}: it ${reason}`);
    }
    const rfilename = name as string;
    if (seen.has(rfilename)) throw new Error(`Hugging Face hub: ${source} lists "${rfilename}" twice`);
    seen.add(rfilename);
    const sib: Sibling = { rfilename, size: optionalSize(e.size, `${source}: "${rfilename}"`) };
    if (e.lfs !== undefined && e.lfs !== null) {
      const lfs = e.lfs as { oid?: unknown; size?: unknown };
      if (typeof lfs.oid !== 'string' || !SHA256_RE.test(lfs.oid)) {
        throw new Error(`Hugging Face hub: ${source}: "${rfilename}" has an invalid LFS sha256 (lfs.oid) ${JSON.stringify(lfs.oid)}`);
      }
      sib.sha256 = lfs.oid;
      sib.size = optionalSize(lfs.size, `${source}: "${rfilename}" (lfs)`) ?? sib.size;
    } else if (typeof e.oid === 'string' && COMMIT_RE.test(e.oid)) {
      sib.blobId = e.oid; // the git blob id: the ETag the hub serves for a regular file, huggingface_hub's blob name
    }
    out.push(sib);
  }
  return out;
}

/** Resolves the revision to a commit (modelInfo) and lists its files (listFiles), both through @huggingface/hub. */
async function fetchRepoInfo(ctx: Context): Promise<{ commit: string; siblings: Sibling[] }> {
  const auth = ctx.token !== undefined ? { accessToken: ctx.token.token } : {};
  let sha: unknown;
  try {
    const info = await modelInfo({ name: ctx.id, revision: ctx.revision, additionalFields: ['sha'], hubUrl: ctx.endpoint, fetch: ctx.apiFetch, ...auth });
    sha = (info as { sha?: unknown }).sha;
  } catch (err) {
    throw apiError(ctx, err, `the model info (GET ${ctx.endpoint}/api/models/${ctx.id}/revision/${encodeURIComponent(ctx.revision)})`);
  }
  if (typeof sha !== 'string' || !COMMIT_RE.test(sha)) {
    throw new Error(
      `Hugging Face hub: the model info of "${ctx.id}" (revision "${ctx.revision}"): "sha" must be a 40-hex commit hash, got ${JSON.stringify(sha)}`,
    );
  }
  const commit = sha;
  const entries: ListFileEntry[] = [];
  try {
    for await (const entry of listFiles({
      repo: { type: 'model', name: ctx.id },
      revision: commit,
      recursive: true,
      hubUrl: ctx.endpoint,
      fetch: ctx.apiFetch,
      ...auth,
    })) {
      entries.push(entry);
    }
  } catch (err) {
    throw apiError(ctx, err, `the file list (GET ${ctx.endpoint}/api/models/${ctx.id}/tree/${commit})`);
  }
  return { commit, siblings: parseTree(entries, `the file list of "${ctx.id}" at ${commit}`) };
}

// ---------------------------------------------------------------------------------------------
// Downloading one file

interface Target {
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
async function downloadKnownBlob(t: Target, id: string): Promise<string> {
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
async function downloadUnknownBlob(t: Target): Promise<string> {
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

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Resolves `nameOrPath` to a local model directory.
 *
 * - An existing directory is returned as is.
 * - Otherwise it must be a hub id ("name" or "org/name"; else TypeError/RangeError). When the snapshot for
 *   `revision` (default "main") is in the hub cache with config.json and weights, its directory is
 *   returned without any network access.
 * - Otherwise, unless offline, config.json, one weights format (model.safetensors, else its index and
 *   shards, else pytorch_model.bin, else its index and shards), the tokenizer files the repository has
 *   and `files` are downloaded into the cache (huggingface_hub's layout, resumable, verified) and the
 *   snapshot directory is returned. Private and gated models need a token (`token`, HF_TOKEN or the token file);
 *   a refusal is a {@link HubError} with code HUB_UNAUTHORIZED, HUB_GATED or HUB_NOT_FOUND.
 */
export async function resolveModel(nameOrPath: string, options: ResolveModelOptions = {}): Promise<string> {
  if (typeof nameOrPath !== 'string' || nameOrPath === '') {
    throw new TypeError(`resolveModel: expected a local directory or a Hugging Face hub id, got ${JSON.stringify(nameOrPath) ?? String(nameOrPath)}`);
  }
  if (options === null || typeof options !== 'object') throw new TypeError('resolveModel: options must be an object');
  if (await isDirectory(nameOrPath)) return nameOrPath;
  if (!isHubId(nameOrPath)) {
    throw new RangeError(
      `"${nameOrPath}" is neither an existing local directory nor a valid Hugging Face hub id ` +
        `("name" or "org/name": letters, digits, "-", "_", "."; no "--" or ".."; name at most 96 characters)`,
    );
  }
  const id = nameOrPath;
  const revision = options.revision ?? 'main';
  if (typeof revision !== 'string') throw new TypeError(`resolveModel("${id}"): revision must be a string`);
  const revisionProblem = unsafePathReason(revision);
  if (revisionProblem !== undefined) throw new RangeError(`resolveModel("${id}"): invalid revision ${JSON.stringify(revision)}: it ${revisionProblem}`);
  const files = options.files ?? [];
  if (!Array.isArray(files)) throw new TypeError(`resolveModel("${id}"): files must be an array of file names`);
  for (const f of files) {
    const problem = unsafePathReason(f);
    if (problem !== undefined) throw new RangeError(`resolveModel("${id}"): invalid file name ${JSON.stringify(f)}: it ${problem}`);
  }
  if (options.cacheDir !== undefined && (typeof options.cacheDir !== 'string' || options.cacheDir === '')) {
    throw new TypeError(`resolveModel("${id}"): cacheDir must be a non-empty string`);
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError(`resolveModel("${id}"): fetch must be a function`);
  if (options.token !== undefined && options.token !== false && (typeof options.token !== 'string' || options.token.trim() === '')) {
    throw new TypeError(`resolveModel("${id}"): token must be a non-empty string, or false to send none`);
  }

  const env = process.env;
  const cacheRoot = options.cacheDir !== undefined ? path.resolve(options.cacheDir) : hubCacheDir(env);
  const folder = repoFolderName(id);
  const repoDir = path.join(cacheRoot, folder);

  const cached = await cachedSnapshot(repoDir, revision, files);
  if (cached !== undefined) return cached;

  const offline = options.offline ?? (envIsTrue(env.HF_HUB_OFFLINE) || envIsTrue(env.TRANSFORMERS_OFFLINE));
  if (offline) {
    throw new Error(
      `Model "${id}" (revision "${revision}") is not in the Hugging Face cache at ${cacheRoot} (looked in ${repoDir}) ` +
        `and offline mode is on. ${offlineHelp(id, revision)}`,
    );
  }

  const endpointRaw = options.endpoint ?? envValue(env, 'HF_ENDPOINT') ?? DEFAULT_ENDPOINT;
  if (typeof endpointRaw !== 'string' || !/^https?:\/\/[^/]/i.test(endpointRaw)) {
    throw new TypeError(`resolveModel("${id}"): endpoint must be an http(s) URL, got ${JSON.stringify(endpointRaw)}`);
  }
  const token: HubToken | undefined =
    options.token === false ? undefined : typeof options.token === 'string' ? { token: options.token.trim(), source: 'the token option' } : hubToken(env);
  if (token !== undefined && !token.token.startsWith('hf_')) {
    throw new HubError(
      `Hugging Face hub: the access token from ${token.source} does not start with "hf_" as Hugging Face access tokens do; ` +
        'check it (https://huggingface.co/settings/tokens), or unset it for public models',
      'HUB_BAD_TOKEN',
    );
  }
  const timeoutSeconds = Number(envValue(env, 'HF_HUB_DOWNLOAD_TIMEOUT') ?? 10);
  const ctx: Context = {
    id,
    revision,
    endpoint: endpointRaw.replace(/\/+$/, ''),
    fetch: options.fetch ?? fetch,
    timeoutMs: Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds * 1000 : 10_000,
    cacheRoot,
    repoDir,
    blobsDir: path.join(repoDir, 'blobs'),
    locksDir: path.join(cacheRoot, '.locks', folder),
    onProgress: options.onProgress,
    token,
    apiFetch: fetch, // set just below: it needs ctx
  };
  ctx.apiFetch = apiFetchFor(ctx);
  try {
    return await downloadSnapshot(ctx, files);
  } catch (err) {
    throw redact(err, token);
  }
}

/** Lists the repository at ctx.revision and downloads what a model needs (plus `files`) into its snapshot. */
async function downloadSnapshot(ctx: Context, files: readonly string[]): Promise<string> {
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
