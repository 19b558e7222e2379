// The inference benchmark driver (scripts/bench/infer.js, npm run bench:infer): --help prints its usage and a bad
// command line is an error naming the flag, before anything is built or timed.
import { spawnSync } from 'child_process';
import * as path from 'path';

const SCRIPT = path.resolve(__dirname, '..', 'scripts', 'bench', 'infer.js');

test('--help prints the header comment as text', () => {
  const r = spawnSync(process.execPath, [SCRIPT, '--help'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/Inference benchmark \(issue 15\)[\s\S]*--shapes[\s\S]*--clients[\s\S]*--max-wait-ms/);
  expect(r.stdout).not.toMatch(/^\/\//m);
});

test.each([
  [['--shapes', 'mini-1x32,huge-1x1'], /RangeError: --shapes: unknown huge-1x1/],
  [['--threads', '0'], /RangeError: --threads must be an integer >= 1, got 0/],
  [['--clients', '8,x'], /RangeError: --clients must be an integer >= 1, got x/],
  [['--requests-config', 'tiny'], /RangeError: --requests-config: unknown tiny/],
  [['--rounds'], /TypeError: --rounds needs a value/],
  [['--frobnicate'], /TypeError: unknown argument --frobnicate/],
])('%j is refused before anything runs', (args, message) => {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(message);
});
