// The inference benchmark driver (scripts/bench/infer.js, npm run bench:infer): --help prints its usage and a bad
// command line is an error naming the flag, before anything is built or timed.
import { spawnSync } from 'child_process';
import * as path from 'path';

import { evaluateWithExports } from './helpers/script-exports';

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

describe("scripts/bench/common.js's FMA peak", () => {
  test('measureFmaPeak compiles bench/fma_peak.c and reports the best of its samples on the threads asked for', () => {
    const common = path.join(__dirname, '..', 'scripts', 'bench', 'common.js');
    const peak = evaluateWithExports(common, 'common', 'common.measureFmaPeak(1, 2)') as {
      gflops: number;
      isa: string;
      threads: number;
      samples_gflops: number[];
    };
    expect(['avx512f', 'avx2']).toContain(peak.isa);
    expect(peak.threads).toBe(1);
    expect(peak.samples_gflops).toHaveLength(2);
    expect(peak.gflops).toBe(Math.max(...peak.samples_gflops));
    expect(peak.gflops).toBeGreaterThan(0);
  });
});

describe("scripts/bench/infer.js's FLOP counts and GEMM-rate table", () => {
  const evaluate = (expression: string): unknown => evaluateWithExports(SCRIPT, 'infer', expression);

  test('forwardFlops counts the model and, for ours, the last layer at the positions first_positions_to_compute picks', () => {
    const flops = evaluate(
      'Object.keys(infer.SHAPES).map((k) => infer.forwardFlops(infer.CONFIGS[infer.SHAPES[k].config], infer.SHAPES[k].batch, infer.SHAPES[k].seq))',
    ) as Array<{
      model: number;
      ours: number;
      positions: number;
    }>;
    // bert-base at 8 x 128, by hand: 12 layers of 2·1024·(4·768² + 2·768·3072) + 4·8·128²·768, and the pooler.
    const layer = 2 * 1024 * (4 * 768 * 768 + 2 * 768 * 3072) + 4 * 8 * 128 * 128 * 768;
    expect(flops[2].model).toBe(12 * layer + 2 * 8 * 768 * 768);
    // The fewest positions P with B·P·H·min(H, I) > 1e6 (native/model/first_positions.cpp).
    expect(flops.map((f) => f.positions)).toEqual([1, 16, 1, 2]);
    // Ours' last layer: keys and values for all 1024 rows, the rest for 8 rows.
    const last = 2 * 1024 * 2 * 768 * 768 + 2 * 8 * (2 * 768 * 768 + 2 * 768 * 3072) + 4 * 8 * 128 * 768;
    expect(flops[2].ours).toBe(11 * layer + last + 2 * 8 * 768 * 768);
    for (const f of flops) expect(f.ours).toBeLessThan(f.model);
  });

  test('formatMarkdown reads each side against the GEMM rate measured in the run', () => {
    const markdown = evaluate(`infer.formatMarkdown({
      date: '2026-12-05', argv: [], uptimeStart: 'a', uptimeEnd: 'b', settings: { rounds: 1, warmup: 1 },
      machine: { onnxruntime: '1.0', hostname: 'h', cpuModel: 'cpu', cores: 2, threads: 2, torchOurs: '2.13', addon: 'x', node: 'v20', commit: null },
      checks: { base: { maxAbsDiff: 1e-7 } },
      sgemm: { start: { gflops: 200, blas: 'MKL' }, end: { gflops: 190, blas: 'MKL' }, gflops: 200 },
      runs: [{ config: 'base', batch: 8, seq: 128, before: 1.08, flops: infer.forwardFlops(infer.CONFIGS.base, 8, 128),
        forward: { ours: { median: 900 }, theirs: { median: 1000 }, ratio: 0.9, pairedRatio: 0.9 },
        predict: { ours: { median: 900 }, theirs: { median: 1000 }, ratio: 0.9, pairedRatio: 0.9 } }],
    })`) as string;
    expect(markdown).toMatch(/fp32 GEMM rate in this run .*: 200\.0 GFLOP\/s/);
    // 178.79 GFLOP per forward: 198.7 GFLOP/s in 900 ms, 178.8 in 1000 ms; ours' 166.40 GFLOP at 200 GFLOP/s would
    // take 832 ms, against onnxruntime's 1000.
    expect(markdown).toMatch(/\| base 8 × 128 \| 178\.79 \| 166\.40 \| 198\.7 \| 99\.3% \| 178\.8 \| 89\.4% \| 0\.832 \|/);
  });

  test('formatMarkdown reads ours against the FMA peak measured in the run, when it was', () => {
    const run = `{
      date: '2026-12-05', argv: [], uptimeStart: 'a', uptimeEnd: 'b', settings: { rounds: 1, warmup: 1 },
      machine: { onnxruntime: '1.0', hostname: 'h', cpuModel: 'cpu', cores: 2, threads: 2, torchOurs: '2.13', addon: 'x', node: 'v20', commit: null },
      checks: { base: { maxAbsDiff: 1e-7 } },
      sgemm: { start: { gflops: 200, blas: 'MKL' }, end: { gflops: 190, blas: 'MKL' }, gflops: 200 },
      FMA
      runs: [{ config: 'base', batch: 8, seq: 128, before: 1.08, flops: infer.forwardFlops(infer.CONFIGS.base, 8, 128),
        forward: { ours: { median: 900 }, theirs: { median: 1000 }, ratio: 0.9, pairedRatio: 0.9 },
        predict: { ours: { median: 900 }, theirs: { median: 1000 }, ratio: 0.9, pairedRatio: 0.9 } }],
    }`;
    const measured = evaluate(
      `infer.formatMarkdown(${run.replace('FMA', "fmaPeak: { start: { gflops: 230, isa: 'avx512f', threads: 2 }, end: { gflops: 250, isa: 'avx512f', threads: 2 }, gflops: 250 },")})`,
    ) as string;
    expect(measured).toMatch(
      /fp32 FMA peak in this run \(bench\/fma_peak\.c: register-only avx512f FMAs on 2 threads.*: 250\.0 GFLOP\/s; the GEMM rate above is 80\.0% of it/,
    );
    // Ours' 166.40 GFLOP in 900 ms: 184.9 GFLOP/s, 74.0% of 250; at 250 GFLOP/s they take 666 ms against 1000.
    expect(measured).toMatch(/\| 0\.832 \| 74\.0% \| 0\.666 \|$/m);
    const unmeasured = evaluate(`infer.formatMarkdown(${run.replace('FMA', 'fmaPeak: { start: null, end: null, gflops: null },')})`) as string;
    expect(unmeasured).not.toMatch(/FMA peak/);
    expect(unmeasured).toMatch(/\| 0\.832 \|$/m);
  });
});
