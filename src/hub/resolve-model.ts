// Models by name: resolves a Hugging Face hub id ("bert-base-uncased", "org/name") to a model directory in the
// cache Python's huggingface_hub uses (so Python and Node share one copy), downloading what is missing into it.
import { promises as fsp } from 'fs';
import * as path from 'path';

import { cachedSnapshot, hubCacheDir, repoFolderName } from './cache';
import type { Context } from './context';
import { envIsTrue, envValue } from './environment';
import { offlineHelp } from './error-messages';
import { apiFetchFor } from './http';
import { HubError } from './hub-error';
import type { ResolveModelOptions } from './resolve-options';
import { unsafePathReason } from './safe-path';
import { downloadSnapshot } from './snapshot-download';
import { hubToken, redact, type HubToken } from './token';

const DEFAULT_ENDPOINT = 'https://huggingface.co';

const NAME_SEGMENT_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

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

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

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
