#!/usr/bin/env node
// Data-parallel benchmark on CPU: the same global batch trained by 2 processes with 1 intra-op thread each (Gloo
// over loopback, batch B per process) against 1 process with 2 threads (batch 2B), through the Trainer (fit: encode,
// train-mode forward, backward, gradient all-reduce, clipping, AdamW). Also the all-reduce alone: 2 processes
// summing a buffer as large as the model's gradients, the communication each data-parallel step adds.
//
//   npx tsc -p tsconfig.json && node scripts/bench/distributed.js [options]
//     --config tiny|mini|small    model size (default mini: 4 layers, hidden 256, vocab 30522)
//     --batch B                   examples per process and step (default 8; the single process gets 2B)
//     --seq N                     sequence length (default 128)
//     --steps N                   timed steps per run (default 12), after --warmup untimed ones (default 3)
//     --rounds N                  A B A B ... rounds, alternating the setups (default 2)
//     --buckets MB[,MB...]        gradient bucket sizes of the 2-process runs (default 25, DDP's bucket_cap_mb; a
//                                 size above the model's gradients means one bucket, launched when backward ends:
//                                 no overlap)
//     --help                      this text
//
// Step time = the median interval between consecutive 'step' events of rank 0 (logEvery 1) after the warm-up.
// Prints a Markdown table; writes nothing.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const { headerComment, median } = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const CONFIGS = {
  tiny: { num_hidden_layers: 2, hidden_size: 128, num_attention_heads: 2, intermediate_size: 512 },
  mini: { num_hidden_layers: 4, hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 },
  small: { num_hidden_layers: 4, hidden_size: 512, num_attention_heads: 8, intermediate_size: 2048 },
};

function parseArgs(argv) {
  const o = { config: 'mini', batch: 8, seq: 128, steps: 12, warmup: 3, rounds: 2, buckets: [25] };
  if (argv.includes('--help') || argv.includes('-h')) return { help: true };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in o))
      throw new Error(
        `unknown option ${argv[i]} (known: ${Object.keys(o)
          .map((k) => `--${k}`)
          .join(', ')})`,
      );
    if (key === 'config') o.config = argv[i + 1];
    else if (key === 'buckets') {
      o.buckets = String(argv[i + 1])
        .split(',')
        .map(Number);
      if (!o.buckets.every((b) => Number.isFinite(b) && b > 0)) throw new Error(`--buckets must be positive numbers of MiB, got ${argv[i + 1]}`);
    } else {
      o[key] = Number(argv[i + 1]);
      if (!(Number.isSafeInteger(o[key]) && o[key] > 0)) throw new Error(`--${key} must be a positive integer, got ${argv[i + 1]}`);
    }
  }
  if (!CONFIGS[o.config]) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')}, got ${o.config}`);
  return o;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Worker: one process of one setup. argv: --worker <json spec>; environment: RANK/WORLD_SIZE/... when data-parallel.

async function worker(spec) {
  const { BertClassifier, Trainer } = require(path.join(ROOT, 'dist', 'index.js'));
  const { native } = require(path.join(ROOT, 'dist', 'engine', 'native.js'));
  native().setNumThreads(spec.threads);
  const model = await BertClassifier.fromPretrained(spec.modelDir);
  const { mulberry32 } = require(path.join(ROOT, 'dist', 'util', 'random.js'));
  const random = mulberry32(1);
  const examples = Array.from({ length: spec.examples }, (_, i) => ({
    inputIds: Array.from({ length: spec.seq }, () => 1 + Math.floor(random() * 30000)),
    label: i % 2,
  }));
  const stamps = [];
  const { distributedFromEnv } = require(path.join(ROOT, 'dist', 'engine', 'distributed.js'));
  const env = distributedFromEnv();
  const reductions = [];
  if (env) {
    // The reduction summary of each step (how many buckets started during backward), from the native result.
    const handle = model.handle;
    const trainStep = handle.trainStep.bind(handle);
    Object.defineProperty(handle, 'trainStep', {
      value: async (...args) => {
        const result = await trainStep(...args);
        reductions.push(result.reduction);
        return result;
      },
    });
  }
  const trainer = new Trainer(model, {
    distributed: env ? { ...env, source: undefined, bucketCapMb: spec.bucketCapMb } : false,
    epochs: 1,
    batchSize: spec.batch,
    learningRate: 2e-5,
    weightDecay: 0.01,
    logEvery: 1,
    shuffle: false,
    prefetchBatches: 2,
    saveStrategy: 'no',
  });
  trainer.on('step', () => stamps.push(performance.now()));
  await trainer.fit(examples);
  await trainer.close();
  const intervals = stamps
    .slice(spec.warmup)
    .map((t, i, a) => (i > 0 ? t - a[i - 1] : NaN))
    .slice(1);
  if (spec.result) fs.writeFileSync(spec.result, JSON.stringify({ stepMs: median(intervals), intervals, reduction: reductions[reductions.length - 1] }));
  model.dispose();
}

/** The all-reduce alone: 2 processes sum a Float32-sized buffer of the gradients' bytes `repeats` times. */
async function allReduceWorker(spec) {
  const { native } = require(path.join(ROOT, 'dist', 'engine', 'native.js'));
  const group = new (native().ProcessGroup)();
  await group.init({
    rank: Number(process.env.RANK),
    worldSize: 2,
    masterAddr: '127.0.0.1',
    masterPort: Number(process.env.MASTER_PORT),
    timeoutMs: 60000,
    backend: 'gloo',
  });
  // The Float64Array path of allReduce: half as many elements as float32 gradients for the same bytes.
  const values = new Float64Array(Math.ceil(spec.gradientBytes / 8));
  const times = [];
  for (let i = 0; i < spec.repeats + 1; i++) {
    const start = performance.now();
    await group.allReduce(values);
    times.push(performance.now() - start);
  }
  await group.destroy();
  if (spec.result) fs.writeFileSync(spec.result, JSON.stringify({ ms: median(times.slice(1)) }));
}

// ---------------------------------------------------------------------------------------------------------------
// Driver

function run(script, spec, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, script, JSON.stringify(spec)], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(spec.threads ?? 1), ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited with ${code}`))));
  });
}

async function twoProcesses(script, spec, tmp) {
  const port = await freePort();
  const result = path.join(tmp, `result-${Date.now()}.json`);
  await Promise.all(
    [0, 1].map((rank) =>
      run(
        script,
        { ...spec, result: rank === 0 ? result : undefined },
        { RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
      ),
    ),
  );
  return JSON.parse(fs.readFileSync(result, 'utf8'));
}

async function oneProcess(spec, tmp) {
  const result = path.join(tmp, `result-${Date.now()}.json`);
  await run('--worker', { ...spec, result }, { WORLD_SIZE: '' });
  return JSON.parse(fs.readFileSync(result, 'utf8'));
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    process.stdout.write(headerComment(__filename));
    return;
  }
  const { BertClassifier } = require(path.join(ROOT, 'dist', 'index.js'));
  const { native } = require(path.join(ROOT, 'dist', 'engine', 'native.js'));
  if (!native().distributed.available) throw new Error('this build has no distributed support (see README, "Data-parallel training")');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-bench-ddp-'));
  try {
    const modelDir = path.join(tmp, 'model');
    const model = await BertClassifier.fromConfig({ ...CONFIGS[o.config], vocab_size: 30522, num_labels: 2 }, { seed: 0 });
    await model.save(modelDir);
    model.dispose();
    const weights = fs.statSync(path.join(modelDir, 'model.safetensors')).size; // float32 weights: the gradients' bytes
    const examples = (o.warmup + o.steps + 1) * 2 * o.batch;
    const base = { modelDir, seq: o.seq, examples, warmup: o.warmup };
    const single = [];
    const ddp = o.buckets.map(() => []);
    const reduction = [];
    for (let round = 0; round < o.rounds; round++) {
      single.push((await oneProcess({ ...base, batch: 2 * o.batch, threads: 2 }, tmp)).stepMs);
      for (const [i, bucketCapMb] of o.buckets.entries()) {
        const r = await twoProcesses('--worker', { ...base, batch: o.batch, threads: 1, bucketCapMb }, tmp);
        ddp[i].push(r.stepMs);
        reduction[i] = r.reduction;
      }
    }
    const allReduce = (await twoProcesses('--allreduce', { gradientBytes: weights, repeats: 5, threads: 1 }, tmp)).ms;
    const s = median(single);
    const load = os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
    console.log(
      `\n${o.config}, global batch ${2 * o.batch} x ${o.seq}, ${o.steps} timed steps after ${o.warmup}, ${o.rounds} rounds (medians); ` +
        `${os.cpus().length} cores, load ${load}; gradients ${(weights / 2 ** 20).toFixed(1)} MiB\n`,
    );
    console.log('| setup | step ms (per round) | median step ms | global samples/s |');
    console.log('|---|---|---|---|');
    console.log(
      `| 1 process x 2 threads, batch ${2 * o.batch} | ${single.map((x) => x.toFixed(1)).join(', ')} | ${s.toFixed(1)} | ${((2 * o.batch * 1000) / s).toFixed(1)} |`,
    );
    for (const [i, bucketCapMb] of o.buckets.entries()) {
      const d = median(ddp[i]);
      const r = reduction[i];
      console.log(
        `| 2 processes x 1 thread, batch ${o.batch} each (Gloo), ${bucketCapMb} MiB buckets (${r.buckets}, the last started by the last gradient) | ` +
          `${ddp[i].map((x) => x.toFixed(1)).join(', ')} | ${d.toFixed(1)} | ${((2 * o.batch * 1000) / d).toFixed(1)} (ratio to 1 process ${(d / s).toFixed(3)}) |`,
      );
    }
    console.log(`\nall-reduce of ${(weights / 2 ** 20).toFixed(1)} MiB between 2 processes alone: ${allReduce.toFixed(1)} ms (median of 5)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const mode = process.argv[2];
const job = mode === '--worker' ? worker(JSON.parse(process.argv[3])) : mode === '--allreduce' ? allReduceWorker(JSON.parse(process.argv[3])) : main();
job.catch((err) => {
  console.error(err);
  process.exit(1);
});
