// HubError: the coded Error resolveModel throws when the hub refuses a model (no access, gated, not found)
// or the access token is malformed.

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
