// HubError: the coded Error resolveModel and Dataset.fromHub throw when the hub refuses a repository (no access,
// gated, not found: also a dataset's config or split), the access token is malformed, or offline mode finds the
// repository missing from the cache.

/** Hub failures that callers may branch on. */
export type HubErrorCode = 'HUB_UNAUTHORIZED' | 'HUB_GATED' | 'HUB_NOT_FOUND' | 'HUB_BAD_TOKEN' | 'HUB_OFFLINE';

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
