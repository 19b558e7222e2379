// The kinds of hub repository we download from, and where each lives: models at {endpoint}/{id}, datasets at
// {endpoint}/datasets/{id}; the API under /api/models and /api/datasets; the cache under models--* and datasets--*.

export type RepoType = 'model' | 'dataset';

/** The URL of `file` at `revision` (a commit): {endpoint}/{id}/resolve/... or {endpoint}/datasets/{id}/resolve/... */
export function resolveUrl(endpoint: string, type: RepoType, id: string, revision: string, file: string): string {
  const prefix = type === 'model' ? '' : `${type}s/`;
  return `${endpoint}/${prefix}${id}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** The repository's page: where gated terms are accepted. */
export function pageUrl(endpoint: string, type: RepoType, id: string): string {
  return type === 'model' ? `${endpoint}/${id}` : `${endpoint}/${type}s/${id}`;
}

/** The API path of the repository, for messages: {endpoint}/api/models/{id} or {endpoint}/api/datasets/{id}. */
export function apiUrl(endpoint: string, type: RepoType, id: string): string {
  return `${endpoint}/api/${type}s/${id}`;
}
