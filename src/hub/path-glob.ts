// Glob patterns over repository paths, as 🤗 datasets' data_files patterns match them (fsspec's glob): "*" and "?"
// stay inside one path segment, "**" crosses segments ("**/" also matches no folder at all), "[...]" is a set of
// characters ("[!...]" its complement).

/** The RegExp matching the whole of a "/"-separated path against `pattern`. */
export function globRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const slash = pattern[i + 2] === '/';
        out += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      out += `[${set}]`;
      i = close;
    } else {
      out += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}

/** The paths (in their order) that match any of `patterns`. */
export function matchingPaths(paths: readonly string[], patterns: readonly string[]): string[] {
  const res = patterns.map(globRegExp);
  return paths.filter((p) => res.some((re) => re.test(p)));
}
