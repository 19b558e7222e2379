// Models by name: resolves a Hugging Face hub id ("bert-base-uncased", "org/name") to a model directory in the
// cache Python's huggingface_hub uses (so Python and Node share one copy), downloading what is missing into it.
import { promises as fsp } from 'fs';

import { cachedSnapshot } from './cache';
import { hubContext, hubTarget, offlineError } from './hub-context';
import type { ResolveModelOptions } from './resolve-options';
import { unsafePathReason } from './safe-path';
import { downloadSnapshot } from './snapshot-download';
import { redact } from './token';

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
 *   a refusal is a {@link HubError} with code HUB_UNAUTHORIZED, HUB_GATED or HUB_NOT_FOUND; offline and not cached,
 *   HUB_OFFLINE.
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
  const caller = `resolveModel("${id}")`;
  const target = hubTarget(caller, id, 'model', options);
  const files = options.files ?? [];
  if (!Array.isArray(files)) throw new TypeError(`${caller}: files must be an array of file names`);
  for (const f of files) {
    const problem = unsafePathReason(f);
    if (problem !== undefined) throw new RangeError(`${caller}: invalid file name ${JSON.stringify(f)}: it ${problem}`);
  }

  const cached = await cachedSnapshot(target.repoDir, target.revision, files);
  if (cached !== undefined) return cached;
  if (target.offline) throw offlineError(target, `Model "${id}"`);

  const ctx = hubContext(caller, target, options);
  const token = ctx.token;
  try {
    return await downloadSnapshot(ctx, files);
  } catch (err) {
    throw redact(err, token);
  }
}
