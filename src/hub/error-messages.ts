// The wording of hub failures: 401/403/404 as coded HubErrors, failed API calls and an unreachable hub, with the
// help they end with. They name the repository (model or dataset), revision and file, never the token.
import { HubApiError } from '@huggingface/hub';

import type { Context, Failure } from './context';
import { HubError } from './hub-error';
import { errorText, NetworkError } from './http';
import { pageUrl, type RepoType } from './repo-type';

/** How to get a repository that is not in the cache without network access. */
export function offlineHelp(id: string, revision: string, type: RepoType = 'model'): string {
  const rev = revision === 'main' ? '' : ` --revision ${revision}`;
  const repoType = type === 'model' ? '' : ` --repo-type ${type}`;
  return `To get it, run once with network access (not offline, HF_HUB_OFFLINE unset), or download it with Python: huggingface-cli download ${id}${repoType}${rev}`;
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
export function accessError(ctx: Context, failure: Failure, file?: string): HubError | undefined {
  const { status, errorCode } = failure;
  const what = `${ctx.repoType} "${ctx.id}" (revision "${ctx.revision}")`;
  const during = file !== undefined ? ` while downloading "${file}"` : '';
  const hubSays = failure.errorMessage ? ` The hub says: ${failure.errorMessage}` : '';
  const sent = ctx.token !== undefined ? `a token was sent (from ${ctx.token.source})` : 'no token was sent';
  if (errorCode === 'GatedRepo' || (status === 403 && /\bgated\b|\brestricted\b/i.test(failure.errorMessage ?? ''))) {
    return new HubError(
      `Hugging Face hub: ${what} is gated (HTTP ${status}${during}): ${sent}. Accept the ${ctx.repoType}'s terms at ` +
        `${pageUrl(ctx.endpoint, ctx.repoType, ctx.id)} while logged in, then use a token of that account: ${tokenHelp()}.${hubSays}`,
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
      `Hugging Face hub: ${what} was not found at ${ctx.endpoint} (HTTP 404): ${which}.${ctx.repoType === 'model' ? ` "${ctx.id}" is not a local directory either.` : ''}${hubSays}`,
      'HUB_NOT_FOUND',
      404,
    );
  }
  return undefined;
}

/** An Error for a failed call of @huggingface/hub's API functions (`what`: which call, for the message). */
export function apiError(ctx: Context, err: unknown, what: string): Error {
  if (err instanceof HubApiError) {
    const failure: Failure = ctx.lastFailure?.status === err.statusCode ? ctx.lastFailure : { status: err.statusCode };
    return accessError(ctx, failure) ?? new Error(`Hugging Face hub: ${what} for "${ctx.id}" failed: HTTP ${err.statusCode}: ${err.message}`);
  }
  if (err instanceof NetworkError || (err instanceof Error && err.name === 'AbortError')) {
    return new Error(
      `Hugging Face hub: could not reach ${ctx.endpoint} to download "${ctx.id}" (${err.message}), and it is not in the cache at ${ctx.repoDir}. ` +
        offlineHelp(ctx.id, ctx.revision, ctx.repoType),
    );
  }
  if (err instanceof SyntaxError) return new Error(`Hugging Face hub: ${what} for "${ctx.id}": malformed JSON (${err.message})`);
  return new Error(`Hugging Face hub: ${what} for "${ctx.id}" failed: ${errorText(err)}`);
}
