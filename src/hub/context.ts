// What one look-up that goes to the hub (resolveModel, Dataset.fromHub) carries through the API calls and downloads:
// the repository and its type, endpoint, token, fetch, timeout, cache folders and the last failed response.
import type { RepoType } from './repo-type';
import type { DownloadProgress } from './resolve-options';
import type { HubToken } from './token';

/** The last failed response's status and huggingface's X-Error-Code / X-Error-Message headers. */
export interface Failure {
  status: number;
  errorCode?: string;
  errorMessage?: string;
}

export interface Context {
  id: string;
  repoType: RepoType;
  revision: string;
  endpoint: string;
  fetch: typeof fetch;
  /** `fetch` for @huggingface/hub: our user agent, idle timeout and size limit, and a record of failures. */
  apiFetch: typeof fetch;
  lastFailure?: Failure;
  token?: HubToken;
  timeoutMs: number;
  cacheRoot: string;
  repoDir: string;
  blobsDir: string;
  locksDir: string;
  onProgress?: (e: DownloadProgress) => void;
}
