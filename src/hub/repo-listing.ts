// A repository (model or dataset) at a revision, through @huggingface/hub's API (modelInfo / datasetInfo, listFiles,
// with the token): its commit and its files with sizes and LFS sha256, each path checked before anything is written.
import { datasetInfo, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';

import { COMMIT_RE } from './cache';
import type { Context } from './context';
import { apiError } from './error-messages';
import { apiUrl } from './repo-type';
import { unsafePathReason } from './safe-path';

const SHA256_RE = /^[0-9a-f]{64}$/;

export interface Sibling {
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

/** Resolves the revision to a commit (modelInfo / datasetInfo) and lists its files (listFiles), both through @huggingface/hub. */
export async function fetchRepoInfo(ctx: Context): Promise<{ commit: string; siblings: Sibling[] }> {
  const auth = ctx.token !== undefined ? { accessToken: ctx.token.token } : {};
  const api = apiUrl(ctx.endpoint, ctx.repoType, ctx.id);
  let sha: unknown;
  try {
    const ask = { name: ctx.id, revision: ctx.revision, additionalFields: ['sha'] as ['sha'], hubUrl: ctx.endpoint, fetch: ctx.apiFetch, ...auth };
    const info = ctx.repoType === 'dataset' ? await datasetInfo(ask) : await modelInfo(ask);
    sha = (info as { sha?: unknown }).sha;
  } catch (err) {
    throw apiError(ctx, err, `the ${ctx.repoType} info (GET ${api}/revision/${encodeURIComponent(ctx.revision)})`);
  }
  if (typeof sha !== 'string' || !COMMIT_RE.test(sha)) {
    throw new Error(
      `Hugging Face hub: the ${ctx.repoType} info of "${ctx.id}" (revision "${ctx.revision}"): "sha" must be a 40-hex commit hash, got ${JSON.stringify(sha)}`,
    );
  }
  const commit = sha;
  const entries: ListFileEntry[] = [];
  try {
    for await (const entry of listFiles({
      repo: { type: ctx.repoType, name: ctx.id },
      revision: commit,
      recursive: true,
      hubUrl: ctx.endpoint,
      fetch: ctx.apiFetch,
      ...auth,
    })) {
      entries.push(entry);
    }
  } catch (err) {
    throw apiError(ctx, err, `the file list (GET ${api}/tree/${commit})`);
  }
  return { commit, siblings: parseTree(entries, `the file list of "${ctx.id}" at ${commit}`) };
}
