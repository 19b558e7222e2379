#!/usr/bin/env node
// Training-step benchmark: one optimizer step of bert-trainer (train-mode forward, cross-entropy, backward, clipping,
// AdamW) against the same step in PyTorch (transformers' BertForSequenceClassification and Trainer loop, re-implemented
// in test/reference/, on Debian's torch 1.13 = the LibTorch build the addon links), in the same run.
//
//   npx tsc -p tsconfig.json && node scripts/bench/step.js [options]
//     --configs tiny,mini,small,base   model sizes (default all four)
//     --threads N                      intra-op threads on both sides (default 2)
//     --reps N                         timed steps per side (at least 5; default: tiny 15, mini 11, small 7, base 5)
//     --warmup N                       untimed steps per side first (default 4)
//     --seq N                          sequence length (default 128)
//     --precision fp32|bf16            fp32 (default) on both sides, or bf16 mixed precision on both: ours with
//                                      mixedPrecision 'bf16', PyTorch under torch.autocast("cpu", bfloat16)
//     --no-memory                      skip the peak-RSS processes
//     --out DIR                        results folder (default bench/results)
//     --no-write                       print only
//     --python PATH                    default /usr/bin/python3 (or $BERT_TRAINER_PYTHON)
//     --omp-env spin100|default        spin100 (default): both sides with the thread-waiting settings bert-trainer
//                                      applies to itself (GOMP_SPINCOUNT=100, OPENBLAS_THREAD_TIMEOUT=22) unless the
//                                      environment sets them; default: leave the environment as it is
//
// Per config and batch size: ours creates a fresh model (fromConfig, seed 0) and saves it; PyTorch loads that
// directory, so both start from the same weights. Correctness first, with dropout 0 (the same weights with a dropout-0
// config.json): two steps on each side; the first loss must agree within 1e-4 (relative) and the gradient norm within
// 1e-3, or no time is reported. Then timing with the configured dropout (0.1): both sides are long-lived processes
// (ours: this one; PyTorch: bench/step_reference.py's stdin/stdout worker), warm-up steps on both, then A B A B ...
// single timed steps, median. Peak RSS: a fresh process per side and config (VmHWM after 3 steps; also the peak
// from the end of loading on, via /proc/self/clear_refs). sgemm GFLOP/s (bench/sgemm.py: torch.mm 2048^2 fp32, same
// BLAS) is measured at the start and at the end of the run.
//
// Writes bench/results/<YYYY-MM-DD>-<hostname>[-<configs>][-seq<n>][-t<threads>].json (every sample) and .md (the table) beside it.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const { applyBenchThreadEnv, flagsOf, integerArg, sharedFlag, threadEnvLabel, headerComment, machineInfo, median, procStatusKiB, relDiff, uptimeLine, writeDropoutFreeDir } = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const REFERENCE = path.join(ROOT, 'bench', 'step_reference.py');
const SGEMM = path.join(ROOT, 'bench', 'sgemm.py');

const CONFIGS = {
  tiny: { layers: 2, hidden: 128, heads: 2, intermediate: 512, batches: [8, 32] },
  mini: { layers: 4, hidden: 256, heads: 4, intermediate: 1024, batches: [8, 32] },
  small: { layers: 4, hidden: 512, heads: 8, intermediate: 2048, batches: [8, 32] },
  base: { layers: 12, hidden: 768, heads: 12, intermediate: 3072, batches: [8] },
};
const VOCAB = 30522;
const MAX_POSITIONS = 512;
const NUM_LABELS = 2;
const LR = 2e-5;
const WEIGHT_DECAY = 0.01;
const MAX_GRAD_NORM = 1.0;
const LOSS_TOLERANCE = 1e-4;
const GRAD_NORM_TOLERANCE = 1e-3;
const AUTO_REPS = { tiny: 15, mini: 11, small: 7, base: 5 }; // more samples where a step is cheap (a noisy, shared machine)
const MEMORY_STEPS = 5; // > libuv's 4 pool threads: each step may run on another thread (and malloc arena)

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

// The library's seeded generator (mulberry32), for the token ids.
const { mulberry32: random } = require(path.join(ROOT, 'dist', 'random'));

function resetPeakRss() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function hfConfig(name, dropout) {
  const c = CONFIGS[name];
  const config = {
    vocab_size: VOCAB,
    hidden_size: c.hidden,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    intermediate_size: c.intermediate,
    max_position_embeddings: MAX_POSITIONS,
    num_labels: NUM_LABELS,
  };
  if (!dropout) Object.assign(config, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 });
  return config;
}

/**
 * Training FLOPs of one step (multiply-add = 2 FLOPs), the formula the fraction of sgemm uses:
 *   6 * tokens * layers * (4 H^2 + 2 H I)        encoder weight GEMMs: forward 2, backward 4 (input and weight grads)
 * + 12 * layers * batch * seq^2 * H             attention QK^T and PV: 4 * S^2 * H per sequence and layer forward, x3
 * + 6 * batch * (H^2 + H * labels)              pooler and classifier, on the [CLS] rows only
 * Embeddings (gathers and a scatter-add), biases, LayerNorm, softmax, GELU and AdamW are not counted.
 */
function trainingFlops(name, batch, seq) {
  const { layers: L, hidden: H, intermediate: I } = CONFIGS[name];
  const tokens = batch * seq;
  return 6 * tokens * L * (4 * H * H + 2 * H * I) + 12 * L * batch * seq * seq * H + 6 * batch * (H * H + H * NUM_LABELS);
}

function makeBatch(batch, seq, seed) {
  const next = random(seed);
  const inputIds = new Int32Array(batch * seq);
  for (let i = 0; i < inputIds.length; i += 1) inputIds[i] = 5 + Math.floor(next() * (VOCAB - 5));
  const attentionMask = new Int32Array(batch * seq).fill(1);
  const labels = Int32Array.from({ length: batch }, () => (next() < 0.5 ? 0 : 1));
  return { inputIds, attentionMask, tokenTypeIds: null, labels, batchSize: batch, sequenceLength: seq };
}

function writeBatchFile(file, b) {
  fs.writeFileSync(file, JSON.stringify({
    batchSize: b.batchSize,
    sequenceLength: b.sequenceLength,
    inputIds: Array.from(b.inputIds),
    attentionMask: Array.from(b.attentionMask),
    labels: Array.from(b.labels),
  }));
}

const stepOptions = (precision) => ({
  mixedPrecision: precision === 'bf16' ? 'bf16' : 'no',
  problemType: 'single_label_classification',
  learningRate: LR,
  maxGradNorm: MAX_GRAD_NORM,
  accumulationSteps: 1,
  classWeights: null,
  skipNonFinite: false,
});

function loadLibrary() {
  // Lazy: OPENBLAS_NUM_THREADS must be in the environment before the addon (and with it OpenBLAS) is loaded.
  const { BertClassifier } = require(ROOT);
  const { native } = require(path.join(ROOT, 'dist', 'native'));
  return { BertClassifier, native };
}

// ---------------------------------------------------------------------------------------------------------------
// Our side

class OursModel {
  static async create(source, options, precision = 'fp32') {
    const { BertClassifier } = loadLibrary();
    const model = typeof source === 'string' ? await BertClassifier.fromPretrained(source) : await BertClassifier.fromConfig(source, options);
    return new OursModel(model, precision);
  }

  constructor(model, precision) {
    this.model = model;
    this.options = stepOptions(precision);
    this.owner = {};
    this.handle = null;
  }

  async save(dir) {
    await this.model.save(dir);
  }

  startTraining() {
    this.handle = this.model.claimForTraining(this.owner);
    this.handle.configureOptimizer({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: WEIGHT_DECAY });
  }

  async step(batch) {
    const r0 = process.resourceUsage();
    const start = process.hrtime.bigint();
    const result = await this.handle.trainStep([batch], this.options);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const r1 = process.resourceUsage();
    // Process-wide CPU time (all threads) and minor page faults during the step.
    const usage = {
      userMs: (r1.userCPUTime - r0.userCPUTime) / 1000,
      sysMs: (r1.systemCPUTime - r0.systemCPUTime) / 1000,
      minorFaults: r1.minorPageFault - r0.minorPageFault,
    };
    return { ms, loss: result.loss, gradNorm: result.gradNorm, usage };
  }

  dispose() {
    if (this.handle) this.model.releaseFromTraining(this.owner);
    this.model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// PyTorch side: a long-lived worker process

class PythonWorker {
  constructor(python, env) {
    this.child = spawn(python, [REFERENCE, 'worker'], { stdio: ['pipe', 'pipe', 'inherit'], env });
    this.pending = [];
    this.exited = null;
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.pending.shift();
      if (!waiter) return;
      let reply;
      try {
        reply = JSON.parse(line);
      } catch {
        waiter.reject(new Error(`PyTorch worker: unexpected output ${line.slice(0, 200)}`));
        return;
      }
      if (reply.ok) waiter.resolve(reply);
      else waiter.reject(new Error(`PyTorch worker: ${reply.error}`));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`PyTorch worker exited (${signal || code})`);
      for (const w of this.pending.splice(0)) w.reject(this.exited);
    });
  }

  get pid() {
    return this.child.pid;
  }

  send(cmd) {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
  }

  async close() {
    if (this.exited) return;
    await this.send({ op: 'exit' }).catch(() => undefined);
    this.child.stdin.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fresh-process memory measurements

function runJsonProcess(command, args, env) {
  const out = execFileSync(command, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const last = out.trim().split('\n').pop();
  return JSON.parse(last);
}

async function memoryChild(dir, batchFile, threads, steps, precision) {
  const { native } = loadLibrary();
  native().setNumThreads(threads);
  const raw = JSON.parse(fs.readFileSync(batchFile, 'utf8'));
  const batch = {
    inputIds: Int32Array.from(raw.inputIds),
    attentionMask: Int32Array.from(raw.attentionMask),
    tokenTypeIds: null,
    labels: Int32Array.from(raw.labels),
    batchSize: raw.batchSize,
    sequenceLength: raw.sequenceLength,
  };
  const ours = await OursModel.create(dir, undefined, precision);
  ours.startTraining();
  if (global.gc) global.gc();
  const loadHwm = procStatusKiB('VmHWM');
  const rssAfterLoad = procStatusKiB('VmRSS');
  const reset = resetPeakRss();
  const ms = [];
  for (let i = 0; i < steps; i += 1) ms.push((await ours.step(batch)).ms);
  const trainHwm = procStatusKiB('VmHWM');
  const result = {
    hwm_kib: Math.max(loadHwm, trainHwm),
    load_hwm_kib: loadHwm,
    rss_after_load_kib: rssAfterLoad,
    train_hwm_kib: reset ? trainHwm : null,
    rss_end_kib: procStatusKiB('VmRSS'),
    ms,
  };
  ours.dispose();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Machine information

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const mib = (kib) => (kib == null || kib < 0 ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);

function formatMarkdown(result) {
  const m = result.machine;
  const lines = [];
  lines.push(`# Training step: bert-trainer vs PyTorch (${result.date}, ${m.hostname})`);
  lines.push('');
  lines.push(`\`node scripts/bench/step.js${result.argv.length ? ` ${result.argv.join(' ')}` : ''}\` — ${m.cpuModel}, ${m.cores} cores, ` +
    `${m.threads} intra-op threads on both sides (OPENBLAS_NUM_THREADS=${m.openblasThreads}, ` +
    `${threadEnvLabel(m)}), LibTorch ${m.torchOurs} / torch ${m.torchPython}, ` +
    `node ${m.node}; commit ${m.commit ? m.commit.slice(0, 12) : 'n/a'}${m.dirty ? ' (dirty tree)' : ''}.`);
  const precision = result.settings.precision === 'bf16'
    ? 'bf16 mixed precision on both sides (ours: mixedPrecision \'bf16\'; PyTorch: torch.autocast("cpu", bfloat16)), fp32 weights and loss'
    : 'fp32 on both sides';
  lines.push(`Precision: ${precision}. One step = train-mode forward (dropout 0.1), cross-entropy, backward, clip 1.0, AdamW (lr 2e-5, wd 0.01); ` +
    `median of ${typeof result.settings.reps === 'number' ? result.settings.reps : Object.entries(result.settings.reps).map(([k, v]) => `${v} (${k})`).join(', ')} ` +
    `alternating A/B steps after ${result.settings.warmup} warm-up steps each; ratio = ours / PyTorch medians (lower is better for ours); paired = median of the A/B pair ratios.`);
  lines.push(`Load: start \`${result.uptimeStart}\`; end \`${result.uptimeEnd}\`.`);
  lines.push('');
  lines.push('| config | batch × len | ours ms | PyTorch ms | ratio | paired ratio | ours peak RSS | PyTorch peak RSS | RSS ratio |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of result.runs) {
    const cell = (x, d = 1) => (x == null ? 'n/a' : x.toFixed(d));
    const memOurs = r.memory ? r.memory.ours.hwm_kib : null;
    const memPy = r.memory ? r.memory.pytorch.hwm_kib : null;
    lines.push(`| ${r.config} | ${r.batch} × ${r.seq} | ${r.correct ? cell(r.ours.median) : 'refused'} | ${r.correct ? cell(r.pytorch.median) : 'refused'} | ` +
      `${r.correct ? cell(r.ratio, 3) : 'n/a'} | ${r.correct ? cell(r.pairedRatio, 3) : 'n/a'} | ${mib(memOurs)} | ${mib(memPy)} | ${memOurs && memPy ? (memOurs / memPy).toFixed(3) : 'n/a'} |`);
  }
  lines.push('');
  lines.push('Correctness (dropout 0, same weights and batch; first step loss must agree within 1e-4 relative, gradient norm within 1e-3):');
  lines.push('');
  lines.push('| config | batch | loss ours | loss PyTorch | rel. diff | grad norm rel. diff | 2nd-step loss rel. diff |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const r of result.runs) {
    const c = r.check;
    lines.push(`| ${r.config} | ${r.batch} | ${c.ours.losses[0].toFixed(7)} | ${c.pytorch.losses[0].toFixed(7)} | ${c.lossRelDiff.toExponential(2)} | ` +
      `${c.gradNormRelDiff.toExponential(2)} | ${c.secondLossRelDiff.toExponential(2)} |`);
  }
  if (result.runs.some((r) => r.memory)) {
    lines.push('');
    lines.push(`Peak RSS = VmHWM of a fresh process per side and config after loading the saved model and ${MEMORY_STEPS} steps. ` +
      'Training-phase peak = VmHWM reset (clear_refs) after loading and the optimizer set-up; RSS after load for scale:');
    lines.push('');
    lines.push('| config | batch | ours after load | PyTorch after load | ours training peak | PyTorch training peak | training-peak ratio |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const r of result.runs) {
      if (!r.memory) continue;
      const o = r.memory.ours;
      const p = r.memory.pytorch;
      lines.push(`| ${r.config} | ${r.batch} | ${mib(o.rss_after_load_kib)} | ${mib(p.rss_after_load_kib)} | ${mib(o.train_hwm_kib)} | ${mib(p.train_hwm_kib)} | ` +
        `${o.train_hwm_kib && p.train_hwm_kib ? (o.train_hwm_kib / p.train_hwm_kib).toFixed(3) : 'n/a'} |`);
    }
  }
  lines.push('');
  lines.push('Per-step process resources (medians of the timed steps; CPU = user + system time of all threads over wall time; ' +
    'faults = minor page faults, i.e. memory the allocator handed back to the kernel and touched again):');
  lines.push('');
  lines.push('| config | batch | load avg (1 min) | ours CPU/wall | PyTorch CPU/wall | ours sys ms | PyTorch sys ms | ours faults | PyTorch faults |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of result.runs) {
    if (!r.correct) continue;
    const o = r.ours.usageMedian;
    const p = r.pytorch.usageMedian;
    lines.push(`| ${r.config} | ${r.batch} | ${r.loadStart[0].toFixed(2)} | ${o.cpuPerWall.toFixed(2)} | ${p.cpuPerWall.toFixed(2)} | ${o.sysMs.toFixed(0)} | ` +
      `${p.sysMs.toFixed(0)} | ${o.minorFaults} | ${p.minorFaults} |`);
  }
  const s = result.sgemm;
  lines.push('');
  lines.push(`sgemm (torch.mm 2048² fp32, ${s.start.blas}, best of ${s.start.samples_ms.length}): ${s.start.gflops.toFixed(1)} GFLOP/s at the start, ` +
    `${s.end ? s.end.gflops.toFixed(1) : 'n/a'} at the end (best ${s.gflops.toFixed(1)}); per config, the better of two measurements (5 repeats each) ` +
    'just before and just after its timing loop, which is the rate the fractions below use (the last column: against the best of the run).');
  lines.push('FLOPs per step = 6·B·S·L·(4H² + 2HI) + 12·L·B·S²·H + 6·B·(H² + 2H) (weight GEMMs ×3 for forward + backward, attention QKᵀ and PV, pooler and classifier): the model\'s FLOPs, on both sides. ' +
    'Ours performs fewer: its last layer runs the output projection and feed-forward block forward and input gradient for the positions the classifier reads only (native/model/first_positions.h), 4·B·S·(H² + 2HI) less, so its fraction is that of the model\'s work, as model-FLOPs utilisation counts it.');
  lines.push('');
  lines.push('| config | batch | GFLOP/step | sgemm GFLOP/s then | ours GFLOP/s | ours % of sgemm | PyTorch GFLOP/s | PyTorch % of sgemm | ours % of best sgemm |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of result.runs) {
    if (!r.correct) continue;
    lines.push(`| ${r.config} | ${r.batch} | ${(r.flops / 1e9).toFixed(1)} | ${r.sgemm.gflops.toFixed(1)} | ${r.oursGflops.toFixed(1)} | ${(100 * r.oursSgemmFraction).toFixed(1)}% | ` +
      `${r.pytorchGflops.toFixed(1)} | ${(100 * r.pytorchSgemmFraction).toFixed(1)}% | ${(100 * r.oursBestSgemmFraction).toFixed(1)}% |`);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// The run

function parseArgs(argv) {
  const o = {
    configs: Object.keys(CONFIGS),
    threads: 2,
    reps: 'auto',
    warmup: 4,
    seq: 128,
    precision: 'fp32',
    memory: true,
    write: true,
    out: path.join(ROOT, 'bench', 'results'),
    python: process.env.BERT_TRAINER_PYTHON || '/usr/bin/python3',
  };
  for (const { flag: a, value } of flagsOf(argv)) {
    if (a === '--configs') {
      o.configs = value().split(',').map((s) => s.trim()).filter(Boolean);
      for (const c of o.configs) if (!CONFIGS[c]) throw new RangeError(`unknown config ${c} (${Object.keys(CONFIGS).join(', ')})`);
    } else if (a === '--threads') o.threads = integerArg(value(), '--threads', 1);
    else if (a === '--reps') {
      const v = value();
      o.reps = v === 'auto' ? 'auto' : integerArg(v, '--reps', 5);
    }
    else if (a === '--warmup') o.warmup = integerArg(value(), '--warmup', 1);
    else if (a === '--seq') o.seq = integerArg(value(), '--seq', 2);
    else if (a === '--precision') {
      o.precision = value();
      if (!['fp32', 'bf16'].includes(o.precision)) throw new RangeError('--precision must be fp32 or bf16');
    }
    else if (a === '--no-memory') o.memory = false;
    else if (!sharedFlag(o, a, value)) throw new TypeError(`unknown argument ${a}`);
  }
  return o;
}

async function runStepBench(options, log = (line) => process.stderr.write(`${line}\n`)) {
  const o = { ...parseArgs([]), ...options };
  // When the addon is already loaded (e.g. from the CLI), OpenBLAS and libgomp have read their environment: the
  // variables below then reach only the PyTorch processes. Recorded in the results.
  const addonPreloaded = Object.keys(require.cache).some((k) => k.endsWith('.node') && k.includes('bert_trainer'));
  // OpenBLAS (Debian's pthread build) sizes its own thread pool from this variable when it is loaded, not from
  // LibTorch's set_num_threads: give both sides and the sgemm measurement the same count.
  if (!process.env.OPENBLAS_NUM_THREADS) process.env.OPENBLAS_NUM_THREADS = String(o.threads);
  // libgomp spins up to 300,000 iterations before an idle worker sleeps, OpenBLAS's pool threads sched_yield for
  // about 0.1 s after each GEMM; on a 2-core machine both take cores from the thread with the work. bert-trainer
  // shortens both for itself when it loads (src/native.ts) unless the user set them; give the PyTorch side the same
  // (--omp-env default leaves the environment alone: then only ours has them).
  applyBenchThreadEnv(o.ompEnv);
  const env = { ...process.env };
  const { native } = loadLibrary();
  native().setNumThreads(o.threads);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-step-bench-'));
  const python = new PythonWorker(o.python, env);
  const result = {
    date: new Date().toISOString().slice(0, 10),
    argv: o.argv || [],
    settings: { precision: o.precision, threads: o.threads, reps: o.reps === 'auto' ? AUTO_REPS : o.reps, warmup: o.warmup, seq: o.seq, lr: LR, weightDecay: WEIGHT_DECAY, maxGradNorm: MAX_GRAD_NORM, dropout: 0.1 },
    uptimeStart: uptimeLine(),
    runs: [],
  };
  try {
    log(`step bench: ${result.uptimeStart}`);
    const sgemmArgs = [SGEMM, String(o.threads), '2048', '10'];
    const sgemmStart = runJsonProcess(o.python, sgemmArgs, env);
    log(`sgemm: ${sgemmStart.gflops.toFixed(1)} GFLOP/s (${sgemmStart.blas}, ${o.threads} threads)`);
    const threadsReply = await python.send({ op: 'threads', threads: o.threads });
    result.machine = machineInfo(ROOT, native, o.threads, sgemmStart.torch);
    result.machine.pythonThreads = threadsReply.threads;
    result.machine.oursThreads = native().numThreads();
    result.machine.envAppliedToOurs = !addonPreloaded;

    for (const name of o.configs) {
      for (const batchSize of CONFIGS[name].batches) {
        const run = await runOne(name, batchSize, o, python, tmp, env, log);
        result.runs.push(run);
      }
    }
    const sgemmEnd = runJsonProcess(o.python, sgemmArgs, env);
    result.sgemm = { start: sgemmStart, end: sgemmEnd, gflops: Math.max(sgemmStart.gflops, sgemmEnd.gflops) };
    for (const r of result.runs) {
      if (!r.correct) continue;
      r.oursGflops = r.flops / (r.ours.median / 1000) / 1e9;
      r.pytorchGflops = r.flops / (r.pytorch.median / 1000) / 1e9;
      // Against the rate measured around this config's timing (the load moves), and against the run's best rate.
      r.oursSgemmFraction = r.oursGflops / r.sgemm.gflops;
      r.pytorchSgemmFraction = r.pytorchGflops / r.sgemm.gflops;
      r.oursBestSgemmFraction = r.oursGflops / result.sgemm.gflops;
    }
    result.uptimeEnd = uptimeLine();
  } finally {
    await python.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  result.markdown = formatMarkdown(result);
  if (o.write) {
    fs.mkdirSync(o.out, { recursive: true });
    // The default run gets the plain name; other selections say what they are.
    const suffix = [
      o.configs.length === Object.keys(CONFIGS).length ? '' : `-${o.configs.join('-')}`,
      o.seq === 128 ? '' : `-seq${o.seq}`,
      o.threads === 2 ? '' : `-t${o.threads}`,
      o.precision === 'fp32' ? '' : `-${o.precision}`,
    ].join('');
    const base = `${result.date}-${result.machine.hostname}${suffix}`;
    const { markdown, ...json } = result;
    result.files = [path.join(o.out, `${base}.json`), path.join(o.out, `${base}.md`)];
    fs.writeFileSync(result.files[0], `${JSON.stringify(json, null, 1)}\n`);
    fs.writeFileSync(result.files[1], markdown);
  }
  return result;
}

async function runOne(name, batchSize, o, python, tmp, env, log) {
  const seq = o.seq;
  const label = `${name} ${batchSize}x${seq}`;
  const dir = path.join(tmp, `${name}-${batchSize}`);
  const dirNoDropout = path.join(tmp, `${name}-${batchSize}-nodropout`);
  const batch = makeBatch(batchSize, seq, 1234);
  const batchFile = path.join(tmp, `${name}-${batchSize}-batch.json`);
  writeBatchFile(batchFile, batch);
  const run = { config: name, ...CONFIGS[name], batch: batchSize, seq, flops: trainingFlops(name, batchSize, seq), loadStart: os.loadavg() };
  delete run.batches;

  // Fresh weights (transformers' initialisation, seed 0), saved for the PyTorch side.
  const ours = await OursModel.create(hfConfig(name, true), { seed: 0 }, o.precision);
  await ours.save(dir);
  writeDropoutFreeDir(dir, dirNoDropout);

  // 1. Correctness with dropout 0: two steps per side from the same weights on the same batch.
  const check = { ours: { losses: [], gradNorms: [] }, pytorch: null };
  {
    const exact = await OursModel.create(dirNoDropout, undefined, o.precision);
    exact.startTraining();
    for (let i = 0; i < 2; i += 1) {
      const s = await exact.step(batch);
      check.ours.losses.push(s.loss);
      check.ours.gradNorms.push(s.gradNorm);
    }
    exact.dispose();
    const loaded = await python.send({ op: 'load', dir: dirNoDropout, dropout: false, lr: LR, weightDecay: WEIGHT_DECAY, maxGradNorm: MAX_GRAD_NORM, precision: o.precision });
    run.parameters = loaded.parameters;
    await python.send({ op: 'batch', file: batchFile });
    const r = await python.send({ op: 'steps', count: 2 });
    check.pytorch = { losses: r.losses, gradNorms: r.gradNorms };
    await python.send({ op: 'unload' });
  }
  check.lossRelDiff = relDiff(check.ours.losses[0], check.pytorch.losses[0]);
  check.gradNormRelDiff = relDiff(check.ours.gradNorms[0], check.pytorch.gradNorms[0]);
  check.secondLossRelDiff = relDiff(check.ours.losses[1], check.pytorch.losses[1]);
  run.check = check;
  run.correct = check.lossRelDiff <= LOSS_TOLERANCE && check.gradNormRelDiff <= GRAD_NORM_TOLERANCE;
  log(`${label}: loss ours ${check.ours.losses[0].toFixed(7)} PyTorch ${check.pytorch.losses[0].toFixed(7)} (rel ${check.lossRelDiff.toExponential(2)}), ` +
    `grad norm rel ${check.gradNormRelDiff.toExponential(2)}, 2nd loss rel ${check.secondLossRelDiff.toExponential(2)}${run.correct ? '' : '  MISMATCH: no time reported'}`);

  // 2. Timing (dropout as configured), alternating A B A B on warm, long-lived processes, with the machine's sgemm
  // rate measured just before and just after (the machine is shared: its rate moves with the other load).
  if (run.correct) {
    const sgemmBefore = await python.send({ op: 'sgemm', threads: o.threads, size: 2048, repeats: 5 });
    ours.startTraining();
    await python.send({ op: 'load', dir, dropout: true, lr: LR, weightDecay: WEIGHT_DECAY, maxGradNorm: MAX_GRAD_NORM, precision: o.precision });
    await python.send({ op: 'batch', file: batchFile });
    const warm = { ours: [], pytorch: [] };
    for (let i = 0; i < o.warmup; i += 1) {
      warm.ours.push((await ours.step(batch)).ms);
      warm.pytorch.push(...(await python.send({ op: 'steps', count: 1 })).ms);
    }
    const reps = o.reps === 'auto' ? AUTO_REPS[name] : o.reps;
    const samples = { ours: [], pytorch: [] };
    const usage = { ours: [], pytorch: [] };
    for (let i = 0; i < reps; i += 1) {
      const a = await ours.step(batch);
      samples.ours.push(a.ms);
      usage.ours.push(a.usage);
      const b = await python.send({ op: 'steps', count: 1 });
      samples.pytorch.push(...b.ms);
      usage.pytorch.push(...b.usage);
    }
    await python.send({ op: 'unload' });
    const sgemmAfter = await python.send({ op: 'sgemm', threads: o.threads, size: 2048, repeats: 5 });
    run.sgemm = { before: sgemmBefore.gflops, after: sgemmAfter.gflops, gflops: Math.max(sgemmBefore.gflops, sgemmAfter.gflops) };
    const usageSummary = (list, ms) => ({
      cpuPerWall: median(list.map((u, i) => (u.userMs + u.sysMs) / ms[i])),
      sysMs: median(list.map((u) => u.sysMs)),
      minorFaults: median(list.map((u) => u.minorFaults)),
    });
    run.reps = reps;
    run.ours = { warmupMs: warm.ours, ms: samples.ours, median: median(samples.ours), usage: usage.ours, usageMedian: usageSummary(usage.ours, samples.ours) };
    run.pytorch = { warmupMs: warm.pytorch, ms: samples.pytorch, median: median(samples.pytorch), usage: usage.pytorch, usageMedian: usageSummary(usage.pytorch, samples.pytorch) };
    run.ratio = run.ours.median / run.pytorch.median;
    // Each A/B pair ran back to back under about the same load: the median of the pair ratios is a second estimate.
    run.pairedRatio = median(samples.ours.map((x, i) => x / samples.pytorch[i]));
    log(`${label}: ours ${run.ours.median.toFixed(1)} ms, PyTorch ${run.pytorch.median.toFixed(1)} ms, ratio ${run.ratio.toFixed(3)} (paired ${run.pairedRatio.toFixed(3)})  ` +
      `(ours ${samples.ours.map((x) => x.toFixed(0)).join(' ')} | PyTorch ${samples.pytorch.map((x) => x.toFixed(0)).join(' ')}); ` +
      `sys ms ours ${run.ours.usageMedian.sysMs.toFixed(0)} PyTorch ${run.pytorch.usageMedian.sysMs.toFixed(0)}, ` +
      `page faults ours ${run.ours.usageMedian.minorFaults} PyTorch ${run.pytorch.usageMedian.minorFaults}`);
  }
  ours.dispose();

  // 3. Peak RSS: a fresh process per side.
  if (o.memory) {
    const oursMem = runJsonProcess(process.execPath, ['--expose-gc', __filename, '--memory-child', dir, batchFile, String(o.threads), String(MEMORY_STEPS), o.precision], env);
    const pyMem = runJsonProcess(o.python, [REFERENCE, 'memory', dir, batchFile, String(o.threads), String(MEMORY_STEPS), o.precision], env);
    run.memory = { ours: oursMem, pytorch: pyMem, ratio: oursMem.hwm_kib / pyMem.hwm_kib };
    log(`${label}: peak RSS ours ${mib(oursMem.hwm_kib)} PyTorch ${mib(pyMem.hwm_kib)} (ratio ${run.memory.ratio.toFixed(3)}); ` +
      `training-phase peak ours ${mib(oursMem.train_hwm_kib)} PyTorch ${mib(pyMem.train_hwm_kib)}`);
  }
  run.loadEnd = os.loadavg();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(dirNoDropout, { recursive: true, force: true });
  return run;
}

async function main(argv = process.argv.slice(2)) {
  if (argv[0] === '--memory-child') {
    await memoryChild(argv[1], argv[2], Number(argv[3]), Number(argv[4]), argv[5] || 'fp32');
    return 0;
  }
  const o = parseArgs(argv);
  if (o.help) {
    process.stdout.write(headerComment(__filename));
    return 0;
  }
  const result = await runStepBench({ ...o, argv });
  process.stdout.write(result.markdown);
  if (result.files) process.stderr.write(`wrote ${result.files.join(' and ')}\n`);
  return result.runs.every((r) => r.correct) ? 0 : 1;
}

module.exports = { runStepBench, formatMarkdown, trainingFlops, CONFIGS, main };

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
