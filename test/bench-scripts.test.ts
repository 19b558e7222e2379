// The bundled benchmark drivers (scripts/bench/) answer --help with their usage, without running anything.
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';

import { evaluateWithExports } from './helpers/script-exports';

const ROOT = path.resolve(__dirname, '..');

describe('benchmark drivers --help', () => {
  test.each([
    ['step.js', /Training-step benchmark[\s\S]*--configs[\s\S]*--omp-env/],
    ['e2e.js', /--variants[\s\S]*ours-ungrouped[\s\S]*--summarize/],
    ['distributed.js', /Data-parallel benchmark[\s\S]*--buckets[\s\S]*--help/],
    ['hostile-input.js', /Hostile-input benchmark[\s\S]*--stages[\s\S]*--scale[\s\S]*--out/],
    ['gemm.js', /packed_gemm[\s\S]*--settings[\s\S]*kblock[\s\S]*--shapes/],
    ['predict-lengths.js', /mixed lengths[\s\S]*--texts[\s\S]*--root/],
  ])('%s', (script, usage) => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bench', script), '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(usage);
    expect(out).not.toMatch(/^\/\//m); // the header comment, printed as text
  });
});

describe('benchmark drivers reject a bad command line, naming the flag, before running anything', () => {
  test.each([
    // step.js exits 1 on any error; e2e.js exits 2 on a usage error.
    ['step.js', ['--threads', '0'], 1, /RangeError: --threads must be an integer >= 1, got 0/],
    ['step.js', ['--omp-env', 'spin'], 1, /RangeError: --omp-env must be default or spin100/],
    ['e2e.js', ['--runs', 'ours,bogus'], 2, /--runs: unknown bogus/],
    ['e2e.js', ['--seed'], 2, /--seed needs a value/],
    ['e2e.js', ['--frobnicate'], 2, /unknown argument --frobnicate/],
    ['hostile-input.js', ['--stages', 'bogus'], 1, /--stages: unknown stage bogus/],
    ['hostile-input.js', ['--scale', '0'], 1, /--scale must be positive integers, got 0/],
    ['gemm.js', ['--settings', 'default,tile=6'], 1, /TypeError: --settings: tile=6 is not KEY=VALUE with KEY one of rows, kblock, isa/],
    ['gemm.js', ['--shapes', '32x768x100'], 1, /RangeError: --shapes: 32x768x100 is not MxKxN .* N a multiple of 16/],
    ['gemm.js', ['--rounds', '0'], 1, /RangeError: --rounds must be an integer >= 1, got 0/],
    ['predict-lengths.js', ['--config', 'large'], 1, /--config/],
    // Without the benchmark addon: the command that builds it, before any child process or measurement.
    ['gemm.js', ['--no-write'], 1, /bert_trainer_bench.node is not built: run `npx cmake-js compile --target bert_trainer_bench -O build-bench`/],
  ])('%s %j', (script, args, status, message) => {
    const env = { ...process.env, BERT_TRAINER_BENCH_ADDON: path.join(ROOT, 'build', 'no-such-dir', 'bert_trainer_bench.node') };
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'bench', script), ...(args as string[])], { encoding: 'utf8', timeout: 60_000, env });
    expect(r.status).toBe(status);
    expect(r.stderr).toMatch(message);
  });
});

// The e2e bench's fixed-order pair takes every random stream away (dropout 0, the recipe given ours' data order), so
// the PyTorch recipe and ours' Trainer (its own tokenization, dynamic padding, schedule, clipping) must train the same
// model: on full-length rows (variant b) the step losses agree within 1e-6 and the held-out predictions are equal.
describe('e2e.js fixed-order pair', () => {
  test('ours and the PyTorch recipe train the same model when nothing random differs', () => {
    const r = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'scripts', 'bench', 'e2e.js'),
        '--variants',
        'b',
        '--runs',
        'recipe-fixed-order,ours-fixed-order',
        '--limit',
        '300',
        '--epochs',
        '1',
        '--threads',
        '1',
        '--no-write',
      ],
      { encoding: 'utf8', timeout: 300_000 },
    );
    expect(r.status).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('Fixed order, variant b'));
    expect(line).toMatch(/within 1e-6 \(relative\) at all \d+ steps/);
    const [, oursLoss, recipeLoss] = /mean train loss ours (\d\.\d+), recipe (\d\.\d+)/.exec(line ?? '') ?? [];
    expect(oursLoss).toBeDefined();
    expect(oursLoss).toBe(recipeLoss);
    const [, ours, recipe] = /held-out accuracy ours (\d\.\d+), recipe (\d\.\d+)/.exec(line ?? '') ?? [];
    expect(ours).toBeDefined();
    expect(ours).toBe(recipe);
  }, 300_000);
});

describe("step.js's FLOP counts and what its targets take", () => {
  const STEP = path.resolve(__dirname, '..', 'scripts', 'bench', 'step.js');

  const evaluate = (expression: string): unknown => evaluateWithExports(STEP, 'step', expression);

  test("oursTrainingFlops is the model's less the last layer's output block, forward and input gradient, past position P", () => {
    const [model, ours] = evaluate("[step.trainingFlops('base', 8, 128), step.oursTrainingFlops('base', 8, 128)]") as number[];
    expect(model - ours).toBe(4 * 8 * (128 - 1) * (768 * 768 + 2 * 768 * 3072)); // P = 1 at 8 x 128
  });

  test('formatMarkdown gives, per targeted shape and anchor, the share of the sgemm rate the target needs', () => {
    // The 2026-12-05 run's results (recorded before oursFlops was), as the driver renders them now.
    const results = path.join(ROOT, 'bench', 'results', '2026-12-05-vm-mini-base-b32-8.json');
    const markdown = evaluate(`(() => {
      const result = require(${JSON.stringify(results)});
      for (const r of result.runs) r.oursFlops = step.oursTrainingFlops(r.config, r.batch, r.seq);
      return step.formatMarkdown(result);
    })()`) as string;
    // base 8 x 128: 514.8 GFLOP in 0.6 x 3875.3 ms (SDPA) is 221.4 GFLOP/s, 114% of the 194.6 measured around it.
    expect(markdown).toMatch(/\| mini \| 32 \| 74\.2 \| ≤ 0\.6 \| 168\.9 GFLOP\/s = 88% \| 146\.1 GFLOP\/s = 76% \|/);
    expect(markdown).toMatch(/\| base \| 8 \| 514\.8 \| ≤ 0\.6 \| 221\.4 GFLOP\/s = 114% \| 185\.7 GFLOP\/s = 95% \|/);
    expect(markdown).not.toMatch(/\| mini \| 8 \| [\d.]+ \| ≤/); // no target at mini 8 x 128
  });

  test('with the FMA peak measured in the run, the needed rates are also read as a share of it', () => {
    const results = path.join(ROOT, 'bench', 'results', '2026-12-05-vm-mini-base-b32-8.json');
    const markdown = evaluate(`(() => {
      const result = require(${JSON.stringify(results)});
      for (const r of result.runs) r.oursFlops = step.oursTrainingFlops(r.config, r.batch, r.seq);
      result.fmaPeak = { start: { gflops: 230, isa: 'avx512f', threads: 2 }, end: null, gflops: 230 };
      return step.formatMarkdown(result);
    })()`) as string;
    expect(markdown).toMatch(/fp32 FMA peak in this run \(bench\/fma_peak\.c: register-only avx512f FMAs on 2 threads.*\): 230\.0 GFLOP\/s/);
    // 168.9 and 146.1 GFLOP/s of 230: 73% and 64%; 221.4 and 185.7: 96% and 81%.
    expect(markdown).toMatch(/\| mini \| 32 \| 74\.2 \| ≤ 0\.6 \| 168\.9 GFLOP\/s = 88% \/ 73% of peak \| 146\.1 GFLOP\/s = 76% \/ 64% of peak \|/);
    expect(markdown).toMatch(/\| base \| 8 \| 514\.8 \| ≤ 0\.6 \| 221\.4 GFLOP\/s = 114% \/ 96% of peak \| 185\.7 GFLOP\/s = 95% \/ 81% of peak \|/);
  });
});
