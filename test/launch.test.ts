// `bert-trainer launch`, run as users run it (the compiled CLI in child processes): torchrun's environment for each
// worker, a 2-process `train` whose rank 0 alone reports and writes, Ctrl-C passed on to every worker (one agreed
// checkpoint, exit 130), a failing worker stopping the others with its exit code, and usage errors.
import { execFileSync, spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

import { workerEnvironment } from '../src/cli/launch';
import { native } from '../src/engine/native';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');
const describeDistributed = native().distributed.available ? describe : describe.skip;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs the CLI; `onStdout` sees the output as it arrives and may signal the launcher. */
function cli(args: string[], cwd: string, onStdout?: (soFar: string, child: ReturnType<typeof spawn>) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, WORLD_SIZE: '', RANK: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    // A hung run fails its test instead of outliving it: SIGTERM makes launch stop its workers.
    const guard = setTimeout(() => child.kill('SIGTERM'), 150_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** A 3-class CSV whose classes are told apart by their words. */
function csv(rows: number): string {
  const cue = [
    ['great', 'lovely', 'excellent'],
    ['awful', 'terrible', 'boring'],
    ['okay', 'average', 'plain'],
  ];
  const filler = ['the', 'movie', 'was', 'really', 'plot', 'acting'];
  const lines = ['text,label'];
  for (let i = 0; i < rows; i++) {
    const c = i % 3;
    const words = Array.from({ length: 8 }, (_, j) => ((i * 7 + j * 3) % 5 < 2 ? cue[c][(i + j) % 3] : filler[(i * 5 + j) % 6]));
    lines.push(`${words.join(' ')},${['positive', 'negative', 'neutral'][c]}`);
  }
  return `${lines.join('\n')}\n`;
}

let dir: string;
beforeAll(async () => {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bert-trainer-launch-'));
  await fs.writeFile(path.join(dir, 'data.csv'), csv(96));
}, 180_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

test("each worker gets torchrun's environment", () => {
  const flags = { nprocPerNode: 4, nnodes: 2, nodeRank: 1, masterAddr: '10.0.0.1', masterPort: 1234, timeout: 30, backend: 'gloo' as const };
  expect(workerEnvironment(flags, 2, {})).toEqual({
    RANK: '6',
    WORLD_SIZE: '8',
    LOCAL_RANK: '2',
    LOCAL_WORLD_SIZE: '4',
    GROUP_RANK: '1',
    MASTER_ADDR: '10.0.0.1',
    MASTER_PORT: '1234',
    BERT_TRAINER_LAUNCHER_PID: String(process.pid),
    BERT_TRAINER_DIST_TIMEOUT_MS: '30000',
    BERT_TRAINER_DIST_BACKEND: 'gloo',
  });
});

test.each([
  [['launch', '--nproc-per-node', '2', 'predict', '--model', 'x'], /launch runs the bert-trainer command 'train' or a \.js file, not 'predict'/],
  [['launch', '--nnodes', '2', '--node-rank', '2', 'train'], /--node-rank 2 must be less than --nnodes 2/],
  [['launch', '--nproc-per-node', '0', 'train'], /--nproc-per-node/],
])('usage error: %j', async (args, message) => {
  const r = await cli(args, dir);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
});

describeDistributed('2 workers', () => {
  test('train: rank 0 alone reports and writes the model, metrics and checkpoints', async () => {
    const port = await freePort();
    const r = await cli(
      [
        'launch',
        '--nproc-per-node',
        '2',
        '--master-port',
        String(port),
        'train',
        '--model',
        'tiny',
        '--train',
        'data.csv',
        '--validation-split',
        '0.25',
        '--epochs',
        '2',
        '--batch-size',
        '6',
        '--output',
        'run',
        '--threads',
        '1',
      ],
      dir,
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.match(/data-parallel: 2 processes/g)).toHaveLength(1);
    // 72 training rows: 36 per rank, 6 batches of 6 per epoch.
    expect(r.stdout).toMatch(/training: 72 examples, 2 epochs, 12 steps/);
    expect(r.stdout.match(/^model: /gm)).toHaveLength(2); // the description, then the summary's output line
    const files = await fs.readdir(path.join(dir, 'run'));
    expect(files).toEqual(expect.arrayContaining(['model.safetensors', 'metrics.json', 'report.html', 'checkpoint-6', 'checkpoint-12']));
    const metrics = JSON.parse(await fs.readFile(path.join(dir, 'run', 'metrics.json'), 'utf8'));
    expect(metrics.numExamples).toBe(24); // the held-out quarter, evaluated across both ranks
    const checkpoint = await fs.readdir(path.join(dir, 'run', 'checkpoint-12'));
    expect(checkpoint).toEqual(expect.arrayContaining(['rng_state.bin', 'rng_state_1.bin']));
  }, 180_000);

  test('two "machines" (two launches with --nnodes 2 and their own --node-rank) form one job', async () => {
    const port = await freePort();
    const node = (rank: number): Promise<Result> =>
      cli(
        [
          'launch',
          '--nnodes',
          '2',
          '--node-rank',
          String(rank),
          '--nproc-per-node',
          '1',
          '--master-addr',
          '127.0.0.1',
          '--master-port',
          String(port),
          '--timeout',
          '60',
          'train',
          '--model',
          'tiny',
          '--train',
          'data.csv',
          '--epochs',
          '1',
          '--batch-size',
          '6',
          '--output',
          'nodes',
          '--threads',
          '1',
        ],
        dir,
      );
    const [node0, node1] = await Promise.all([node(0), node(1)]);
    expect({ code: node0.code, stderr: node0.stderr }).toEqual({ code: 0, stderr: '' });
    expect({ code: node1.code, stderr: node1.stderr, stdout: node1.stdout }).toEqual({ code: 0, stderr: '', stdout: '' });
    expect(node0.stdout).toMatch(/data-parallel: 2 processes/);
    expect(node0.stdout).toMatch(/training: 96 examples, 1 epochs?, 8 steps/);
  }, 180_000);

  test('Ctrl-C reaches every worker once: they stop at one step with one checkpoint, exit 130', async () => {
    const port = await freePort();
    let sent = false;
    const r = await cli(
      [
        'launch',
        '--nproc-per-node',
        '2',
        '--master-port',
        String(port),
        'train',
        '--model',
        'tiny',
        '--train',
        'data.csv',
        '--epochs',
        '500',
        '--batch-size',
        '6',
        '--output',
        'interrupted',
        '--threads',
        '1',
      ],
      dir,
      (soFar, child) => {
        if (!sent && /saved +step \d+ /.test(soFar)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    );
    expect(r.code).toBe(130);
    expect(r.stdout.match(/checkpoint saved to /g)).toHaveLength(1);
    const stoppedAt = /interrupted at step (\d+)/.exec(r.stdout)![1];
    expect(await fs.readdir(path.join(dir, 'interrupted'))).toContain(`checkpoint-${stoppedAt}`);
    expect(r.stdout).toMatch(/resume with: bert-trainer launch \[its options\] train /);
  }, 180_000);

  test('a failing worker stops the others, and launch exits with its code', async () => {
    const script = path.join(dir, 'worker.js');
    // Rank 1 fails at once; rank 0 would wait forever.
    await fs.writeFile(script, "if (process.env.RANK === '1') process.exit(3); setInterval(() => {}, 1000);\n");
    const r = await cli(['launch', '--nproc-per-node', '2', script], dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/launch: rank 1 exited with code 3; stopping the other 1 worker/);
    expect(r.seconds).toBeLessThan(30);
  }, 60_000);
});
