// A local fake of the Hugging Face hub (127.0.0.1, port 0) serving its layout from memory, for models and datasets:
// GET /api/{models,datasets}/{repo}/revision/{rev} (repo info), GET /api/{models,datasets}/{repo}/tree/{commit} (file
// list, paginated with Link headers) and GET /[datasets/]{repo}/resolve/{commit}/{file} (ETag, Range), private and
// gated repositories checking `Authorization: Bearer` as the hub does (401/403 with X-Error-Code), a CDN on another
// origin that downloads may be redirected to, and faults. A dataset repository is registered as "datasets/org/name".
// `useFakeHub()` also gives each test file a temporary root and clears the HF_* environment around each test.
import { createHash, randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';

export interface FileSpec {
  data: Buffer;
  lfs: boolean;
}
export interface Commit {
  files: Record<string, FileSpec>;
  /** Raw tree entries appended to the listing (for malicious names). */
  extraEntries?: unknown[];
  /** Overrides for listing fields, by file name. */
  listed?: Record<string, Record<string, unknown>>;
  /** Served instead of the real commit hash in the API answer. */
  shaOverride?: string;
}
export interface Repo {
  refs: Record<string, string>;
  commits: Record<string, Commit>;
  /** Private (only `token` may read it) or gated (anonymous: 401; a token that has not accepted the terms: 403). */
  access?: { token: string; gated?: boolean; accepted?: boolean };
}
export interface Seen {
  method: string;
  path: string;
  range?: string;
  auth?: string;
  status?: number;
}
export interface Faults {
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

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const newCommit = (): string => randomBytes(20).toString('hex');

export class FakeHub {
  readonly repos = new Map<string, Repo>();
  seen: Seen[] = [];
  cdnSeen: Seen[] = [];
  faults: Faults = {};
  endpoint = '';
  private served = 0;
  private redirectTo = '';
  /** What the CDN serves: content by sha256. */
  private readonly cdnBlobs = new Map<string, Buffer>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private readonly cdn = http.createServer((req, res) => this.handleCdn(req, res));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.server.unref();
    setTimeout(() => this.server.close(), 10 * 60_000).unref();
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => this.cdn.listen(0, '127.0.0.1', resolve));
    this.cdn.unref();
    this.redirectTo = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`; // another port: another origin
  }

  async stop(): Promise<void> {
    this.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.cdn.closeAllConnections();
    await new Promise<void>((resolve) => this.cdn.close(() => resolve()));
  }

  /** Forgets the requests seen and the faults (repositories stay). */
  reset(): void {
    this.seen = [];
    this.cdnSeen = [];
    this.faults = {};
  }

  closeAllConnections(): void {
    this.server.closeAllConnections();
  }

  /** Downloads of `name` (any repository). */
  fileRequests(name: string): Seen[] {
    return this.seen.filter((s) => s.path.endsWith(`/${name}`) && s.path.includes('/resolve/'));
  }

  /**
   * Adds a commit holding `files` to repository `id` (a dataset's: "datasets/org/name"), pointed at by `refs`;
   * returns its hash. Weights and Parquet files are served as LFS files, others as regular git files.
   */
  addRepo(id: string, files: Record<string, Buffer | string>, refs: string[] = ['main'], extra: Omit<Commit, 'files'> = {}): string {
    const sha = newCommit();
    const commit: Commit = { files: {}, ...extra };
    for (const [name, content] of Object.entries(files)) {
      const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
      commit.files[name] = { data, lfs: /\.(safetensors|bin|parquet)$/.test(name) };
      this.cdnBlobs.set(sha256(data), data);
    }
    const repo = this.repos.get(id) ?? { refs: {}, commits: {} };
    repo.commits[sha] = commit;
    for (const r of refs) repo.refs[r] = sha;
    this.repos.set(id, repo);
    return sha;
  }

  private readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.served++;
    const urlPath = (req.url ?? '/').split('?')[0];
    const entry: Seen = { method: req.method ?? '', path: urlPath, range: req.headers.range, auth: req.headers.authorization };
    this.seen.push(entry);
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
          refuse(
            403,
            'GatedRepo',
            `Access to model ${id} is restricted and you are not in the authorized list. Visit ${this.endpoint}/${id} to ask for access.`,
          );
        else return false;
        return true;
      }
      if (token === access.token) return false;
      refuse(401, 'RepoNotFound', 'Repository not found');
      return true;
    };
    if (this.served > MAX_REQUESTS) return reply(503, 'too many requests for one test run');

    /** The repository an API path names: models by id, datasets as "datasets/{id}". */
    const apiRepo = (kind: string, id: string): string => (kind === 'datasets' ? `datasets/${id}` : id);
    const api = /^\/api\/(models|datasets)\/(.+)\/revision\/([^/]+)$/.exec(urlPath);
    if (api) {
      const repo = this.repos.get(apiRepo(api[1], api[2]));
      if (denied(api[2], repo)) return;
      const rev = decodeURIComponent(api[3]);
      const sha = repo?.refs[rev] ?? (repo?.commits[rev] ? rev : undefined);
      if (!repo) return refuse(404, 'RepoNotFound', 'Repository not found');
      if (!sha) return refuse(404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      const commit = repo.commits[sha];
      return reply(200, JSON.stringify({ _id: 'x', id: api[2], sha: commit.shaOverride ?? sha, private: !!repo.access }), {
        'content-type': 'application/json',
      });
    }

    const tree = /^\/api\/(models|datasets)\/(.+?)\/tree\/([^/]+)$/.exec(urlPath);
    if (tree) {
      const repo = this.repos.get(apiRepo(tree[1], tree[2]));
      if (denied(tree[2], repo)) return;
      const commit = repo?.commits[decodeURIComponent(tree[3])];
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
      const size = this.faults.pageSize ?? entries.length;
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
      if (start + size < entries.length) {
        query.set('cursor', String(start + size));
        headers.link = `<${this.endpoint}${urlPath}?${query.toString()}>; rel="next"`;
      }
      return reply(200, JSON.stringify(entries.slice(start, start + size)), headers);
    }

    const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(urlPath);
    if (resolve) {
      const repo = this.repos.get(resolve[1]);
      if (denied(resolve[1], repo)) return;
      const commit = repo?.commits[decodeURIComponent(resolve[2])];
      const name = resolve[3].split('/').map(decodeURIComponent).join('/');
      const spec = commit?.files[name];
      if (!spec) return refuse(404, 'EntryNotFound', 'Entry not found');
      const forced = this.faults.fileStatus?.[name];
      if (forced) return forced.errorCode ? refuse(forced.status, forced.errorCode, 'forced') : reply(forced.status, 'forced');
      if (this.faults.redirect?.has(name)) return reply(302, '', { location: `${this.redirectTo}/blob/${sha256(spec.data)}?name=${encodeURIComponent(name)}` });
      let data = this.faults.body?.[name] ?? spec.data;
      if (this.faults.corrupt?.has(name)) {
        data = Buffer.from(data);
        data[data.length >> 1] ^= 0xff;
      }
      const headers: http.OutgoingHttpHeaders = {};
      if (!this.faults.noEtag?.has(name)) headers.etag = spec.lfs ? `"${sha256(spec.data)}"` : `W/"${gitSha1(spec.data)}"`;
      let status = 200;
      let start = 0;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range && !this.faults.ignoreRange) {
        start = Number(range[1]);
        if (start >= data.length) return reply(416, '', { 'content-range': `bytes */${data.length}` });
        status = 206;
        headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
      }
      const body = data.subarray(start);
      const cut = this.faults.cut;
      if (cut && cut.file === name && cut.times > 0) {
        cut.times--;
        entry.status = status;
        res.writeHead(status, { ...headers, 'content-length': body.length });
        res.write(body.subarray(0, cut.bytes), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      if (this.faults.stall && this.faults.stall.file === name) {
        entry.status = status;
        res.writeHead(status, { ...headers, 'content-length': body.length });
        res.write(body.subarray(0, this.faults.stall.bytes));
        return; // never ends; closed by closeAllConnections()
      }
      return reply(status, body, headers);
    }
    reply(404, 'not found');
  };

  private readonly handleCdn = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const urlPath = (req.url ?? '/').split('?')[0];
    const entry: Seen = { method: req.method ?? '', path: urlPath, range: req.headers.range, auth: req.headers.authorization };
    this.cdnSeen.push(entry);
    const data = this.cdnBlobs.get(urlPath.replace(/^\/blob\//, ''));
    entry.status = data ? 200 : 404;
    res.writeHead(entry.status, { 'content-length': data?.length ?? 0 });
    res.end(data ?? '');
  };
}

export const HUB_ENV_KEYS = [
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

/** A fetch that fails the test: no network is expected. */
export const failingFetch = (() => {
  throw new Error('network must not be used');
}) as unknown as typeof fetch;

export interface FakeHubFixture {
  hub: FakeHub;
  /** The test file's temporary folder (set in beforeAll). */
  root(): string;
  /** A new, empty cache folder under root. */
  freshCache(): Promise<string>;
}

/**
 * Jest hooks for a test file that uses the fake hub: a temporary root and the hub started before all tests, stopped
 * and removed after; before each test the requests and faults forgotten and the HF_* variables cleared (restored at
 * the end), with HF_HUB_CACHE and HF_TOKEN_PATH under root so that nothing reaches the real cache or token file.
 */
export function useFakeHub(prefix: string): FakeHubFixture {
  const hub = new FakeHub();
  const savedEnv: Record<string, string | undefined> = {};
  let root = '';
  let counter = 0;
  const isolate = (): void => {
    for (const k of HUB_ENV_KEYS) delete process.env[k];
    process.env.HF_HUB_CACHE = path.join(root, 'default-cache');
    process.env.HF_TOKEN_PATH = path.join(root, 'no-token-file');
  };
  beforeAll(async () => {
    for (const k of HUB_ENV_KEYS) savedEnv[k] = process.env[k];
    root = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    isolate();
    await hub.start();
  });
  afterAll(async () => {
    await hub.stop();
    for (const k of HUB_ENV_KEYS) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
    await fsp.rm(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    hub.reset();
    isolate();
  });
  return {
    hub,
    root: () => root,
    freshCache: async () => {
      const dir = path.join(root, `cache-${counter++}`);
      await fsp.mkdir(dir, { recursive: true });
      return dir;
    },
  };
}
