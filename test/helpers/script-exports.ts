// Evaluating an expression over a bench script's exports in a child Node process (the scripts are CommonJS outside
// the TypeScript build), for tests of their pure parts: FLOP counts, table rendering.
import { spawnSync } from 'child_process';

/** What `expression` evaluates to, with `script`'s exports bound to `name`, through JSON. */
export function evaluateWithExports(script: string, name: string, expression: string): unknown {
  const code = `const ${name} = require(${JSON.stringify(script)}); console.log(JSON.stringify(${expression}));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 || r.stderr !== '') throw new Error(`evaluating over ${script} failed (status ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
