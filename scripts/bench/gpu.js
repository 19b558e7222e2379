#!/usr/bin/env node
// GPU training-step benchmark (the GPU check's, scripts/gpu-check.sh): bert-trainer's training step on a device
// against transformers' on the same device, from the same random-init weights and the same batch shape.
//
//   npx tsc -p tsconfig.json && node scripts/bench/gpu.js --out FILE [options]
//     --device cuda|cuda:N|cpu         (default cuda; cpu: the dry run)
//     --size base|small|tiny           model shape (default base: bert-base-uncased's)
//     --batch N --seq N                (default 32 x 128, every token real)
//     --warmup N                       untimed steps per row first (default 10)
//     --steps N --windows N            timed windows of N steps each (default 3 x 30); a row's step time is the
//                                      median window's
//     --rows LIST                      of ours-fp32, ours-bf16, ours-bf16-eager, transformers-eager-fp32, transformers-sdpa-bf16,
//                                      transformers-compile-bf16 (default all) — the bf16 matmul rate is always measured
//     --matmul-size N                  bf16 matmul for the MFU denominator (default 8192)
//     --compile-backend NAME           torch.compile backend (default inductor; the dry run uses aot_eager)
//     --budget-s N                     wall-clock budget for the whole run (default 300): each phase gets what is left
//     --python PATH                    default $BERT_TRAINER_PYTHON, else python3
//     --work DIR                       scratch folder (default a temporary one, removed at the end)
//
// Rows:
//   ours-fp32, ours-bf16        bert-trainer: a fresh Node process per row loads the model onto the device and runs
//                               the training step the Trainer runs (the native handle's trainStep, as
//                               scripts/bench/step.js does: train-mode forward with dropout 0.1, cross-entropy,
//                               backward, clipping 1.0, AdamW with weight decay 0.01); mixedPrecision 'no' / 'bf16'.
//                               Losses stay on the device (readLoss false) except at each window's last step, whose
//                               read is the window's end (one synchronisation per window, as the Trainer's logEvery).
//                               On a GPU each step replays a captured CUDA graph (the default cudaGraphs); the row
//                               carries the handle's cudaGraphStats().
//   ours-bf16-eager             ours-bf16 with cudaGraphs false: every step launched kernel by kernel from the host.
//   transformers-eager-fp32     BertForSequenceClassification (attn_implementation "eager"), fp32 (TF32 off: PyTorch's default)
//   transformers-sdpa-bf16      attn_implementation "sdpa", torch.autocast(bfloat16) — transformers' Trainer with bf16=True
//   transformers-compile-bf16   the same under torch.compile (the model; optimizer eager)
//   Each transformers row steps as transformers' Trainer does: batch moved to the device, forward, backward,
//   clip_grad_norm_(1.0), fused AdamW (the Trainer's default optimizer), zero_grad; no host sync per step.
// Peak memory: on CUDA, nvidia-smi's memory.used during the row minus the reading before the process started CUDA
// (its context plus the caching allocator's blocks, which hold the peak) — the same measure for both sides (the
// transformers rows also carry torch.cuda.max_memory_allocated/reserved); on the CPU, the process's VmHWM.
// MFU: training FLOPs per step (the formula of trainingFlops below) x steps/s ÷ the measured bf16 matmul rate.
//
// Writes FILE (JSON) after every row, so a run cut short keeps the rows it finished.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const { runIfMain } = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const REFERENCE = path.join(ROOT, 'bench', 'gpu_reference.py');

// The shapes of bench/gpu_reference.py's SIZES (the model itself is written there, by transformers).
const SIZES = {
  tiny: { vocab: 512, hidden: 64, layers: 2, heads: 2, intermediate: 256, maxPositions: 64 },
  small: { vocab: 4096, hidden: 256, layers: 4, heads: 4, intermediate: 1024, maxPositions: 128 },
  base: { vocab: 30522, hidden: 768, layers: 12, heads: 12, intermediate: 3072, maxPositions: 512 },
};
const NUM_LABELS = 2;
const LR = 2e-5;
const WEIGHT_DECAY = 0.01;
const OURS_ROWS = ['ours-fp32', 'ours-bf16', 'ours-bf16-eager'];
const PY_ROWS = { 'transformers-eager-fp32': 'eager-fp32', 'transformers-sdpa-bf16': 'sdpa-bf16', 'transformers-compile-bf16': 'compile-bf16' };
const ALL_ROWS = [...OURS_ROWS, ...Object.keys(PY_ROWS)];

// ---------------------------------------------------------------------------------------------------------------
// Small helpers (self-contained: this file runs once on a machine with no way to fix it mid-run)

function usage() {
  const text = fs.readFileSync(__filename, 'utf8').split('\n');
  const end = text.findIndex((l) => l.startsWith("'use strict'"));
  return `${text
    .slice(1, end)
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n')}\n`;
}

function parseArgs(argv, child = false) {
  const o = {
    device: 'cuda',
    size: 'base',
    batch: 32,
    seq: 128,
    warmup: 10,
    steps: 30,
    windows: 3,
    rows: ALL_ROWS,
    matmulSize: 8192,
    compileBackend: 'inductor',
    budgetS: 300,
    python: process.env.BERT_TRAINER_PYTHON || 'python3',
    out: null,
    work: null,
    help: false,
  };
  const int = (v, name, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new TypeError(`${flag} needs a value`);
      i += 1;
      return argv[i];
    };
    if (flag === '--device') o.device = value();
    else if (flag === '--size') o.size = value();
    else if (flag === '--batch') o.batch = int(value(), flag, 1);
    else if (flag === '--seq') o.seq = int(value(), flag, 4);
    else if (flag === '--warmup') o.warmup = int(value(), flag, 1);
    else if (flag === '--steps') o.steps = int(value(), flag, 1);
    else if (flag === '--windows') o.windows = int(value(), flag, 1);
    else if (flag === '--rows')
      o.rows = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (flag === '--matmul-size') o.matmulSize = int(value(), flag, 16);
    else if (flag === '--compile-backend') o.compileBackend = value();
    else if (flag === '--budget-s') o.budgetS = int(value(), flag, 1);
    else if (flag === '--python') o.python = value();
    else if (flag === '--out') o.out = path.resolve(value());
    else if (flag === '--work') o.work = path.resolve(value());
    else if (flag === '--help' || flag === '-h') o.help = true;
    else throw new RangeError(`unknown flag ${flag} (--help lists them)`);
  }
  if (!/^(cpu|cuda(:\d+)?)$/.test(o.device)) throw new RangeError(`--device must be cpu, cuda or cuda:N, got ${o.device}`);
  if (!SIZES[o.size]) throw new RangeError(`--size must be one of ${Object.keys(SIZES).join(', ')}, got ${o.size}`);
  if (o.seq > SIZES[o.size].maxPositions) throw new RangeError(`--seq ${o.seq} is longer than ${o.size}'s ${SIZES[o.size].maxPositions} positions`);
  for (const r of o.rows) if (!ALL_ROWS.includes(r)) throw new RangeError(`--rows: unknown ${r} (${ALL_ROWS.join(', ')})`);
  if (!o.help && !o.out && !child) throw new TypeError('--out FILE is required');
  return o;
}

/**
 * Training FLOPs of one step (multiply-add = 2 FLOPs), scripts/bench/step.js's formula:
 *   6 * tokens * layers * (4 H^2 + 2 H I)        encoder weight GEMMs: forward 2, backward 4 (input and weight grads)
 * + 12 * layers * batch * seq^2 * H             attention QK^T and PV: 4 * S^2 * H per sequence and layer forward, x3
 * + 6 * batch * (H^2 + H * labels)              pooler and classifier, on the [CLS] rows only
 * Embeddings, biases, LayerNorm, softmax, GELU and AdamW are not counted.
 */
function trainingFlops(size, batch, seq) {
  const { layers: L, hidden: H, intermediate: I } = SIZES[size];
  const tokens = batch * seq;
  return 6 * tokens * L * (4 * H * H + 2 * H * I) + 12 * L * batch * seq * seq * H + 6 * batch * (H * H + H * NUM_LABELS);
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const log = (msg) => process.stderr.write(`[gpu.js ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function writeJsonAtomic(file, value) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

function gpuIndex(device) {
  const m = /^cuda(?::(\d+))?$/.exec(device);
  return m ? Number(m[1] ?? 0) : null;
}

/** nvidia-smi's memory.used of the GPU in MiB (the whole GPU: this machine runs one job), or null. */
function gpuMemoryUsedMiB(index) {
  try {
    const out = execFileSync('nvidia-smi', [`--id=${index}`, '--query-gpu=memory.used', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 20000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const n = Number(out.trim().split('\n')[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

function vmHwmMiB() {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Runs a child whose stdout carries one JSON object per line; `onLine` gets each as it arrives. Resolves with the
 * exit status, or with timedOut after `timeoutMs` (the child's whole process group is killed: torch.compile's
 * worker processes included).
 */
function runLines(command, args, { env, timeoutMs, onLine }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(
      () => {
        timedOut = true;
        log(`${path.basename(args[0] || command)} ${args[1] || ''}: over its ${Math.round(timeoutMs / 1000)} s, killing it`);
        killGroup('SIGTERM');
        setTimeout(() => killGroup('SIGKILL'), 5000).unref();
      },
      Math.max(1, timeoutMs),
    );
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const text = line.trim();
      if (!text.startsWith('{')) {
        if (text) process.stderr.write(`${text}\n`);
        return;
      }
      try {
        onLine(JSON.parse(text));
      } catch (err) {
        log(`unreadable line from ${command}: ${text.slice(0, 200)} (${err.message})`);
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, error: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, error: null });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Our side: one child process per row (its own CUDA context and caching allocator: the memory reading is its own)

function makeBatch(batch, seq, vocab, seed) {
  let state = seed >>> 0;
  const next = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const inputIds = new Int32Array(batch * seq);
  for (let i = 0; i < inputIds.length; i += 1) inputIds[i] = 5 + Math.floor(next() * (vocab - 5));
  return {
    inputIds,
    attentionMask: new Int32Array(batch * seq).fill(1),
    tokenTypeIds: null,
    labels: Int32Array.from({ length: batch }, () => (next() < 0.5 ? 0 : 1)),
    batchSize: batch,
    sequenceLength: seq,
  };
}

async function oursChild(o, precision, cudaGraphs) {
  const index = gpuIndex(o.device);
  const baseline = index === null ? null : gpuMemoryUsedMiB(index); // before the addon (and CUDA) starts
  const lib = require(ROOT);
  let versions = null;
  try {
    versions = lib.versions ? { ...lib.versions } : null;
  } catch (err) {
    versions = { error: err.message };
  }
  const loadStart = Date.now();
  const model = await lib.BertClassifier.fromPretrained(o.model, { device: o.device });
  const loadSeconds = (Date.now() - loadStart) / 1000;
  const owner = {};
  const handle = model.claimForTraining(owner);
  handle.configureOptimizer({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: WEIGHT_DECAY });
  const batch = makeBatch(o.batch, o.seq, SIZES[o.size].vocab, 1234);
  const options = (readLoss) => ({
    problemType: 'single_label_classification',
    learningRate: LR,
    maxGradNorm: 1.0,
    accumulationSteps: 1,
    classWeights: null,
    skipNonFinite: false,
    mixedPrecision: precision === 'fp32' ? 'no' : precision,
    readLoss,
    cudaGraphs,
  });
  const losses = [];
  const run = async (count) => {
    for (let i = 0; i < count; i += 1) {
      const r = await handle.trainStep([batch], options(i === count - 1)); // the last step reads: the window's end
      for (const e of r.logged || []) losses.push(e.loss);
      if (r.loss != null && !(r.logged || []).length) losses.push(r.loss);
    }
  };
  await run(o.warmup);
  const windowStepMs = [];
  for (let w = 0; w < o.windows; w += 1) {
    const start = process.hrtime.bigint();
    await run(o.steps);
    windowStepMs.push(Number(process.hrtime.bigint() - start) / 1e6 / o.steps);
  }
  const used = index === null ? null : gpuMemoryUsedMiB(index);
  const memory =
    index === null
      ? { peakMemoryMiB: vmHwmMiB(), memorySource: 'VmHWM (peak RSS of the whole process)' }
      : {
          peakMemoryMiB: used !== null && baseline !== null ? used - baseline : null,
          memorySource: 'nvidia-smi memory.used minus the reading before CUDA started',
        };
  const stepMs = median(windowStepMs);
  const row = {
    ok: true,
    precision,
    device: model.device ?? o.device,
    batch: o.batch,
    seq: o.seq,
    warmup: o.warmup,
    steps: o.steps,
    windows: o.windows,
    samplesPerSecond: (o.batch * 1000) / stepMs,
    stepMs,
    windowStepMs,
    ...memory,
    loadSeconds,
    lastLoss: losses.length ? losses[losses.length - 1] : null,
    lossesRead: losses.length,
    finite: losses.length > 0 && losses.every(Number.isFinite),
    cudaGraphs: handle.cudaGraphStats(),
    versions,
  };
  model.releaseFromTraining(owner);
  model.dispose();
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// The run

async function runBench(o) {
  const started = Date.now();
  const deadline = started + o.budgetS * 1000;
  const left = () => deadline - Date.now();
  const work = o.work || fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-gpu-bench-'));
  fs.mkdirSync(work, { recursive: true });
  const env = { ...process.env, PYTHONUNBUFFERED: '1' };
  const result = {
    schema: 1,
    complete: false,
    device: o.device,
    model: o.size === 'base' ? 'bert-base' : `bert-${o.size}`,
    size: o.size,
    config: SIZES[o.size],
    numLabels: NUM_LABELS,
    batch: o.batch,
    seq: o.seq,
    warmup: o.warmup,
    steps: o.steps,
    windows: o.windows,
    learningRate: LR,
    weightDecay: WEIGHT_DECAY,
    dropout: 0.1,
    flopsPerStep: trainingFlops(o.size, o.batch, o.seq),
    matmulBf16Tflops: null,
    matmul: null,
    rows: {},
    mfu: {},
    ratios: {},
    errors: [],
    phases: [],
    pythonTorch: null,
    compileBackend: o.compileBackend,
    budgetS: o.budgetS,
    startedAt: new Date(started).toISOString(),
  };
  const save = () => {
    derive(result);
    result.elapsedSeconds = (Date.now() - started) / 1000;
    writeJsonAtomic(o.out, result);
  };
  const phase = async (name, reserveMs, maxMs, fn) => {
    const budget = Math.min(maxMs, left() - reserveMs);
    const entry = { name, status: 'skipped-no-time', seconds: 0, budgetSeconds: Math.max(0, Math.round(budget / 1000)) };
    result.phases.push(entry);
    if (budget < 5000) {
      log(`${name}: skipped, ${Math.round(left() / 1000)} s left`);
      result.errors.push(`${name}: skipped for lack of time`);
      save();
      return;
    }
    const t0 = Date.now();
    log(`${name}: up to ${Math.round(budget / 1000)} s`);
    try {
      const status = await fn(budget);
      entry.status = status || 'ok';
    } catch (err) {
      entry.status = 'failed';
      result.errors.push(`${name}: ${err.message}`);
      log(`${name}: ${err.stack || err.message}`);
    }
    entry.seconds = (Date.now() - t0) / 1000;
    save();
  };
  const pyStatus = (r, name) => {
    if (r.timedOut) {
      result.errors.push(`${name}: over its time budget (killed)`);
      return 'timeout';
    }
    if (r.error || r.code !== 0) {
      result.errors.push(`${name}: ${r.error || `exit ${r.code ?? r.signal}`}`);
      return 'failed';
    }
    return 'ok';
  };
  const pyRow = (line) => {
    if (line.variant === 'start') {
      result.pythonTorch = line.torch;
      return;
    }
    if (line.variant === 'matmul') {
      result.matmul = line;
      if (line.ok) result.matmulBf16Tflops = line.tflops;
    } else {
      const name = Object.keys(PY_ROWS).find((k) => PY_ROWS[k] === line.variant) || line.variant;
      result.rows[name] = line;
    }
    if (!line.ok) result.errors.push(`${line.variant}: ${line.error}`);
    log(
      `${line.variant}: ${line.ok ? (line.samplesPerSecond ? `${line.samplesPerSecond.toFixed(1)} samples/s, ${fmtMiB(line.peakMemoryMiB)}` : `${line.tflops.toFixed(2)} TFLOP/s`) : line.error}`,
    );
    save();
  };
  save();

  const modelDir = path.join(work, 'model');
  const wantCompile = o.rows.includes('transformers-compile-bf16');
  const oursRows = OURS_ROWS.filter((r) => o.rows.includes(r));
  // Time kept back for the phases after each one: ours' rows, then the compile row (its compilation is the longest).
  const oursReserve = oursRows.length * 15000;
  const compileReserve = wantCompile ? 45000 : 0;

  // 1. The model: transformers' random initialisation, saved (both sides load these weights).
  let haveModel = false;
  await phase('model', oursReserve + compileReserve + 20000, 180000, async (budget) => {
    const lines = [];
    const r = await runLines(o.python, [REFERENCE, 'make-model', '--size', o.size, '--out', modelDir, '--seed', '0', '--num-labels', String(NUM_LABELS)], {
      env,
      timeoutMs: budget,
      onLine: (l) => lines.push(l),
    });
    const status = pyStatus(r, 'make-model');
    haveModel = status === 'ok' && fs.existsSync(path.join(modelDir, 'config.json'));
    return status;
  });

  // 2. transformers eager fp32 and SDPA bf16, and the bf16 matmul rate.
  const first = ['matmul', ...['transformers-eager-fp32', 'transformers-sdpa-bf16'].filter((r) => o.rows.includes(r)).map((r) => PY_ROWS[r])];
  const pyArgs = (variants) => [
    REFERENCE,
    'bench',
    '--model',
    modelDir,
    '--device',
    o.device,
    '--batch',
    String(o.batch),
    '--seq',
    String(o.seq),
    '--warmup',
    String(o.warmup),
    '--steps',
    String(o.steps),
    '--windows',
    String(o.windows),
    '--variants',
    variants.join(','),
    '--matmul-size',
    String(o.matmulSize),
    '--compile-backend',
    o.compileBackend,
  ];
  // Without a model (make-model failed), the matmul rate alone.
  await phase('transformers', oursReserve + compileReserve, 240000, async (budget) => {
    const variants = haveModel ? first : ['matmul'];
    return pyStatus(await runLines(o.python, pyArgs(variants), { env, timeoutMs: budget, onLine: pyRow }), 'transformers');
  });

  // 3. Ours, bf16 first (the row the targets read).
  const oursOrder = ['ours-bf16', 'ours-fp32', 'ours-bf16-eager'].filter((r) => oursRows.includes(r));
  for (const [i, name] of oursOrder.entries()) {
    if (!haveModel) break;
    const precision = name === 'ours-fp32' ? 'fp32' : 'bf16';
    const reserve = compileReserve + (oursOrder.length - 1 - i) * 15000; // the ours rows after this one
    const graphFlag = name === 'ours-bf16-eager' ? ['--no-cuda-graphs'] : [];
    await phase(name, reserve, 180000, async (budget) => {
      let row = null;
      const args = [
        __filename,
        '--child-ours',
        precision,
        ...graphFlag,
        '--model',
        modelDir,
        '--device',
        o.device,
        '--size',
        o.size,
        '--batch',
        String(o.batch),
        '--seq',
        String(o.seq),
        '--warmup',
        String(o.warmup),
        '--steps',
        String(o.steps),
        '--windows',
        String(o.windows),
      ];
      const r = await runLines(process.execPath, args, {
        env,
        timeoutMs: budget,
        onLine: (l) => {
          row = l;
        },
      });
      if (row) {
        result.rows[name] = row;
        if (row.versions && !result.versions) result.versions = row.versions;
        log(`${name}: ${row.samplesPerSecond.toFixed(1)} samples/s, ${fmtMiB(row.peakMemoryMiB)}, ${row.stepMs.toFixed(2)} ms/step (${row.device})`);
      } else {
        result.rows[name] = {
          ok: false,
          error: r.timedOut ? 'over its time budget (killed)' : `no result (exit ${r.code ?? r.signal}${r.error ? `: ${r.error}` : ''})`,
        };
      }
      return pyStatus(r, name);
    });
  }

  // 4. torch.compile (last: compilation takes the longest, and a timeout there costs no other row).
  if (wantCompile && haveModel) {
    await phase('transformers-compile', 2000, 600000, async (budget) =>
      pyStatus(await runLines(o.python, pyArgs(['compile-bf16']), { env, timeoutMs: budget, onLine: pyRow }), 'transformers-compile'),
    );
  }

  result.complete = o.rows.every((r) => result.rows[r] && result.rows[r].ok) && result.matmulBf16Tflops !== null;
  save();
  if (!o.work) fs.rmSync(work, { recursive: true, force: true });
  return result;
}

const fmtMiB = (x) => (x == null ? 'memory n/a' : `${Math.round(x)} MiB`);

/** MFU per row and the ratios the targets read. */
function derive(result) {
  const sps = (name) => (result.rows[name] && result.rows[name].ok ? result.rows[name].samplesPerSecond : null);
  result.mfu = {};
  for (const name of Object.keys(result.rows)) {
    const s = sps(name);
    if (s && result.matmulBf16Tflops) result.mfu[name] = (result.flopsPerStep * (s / result.batch)) / (result.matmulBf16Tflops * 1e12);
  }
  const ratio = (a, b) => (sps(a) && sps(b) ? sps(a) / sps(b) : null);
  result.ratios = {
    oursBf16VsSdpaBf16: ratio('ours-bf16', 'transformers-sdpa-bf16'),
    oursBf16VsCompileBf16: ratio('ours-bf16', 'transformers-compile-bf16'),
    oursFp32VsEagerFp32: ratio('ours-fp32', 'transformers-eager-fp32'),
    oursBf16VsOursFp32: ratio('ours-bf16', 'ours-fp32'),
    oursBf16VsOursBf16Eager: ratio('ours-bf16', 'ours-bf16-eager'),
  };
}

async function main(argv = process.argv.slice(2)) {
  if (argv[0] === '--child-ours') {
    const precision = argv[1];
    const rest = [];
    let model = null;
    let cudaGraphs = true;
    for (let i = 2; i < argv.length; i += 1) {
      if (argv[i] === '--model') model = argv[(i += 1)];
      else if (argv[i] === '--no-cuda-graphs') cudaGraphs = false;
      else rest.push(argv[i]);
    }
    const o = parseArgs(rest, true);
    await oursChild({ ...o, model }, precision, cudaGraphs);
    return 0;
  }
  const o = parseArgs(argv);
  if (o.help) {
    process.stdout.write(usage());
    return 0;
  }
  const result = await runBench(o);
  const show = (x, d = 1) => (x == null ? 'n/a' : x.toFixed(d));
  process.stdout.write(`${result.model}, batch ${result.batch} x ${result.seq}, ${result.device}; bf16 matmul ${show(result.matmulBf16Tflops, 2)} TFLOP/s\n`);
  for (const name of ALL_ROWS) {
    const r = result.rows[name];
    if (!r) continue;
    process.stdout.write(
      `  ${name.padEnd(27)} ${r.ok ? `${show(r.samplesPerSecond).padStart(9)} samples/s ${show(r.peakMemoryMiB, 0).padStart(7)} MiB  MFU ${show(result.mfu[name] != null ? 100 * result.mfu[name] : null)}%` : `ERROR ${r.error}`}\n`,
    );
  }
  process.stdout.write(`  ratios: ${JSON.stringify(result.ratios)}\n`);
  return result.complete ? 0 : 1;
}

module.exports = { trainingFlops, SIZES, parseArgs, derive };

runIfMain(module, main);
