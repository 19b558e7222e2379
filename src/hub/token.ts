// The Hugging Face access token: found like huggingface_hub's get_token() (HF_TOKEN, HUGGING_FACE_HUB_TOKEN, the
// token file) and kept out of error messages.
import { readFileSync } from 'fs';
import * as path from 'path';

import { envIsTrue, envValue, expandPath, hfHomeDir } from './environment';

/** A token and where it came from (for messages: the token itself is never shown). */
export interface HubToken {
  token: string;
  source: string;
}

/** huggingface_hub's _clean_token: no CR/LF, trimmed; empty is none. */
function cleanToken(raw: string | undefined): string | undefined {
  const t = raw?.replace(/[\r\n]/g, '').trim();
  return t ? t : undefined;
}

/**
 * The token huggingface_hub's get_token() finds: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file
 * (HF_TOKEN_PATH, default $HF_HOME/token, written by `huggingface-cli login` / `hf auth login`). None when
 * HF_HUB_DISABLE_IMPLICIT_TOKEN is true.
 */
export function hubToken(env: NodeJS.ProcessEnv = process.env): HubToken | undefined {
  if (envIsTrue(env.HF_HUB_DISABLE_IMPLICIT_TOKEN)) return undefined;
  for (const key of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const token = cleanToken(env[key]);
    if (token !== undefined) return { token, source: key };
  }
  const explicitPath = envValue(env, 'HF_TOKEN_PATH');
  const file = explicitPath !== undefined ? expandPath(explicitPath, env) : path.join(hfHomeDir(env), 'token');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // no token file: anonymous, as huggingface_hub
  }
  const token = cleanToken(text);
  return token !== undefined ? { token, source: `the token file ${file}` } : undefined;
}

/** Replaces the token wherever it might appear in an error's message (a last guard: no message should hold it). */
export function redact<T>(err: T, token: HubToken | undefined): T {
  if (token !== undefined && err instanceof Error && err.message.includes(token.token)) {
    err.message = err.message.split(token.token).join('hf_***');
    if (err.stack !== undefined) err.stack = err.stack.split(token.token).join('hf_***');
  }
  return err;
}
