// The options of the hub look-ups (resolveModel; Dataset.fromHub adds its own) and the download progress they
// report (public types).

export interface DownloadProgress {
  /** Path of the file inside the repository, e.g. "model.safetensors". */
  file: string;
  /** Bytes of this file on disk so far (a resumed download starts at the resumed size). */
  bytes: number;
  /** Size of the file when known. */
  total?: number;
}

/** What every hub look-up takes: revision, cache, endpoint, offline mode, token, HTTP client and progress. */
export interface HubAccessOptions {
  /** Branch, tag or 40-hex commit; default "main". */
  revision?: string;
  /** Hub cache folder; default {@link hubCacheDir}(). */
  cacheDir?: string;
  /** Hub URL; default HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Never touch the network; default true when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/true/yes/on. */
  offline?: boolean;
  /**
   * Hugging Face access token for private and gated repositories (sent as `Authorization: Bearer`, never logged).
   * Default: HF_TOKEN (or the legacy HUGGING_FACE_HUB_TOKEN), else the token file huggingface_hub's login writes
   * (HF_TOKEN_PATH, default $HF_HOME/token); none when HF_HUB_DISABLE_IMPLICIT_TOKEN is set. `false`: send none.
   */
  token?: string | false;
  /** HTTP client; default Node's global fetch. */
  fetch?: typeof fetch;
  /** Called as bytes arrive (once per chunk). */
  onProgress?: (e: DownloadProgress) => void;
}

/** The option names of HubAccessOptions, for option checks. */
export const HUB_ACCESS_OPTION_NAMES: readonly string[] = ['revision', 'cacheDir', 'endpoint', 'offline', 'token', 'fetch', 'onProgress'];

export interface ResolveModelOptions extends HubAccessOptions {
  /** Extra repository files that must be present too (fetched if missing), e.g. ["added_tokens.json"]. */
  files?: string[];
}
