// src/hub/ (resolveModel) against a local fake of the Hugging Face hub (127.0.0.1, port 0) serving its layout from memory:
// GET /api/models/{repo}/revision/{rev} (model info), GET /api/models/{repo}/tree/{commit} (file list, paginated
// with Link headers) and GET /{repo}/resolve/{commit}/{file} (ETag, Range), private and gated repositories checking
// `Authorization: Bearer` as the hub does (401/403 with X-Error-Code), and faults.
import { createHash, randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';

import { hubCacheDir } from '../src/hub/cache';
import { HubError } from '../src/hub/hub-error';
import { isHubId, resolveModel } from '../src/hub/resolve-model';
import { hubToken } from '../src/hub/token';
import { findWeightsFiles } from '../src/checkpoint/model-files';

// ---------------------------------------------------------------------------------------------
// Fake hub

interface FileSpec {
  data: Buffer;
  lfs: boolean;
}
interface Commit {
  files: Record<string, FileSpec>;
  /** Raw tree entries appended to the listing (for malicious names). */
  extraEntries?: unknown[];
  /** Overrides for listing fields, by file name. */
  listed?: Record<string, Record<string, unknown>>;
  /** Served instead of the real commit hash in the API answer. */
  shaOverride?: string;
}
interface Repo {
  refs: Record<string, string>;
  commits: Record<string, Commit>;
  /** Private (only `token` may read it) or gated (anonymous: 401; a token that has not accepted the terms: 403). */
  access?: { token: string; gated?: boolean; accepted?: boolean };
}
interface Seen {
  method: string;
  path: string;
  range?: string;
  auth?: string;
  status?: number;
}
interface Faults {
  /** Sends only the first `bytes` bytes of `file` (with the full Content-Length), then cuts the connection; `times` times. */
  cut?: { file: string; bytes: number; times: number };
  /** Sends part of `file`, then stalls without closing. */
  stall?: { file: string; bytes: number };
  ignoreRange?: boolean;
  /** Serves these files with one byte flipped (same size). */
  corrupt?: Set<string>;
  /** Serves these files with no ETag header. */
  noEtag?: Set<string>;
  /** Serves a different body (any size) for these files. */
  body?: Record<string, Buffer>;
  /** Tree listings in pages of this many entries (Link: rel="next"). */
  pageSize?: number;
  /** Redirects downloads of these files to `redirectTo` (another origin, as the hub redirects to its CDN). */
  redirect?: Set<string>;
  /** Answers downloads of these files with this status (and X-Error-Code when given). */
  fileStatus?: Record<string, { status: number; errorCode?: string }>;
}

const MAX_REQUESTS = 2000;
const repos = new Map<string, Repo>();
let seen: Seen[] = [];
let faults: Faults = {};
let served = 0;
let server: http.Server;
let endpoint: string;
let cdn: http.Server;
let cdnSeen: Seen[] = [];
let redirectTo: string;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const newCommit = (): string => randomBytes(20).toString('hex');

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  served++;
  const urlPath = (req.url ?? '/').split('?')[0];
  const entry: Seen = { method: req.method ?? '', path: urlPath, range: req.headers.range, auth: req.headers.authorization };
  seen.push(entry);
  const reply = (status: number, body: string | Buffer = '', headers: http.OutgoingHttpHeaders = {}): void => {
    entry.status = status;
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const refuse = (status: number, errorCode: string, message: string): void =>
    reply(status, JSON.stringify({ error: message }), { 'content-type': 'application/json', 'x-error-code': errorCode, 'x-error-message': message });
  /** The hub's answers for a repository the request may not read; false when it may. */
  const denied = (id: string, repo: Repo | undefined): boolean => {
    const access = repo?.access;
    if (!access) return false;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (access.gated) {
      if (token === undefined)
        refuse(401, 'GatedRepo', `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      else if (token !== access.token) refuse(401, 'RepoNotFound', 'Invalid credentials in Authorization header');
      else if (!access.accepted)
        refuse(403, 'GatedRepo', `Access to model ${id} is restricted and you are not in the authorized list. Visit ${endpoint}/${id} to ask for access.`);
      else return false;
      return true;
    }
    if (token === access.token) return false;
    refuse(401, 'RepoNotFound', 'Repository not found');
    return true;
  };
  if (served > MAX_REQUESTS) return reply(503, 'too many requests for one test run');

  const api = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(urlPath);
  if (api) {
    const repo = repos.get(api[1]);
    if (denied(api[1], repo)) return;
    const rev = decodeURIComponent(api[2]);
    const sha = repo?.refs[rev] ?? (repo?.commits[rev] ? rev : undefined);
    if (!repo) return refuse(404, 'RepoNotFound', 'Repository not found');
    if (!sha) return refuse(404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    const commit = repo.commits[sha];
    return reply(200, JSON.stringify({ _id: 'x', id: api[1], sha: commit.shaOverride ?? sha, private: !!repo.access }), { 'content-type': 'application/json' });
  }

  const tree = /^\/api\/models\/(.+?)\/tree\/([^/]+)$/.exec(urlPath);
  if (tree) {
    const repo = repos.get(tree[1]);
    if (denied(tree[1], repo)) return;
    const commit = repo?.commits[decodeURIComponent(tree[2])];
    if (!repo || !commit) return refuse(404, 'RevisionNotFound', 'Revision not found');
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const dirs = new Set<string>();
    const entries: unknown[] = [];
    for (const [name, f] of Object.entries(commit.files)) {
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (!dirs.has(dir)) entries.push({ type: 'directory', oid: gitSha1(Buffer.from(dir)), size: 0, path: dir });
        dirs.add(dir);
      }
      const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.data)}\nsize ${f.data.length}\n`);
      entries.push({
        type: 'file',
        oid: gitSha1(f.lfs ? pointer : f.data),
        size: f.data.length,
        path: name,
        ...(f.lfs ? { lfs: { oid: sha256(f.data), size: f.data.length, pointerSize: pointer.length } } : {}),
        ...(commit.listed?.[name] ?? {}),
      });
    }
    entries.push(...(commit.extraEntries ?? []));
    const start = Number(query.get('cursor') ?? 0);
    const size = faults.pageSize ?? entries.length;
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
    if (start + size < entries.length) {
      query.set('cursor', String(start + size));
      headers.link = `<${endpoint}${urlPath}?${query.toString()}>; rel="next"`;
    }
    return reply(200, JSON.stringify(entries.slice(start, start + size)), headers);
  }

  const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(urlPath);
  if (resolve) {
    const repo = repos.get(resolve[1]);
    if (denied(resolve[1], repo)) return;
    const commit = repo?.commits[decodeURIComponent(resolve[2])];
    const name = resolve[3].split('/').map(decodeURIComponent).join('/');
    const spec = commit?.files[name];
    if (!spec) return refuse(404, 'EntryNotFound', 'Entry not found');
    const forced = faults.fileStatus?.[name];
    if (forced) return forced.errorCode ? refuse(forced.status, forced.errorCode, 'forced') : reply(forced.status, 'forced');
    if (faults.redirect?.has(name)) return reply(302, '', { location: `${redirectTo}/blob/${sha256(spec.data)}?name=${encodeURIComponent(name)}` });
    let data = faults.body?.[name] ?? spec.data;
    if (faults.corrupt?.has(name)) {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0xff;
    }
    const headers: http.OutgoingHttpHeaders = {};
    if (!faults.noEtag?.has(name)) headers.etag = spec.lfs ? `"${sha256(spec.data)}"` : `W/"${gitSha1(spec.data)}"`;
    let status = 200;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !faults.ignoreRange) {
      start = Number(range[1]);
      if (start >= data.length) return reply(416, '', { 'content-range': `bytes */${data.length}` });
      status = 206;
      headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    }
    const body = data.subarray(start);
    const cut = faults.cut;
    if (cut && cut.file === name && cut.times > 0) {
      cut.times--;
      entry.status = status;
      res.writeHead(status, { ...headers, 'content-length': body.length });
      res.write(body.subarray(0, cut.bytes), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    if (faults.stall && faults.stall.file === name) {
      entry.status = status;
      res.writeHead(status, { ...headers, 'content-length': body.length });
      res.write(body.subarray(0, faults.stall.bytes));
      return; // never ends; closed by closeAllConnections()
    }
    return reply(status, body, headers);
  }
  reply(404, 'not found');
}

function addRepo(id: string, files: Record<string, Buffer | string>, refs: string[] = ['main'], extra: Omit<Commit, 'files'> = {}): string {
  const sha = newCommit();
  const commit: Commit = { files: {}, ...extra };
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    commit.files[name] = { data, lfs: /\.(safetensors|bin)$/.test(name) };
    cdnBlobs.set(sha256(data), data);
  }
  const repo = repos.get(id) ?? { refs: {}, commits: {} };
  repo.commits[sha] = commit;
  for (const r of refs) repo.refs[r] = sha;
  repos.set(id, repo);
  return sha;
}

/** What the CDN serves: content by sha256. */
const cdnBlobs = new Map<string, Buffer>();

function handleCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
  const urlPath = (req.url ?? '/').split('?')[0];
  const entry: Seen = { method: req.method ?? '', path: urlPath, range: req.headers.range, auth: req.headers.authorization };
  cdnSeen.push(entry);
  const data = cdnBlobs.get(urlPath.replace(/^\/blob\//, ''));
  entry.status = data ? 200 : 404;
  res.writeHead(entry.status, { 'content-length': data?.length ?? 0 });
  res.end(data ?? '');
}

const fileRequests = (name: string): Seen[] => seen.filter((s) => s.path.endsWith(`/${name}`) && s.path.includes('/resolve/'));

// ---------------------------------------------------------------------------------------------
// Fixtures

const CONFIG = JSON.stringify({ model_type: 'bert', hidden_size: 8, num_labels: 2 });
const VOCAB = '[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n';
const TOKCFG = JSON.stringify({ do_lower_case: true });
const WEIGHTS = randomBytes(300_000);
const PT_WEIGHTS = randomBytes(1000);

let root: string;
let counter = 0;
const savedEnv: Record<string, string | undefined> = {};
const ENV_KEYS = [
  'HF_HUB_CACHE',
  'HUGGINGFACE_HUB_CACHE',
  'HF_HOME',
  'XDG_CACHE_HOME',
  'HF_HUB_OFFLINE',
  'TRANSFORMERS_OFFLINE',
  'HF_ENDPOINT',
  'HF_HUB_DOWNLOAD_TIMEOUT',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'HF_TOKEN_PATH',
  'HF_HUB_DISABLE_IMPLICIT_TOKEN',
];

async function freshCache(): Promise<string> {
  const dir = path.join(root, `cache-${counter++}`);
  await fsp.mkdir(dir, { recursive: true });
  return dir;
}

/** Every path under `dir` (relative), sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      out.push(path.relative(dir, full));
      if (e.isDirectory()) await walk(full);
    }
  }
  await walk(dir);
  return out.sort();
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

const failingFetch = (() => {
  throw new Error('network must not be used');
}) as unknown as typeof fetch;

beforeAll(async () => {
  for (const k of ENV_KEYS) {
    savedEnv[k] = process.env[k];
    delete process.env[k];
  }
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'bert-trainer-hub-'));
  // Safety net: nothing in this file may reach the real home cache or read the real token file.
  process.env.HF_HUB_CACHE = path.join(root, 'default-cache');
  process.env.HF_TOKEN_PATH = path.join(root, 'no-token-file');
  server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  setTimeout(() => server.close(), 10 * 60_000).unref();
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cdn = http.createServer(handleCdn);
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  cdn.unref();
  redirectTo = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`; // another port: another origin
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  cdn.closeAllConnections();
  await new Promise<void>((resolve) => cdn.close(() => resolve()));
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await fsp.rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  cdnSeen = [];
  faults = {};
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.HF_HUB_CACHE = path.join(root, 'default-cache');
  process.env.HF_TOKEN_PATH = path.join(root, 'no-token-file');
});

// ---------------------------------------------------------------------------------------------

describe('hubCacheDir', () => {
  const home = path.resolve('/home/u');
  it('follows huggingface_hub precedence', () => {
    expect(hubCacheDir({ HOME: home })).toBe(path.join(home, '.cache', 'huggingface', 'hub'));
    expect(hubCacheDir({ HOME: home, XDG_CACHE_HOME: path.resolve('/x') })).toBe(path.resolve('/x/huggingface/hub'));
    expect(hubCacheDir({ HOME: home, XDG_CACHE_HOME: '/x', HF_HOME: path.resolve('/h') })).toBe(path.resolve('/h/hub'));
    expect(hubCacheDir({ HOME: home, HF_HOME: '/h', HUGGINGFACE_HUB_CACHE: path.resolve('/legacy') })).toBe(path.resolve('/legacy'));
    expect(hubCacheDir({ HOME: home, HF_HOME: '/h', HUGGINGFACE_HUB_CACHE: '/legacy', HF_HUB_CACHE: path.resolve('/c') })).toBe(path.resolve('/c'));
  });
  it('expands ~ and $VARS, and treats empty variables as unset', () => {
    expect(hubCacheDir({ HOME: home, HF_HOME: '~/hf' })).toBe(path.join(home, 'hf', 'hub'));
    expect(hubCacheDir({ HOME: home, BASE: path.resolve('/b'), HF_HUB_CACHE: '$BASE/c' })).toBe(path.resolve('/b/c'));
    expect(hubCacheDir({ HOME: home, HF_HUB_CACHE: '', HF_HOME: '' })).toBe(path.join(home, '.cache', 'huggingface', 'hub'));
  });
  it('reads process.env by default', () => {
    expect(hubCacheDir()).toBe(path.join(root, 'default-cache'));
  });
});

describe('isHubId', () => {
  it.each(['bert-base-uncased', 'google-bert/bert-base-uncased', 'a', 'Org_1/m.v2', 'x'.repeat(96), '_a_'])('accepts %p', (id) => {
    expect(isHubId(id)).toBe(true);
  });
  it.each(['', 'a--b', 'a/b--c', 'a..b', 'a/b/c', '/a', 'a/', '-a', 'a-', '.a', 'a.', 'x'.repeat(97), 'a b', 'a.git', '../a', 'a\\b', 'é'])(
    'rejects %p',
    (id) => {
      expect(isHubId(id)).toBe(false);
    },
  );
});

describe('resolveModel: local paths and ids', () => {
  it('returns an existing local directory as is, without network', async () => {
    const dir = await freshCache();
    await expect(resolveModel(dir, { fetch: failingFetch })).resolves.toBe(dir);
    const rel = path.relative(process.cwd(), dir);
    await expect(resolveModel(rel, { fetch: failingFetch })).resolves.toBe(rel);
    expect(seen).toHaveLength(0);
  });

  it('rejects what is neither a directory nor a hub id, naming it', async () => {
    await expect(resolveModel('./no/such/model', { fetch: failingFetch })).rejects.toThrow(RangeError);
    await expect(resolveModel('./no/such/model', { fetch: failingFetch })).rejects.toThrow('./no/such/model');
    await expect(resolveModel('org/bad--name', { fetch: failingFetch })).rejects.toThrow(/org\/bad--name/);
    await expect(resolveModel('x'.repeat(97), { fetch: failingFetch })).rejects.toThrow(RangeError);
    await expect(resolveModel(42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(resolveModel('')).rejects.toThrow(TypeError);
    await expect(resolveModel('org/m', { revision: '../x', fetch: failingFetch })).rejects.toThrow(RangeError);
    await expect(resolveModel('org/m', { files: ['../x'], fetch: failingFetch })).rejects.toThrow(/"\.\.\/x"/);
    expect(seen).toHaveLength(0);
  });
});

describe('resolveModel: downloads', () => {
  it('downloads config, tokenizer files and one weights format into the huggingface_hub layout', async () => {
    const cacheDir = await freshCache();
    const sha = addRepo('org/tiny', {
      'config.json': CONFIG,
      'vocab.txt': VOCAB,
      'tokenizer_config.json': TOKCFG,
      'model.safetensors': WEIGHTS,
      'pytorch_model.bin': PT_WEIGHTS,
      'README.md': '# tiny',
      'tf_model.h5': 'tf',
    });
    const progress: Array<{ file: string; bytes: number; total?: number }> = [];
    const dir = await resolveModel('org/tiny', { cacheDir, endpoint, onProgress: (e) => progress.push(e) });

    const repoDir = path.join(cacheDir, 'models--org--tiny');
    expect(dir).toBe(path.join(repoDir, 'snapshots', sha));
    expect(await fsp.readFile(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(sha);
    expect(await fsp.readFile(path.join(dir, 'config.json'), 'utf8')).toBe(CONFIG);
    expect(await fsp.readFile(path.join(dir, 'vocab.txt'), 'utf8')).toBe(VOCAB);
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(await findWeightsFiles(dir)).toEqual([path.join(dir, 'model.safetensors')]);

    // Relative symlinks into blobs/, named by the LFS sha256 or the (unquoted, non-weak) ETag.
    expect(await fsp.readlink(path.join(dir, 'model.safetensors'))).toBe(path.join('..', '..', 'blobs', sha256(WEIGHTS)));
    expect(await fsp.readlink(path.join(dir, 'config.json'))).toBe(path.join('..', '..', 'blobs', gitSha1(Buffer.from(CONFIG))));
    const blobs = (await fsp.readdir(path.join(repoDir, 'blobs'))).sort();
    expect(blobs).toEqual([sha256(WEIGHTS), gitSha1(Buffer.from(CONFIG)), gitSha1(Buffer.from(VOCAB)), gitSha1(Buffer.from(TOKCFG))].sort());

    // Only what is needed was fetched: no pytorch_model.bin, README or TF weights.
    const got = seen.filter((s) => s.path.includes('/resolve/')).map((s) => path.posix.basename(s.path));
    expect(got.sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']);
    expect(seen[0].path).toBe('/api/models/org/tiny/revision/main');
    const last = progress.filter((p) => p.file === 'model.safetensors').pop();
    expect(last).toEqual({ file: 'model.safetensors', bytes: WEIGHTS.length, total: WEIGHTS.length });

    // Cached now: online or offline, no request at all.
    seen = [];
    await expect(resolveModel('org/tiny', { cacheDir, endpoint })).resolves.toBe(dir);
    await expect(resolveModel('org/tiny', { cacheDir, offline: true, fetch: failingFetch })).resolves.toBe(dir);
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveModel('org/tiny', { cacheDir, fetch: failingFetch })).resolves.toBe(dir);
    expect(seen).toHaveLength(0);
  });

  it('falls back to pytorch_model.bin, and to sharded safetensors', async () => {
    const cacheDir = await freshCache();
    addRepo('org/pt', { 'config.json': CONFIG, 'pytorch_model.bin': PT_WEIGHTS });
    const ptDir = await resolveModel('org/pt', { cacheDir, endpoint });
    expect(await findWeightsFiles(ptDir)).toEqual([path.join(ptDir, 'pytorch_model.bin')]);
    seen = [];

    const a = randomBytes(5000);
    const b = randomBytes(7000);
    const index = JSON.stringify({
      metadata: {},
      weight_map: { w1: 'model-00001-of-00002.safetensors', w2: 'model-00002-of-00002.safetensors', w3: 'model-00001-of-00002.safetensors' },
    });
    addRepo('org/sharded', {
      'config.json': CONFIG,
      'model.safetensors.index.json': index,
      'model-00001-of-00002.safetensors': a,
      'model-00002-of-00002.safetensors': b,
      'pytorch_model.bin': PT_WEIGHTS,
    });
    const dir = await resolveModel('org/sharded', { cacheDir, endpoint });
    expect(await findWeightsFiles(dir)).toEqual([path.join(dir, 'model-00001-of-00002.safetensors'), path.join(dir, 'model-00002-of-00002.safetensors')]);
    expect(fileRequests('pytorch_model.bin')).toHaveLength(0);
    expect(fileRequests('model-00001-of-00002.safetensors')).toHaveLength(1);
  });

  it('fetches options.files too, and fails naming one the repository lacks', async () => {
    const cacheDir = await freshCache();
    addRepo('org/extra', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS, 'added_tokens.json': '{}', 'sub/dir/x.txt': 'x' });
    const dir = await resolveModel('org/extra', { cacheDir, endpoint, files: ['added_tokens.json', 'sub/dir/x.txt'] });
    expect(await fsp.readFile(path.join(dir, 'sub', 'dir', 'x.txt'), 'utf8')).toBe('x');
    expect(await fsp.readlink(path.join(dir, 'sub', 'dir', 'x.txt'))).toBe(path.join('..', '..', '..', '..', 'blobs', gitSha1(Buffer.from('x'))));
    await expect(resolveModel('org/extra', { cacheDir, endpoint, files: ['nope.json'] })).rejects.toThrow(/nope\.json/);
  });

  it('names a blob by the sha256 of its content when there is neither lfs info nor an ETag', async () => {
    const cacheDir = await freshCache();
    // A listing without the git blob id (oid) leaves the ETag to name the blob; without one either, the content's sha256.
    addRepo('org/noetag', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], { listed: { 'config.json': { oid: undefined } } });
    faults.noEtag = new Set(['config.json']);
    const dir = await resolveModel('org/noetag', { cacheDir, endpoint });
    expect(await fsp.readlink(path.join(dir, 'config.json'))).toBe(path.join('..', '..', 'blobs', sha256(Buffer.from(CONFIG))));
  });

  it('shares one download between concurrent calls', async () => {
    const cacheDir = await freshCache();
    addRepo('org/conc', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    const [x, y] = await Promise.all([resolveModel('org/conc', { cacheDir, endpoint }), resolveModel('org/conc', { cacheDir, endpoint })]);
    expect(x).toBe(y);
    expect(fileRequests('model.safetensors')).toHaveLength(1);
    expect((await fsp.readFile(path.join(x, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(await fsp.readdir(path.join(cacheDir, '.locks', 'models--org--conc'))).toEqual([]);
  });

  it('uses HF_ENDPOINT when no endpoint is given', async () => {
    const cacheDir = await freshCache();
    addRepo('envendpoint', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    process.env.HF_ENDPOINT = `${endpoint}/`;
    const dir = await resolveModel('envendpoint', { cacheDir });
    expect(dir.startsWith(path.join(cacheDir, 'models--envendpoint', 'snapshots'))).toBe(true);
  });
});

describe('resolveModel: revisions', () => {
  it('resolves branches through refs/ and commits directly', async () => {
    const cacheDir = await freshCache();
    const a = addRepo('org/rev', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main']);
    const configB = JSON.stringify({ model_type: 'bert', num_labels: 3 });
    const b = addRepo('org/rev', { 'config.json': configB, 'model.safetensors': WEIGHTS }, ['v1']);
    const repoDir = path.join(cacheDir, 'models--org--rev');

    const v1 = await resolveModel('org/rev', { cacheDir, endpoint, revision: 'v1' });
    expect(v1).toBe(path.join(repoDir, 'snapshots', b));
    expect(await fsp.readFile(path.join(repoDir, 'refs', 'v1'), 'utf8')).toBe(b);
    expect(await fsp.readFile(path.join(v1, 'config.json'), 'utf8')).toBe(configB);
    expect(fileRequests('model.safetensors')).toHaveLength(1);

    const byCommit = await resolveModel('org/rev', { cacheDir, endpoint, revision: a });
    expect(byCommit).toBe(path.join(repoDir, 'snapshots', a));
    expect(await exists(path.join(repoDir, 'refs', a))).toBe(false);
    // Same weights blob: not downloaded twice.
    expect(fileRequests('model.safetensors')).toHaveLength(1);

    seen = [];
    await expect(resolveModel('org/rev', { cacheDir, revision: 'v1', offline: true })).resolves.toBe(v1);
    await expect(resolveModel('org/rev', { cacheDir, revision: a, offline: true })).resolves.toBe(byCommit);
    // "main" was never resolved: not cached.
    await expect(resolveModel('org/rev', { cacheDir, offline: true })).rejects.toThrow(/not in the Hugging Face cache/);
    expect(seen).toHaveLength(0);
  });
});

describe('resolveModel: cache from Python and offline', () => {
  /** Builds a cache the way huggingface_hub does (blobs + relative symlinks + refs). */
  async function pythonCache(cacheDir: string, id: string, revision = 'main'): Promise<string> {
    const repoDir = path.join(cacheDir, `models--${id.replace('/', '--')}`);
    const commit = newCommit();
    await fsp.mkdir(path.join(repoDir, 'blobs'), { recursive: true });
    await fsp.mkdir(path.join(repoDir, 'refs'), { recursive: true });
    const snap = path.join(repoDir, 'snapshots', commit);
    await fsp.mkdir(snap, { recursive: true });
    for (const [name, data] of [
      ['config.json', Buffer.from(CONFIG)],
      ['model.safetensors', WEIGHTS],
    ] as const) {
      const blob = name.endsWith('.safetensors') ? sha256(data) : gitSha1(data);
      await fsp.writeFile(path.join(repoDir, 'blobs', blob), data);
      await fsp.symlink(path.join('..', '..', 'blobs', blob), path.join(snap, name));
    }
    await fsp.writeFile(path.join(repoDir, 'refs', revision), commit);
    return snap;
  }

  it('uses a cached snapshot with zero requests, found through HF_HUB_CACHE / HF_HOME', async () => {
    const hubCache = await freshCache();
    const hfHome = await freshCache();
    const snapA = await pythonCache(hubCache, 'google-bert/bert-base-uncased');
    const snapB = await pythonCache(path.join(hfHome, 'hub'), 'google-bert/bert-base-uncased');

    process.env.HF_HUB_CACHE = hubCache;
    process.env.HF_HOME = hfHome;
    await expect(resolveModel('google-bert/bert-base-uncased', { endpoint, fetch: failingFetch })).resolves.toBe(snapA);
    delete process.env.HF_HUB_CACHE;
    await expect(resolveModel('google-bert/bert-base-uncased', { endpoint, fetch: failingFetch })).resolves.toBe(snapB);
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveModel('google-bert/bert-base-uncased', { fetch: failingFetch })).resolves.toBe(snapB);
    expect(seen).toHaveLength(0);
  });

  it('treats a snapshot without weights (or with a dangling link) as not cached', async () => {
    const cacheDir = await freshCache();
    const snap = await pythonCache(cacheDir, 'org/broken');
    const blob = await fsp.readlink(path.join(snap, 'model.safetensors'));
    await fsp.rm(path.resolve(snap, blob));
    await expect(resolveModel('org/broken', { cacheDir, offline: true })).rejects.toThrow(/not in the Hugging Face cache/);
  });

  it('offline and not cached: says so, names the cache and how to get the model', async () => {
    const cacheDir = await freshCache();
    const err = await resolveModel('org/absent', { cacheDir, endpoint, offline: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/not in the Hugging Face cache/);
    expect((err as Error).message).toContain(cacheDir);
    expect((err as Error).message).toContain('huggingface-cli download org/absent');
    process.env.HF_HUB_OFFLINE = 'true';
    await expect(resolveModel('org/absent', { cacheDir, endpoint, revision: 'v2' })).rejects.toThrow('huggingface-cli download org/absent --revision v2');
    expect(seen).toHaveLength(0);
  });
});

describe('resolveModel: faults', () => {
  const weightsBlob = (cacheDir: string, id: string): string => path.join(cacheDir, `models--${id.replace('/', '--')}`, 'blobs', sha256(WEIGHTS));

  it('resumes a cut download with a Range request', async () => {
    const cacheDir = await freshCache();
    addRepo('org/cut', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    faults.cut = { file: 'model.safetensors', bytes: 100_000, times: 1 };
    const err = (await resolveModel('org/cut', { cacheDir, endpoint }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain('model.safetensors');
    expect(err.message).toContain(`100000 of ${WEIGHTS.length} bytes`);
    const incomplete = `${weightsBlob(cacheDir, 'org/cut')}.incomplete`;
    expect((await fsp.stat(incomplete)).size).toBe(100_000);
    expect(await exists(path.join(cacheDir, 'models--org--cut', 'refs', 'main'))).toBe(false);

    seen = [];
    const progress: number[] = [];
    const dir = await resolveModel('org/cut', { cacheDir, endpoint, onProgress: (e) => e.file === 'model.safetensors' && progress.push(e.bytes) });
    const req = fileRequests('model.safetensors');
    expect(req).toHaveLength(1);
    expect(req[0].range).toBe('bytes=100000-');
    expect(req[0].status).toBe(206);
    expect(progress[0]).toBe(100_000);
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(await exists(incomplete)).toBe(false);
    expect(fileRequests('config.json')).toHaveLength(0); // already in the snapshot from the first call
  });

  it('restarts from byte 0 when the server ignores Range', async () => {
    const cacheDir = await freshCache();
    addRepo('org/norange', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    faults.cut = { file: 'model.safetensors', bytes: 50_000, times: 1 };
    await expect(resolveModel('org/norange', { cacheDir, endpoint })).rejects.toThrow(/model\.safetensors/);
    faults.ignoreRange = true;
    seen = [];
    const dir = await resolveModel('org/norange', { cacheDir, endpoint });
    const req = fileRequests('model.safetensors');
    expect(req.map((r) => [r.range, r.status])).toEqual([['bytes=50000-', 200]]);
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
  });

  it('finishes a complete .incomplete file without downloading it again', async () => {
    const cacheDir = await freshCache();
    addRepo('org/done', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    const blob = weightsBlob(cacheDir, 'org/done');
    await fsp.mkdir(path.dirname(blob), { recursive: true });
    await fsp.writeFile(`${blob}.incomplete`, WEIGHTS);
    await resolveModel('org/done', { cacheDir, endpoint });
    expect(fileRequests('model.safetensors')).toHaveLength(0);
    expect(await exists(blob)).toBe(true);
  });

  it('deletes a download whose sha256 does not match', async () => {
    const cacheDir = await freshCache();
    addRepo('org/badsha', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    faults.corrupt = new Set(['model.safetensors']);
    const err = (await resolveModel('org/badsha', { cacheDir, endpoint }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain('model.safetensors');
    expect(err.message).toContain(`expected ${sha256(WEIGHTS)}`);
    expect(err.message).toMatch(/got [0-9a-f]{64}/);
    const blob = weightsBlob(cacheDir, 'org/badsha');
    expect(await exists(blob)).toBe(false);
    expect(await exists(`${blob}.incomplete`)).toBe(false);
    expect(await exists(path.join(cacheDir, 'models--org--badsha', 'refs', 'main'))).toBe(false);
  });

  it('keeps a short download for resume and deletes an overlong one', async () => {
    const cacheDir = await freshCache();
    addRepo('org/size', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    faults.body = { 'model.safetensors': WEIGHTS.subarray(0, 1000) };
    await expect(resolveModel('org/size', { cacheDir, endpoint })).rejects.toThrow(`expected ${WEIGHTS.length} bytes, got 1000`);
    const incomplete = `${weightsBlob(cacheDir, 'org/size')}.incomplete`;
    expect((await fsp.stat(incomplete)).size).toBe(1000);

    await fsp.rm(incomplete);
    faults.body = { 'model.safetensors': Buffer.concat([WEIGHTS, Buffer.from('extra')]) };
    await expect(resolveModel('org/size', { cacheDir, endpoint })).rejects.toThrow(`expected ${WEIGHTS.length} bytes`);
    expect(await exists(incomplete)).toBe(false);

    faults.body = undefined;
    await expect(resolveModel('org/size', { cacheDir, endpoint })).resolves.toContain('snapshots');
  });

  it('times out a stalled download and keeps the prefix', async () => {
    const cacheDir = await freshCache();
    addRepo('org/stall', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    faults.stall = { file: 'model.safetensors', bytes: 20_000 };
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = '0.3';
    await expect(resolveModel('org/stall', { cacheDir, endpoint })).rejects.toThrow(/model\.safetensors.*interrupted after 20000/);
    expect((await fsp.stat(`${weightsBlob(cacheDir, 'org/stall')}.incomplete`)).size).toBe(20_000);
    server.closeAllConnections();
  });

  it.each([['../../evil.txt'], ['/abs'], ['a\\b'], ['a//b'], ['./x']])('refuses a sibling named %p, writing nothing', async (name) => {
    const cacheDir = await freshCache();
    const before = await tree(root);
    addRepo('org/evil', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], {
      extraEntries: [{ type: 'file', oid: gitSha1(Buffer.from('evil')), path: name, size: 4 }],
    });
    await expect(resolveModel('org/evil', { cacheDir, endpoint, files: [] })).rejects.toThrow(JSON.stringify(name));
    expect(await tree(root)).toEqual(before);
    expect(await exists(path.resolve(cacheDir, 'models--org--evil', 'snapshots', 'x', '../../evil.txt'))).toBe(false);
    expect(fileRequests('config.json')).toHaveLength(0);
  });

  it('refuses a malicious commit hash, lfs hash or shard name', async () => {
    const cacheDir = await freshCache();
    const before = await tree(root);
    addRepo('org/badcommit', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], { shaOverride: '../../../outside' });
    await expect(resolveModel('org/badcommit', { cacheDir, endpoint })).rejects.toThrow(/40-hex/);
    addRepo('org/badlfs', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], {
      listed: { 'model.safetensors': { lfs: { oid: '../../../evil', size: WEIGHTS.length, pointerSize: 130 } } },
    });
    await expect(resolveModel('org/badlfs', { cacheDir, endpoint })).rejects.toThrow(/model\.safetensors.*sha256 \(lfs\.oid\)/);
    expect(await tree(root)).toEqual(before);

    const index = JSON.stringify({ weight_map: { w: '../../evil.safetensors' } });
    addRepo('org/badshard', { 'config.json': CONFIG, 'model.safetensors.index.json': index });
    await expect(resolveModel('org/badshard', { cacheDir, endpoint })).rejects.toThrow('"../../evil.safetensors"');
    expect((await tree(root)).filter((p) => p.includes('evil'))).toEqual([]);
  });

  it('reports missing repositories, files and unreachable hubs clearly', async () => {
    const cacheDir = await freshCache();
    await expect(resolveModel('org/missing', { cacheDir, endpoint })).rejects.toThrow(/"org\/missing".*not found.*HTTP 404/);
    addRepo('org/noconfig', { 'model.safetensors': WEIGHTS });
    await expect(resolveModel('org/noconfig', { cacheDir, endpoint })).rejects.toThrow(/no config\.json/);
    addRepo('org/noweights', { 'config.json': CONFIG, 'tf_model.h5': 'x' });
    await expect(resolveModel('org/noweights', { cacheDir, endpoint })).rejects.toThrow(/no PyTorch weights.*tf_model\.h5/);

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadEndpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = (await resolveModel('org/tiny', { cacheDir, endpoint: deadEndpoint }).catch((e: Error) => e)) as Error;
    expect(err.message).toContain(`could not reach ${deadEndpoint}`);
    expect(err.message).toContain('huggingface-cli download org/tiny');
  });
});

describe('resolveModel: tokens, private and gated models', () => {
  const newToken = (): string => `hf_${randomBytes(16).toString('hex')}`;
  const auths = (list: Seen[]): Array<string | undefined> => [...new Set(list.map((r) => r.auth))];
  const files = { 'config.json': CONFIG, 'vocab.txt': VOCAB, 'model.safetensors': WEIGHTS };
  const privateRepo = (id: string, token: string, access: Partial<NonNullable<Repo['access']>> = {}): string => {
    const sha = addRepo(id, files);
    repos.get(id)!.access = { token, ...access };
    return sha;
  };
  const failure = async (p: Promise<unknown>): Promise<HubError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HubError);
    return err as HubError;
  };
  /** The token appears nowhere in the error (message, stack, own properties). */
  const expectNoToken = (err: Error, token: string): void => {
    expect(err.message).not.toContain(token);
    expect(err.stack ?? '').not.toContain(token);
    expect(JSON.stringify(err)).not.toContain(token);
  };

  it('sends HF_TOKEN as Authorization: Bearer on every request and downloads a private model', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    const sha = privateRepo('org/private', token);
    process.env.HF_TOKEN = `${token}\n`; // cleaned like huggingface_hub does
    process.env.HUGGING_FACE_HUB_TOKEN = newToken(); // the legacy name loses to HF_TOKEN
    const dir = await resolveModel('org/private', { cacheDir, endpoint });
    expect(dir).toBe(path.join(cacheDir, 'models--org--private', 'snapshots', sha));
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(seen.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/api/models/org/private/revision/main', `/api/models/org/private/tree/${sha}`, `/org/private/resolve/${sha}/config.json`]),
    );
    expect(seen.every((r) => r.status === 200)).toBe(true);
    expect(auths(seen)).toEqual([`Bearer ${token}`]);

    delete process.env.HF_TOKEN;
    const legacy = newToken();
    process.env.HUGGING_FACE_HUB_TOKEN = legacy;
    expect(hubToken()).toEqual({ token: legacy, source: 'HUGGING_FACE_HUB_TOKEN' });
  });

  it('reads the token file: HF_TOKEN_PATH, else $HF_HOME/token; HF_TOKEN wins over the file', async () => {
    const [t1, t2, t3] = [newToken(), newToken(), newToken()];
    const fileA = path.join(await freshCache(), 'token');
    await fsp.writeFile(fileA, `${t1}\n`);
    privateRepo('org/file1', t1);
    process.env.HF_TOKEN_PATH = fileA;
    await resolveModel('org/file1', { cacheDir: await freshCache(), endpoint });
    expect(auths(seen)).toEqual([`Bearer ${t1}`]);

    seen = [];
    delete process.env.HF_TOKEN_PATH;
    const hfHome = await freshCache();
    await fsp.writeFile(path.join(hfHome, 'token'), `  ${t2}\r\n`);
    process.env.HF_HOME = hfHome;
    privateRepo('org/file2', t2);
    await resolveModel('org/file2', { cacheDir: await freshCache(), endpoint });
    expect(auths(seen)).toEqual([`Bearer ${t2}`]);
    expect(hubToken()).toEqual({ token: t2, source: `the token file ${path.join(hfHome, 'token')}` });

    seen = [];
    process.env.HF_TOKEN = t3;
    privateRepo('org/file3', t3);
    await resolveModel('org/file3', { cacheDir: await freshCache(), endpoint });
    expect(auths(seen)).toEqual([`Bearer ${t3}`]);

    // An empty token file is no token.
    delete process.env.HF_TOKEN;
    await fsp.writeFile(path.join(hfHome, 'token'), '\n');
    expect(hubToken()).toBeUndefined();
  });

  it('the token option wins; token: false and HF_HUB_DISABLE_IMPLICIT_TOKEN send none; no token by default', async () => {
    addRepo('org/public', files);
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint });
    expect(auths(seen)).toEqual([undefined]);

    const [fromEnv, fromOption] = [newToken(), newToken()];
    process.env.HF_TOKEN = fromEnv;
    seen = [];
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint, token: fromOption });
    expect(auths(seen)).toEqual([`Bearer ${fromOption}`]);

    seen = [];
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint, token: false });
    expect(auths(seen)).toEqual([undefined]);

    seen = [];
    process.env.HF_HUB_DISABLE_IMPLICIT_TOKEN = '1';
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint });
    expect(auths(seen)).toEqual([undefined]);
    seen = [];
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint, token: fromOption });
    expect(auths(seen)).toEqual([`Bearer ${fromOption}`]);
  });

  it('a private model without a token, or with a refused one: HUB_UNAUTHORIZED naming the repository and HF_TOKEN, never the token', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    privateRepo('org/secret', token);
    const before = await tree(root);

    const anonymous = await failure(resolveModel('org/secret', { cacheDir, endpoint }));
    expect(anonymous.code).toBe('HUB_UNAUTHORIZED');
    expect(anonymous.status).toBe(401);
    expect(anonymous.message).toContain('"org/secret"');
    expect(anonymous.message).toContain('HF_TOKEN');
    expect(anonymous.message).toContain('no token was sent');

    const wrong = newToken();
    process.env.HF_TOKEN = wrong;
    const refused = await failure(resolveModel('org/secret', { cacheDir, endpoint }));
    expect(refused.code).toBe('HUB_UNAUTHORIZED');
    expect(refused.message).toContain('"org/secret"');
    expect(refused.message).toMatch(/token \(from HF_TOKEN\) was refused/);
    expectNoToken(refused, wrong);

    const viaOption = await failure(resolveModel('org/secret', { cacheDir, endpoint, token: wrong }));
    expect(viaOption.message).toContain('the token option');
    expectNoToken(viaOption, wrong);
    expect(await tree(root)).toEqual(before); // nothing written
  });

  it('a gated model: HUB_GATED with where to accept its terms, anonymous (401) or with a token that has not accepted them (403)', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    const sha = privateRepo('org/gated', token, { gated: true, accepted: false });

    const anonymous = await failure(resolveModel('org/gated', { cacheDir, endpoint }));
    expect(anonymous.code).toBe('HUB_GATED');
    expect(anonymous.status).toBe(401);
    expect(anonymous.message).toContain('"org/gated"');
    expect(anonymous.message).toContain(`${endpoint}/org/gated`);
    expect(anonymous.message).toContain('HF_TOKEN');
    expect(anonymous.message).toMatch(/accept the model's terms/i);

    process.env.HF_TOKEN = token;
    const notAccepted = await failure(resolveModel('org/gated', { cacheDir, endpoint }));
    expect(notAccepted.code).toBe('HUB_GATED');
    expect(notAccepted.status).toBe(403);
    expect(notAccepted.message).toContain('a token was sent (from HF_TOKEN)');
    expectNoToken(notAccepted, token);

    repos.get('org/gated')!.access!.accepted = true;
    await expect(resolveModel('org/gated', { cacheDir, endpoint })).resolves.toBe(path.join(cacheDir, 'models--org--gated', 'snapshots', sha));
  });

  it('a refused or missing file and a missing revision are coded errors naming them', async () => {
    addRepo('org/files', files);
    faults.fileStatus = { 'model.safetensors': { status: 403 } };
    const forbidden = await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint }));
    expect(forbidden.code).toBe('HUB_UNAUTHORIZED');
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).toContain('"model.safetensors"');

    faults.fileStatus = { 'model.safetensors': { status: 403, errorCode: 'GatedRepo' } };
    expect((await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint }))).code).toBe('HUB_GATED');

    faults.fileStatus = { 'vocab.txt': { status: 404, errorCode: 'EntryNotFound' } };
    const missingFile = await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint }));
    expect(missingFile.code).toBe('HUB_NOT_FOUND');
    expect(missingFile.message).toMatch(/"vocab\.txt".*"org\/files".*HTTP 404/);

    faults.fileStatus = undefined;
    const missingRevision = await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint, revision: 'v9' }));
    expect(missingRevision.code).toBe('HUB_NOT_FOUND');
    expect(missingRevision.message).toContain('the revision "v9" does not exist in "org/files"');
    const missingRepo = await failure(resolveModel('org/nothing', { cacheDir: await freshCache(), endpoint }));
    expect(missingRepo.code).toBe('HUB_NOT_FOUND');
  });

  it('refuses a token that is no hf_ token without showing it, and a token option that is no string', async () => {
    addRepo('org/badtoken', files);
    process.env.HF_TOKEN = 'secret-123456';
    const err = await failure(resolveModel('org/badtoken', { cacheDir: await freshCache(), endpoint }));
    expect(err.code).toBe('HUB_BAD_TOKEN');
    expect(err.message).toContain('HF_TOKEN');
    expectNoToken(err, 'secret-123456');
    await expect(resolveModel('org/badtoken', { cacheDir: await freshCache(), endpoint, token: 42 as unknown as string })).rejects.toThrow(TypeError);
    await expect(resolveModel('org/badtoken', { cacheDir: await freshCache(), endpoint, token: ' ' })).rejects.toThrow(TypeError);
    expect(seen).toHaveLength(0);
  });

  it('does not send the token to another origin when a download is redirected (to a CDN)', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    privateRepo('org/redirected', token);
    process.env.HF_TOKEN = token;
    faults.redirect = new Set(['model.safetensors']);
    const dir = await resolveModel('org/redirected', { cacheDir, endpoint });
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(fileRequests('model.safetensors').map((r) => [r.status, r.auth])).toEqual([[302, `Bearer ${token}`]]);
    expect(cdnSeen.map((r) => [r.status, r.auth])).toEqual([[200, undefined]]);
  });

  it('offline mode with a token set: a cached private model loads with no request; a missing one says it is not cached', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    privateRepo('org/offline', token);
    process.env.HF_TOKEN = token;
    const dir = await resolveModel('org/offline', { cacheDir, endpoint });
    seen = [];
    await expect(resolveModel('org/offline', { cacheDir, offline: true, fetch: failingFetch })).resolves.toBe(dir);
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveModel('org/offline', { cacheDir, endpoint, fetch: failingFetch })).resolves.toBe(dir);
    const err = (await resolveModel('org/offline', { cacheDir: await freshCache(), endpoint, fetch: failingFetch }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/not in the Hugging Face cache/);
    expectNoToken(err, token);
    expect(seen).toHaveLength(0);
  });

  it('reads a file list the hub pages (Link: rel="next")', async () => {
    const cacheDir = await freshCache();
    const sha = addRepo('org/paged', { ...files, 'tokenizer_config.json': TOKCFG, 'sub/dir/x.txt': 'x', 'README.md': '#' });
    faults.pageSize = 2;
    const dir = await resolveModel('org/paged', { cacheDir, endpoint, files: ['sub/dir/x.txt'] });
    expect(seen.filter((r) => r.path === `/api/models/org/paged/tree/${sha}`).length).toBeGreaterThanOrEqual(4);
    expect(await fsp.readFile(path.join(dir, 'sub', 'dir', 'x.txt'), 'utf8')).toBe('x');
    expect(await fsp.readFile(path.join(dir, 'tokenizer_config.json'), 'utf8')).toBe(TOKCFG);
  });
});
