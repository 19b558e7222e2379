// src/hub/ (resolveModel) against a local fake of the Hugging Face hub (test/helpers/fake-hub.ts: model info, paginated
// file lists, downloads with ETag and Range, private and gated repositories, a CDN on another origin, and faults).
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';

import { hubCacheDir } from '../src/hub/cache';
import { HubError } from '../src/hub/hub-error';
import { isHubId, resolveModel } from '../src/hub/resolve-model';
import { hubToken } from '../src/hub/token';
import { findWeightsFiles } from '../src/checkpoint/model-files';
import { failingFetch, gitSha1, newCommit, sha256, useFakeHub, type Repo, type Seen } from './helpers/fake-hub';

// ---------------------------------------------------------------------------------------------
// Fixtures

const CONFIG = JSON.stringify({ model_type: 'bert', hidden_size: 8, num_labels: 2 });
const VOCAB = '[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n';
const TOKCFG = JSON.stringify({ do_lower_case: true });
const WEIGHTS = randomBytes(300_000);
const PT_WEIGHTS = randomBytes(1000);

const { hub, root, freshCache } = useFakeHub('bert-trainer-hub-');
let endpoint: string;
beforeAll(() => {
  endpoint = hub.endpoint;
});

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
    expect(hubCacheDir()).toBe(path.join(root(), 'default-cache'));
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
    expect(hub.seen).toHaveLength(0);
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
    expect(hub.seen).toHaveLength(0);
  });
});

describe('resolveModel: downloads', () => {
  it('downloads config, tokenizer files and one weights format into the huggingface_hub layout', async () => {
    const cacheDir = await freshCache();
    const sha = hub.addRepo('org/tiny', {
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
    const got = hub.seen.filter((s) => s.path.includes('/resolve/')).map((s) => path.posix.basename(s.path));
    expect(got.sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']);
    expect(hub.seen[0].path).toBe('/api/models/org/tiny/revision/main');
    const last = progress.filter((p) => p.file === 'model.safetensors').pop();
    expect(last).toEqual({ file: 'model.safetensors', bytes: WEIGHTS.length, total: WEIGHTS.length });

    // Cached now: online or offline, no request at all.
    hub.seen = [];
    await expect(resolveModel('org/tiny', { cacheDir, endpoint })).resolves.toBe(dir);
    await expect(resolveModel('org/tiny', { cacheDir, offline: true, fetch: failingFetch })).resolves.toBe(dir);
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveModel('org/tiny', { cacheDir, fetch: failingFetch })).resolves.toBe(dir);
    expect(hub.seen).toHaveLength(0);
  });

  it('falls back to pytorch_model.bin, and to sharded safetensors', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/pt', { 'config.json': CONFIG, 'pytorch_model.bin': PT_WEIGHTS });
    const ptDir = await resolveModel('org/pt', { cacheDir, endpoint });
    expect(await findWeightsFiles(ptDir)).toEqual([path.join(ptDir, 'pytorch_model.bin')]);
    hub.seen = [];

    const a = randomBytes(5000);
    const b = randomBytes(7000);
    const index = JSON.stringify({
      metadata: {},
      weight_map: { w1: 'model-00001-of-00002.safetensors', w2: 'model-00002-of-00002.safetensors', w3: 'model-00001-of-00002.safetensors' },
    });
    hub.addRepo('org/sharded', {
      'config.json': CONFIG,
      'model.safetensors.index.json': index,
      'model-00001-of-00002.safetensors': a,
      'model-00002-of-00002.safetensors': b,
      'pytorch_model.bin': PT_WEIGHTS,
    });
    const dir = await resolveModel('org/sharded', { cacheDir, endpoint });
    expect(await findWeightsFiles(dir)).toEqual([path.join(dir, 'model-00001-of-00002.safetensors'), path.join(dir, 'model-00002-of-00002.safetensors')]);
    expect(hub.fileRequests('pytorch_model.bin')).toHaveLength(0);
    expect(hub.fileRequests('model-00001-of-00002.safetensors')).toHaveLength(1);
  });

  it('fetches options.files too, and fails naming one the repository lacks', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/extra', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS, 'added_tokens.json': '{}', 'sub/dir/x.txt': 'x' });
    const dir = await resolveModel('org/extra', { cacheDir, endpoint, files: ['added_tokens.json', 'sub/dir/x.txt'] });
    expect(await fsp.readFile(path.join(dir, 'sub', 'dir', 'x.txt'), 'utf8')).toBe('x');
    expect(await fsp.readlink(path.join(dir, 'sub', 'dir', 'x.txt'))).toBe(path.join('..', '..', '..', '..', 'blobs', gitSha1(Buffer.from('x'))));
    await expect(resolveModel('org/extra', { cacheDir, endpoint, files: ['nope.json'] })).rejects.toThrow(/nope\.json/);
  });

  it('names a blob by the sha256 of its content when there is neither lfs info nor an ETag', async () => {
    const cacheDir = await freshCache();
    // A listing without the git blob id (oid) leaves the ETag to name the blob; without one either, the content's sha256.
    hub.addRepo('org/noetag', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], { listed: { 'config.json': { oid: undefined } } });
    hub.faults.noEtag = new Set(['config.json']);
    const dir = await resolveModel('org/noetag', { cacheDir, endpoint });
    expect(await fsp.readlink(path.join(dir, 'config.json'))).toBe(path.join('..', '..', 'blobs', sha256(Buffer.from(CONFIG))));
  });

  it('shares one download between concurrent calls', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/conc', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    const [x, y] = await Promise.all([resolveModel('org/conc', { cacheDir, endpoint }), resolveModel('org/conc', { cacheDir, endpoint })]);
    expect(x).toBe(y);
    expect(hub.fileRequests('model.safetensors')).toHaveLength(1);
    expect((await fsp.readFile(path.join(x, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(await fsp.readdir(path.join(cacheDir, '.locks', 'models--org--conc'))).toEqual([]);
  });

  it('uses HF_ENDPOINT when no endpoint is given', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('envendpoint', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    process.env.HF_ENDPOINT = `${endpoint}/`;
    const dir = await resolveModel('envendpoint', { cacheDir });
    expect(dir.startsWith(path.join(cacheDir, 'models--envendpoint', 'snapshots'))).toBe(true);
  });
});

describe('resolveModel: revisions', () => {
  it('resolves branches through refs/ and commits directly', async () => {
    const cacheDir = await freshCache();
    const a = hub.addRepo('org/rev', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main']);
    const configB = JSON.stringify({ model_type: 'bert', num_labels: 3 });
    const b = hub.addRepo('org/rev', { 'config.json': configB, 'model.safetensors': WEIGHTS }, ['v1']);
    const repoDir = path.join(cacheDir, 'models--org--rev');

    const v1 = await resolveModel('org/rev', { cacheDir, endpoint, revision: 'v1' });
    expect(v1).toBe(path.join(repoDir, 'snapshots', b));
    expect(await fsp.readFile(path.join(repoDir, 'refs', 'v1'), 'utf8')).toBe(b);
    expect(await fsp.readFile(path.join(v1, 'config.json'), 'utf8')).toBe(configB);
    expect(hub.fileRequests('model.safetensors')).toHaveLength(1);

    const byCommit = await resolveModel('org/rev', { cacheDir, endpoint, revision: a });
    expect(byCommit).toBe(path.join(repoDir, 'snapshots', a));
    expect(await exists(path.join(repoDir, 'refs', a))).toBe(false);
    // Same weights blob: not downloaded twice.
    expect(hub.fileRequests('model.safetensors')).toHaveLength(1);

    hub.seen = [];
    await expect(resolveModel('org/rev', { cacheDir, revision: 'v1', offline: true })).resolves.toBe(v1);
    await expect(resolveModel('org/rev', { cacheDir, revision: a, offline: true })).resolves.toBe(byCommit);
    // "main" was never resolved: not cached.
    await expect(resolveModel('org/rev', { cacheDir, offline: true })).rejects.toThrow(/not in the Hugging Face cache/);
    expect(hub.seen).toHaveLength(0);
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
    expect(hub.seen).toHaveLength(0);
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
    expect(hub.seen).toHaveLength(0);
  });
});

describe('resolveModel: faults', () => {
  const weightsBlob = (cacheDir: string, id: string): string => path.join(cacheDir, `models--${id.replace('/', '--')}`, 'blobs', sha256(WEIGHTS));

  it('resumes a cut download with a Range request', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/cut', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    hub.faults.cut = { file: 'model.safetensors', bytes: 100_000, times: 1 };
    const err = (await resolveModel('org/cut', { cacheDir, endpoint }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain('model.safetensors');
    expect(err.message).toContain(`100000 of ${WEIGHTS.length} bytes`);
    const incomplete = `${weightsBlob(cacheDir, 'org/cut')}.incomplete`;
    expect((await fsp.stat(incomplete)).size).toBe(100_000);
    expect(await exists(path.join(cacheDir, 'models--org--cut', 'refs', 'main'))).toBe(false);

    hub.seen = [];
    const progress: number[] = [];
    const dir = await resolveModel('org/cut', { cacheDir, endpoint, onProgress: (e) => e.file === 'model.safetensors' && progress.push(e.bytes) });
    const req = hub.fileRequests('model.safetensors');
    expect(req).toHaveLength(1);
    expect(req[0].range).toBe('bytes=100000-');
    expect(req[0].status).toBe(206);
    expect(progress[0]).toBe(100_000);
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(await exists(incomplete)).toBe(false);
    expect(hub.fileRequests('config.json')).toHaveLength(0); // already in the snapshot from the first call
  });

  it('restarts from byte 0 when the server ignores Range', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/norange', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    hub.faults.cut = { file: 'model.safetensors', bytes: 50_000, times: 1 };
    await expect(resolveModel('org/norange', { cacheDir, endpoint })).rejects.toThrow(/model\.safetensors/);
    hub.faults.ignoreRange = true;
    hub.seen = [];
    const dir = await resolveModel('org/norange', { cacheDir, endpoint });
    const req = hub.fileRequests('model.safetensors');
    expect(req.map((r) => [r.range, r.status])).toEqual([['bytes=50000-', 200]]);
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
  });

  it('finishes a complete .incomplete file without downloading it again', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/done', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    const blob = weightsBlob(cacheDir, 'org/done');
    await fsp.mkdir(path.dirname(blob), { recursive: true });
    await fsp.writeFile(`${blob}.incomplete`, WEIGHTS);
    await resolveModel('org/done', { cacheDir, endpoint });
    expect(hub.fileRequests('model.safetensors')).toHaveLength(0);
    expect(await exists(blob)).toBe(true);
  });

  it('deletes a download whose sha256 does not match', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/badsha', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    hub.faults.corrupt = new Set(['model.safetensors']);
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
    hub.addRepo('org/size', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    hub.faults.body = { 'model.safetensors': WEIGHTS.subarray(0, 1000) };
    await expect(resolveModel('org/size', { cacheDir, endpoint })).rejects.toThrow(`expected ${WEIGHTS.length} bytes, got 1000`);
    const incomplete = `${weightsBlob(cacheDir, 'org/size')}.incomplete`;
    expect((await fsp.stat(incomplete)).size).toBe(1000);

    await fsp.rm(incomplete);
    hub.faults.body = { 'model.safetensors': Buffer.concat([WEIGHTS, Buffer.from('extra')]) };
    await expect(resolveModel('org/size', { cacheDir, endpoint })).rejects.toThrow(`expected ${WEIGHTS.length} bytes`);
    expect(await exists(incomplete)).toBe(false);

    hub.faults.body = undefined;
    await expect(resolveModel('org/size', { cacheDir, endpoint })).resolves.toContain('snapshots');
  });

  it('times out a stalled download and keeps the prefix', async () => {
    const cacheDir = await freshCache();
    hub.addRepo('org/stall', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    hub.faults.stall = { file: 'model.safetensors', bytes: 20_000 };
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = '0.3';
    await expect(resolveModel('org/stall', { cacheDir, endpoint })).rejects.toThrow(/model\.safetensors.*interrupted after 20000/);
    expect((await fsp.stat(`${weightsBlob(cacheDir, 'org/stall')}.incomplete`)).size).toBe(20_000);
    hub.closeAllConnections();
  });

  it.each([['../../evil.txt'], ['/abs'], ['a\\b'], ['a//b'], ['./x']])('refuses a sibling named %p, writing nothing', async (name) => {
    const cacheDir = await freshCache();
    const before = await tree(root());
    hub.addRepo('org/evil', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], {
      extraEntries: [{ type: 'file', oid: gitSha1(Buffer.from('evil')), path: name, size: 4 }],
    });
    await expect(resolveModel('org/evil', { cacheDir, endpoint, files: [] })).rejects.toThrow(JSON.stringify(name));
    expect(await tree(root())).toEqual(before);
    expect(await exists(path.resolve(cacheDir, 'models--org--evil', 'snapshots', 'x', '../../evil.txt'))).toBe(false);
    expect(hub.fileRequests('config.json')).toHaveLength(0);
  });

  it('refuses a malicious commit hash, lfs hash or shard name', async () => {
    const cacheDir = await freshCache();
    const before = await tree(root());
    hub.addRepo('org/badcommit', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], { shaOverride: '../../../outside' });
    await expect(resolveModel('org/badcommit', { cacheDir, endpoint })).rejects.toThrow(/40-hex/);
    hub.addRepo('org/badlfs', { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, ['main'], {
      listed: { 'model.safetensors': { lfs: { oid: '../../../evil', size: WEIGHTS.length, pointerSize: 130 } } },
    });
    await expect(resolveModel('org/badlfs', { cacheDir, endpoint })).rejects.toThrow(/model\.safetensors.*sha256 \(lfs\.oid\)/);
    expect(await tree(root())).toEqual(before);

    const index = JSON.stringify({ weight_map: { w: '../../evil.safetensors' } });
    hub.addRepo('org/badshard', { 'config.json': CONFIG, 'model.safetensors.index.json': index });
    await expect(resolveModel('org/badshard', { cacheDir, endpoint })).rejects.toThrow('"../../evil.safetensors"');
    expect((await tree(root())).filter((p) => p.includes('evil'))).toEqual([]);
  });

  it('reports missing repositories, files and unreachable hubs clearly', async () => {
    const cacheDir = await freshCache();
    await expect(resolveModel('org/missing', { cacheDir, endpoint })).rejects.toThrow(/"org\/missing".*not found.*HTTP 404/);
    hub.addRepo('org/noconfig', { 'model.safetensors': WEIGHTS });
    await expect(resolveModel('org/noconfig', { cacheDir, endpoint })).rejects.toThrow(/no config\.json/);
    hub.addRepo('org/noweights', { 'config.json': CONFIG, 'tf_model.h5': 'x' });
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
    const sha = hub.addRepo(id, files);
    hub.repos.get(id)!.access = { token, ...access };
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
    expect(hub.seen.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/api/models/org/private/revision/main', `/api/models/org/private/tree/${sha}`, `/org/private/resolve/${sha}/config.json`]),
    );
    expect(hub.seen.every((r) => r.status === 200)).toBe(true);
    expect(auths(hub.seen)).toEqual([`Bearer ${token}`]);

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
    expect(auths(hub.seen)).toEqual([`Bearer ${t1}`]);

    hub.seen = [];
    delete process.env.HF_TOKEN_PATH;
    const hfHome = await freshCache();
    await fsp.writeFile(path.join(hfHome, 'token'), `  ${t2}\r\n`);
    process.env.HF_HOME = hfHome;
    privateRepo('org/file2', t2);
    await resolveModel('org/file2', { cacheDir: await freshCache(), endpoint });
    expect(auths(hub.seen)).toEqual([`Bearer ${t2}`]);
    expect(hubToken()).toEqual({ token: t2, source: `the token file ${path.join(hfHome, 'token')}` });

    hub.seen = [];
    process.env.HF_TOKEN = t3;
    privateRepo('org/file3', t3);
    await resolveModel('org/file3', { cacheDir: await freshCache(), endpoint });
    expect(auths(hub.seen)).toEqual([`Bearer ${t3}`]);

    // An empty token file is no token.
    delete process.env.HF_TOKEN;
    await fsp.writeFile(path.join(hfHome, 'token'), '\n');
    expect(hubToken()).toBeUndefined();
  });

  it('the token option wins; token: false and HF_HUB_DISABLE_IMPLICIT_TOKEN send none; no token by default', async () => {
    hub.addRepo('org/public', files);
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint });
    expect(auths(hub.seen)).toEqual([undefined]);

    const [fromEnv, fromOption] = [newToken(), newToken()];
    process.env.HF_TOKEN = fromEnv;
    hub.seen = [];
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint, token: fromOption });
    expect(auths(hub.seen)).toEqual([`Bearer ${fromOption}`]);

    hub.seen = [];
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint, token: false });
    expect(auths(hub.seen)).toEqual([undefined]);

    hub.seen = [];
    process.env.HF_HUB_DISABLE_IMPLICIT_TOKEN = '1';
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint });
    expect(auths(hub.seen)).toEqual([undefined]);
    hub.seen = [];
    await resolveModel('org/public', { cacheDir: await freshCache(), endpoint, token: fromOption });
    expect(auths(hub.seen)).toEqual([`Bearer ${fromOption}`]);
  });

  it('a private model without a token, or with a refused one: HUB_UNAUTHORIZED naming the repository and HF_TOKEN, never the token', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    privateRepo('org/secret', token);
    const before = await tree(root());

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
    expect(await tree(root())).toEqual(before); // nothing written
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

    hub.repos.get('org/gated')!.access!.accepted = true;
    await expect(resolveModel('org/gated', { cacheDir, endpoint })).resolves.toBe(path.join(cacheDir, 'models--org--gated', 'snapshots', sha));
  });

  it('a refused or missing file and a missing revision are coded errors naming them', async () => {
    hub.addRepo('org/files', files);
    hub.faults.fileStatus = { 'model.safetensors': { status: 403 } };
    const forbidden = await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint }));
    expect(forbidden.code).toBe('HUB_UNAUTHORIZED');
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).toContain('"model.safetensors"');

    hub.faults.fileStatus = { 'model.safetensors': { status: 403, errorCode: 'GatedRepo' } };
    expect((await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint }))).code).toBe('HUB_GATED');

    hub.faults.fileStatus = { 'vocab.txt': { status: 404, errorCode: 'EntryNotFound' } };
    const missingFile = await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint }));
    expect(missingFile.code).toBe('HUB_NOT_FOUND');
    expect(missingFile.message).toMatch(/"vocab\.txt".*"org\/files".*HTTP 404/);

    hub.faults.fileStatus = undefined;
    const missingRevision = await failure(resolveModel('org/files', { cacheDir: await freshCache(), endpoint, revision: 'v9' }));
    expect(missingRevision.code).toBe('HUB_NOT_FOUND');
    expect(missingRevision.message).toContain('the revision "v9" does not exist in "org/files"');
    const missingRepo = await failure(resolveModel('org/nothing', { cacheDir: await freshCache(), endpoint }));
    expect(missingRepo.code).toBe('HUB_NOT_FOUND');
  });

  it('refuses a token that is no hf_ token without showing it, and a token option that is no string', async () => {
    hub.addRepo('org/badtoken', files);
    process.env.HF_TOKEN = 'secret-123456';
    const err = await failure(resolveModel('org/badtoken', { cacheDir: await freshCache(), endpoint }));
    expect(err.code).toBe('HUB_BAD_TOKEN');
    expect(err.message).toContain('HF_TOKEN');
    expectNoToken(err, 'secret-123456');
    await expect(resolveModel('org/badtoken', { cacheDir: await freshCache(), endpoint, token: 42 as unknown as string })).rejects.toThrow(TypeError);
    await expect(resolveModel('org/badtoken', { cacheDir: await freshCache(), endpoint, token: ' ' })).rejects.toThrow(TypeError);
    expect(hub.seen).toHaveLength(0);
  });

  it('does not send the token to another origin when a download is redirected (to a CDN)', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    privateRepo('org/redirected', token);
    process.env.HF_TOKEN = token;
    hub.faults.redirect = new Set(['model.safetensors']);
    const dir = await resolveModel('org/redirected', { cacheDir, endpoint });
    expect((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(hub.fileRequests('model.safetensors').map((r) => [r.status, r.auth])).toEqual([[302, `Bearer ${token}`]]);
    expect(hub.cdnSeen.map((r) => [r.status, r.auth])).toEqual([[200, undefined]]);
  });

  it('offline mode with a token set: a cached private model loads with no request; a missing one says it is not cached', async () => {
    const cacheDir = await freshCache();
    const token = newToken();
    privateRepo('org/offline', token);
    process.env.HF_TOKEN = token;
    const dir = await resolveModel('org/offline', { cacheDir, endpoint });
    hub.seen = [];
    await expect(resolveModel('org/offline', { cacheDir, offline: true, fetch: failingFetch })).resolves.toBe(dir);
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveModel('org/offline', { cacheDir, endpoint, fetch: failingFetch })).resolves.toBe(dir);
    const err = (await resolveModel('org/offline', { cacheDir: await freshCache(), endpoint, fetch: failingFetch }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/not in the Hugging Face cache/);
    expectNoToken(err, token);
    expect(hub.seen).toHaveLength(0);
  });

  it('reads a file list the hub pages (Link: rel="next")', async () => {
    const cacheDir = await freshCache();
    const sha = hub.addRepo('org/paged', { ...files, 'tokenizer_config.json': TOKCFG, 'sub/dir/x.txt': 'x', 'README.md': '#' });
    hub.faults.pageSize = 2;
    const dir = await resolveModel('org/paged', { cacheDir, endpoint, files: ['sub/dir/x.txt'] });
    expect(hub.seen.filter((r) => r.path === `/api/models/org/paged/tree/${sha}`).length).toBeGreaterThanOrEqual(4);
    expect(await fsp.readFile(path.join(dir, 'sub', 'dir', 'x.txt'), 'utf8')).toBe('x');
    expect(await fsp.readFile(path.join(dir, 'tokenizer_config.json'), 'utf8')).toBe(TOKCFG);
  });
});
