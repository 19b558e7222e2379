// One hub look-up's settings, checked and gathered the same way for models (resolveModel) and datasets
// (Dataset.fromHub): the revision, cache folder, fetch and token options (TypeError / RangeError naming the option),
// offline mode, then the Context the API calls and downloads carry: endpoint, token, timeout, cache folders.
import * as path from 'path';

import { hubCacheDir, repoFolderName } from './cache';
import type { Context } from './context';
import { envIsTrue, envValue } from './environment';
import { offlineHelp } from './error-messages';
import { apiFetchFor } from './http';
import { HubError } from './hub-error';
import type { RepoType } from './repo-type';
import type { HubAccessOptions } from './resolve-options';
import { unsafePathReason } from './safe-path';
import { hubToken, type HubToken } from './token';

const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** A repository at a revision, and where the cache keeps it. */
export interface HubTarget {
  id: string;
  repoType: RepoType;
  revision: string;
  cacheRoot: string;
  repoDir: string;
  /** Offline mode: the `offline` option, else HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE). */
  offline: boolean;
}

/** Checks the options every look-up shares (`caller` names the call in messages) and finds the repository's cache folder. */
export function hubTarget(caller: string, id: string, repoType: RepoType, options: HubAccessOptions): HubTarget {
  const revision = options.revision ?? 'main';
  if (typeof revision !== 'string') throw new TypeError(`${caller}: revision must be a string`);
  const revisionProblem = unsafePathReason(revision);
  if (revisionProblem !== undefined) throw new RangeError(`${caller}: invalid revision ${JSON.stringify(revision)}: it ${revisionProblem}`);
  if (options.cacheDir !== undefined && (typeof options.cacheDir !== 'string' || options.cacheDir === '')) {
    throw new TypeError(`${caller}: cacheDir must be a non-empty string`);
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError(`${caller}: fetch must be a function`);
  if (options.token !== undefined && options.token !== false && (typeof options.token !== 'string' || options.token.trim() === '')) {
    throw new TypeError(`${caller}: token must be a non-empty string, or false to send none`);
  }
  if (options.offline !== undefined && typeof options.offline !== 'boolean') throw new TypeError(`${caller}: offline must be a boolean`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError(`${caller}: onProgress must be a function`);
  const env = process.env;
  const cacheRoot = options.cacheDir !== undefined ? path.resolve(options.cacheDir) : hubCacheDir(env);
  return {
    id,
    repoType,
    revision,
    cacheRoot,
    repoDir: path.join(cacheRoot, repoFolderName(id, repoType)),
    offline: options.offline ?? (envIsTrue(env.HF_HUB_OFFLINE) || envIsTrue(env.TRANSFORMERS_OFFLINE)),
  };
}

/** The coded Error for what offline mode cannot find in the cache (`what`: e.g. 'split "train" of dataset "x"'). */
export function offlineError(target: HubTarget, what: string): HubError {
  const { id, revision, cacheRoot, repoDir, repoType } = target;
  return new HubError(
    `${what} (revision "${revision}") is not in the Hugging Face cache at ${cacheRoot} (looked in ${repoDir}) ` +
      `and offline mode is on. ${offlineHelp(id, revision, repoType)}`,
    'HUB_OFFLINE',
  );
}

/** The Context of a look-up that goes to the hub: endpoint (HF_ENDPOINT), token (HF_TOKEN, ...), timeout, cache folders. */
export function hubContext(caller: string, target: HubTarget, options: HubAccessOptions): Context {
  const env = process.env;
  const endpointRaw = options.endpoint ?? envValue(env, 'HF_ENDPOINT') ?? DEFAULT_ENDPOINT;
  if (typeof endpointRaw !== 'string' || !/^https?:\/\/[^/]/i.test(endpointRaw)) {
    throw new TypeError(`${caller}: endpoint must be an http(s) URL, got ${JSON.stringify(endpointRaw)}`);
  }
  const token: HubToken | undefined =
    options.token === false ? undefined : typeof options.token === 'string' ? { token: options.token.trim(), source: 'the token option' } : hubToken(env);
  if (token !== undefined && !token.token.startsWith('hf_')) {
    throw new HubError(
      `Hugging Face hub: the access token from ${token.source} does not start with "hf_" as Hugging Face access tokens do; ` +
        `check it (https://huggingface.co/settings/tokens), or unset it for public ${target.repoType}s`,
      'HUB_BAD_TOKEN',
    );
  }
  const timeoutSeconds = Number(envValue(env, 'HF_HUB_DOWNLOAD_TIMEOUT') ?? 10);
  const ctx: Context = {
    id: target.id,
    repoType: target.repoType,
    revision: target.revision,
    endpoint: endpointRaw.replace(/\/+$/, ''),
    fetch: options.fetch ?? fetch,
    timeoutMs: Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds * 1000 : 10_000,
    cacheRoot: target.cacheRoot,
    repoDir: target.repoDir,
    blobsDir: path.join(target.repoDir, 'blobs'),
    locksDir: path.join(target.cacheRoot, '.locks', path.basename(target.repoDir)),
    onProgress: options.onProgress,
    token,
    apiFetch: fetch, // set just below: it needs ctx
  };
  ctx.apiFetch = apiFetchFor(ctx);
  return ctx;
}
