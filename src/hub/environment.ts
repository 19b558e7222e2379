// huggingface_hub's environment variables read the way Python does: empty counts as unset, true-ish values,
// "~" and $VARS expanded, and the HF_HOME folder.
import * as os from 'os';
import * as path from 'path';

export function envValue(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const v = env[key];
  return v !== undefined && v !== '' ? v : undefined;
}

/** huggingface_hub's `_is_true`: 1 / ON / YES / TRUE, any case. */
export function envIsTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.trim().toUpperCase());
}

/** Python's os.path.expanduser for "~" and "~/..." (not "~user"). */
function expandUser(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/') || (path.sep === '\\' && p.startsWith('~\\'))) return path.join(home, p.slice(2));
  return p;
}

/** Python's os.path.expandvars: $NAME and ${NAME} when defined, left as written otherwise. */
function expandVars(p: string, env: NodeJS.ProcessEnv): string {
  return p.replace(/\$(?:(\w+)|\{([^}]*)\})/g, (whole, a: string | undefined, b: string | undefined) => {
    const value = env[(a ?? b) as string];
    return value !== undefined ? value : whole;
  });
}

/** "~" and $VARS expanded like Python does, made absolute. */
export function expandPath(p: string, env: NodeJS.ProcessEnv): string {
  const home = envValue(env, 'HOME') ?? envValue(env, 'USERPROFILE') ?? os.homedir();
  return path.resolve(expandVars(expandUser(p, home), env));
}

/** huggingface_hub's HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHomeDir(env: NodeJS.ProcessEnv): string {
  return expandPath(envValue(env, 'HF_HOME') ?? path.join(envValue(env, 'XDG_CACHE_HOME') ?? path.join('~', '.cache'), 'huggingface'), env);
}
