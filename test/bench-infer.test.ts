// The inference benchmark driver (scripts/bench/infer.js, npm run bench:infer): --help prints its usage and a bad
// command line is an error naming the flag, before anything is built or timed.
import { spawnSync } from 'child_process';
import * as path from 'path';

const SCRIPT = path.resolve(__dirname, '..', 'scripts', 'bench', 'infer.js');

/** `script` with `args` refuses them: exit 1 and `message` on stderr. */
function expectRefused(script: string, args: string[], message: RegExp): void {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(message);
}

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
])('%j is refused before anything runs', (args, message) => expectRefused(SCRIPT, args, message));

describe('scripts/bench/profile-forward.js (our forward alone, for a profiler)', () => {
  const PROFILE = path.resolve(__dirname, '..', 'scripts', 'bench', 'profile-forward.js');

  test('times forwards at one of the shapes and prints the median and fastest call', () => {
    const r = spawnSync(process.execPath, [PROFILE, '--shape', 'mini-1x32', '--calls', '3', '--threads', '1'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^mini-1x32 forward: median \d+\.\d{3} ms, fastest \d+\.\d{3} ms \(3 calls, 1 threads\)\n$/);
  });

  test.each([
    [['--shape', 'huge-1x1'], /RangeError: --shape: unknown huge-1x1/],
    [['--calls', '0'], /RangeError: --calls must be an integer >= 1, got 0/],
    [['--frobnicate'], /TypeError: unknown argument --frobnicate/],
  ])('%j is refused before anything runs', (args, message) => expectRefused(PROFILE, args, message));

  test('--help prints the header comment with the perf command', () => {
    const r = spawnSync(process.execPath, [PROFILE, '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/perf record -D 5000 -F 2000 -g node scripts\/bench\/profile-forward\.js[\s\S]*--shape/);
  });
});
