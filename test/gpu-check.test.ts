// scripts/gpu-check.sh runs once on a GPU machine with no way to fix it mid-run, so every stage is dry-run here on
// the CPU with tiny sizes (`--dry-run`): the same script, the same stage commands, the same JSON and log. The build
// stage is skipped when build/Release/bert_trainer.node exists (`--skip-build`: the build takes minutes on 2 cores);
// without an addon the dry run builds it.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { PYTHON } from './helpers/paths';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'gpu-check.sh');
const HAVE_ADDON = fs.existsSync(path.join(ROOT, 'build', 'Release', 'bert_trainer.node'));
const STAGES = ['env', 'build', 'tsc', 'addon', 'parity', 'bench'];
const ROWS = ['ours-fp32', 'ours-bf16', 'ours-bf16-eager', 'transformers-eager-fp32', 'transformers-sdpa-bf16', 'transformers-compile-bf16'];
const TARGETS = [
  'logitsMaxAbsDiff',
  'bf16CurveMaxRelDiff',
  'fp16CurveMaxRelDiff',
  'oursBf16VsSdpaBf16',
  'oursBf16VsCompileBf16',
  'oursBf16Mfu',
  'familyLogitsMaxAbsDiff',
  'familyBf16CurveMaxRelDiff',
];

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-gpu-check-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function runScript(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string; seconds: number }> {
  const start = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT, ...args], {
      cwd: ROOT,
      env: { ...process.env, BERT_TRAINER_PYTHON: PYTHON, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output, seconds: (Date.now() - start) / 1000 }));
  });
}

const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);

function expectFinite(value: unknown, what: string): void {
  if (!finite(value)) throw new Error(`${what} is ${JSON.stringify(value)}, not a finite number`);
}

test('usage: without an output folder it exits 2 and prints the usage', () => {
  const r = spawnSync('bash', [SCRIPT], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('no output folder given');
  expect(r.stderr).toContain('--dry-run');
  const bad = spawnSync('bash', [SCRIPT, '--fast', path.join(tmp, 'x')], { cwd: ROOT, encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('unknown option --fast');
});

test('out of time: each stage is skipped, and the JSON and the log are still written', async () => {
  const out = path.join(tmp, 'no-time');
  const r = await runScript(['--dry-run', '--skip-build', out], { GPU_CHECK_DEADLINE_S: '1' });
  expect(r.code).toBe(1);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'gpu-check.json'), 'utf8')) as Json;
  expect(summary.finished).toBe(true);
  expect(summary.stagesOk).toBe(false);
  expect(summary.allTargetsPass).toBe(false);
  const statuses = Object.fromEntries(summary.stages.map((s: Json) => [s.stage, s.status]));
  expect(Object.keys(statuses).sort()).toEqual([...STAGES].sort());
  for (const stage of ['env', 'tsc', 'addon', 'parity', 'bench']) expect(statuses[stage]).toBe('skipped-no-time');
  expect(summary.targets.oursBf16Mfu).toEqual({ value: null, target: '>= 0.45', pass: false });
  expect(fs.readFileSync(path.join(out, 'gpu-check.log'), 'utf8')).toContain('parity: skipped, no time left');
});

test('dry run: every stage on the CPU with tiny sizes; gpu-check.json has every field as a finite number, and the log', async () => {
  const out = path.join(tmp, 'dry-run');
  const r = await runScript(['--dry-run', ...(HAVE_ADDON ? ['--skip-build'] : []), out]);
  const log = fs.readFileSync(path.join(out, 'gpu-check.log'), 'utf8');
  if (r.code !== 0) throw new Error(`gpu-check.sh --dry-run exited ${r.code}:\n${r.output.slice(-6000)}`);
  const s = JSON.parse(fs.readFileSync(path.join(out, 'gpu-check.json'), 'utf8')) as Json;

  // Every stage ran (the build only when there was no addon) and succeeded, within the GPU run's 8 minutes.
  expect(s.dryRun).toBe(true);
  expect(s.finished).toBe(true);
  expect(s.stagesOk).toBe(true);
  expect(s.stages.map((x: Json) => x.stage)).toEqual(STAGES);
  for (const stage of s.stages) expect(stage.status).toBe(stage.stage === 'build' && HAVE_ADDON ? 'skipped-by-flag' : 'ok');
  expectFinite(s.elapsedSeconds, 'elapsedSeconds');
  for (const stage of ['env', 'tsc', 'addon', 'parity', 'bench']) expect(log).toMatch(new RegExp(`=== \\[\\d+ s\\] ${stage}: ok`));

  // The machine and the software.
  expect(typeof s.device.name).toBe('string');
  expect(s.python.torch).toMatch(/^2\./);
  expect(typeof s.python.transformers).toBe('string');
  expect(s.versions.torchVersion).toMatch(/^\d+\.\d+/);
  if (s.versions.versions) {
    expect(s.versions.versions).toEqual(expect.objectContaining({ bertTrainer: expect.any(String), libtorch: expect.any(String) }));
    for (const key of ['cuda', 'cudnn', 'nccl']) expect(key in s.versions.versions).toBe(true);
  }

  // Parity: every number there, on the CPU with the GPU run's tolerances.
  expect(s.parity.device).toBe('cpu');
  expectFinite(s.parity.logits.maxAbsDiff, 'parity.logits.maxAbsDiff');
  expect(s.parity.logits.pass).toBe(true);
  for (const precision of ['no', 'bf16', 'fp16']) {
    const c = s.parity.curves[precision];
    expectFinite(c.maxRelDiff, `parity.curves.${precision}.maxRelDiff`);
    expect(c.finite).toBe(true);
    expect(c.pass).toBe(true);
    expect(c.ours).toHaveLength(s.parity.steps);
  }
  // The rest of the family: RoBERTa, DistilBERT and ELECTRA, each one's logits and bf16 curve.
  expect(s.parity.familyRequested).toEqual(['roberta', 'distilbert', 'electra']);
  for (const modelType of s.parity.familyRequested) {
    const f = s.parity.family[modelType];
    expectFinite(f.logits.maxAbsDiff, `parity.family.${modelType}.logits.maxAbsDiff`);
    expect(f.logits.pass).toBe(true);
    expect(f.curves.bf16).toEqual(expect.objectContaining({ finite: true, pass: true }));
    expect(f.curves.bf16.ours).toHaveLength(s.parity.steps);
  }
  // Resume exactness (dropout on; fp16 with the loss scaler's state): on the CPU, bit for bit.
  for (const precision of ['no', 'fp16']) {
    const r = s.parity.resume[precision];
    for (const key of ['checkpointStep', 'lossMaxAbsDiff', 'repeatLossMaxAbsDiff', 'weightsMaxAbsDiff', 'repeatWeightsMaxAbsDiff'])
      expectFinite(r[key], `parity.resume.${precision}.${key}`);
    expect(r).toEqual(expect.objectContaining({ pass: true, learningRatesEqual: true, rngStateFormat: 'BTPHILOX', lossMaxAbsDiff: 0, weightsMaxAbsDiff: 0 }));
  }

  // The benchmark: every row's samples/s and peak memory, the matmul rate, MFU and the ratios.
  const b = s.benchmark;
  expect(b).toEqual(expect.objectContaining({ batch: 4, seq: 32 }));
  expectFinite(b.flopsPerStep, 'benchmark.flopsPerStep');
  expectFinite(b.matmulBf16Tflops, 'benchmark.matmulBf16Tflops');
  for (const row of ROWS) {
    expect(b.rows[row]).toEqual(expect.objectContaining({ ok: true }));
    expectFinite(b.rows[row].samplesPerSecond, `${row}.samplesPerSecond`);
    expectFinite(b.rows[row].peakMemoryMiB, `${row}.peakMemoryMiB`);
    expectFinite(b.mfu[row], `mfu.${row}`);
  }
  expect(b.rows['transformers-compile-bf16'].compileBackend).toBe('aot_eager');
  expect(b.errors).toEqual([]);
  for (const t of TARGETS) {
    expectFinite(s.targets[t].value, `targets.${t}.value`);
    expect(typeof s.targets[t].pass).toBe('boolean');
  }
  // The per-stage outputs the summary was made from are there too.
  for (const file of ['env.json', 'versions.json', 'parity.json', 'bench.json', 'stages.jsonl']) expect(fs.existsSync(path.join(out, file))).toBe(true);
  process.stdout.write(`gpu-check dry run: ${r.seconds.toFixed(0)} s (stages: ${s.stages.map((x: Json) => `${x.stage} ${x.seconds} s`).join(', ')})\n`);
}, 1_500_000);
