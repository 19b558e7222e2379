#!/usr/bin/env node
// Training-step benchmark: one optimizer step of bert-trainer (train-mode forward, cross-entropy, backward, clipping,
// AdamW) against the same step in PyTorch 2.13 + transformers 5.18 (the .venv the addon's LibTorch comes from), in the
// same run. Two anchors: transformers' BertForSequenceClassification with attn_implementation="sdpa" (its default),
// stepped as transformers' Trainer steps it (the model's loss, backward, clip_grad_norm_, Trainer's default optimizer:
// torch.optim.AdamW(fused=True) over its two parameter groups; bench/step_reference.py), and the same with the model
// under torch.compile (inductor; the compiling steps are warm-up, outside the timings; a failed compile is reported in
// the output, and the run goes on without that anchor).
//
//   npx tsc -p tsconfig.json && node scripts/bench/step.js [options]
//     --configs tiny,mini,small,base,roberta-base   model sizes (default all five; roberta-base: base's shape as
//                                      RobertaForSequenceClassification, roberta-base's config.json)
//     --batches LIST                   batch sizes to run where a config has them (default: tiny, mini and small 8,32;
//                                      base and roberta-base 8). The targets: mini 32 x 128, base and roberta-base 8 x 128
//     --anchors sdpa,compile,eager     the PyTorch steps timed against ours (default sdpa,compile; eager:
//                                      attn_implementation="eager", the exactness reference, timed as a third)
//     --threads N                      intra-op threads on every side (default 2)
//     --reps N                         timed steps per side (at least 5; default: tiny 15, mini 11, small 7, base 5)
//     --warmup N                       untimed steps per side first (default 4; torch.compile gets at least 3: its
//                                      first step compiles, and it may compile again on the second)
//     --quick                          --reps 5 --warmup 2 --no-memory (a smoke run, not a measurement)
//     --seq N                          sequence length (default 128)
//     --precision fp32|bf16            fp32 (default) on every side, or bf16 mixed precision on all: ours with
//                                      mixedPrecision 'bf16', PyTorch's forward and loss under
//                                      torch.autocast("cpu", bfloat16) (Trainer's bf16=True)
//     --no-memory                      skip the peak-RSS processes (ours and the SDPA anchor)
//     --out DIR                        results folder (default bench/results)
//     --no-write                       print only
//     --python PATH                    default $BERT_TRAINER_PYTHON, else the repository's .venv/bin/python
//     --omp-env spin100|default        spin100 (default): every side with the thread-waiting settings bert-trainer
//                                      applies to itself (GOMP_SPINCOUNT=100, OPENBLAS_THREAD_TIMEOUT=22) unless the
//                                      environment sets them; default: leave the environment as it is
//
// Per config and batch size: ours creates a fresh model (fromConfig, seed 0) and saves it; PyTorch loads that
// directory (from_pretrained), so every side starts from the same weights. Correctness first, with dropout 0 (the
// same weights with a dropout-0 config.json): two steps of ours against two steps of transformers' eager attention
// (the exactness reference: the first loss must agree within 1e-4 relative and the gradient norm within 1e-3, or no
// time is reported; equal is what ours is built for) and of the SDPA anchor (recorded). Then timing with the
// configured dropout (0.1): every side is a long-lived process (ours: this one; each anchor: its own
// bench/step_reference.py worker), warm-up steps on each, then ours, anchor 1, anchor 2, ours, ... single timed
// steps, median; ratio = ours / anchor, one per anchor. Peak RSS: a fresh process for ours and for the SDPA anchor
// per config (VmHWM after the steps; also the peak from the end of loading on, via /proc/self/clear_refs). sgemm
// GFLOP/s (bench/sgemm.py: torch.mm 2048^2 fp32, PyTorch's BLAS, MKL in the pip build) is measured at the start and
// at the end of the run, and around each config's timing; the machine's fp32 FMA peak (bench/fma_peak.c, compiled
// with cc: register-only FMAs) at the start and the end, the ceiling no product passes.
//
// Writes bench/results/<YYYY-MM-DD>-<hostname>[-<configs>][-b<batches>][-seq<n>][-t<threads>][-<precision>].json
// (every sample) and .md (the tables) beside it.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const {
  applyBenchThreadEnv,
  defaultPython,
  flagsOf,
  integerArg,
  listArg,
  sharedFlag,
  headerComment,
  machineInfo,
  median,
  procStatusKiB,
  relDiff,
  uptimeLine,
  writeDropoutFreeDir,
  runIfMain,
  runJsonProcess,
  measureSgemm,
  measureFmaPeak,
  writeResultFiles,
} = require('./common');
const {
  CONFIGS,
  ANCHORS,
  CHECK_IMPL,
  TARGETS,
  NUM_LABELS,
  LOSS_TOLERANCE,
  GRAD_NORM_TOLERANCE,
  MEMORY_STEPS,
  trainingFlops,
  oursTrainingFlops,
} = require('./step-settings');
const { formatMarkdown, mib } = require('./step-report');

const ROOT = path.resolve(__dirname, '..', '..');
const REFERENCE = path.join(ROOT, 'bench', 'step_reference.py');

const VOCAB = 30522;
const MAX_POSITIONS = 512;
const LR = 2e-5;
const WEIGHT_DECAY = 0.01;
const MAX_GRAD_NORM = 1.0;
const AUTO_REPS = { tiny: 15, mini: 11, small: 7, base: 5, 'roberta-base': 5 }; // more samples where a step is cheap (a noisy, shared machine)
const COMPILE_MIN_WARMUP = 3;

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

// The library's seeded generator (mulberry32), for the token ids.
const { mulberry32: random } = require(path.join(ROOT, 'dist', 'util', 'random'));

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
  // roberta-base's config.json: its vocabulary, positions after padding_idx 1, one token type, LayerNorm eps 1e-5.
  if (c.modelType === 'roberta') {
    Object.assign(config, {
      model_type: 'roberta',
      vocab_size: 50265,
      max_position_embeddings: 514,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      type_vocab_size: 1,
      layer_norm_eps: 1e-5,
    });
  }
  if (!dropout) Object.assign(config, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 });
  return config;
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
  fs.writeFileSync(
    file,
    JSON.stringify({
      batchSize: b.batchSize,
      sequenceLength: b.sequenceLength,
      inputIds: Array.from(b.inputIds),
      attentionMask: Array.from(b.attentionMask),
      labels: Array.from(b.labels),
    }),
  );
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
  const { native } = require(path.join(ROOT, 'dist', 'engine', 'native'));
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
// The run

function parseArgs(argv) {
  const o = {
    configs: Object.keys(CONFIGS),
    batches: null,
    anchors: ['sdpa', 'compile'],
    threads: 2,
    reps: 'auto',
    warmup: 4,
    seq: 128,
    precision: 'fp32',
    memory: true,
    write: true,
    out: path.join(ROOT, 'bench', 'results'),
    python: defaultPython(),
  };
  for (const { flag: a, value } of flagsOf(argv)) {
    if (a === '--configs') {
      o.configs = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const c of o.configs) if (!CONFIGS[c]) throw new RangeError(`unknown config ${c} (${Object.keys(CONFIGS).join(', ')})`);
    } else if (a === '--batches') {
      o.batches = value()
        .split(',')
        .map((s) => integerArg(s.trim(), '--batches', 1));
    } else if (a === '--anchors') {
      const anchors = listArg(value(), Object.keys(ANCHORS), '--anchors');
      o.anchors = Object.keys(ANCHORS).filter((x) => anchors.includes(x));
    } else if (a === '--threads') o.threads = integerArg(value(), '--threads', 1);
    else if (a === '--reps') {
      const v = value();
      o.reps = v === 'auto' ? 'auto' : integerArg(v, '--reps', 5);
    } else if (a === '--warmup') o.warmup = integerArg(value(), '--warmup', 1);
    else if (a === '--quick') Object.assign(o, { reps: 5, warmup: 2, memory: false });
    else if (a === '--seq') o.seq = integerArg(value(), '--seq', 2);
    else if (a === '--precision') {
      o.precision = value();
      if (!['fp32', 'bf16'].includes(o.precision)) throw new RangeError('--precision must be fp32 or bf16');
    } else if (a === '--no-memory') o.memory = false;
    else if (!sharedFlag(o, a, value)) throw new TypeError(`unknown argument ${a}`);
  }
  if (o.batches) {
    const none = o.configs.filter((c) => !CONFIGS[c].batches.some((b) => o.batches.includes(b)));
    if (none.length)
      throw new RangeError(
        `--batches ${o.batches.join(',')}: no batch size of ${none.join(', ')} (${none.map((c) => `${c}: ${CONFIGS[c].batches.join(',')}`).join('; ')})`,
      );
  }
  return o;
}

async function runStepBench(options, log = (line) => process.stderr.write(`${line}\n`)) {
  const o = { ...parseArgs([]), ...options };
  // When the addon is already loaded (e.g. from the CLI), OpenBLAS and libgomp have read their environment: the
  // variables below then reach only the PyTorch processes. Recorded in the results.
  const addonPreloaded = Object.keys(require.cache).some((k) => k.endsWith('.node') && k.includes('bert_trainer'));
  // An OpenBLAS in the process (Debian's pthread build) sizes its own thread pool from this variable when it is
  // loaded, not from LibTorch's set_num_threads: give every side and the sgemm measurement the same count (the pip
  // PyTorch's MKL follows set_num_threads and ignores it).
  if (!process.env.OPENBLAS_NUM_THREADS) process.env.OPENBLAS_NUM_THREADS = String(o.threads);
  // libgomp spins up to 300,000 iterations before an idle worker sleeps, OpenBLAS's pool threads sched_yield for
  // about 0.1 s after each GEMM; on a 2-core machine both take cores from the thread with the work. bert-trainer
  // shortens both for itself when it loads (src/engine/native.ts) unless the user set them; give the PyTorch side the same
  // (--omp-env default leaves the environment alone: then only ours has them).
  applyBenchThreadEnv(o.ompEnv);
  const env = { ...process.env };
  const { native } = loadLibrary();
  native().setNumThreads(o.threads);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-step-bench-'));
  // One worker per anchor (each stays warm with its own model); the correctness gate runs in the first.
  const workerNames = o.anchors.length ? o.anchors : ['sdpa'];
  const workers = Object.fromEntries(workerNames.map((a) => [a, new PythonWorker(o.python, env)]));
  const checker = workers[workerNames[0]];
  const result = {
    date: new Date().toISOString().slice(0, 10),
    argv: o.argv || [],
    settings: {
      precision: o.precision,
      threads: o.threads,
      anchors: o.anchors,
      checkImpl: CHECK_IMPL,
      reps: o.reps === 'auto' ? AUTO_REPS : o.reps,
      warmup: o.warmup,
      compileMinWarmup: COMPILE_MIN_WARMUP,
      seq: o.seq,
      batches: o.batches,
      lr: LR,
      weightDecay: WEIGHT_DECAY,
      maxGradNorm: MAX_GRAD_NORM,
      dropout: 0.1,
      targets: TARGETS,
    },
    uptimeStart: uptimeLine(),
    runs: [],
  };
  try {
    log(`step bench: ${result.uptimeStart}`);
    log(`PyTorch side: ${o.python}; anchors: ${o.anchors.map((a) => ANCHORS[a]).join(', ') || 'none'}`);
    const sgemmStart = measureSgemm(o.python, o.threads, 10, env);
    const fmaPeak = () => {
      try {
        return measureFmaPeak(o.threads, 5, env);
      } catch (err) {
        log(`FMA peak: not measured (${err.message.split('\n')[0]})`);
        return null;
      }
    };
    const peakStart = fmaPeak();
    log(`sgemm: ${sgemmStart.gflops.toFixed(1)} GFLOP/s (${sgemmStart.blas}, ${o.threads} threads)`);
    let pythonThreads = null;
    for (const w of Object.values(workers)) pythonThreads = (await w.send({ op: 'threads', threads: o.threads })).threads;
    result.machine = machineInfo(ROOT, native, o.threads, sgemmStart.torch);
    result.machine.python = o.python;
    result.machine.pythonThreads = pythonThreads;
    result.machine.oursThreads = native().numThreads();
    result.machine.envAppliedToOurs = !addonPreloaded;

    for (const name of o.configs) {
      for (const batchSize of CONFIGS[name].batches) {
        if (o.batches && !o.batches.includes(batchSize)) continue;
        const run = await runOne(name, batchSize, o, { workers, checker }, tmp, env, log);
        if (run.pythonVersions) {
          result.machine.transformers = run.pythonVersions.transformers;
          result.machine.pythonOptimizer = run.pythonVersions.optimizer;
        }
        result.runs.push(run);
      }
    }
    const sgemmEnd = measureSgemm(o.python, o.threads, 10, env);
    result.sgemm = { start: sgemmStart, end: sgemmEnd, gflops: Math.max(sgemmStart.gflops, sgemmEnd.gflops) };
    const peakEnd = fmaPeak();
    const peaks = [peakStart, peakEnd].filter(Boolean).map((x) => x.gflops);
    result.fmaPeak = { start: peakStart, end: peakEnd, gflops: peaks.length ? Math.max(...peaks) : null };
    for (const r of result.runs) {
      if (!r.correct) continue;
      r.oursFlops = oursTrainingFlops(r.config, r.batch, r.seq);
      r.oursGflops = r.flops / (r.ours.median / 1000) / 1e9;
      // Against the rate measured around this config's timing (the load moves), and against the run's best rate.
      r.oursSgemmFraction = r.oursGflops / r.sgemm.gflops;
      r.oursBestSgemmFraction = r.oursGflops / result.sgemm.gflops;
      for (const x of Object.values(r.anchors)) {
        if (x.error) continue;
        x.gflops = r.flops / (x.median / 1000) / 1e9;
        x.sgemmFraction = x.gflops / r.sgemm.gflops;
      }
    }
    result.uptimeEnd = uptimeLine();
  } finally {
    await Promise.all(Object.values(workers).map((w) => w.close()));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  result.markdown = formatMarkdown(result);
  if (o.write) {
    // The default run gets the plain name; other selections say what they are.
    const suffix = [
      o.configs.length === Object.keys(CONFIGS).length ? '' : `-${o.configs.join('-')}`,
      o.batches ? `-b${o.batches.join('-')}` : '',
      o.seq === 128 ? '' : `-seq${o.seq}`,
      o.threads === 2 ? '' : `-t${o.threads}`,
      o.precision === 'fp32' ? '' : `-${o.precision}`,
    ].join('');
    const base = `${result.date}-${result.machine.hostname}${suffix}`;
    writeResultFiles(o.out, base, result);
  }
  return result;
}

const usageSummary = (list, ms) => ({
  cpuPerWall: median(list.map((u, i) => (u.userMs + u.sysMs) / ms[i])),
  sysMs: median(list.map((u) => u.sysMs)),
  minorFaults: median(list.map((u) => u.minorFaults)),
});

/** The errors of a PyTorch worker as one short line (a failed torch.compile can say a lot). */
const errorLine = (err) =>
  (err instanceof Error ? err.message : String(err))
    .replace(/^PyTorch worker: /, '')
    .replace(/\s+/g, ' ')
    .slice(0, 1000);

async function runOne(name, batchSize, o, { workers, checker }, tmp, env, log) {
  const seq = o.seq;
  const label = `${name} ${batchSize}x${seq}`;
  const dir = path.join(tmp, `${name}-${batchSize}`);
  const dirNoDropout = path.join(tmp, `${name}-${batchSize}-nodropout`);
  const batch = makeBatch(batchSize, seq, 1234);
  const batchFile = path.join(tmp, `${name}-${batchSize}-batch.json`);
  writeBatchFile(batchFile, batch);
  const run = { config: name, ...CONFIGS[name], batch: batchSize, seq, flops: trainingFlops(name, batchSize, seq), loadStart: os.loadavg() };
  delete run.batches;
  const optimizerSettings = { lr: LR, weightDecay: WEIGHT_DECAY, maxGradNorm: MAX_GRAD_NORM, precision: o.precision };

  // Fresh weights (transformers' initialisation, seed 0), saved for the PyTorch side.
  const ours = await OursModel.create(hfConfig(name, true), { seed: 0 }, o.precision);
  await ours.save(dir);
  writeDropoutFreeDir(dir, dirNoDropout);

  // 1. Correctness with dropout 0: two steps per side from the same weights on the same batch, against transformers'
  // eager attention (the gate) and SDPA (recorded).
  const check = { ours: { losses: [], gradNorms: [] }, pytorch: null, sdpa: null };
  {
    const exact = await OursModel.create(dirNoDropout, undefined, o.precision);
    exact.startTraining();
    for (let i = 0; i < 2; i += 1) {
      const s = await exact.step(batch);
      check.ours.losses.push(s.loss);
      check.ours.gradNorms.push(s.gradNorm);
    }
    exact.dispose();
    await checker.send({ op: 'batch', file: batchFile });
    for (const impl of [CHECK_IMPL, 'sdpa']) {
      const loaded = await checker.send({ op: 'load', dir: dirNoDropout, impl, dropout: false, ...optimizerSettings });
      run.parameters = loaded.parameters;
      run.pythonVersions = { torch: loaded.torch, transformers: loaded.transformers, optimizer: loaded.optimizer };
      const r = await checker.send({ op: 'steps', count: 2 });
      const side = { impl, attention: loaded.attention, losses: r.losses, gradNorms: r.gradNorms };
      side.lossRelDiff = relDiff(check.ours.losses[0], r.losses[0]);
      side.gradNormRelDiff = relDiff(check.ours.gradNorms[0], r.gradNorms[0]);
      side.secondLossRelDiff = relDiff(check.ours.losses[1], r.losses[1]);
      if (impl === CHECK_IMPL) check.pytorch = side;
      else check.sdpa = side;
    }
    await checker.send({ op: 'unload' });
  }
  check.lossRelDiff = check.pytorch.lossRelDiff;
  check.gradNormRelDiff = check.pytorch.gradNormRelDiff;
  check.secondLossRelDiff = check.pytorch.secondLossRelDiff;
  run.check = check;
  run.correct = check.lossRelDiff <= LOSS_TOLERANCE && check.gradNormRelDiff <= GRAD_NORM_TOLERANCE;
  log(
    `${label}: loss ours ${check.ours.losses[0].toFixed(7)} ${CHECK_IMPL} ${check.pytorch.losses[0].toFixed(7)} (rel ${check.lossRelDiff.toExponential(2)}), ` +
      `grad norm rel ${check.gradNormRelDiff.toExponential(2)}, 2nd loss rel ${check.secondLossRelDiff.toExponential(2)}; ` +
      `SDPA: loss rel ${check.sdpa.lossRelDiff.toExponential(2)}, grad norm rel ${check.sdpa.gradNormRelDiff.toExponential(2)}` +
      `${run.correct ? '' : '  MISMATCH: no time reported'}`,
  );

  // 2. Timing (dropout as configured), in turns (ours, then each anchor) on warm, long-lived processes, with the
  // machine's sgemm rate measured just before and just after (the machine is shared: its rate moves with the load).
  if (run.correct) {
    const sgemmBefore = await checker.send({ op: 'sgemm', threads: o.threads, size: 2048, repeats: 5 });
    ours.startTraining();
    const sides = {};
    for (const a of o.anchors) {
      const s = { warmupMs: [], ms: [], usage: [], losses: [] };
      sides[a] = s;
      try {
        await workers[a].send({ op: 'load', dir, impl: a, dropout: true, ...optimizerSettings });
        await workers[a].send({ op: 'batch', file: batchFile });
      } catch (err) {
        Object.assign(s, { error: errorLine(err), phase: 'load' });
        log(`${label}: ${ANCHORS[a]} failed to load: ${s.error}`);
      }
    }
    // One step of an anchor; a failure (a torch.compile that cannot compile, say) takes it out of the run.
    const anchorStep = async (a, phase) => {
      const s = sides[a];
      if (s.error) return null;
      try {
        const r = await workers[a].send({ op: 'steps', count: 1 });
        if (r.dynamo) s.dynamo = r.dynamo;
        s.losses.push(...r.losses);
        return r;
      } catch (err) {
        Object.assign(s, { error: errorLine(err), phase });
        log(`${label}: ${ANCHORS[a]} failed (${phase}): ${s.error}`);
        return null;
      }
    };
    const warm = [];
    const warmupOf = (a) => (a === 'compile' ? Math.max(o.warmup, COMPILE_MIN_WARMUP) : o.warmup);
    const warmupSteps = Math.max(o.warmup, ...o.anchors.map(warmupOf));
    for (let i = 0; i < warmupSteps; i += 1) {
      if (i < o.warmup) warm.push((await ours.step(batch)).ms);
      for (const a of o.anchors) {
        if (i >= warmupOf(a)) continue;
        const phase = a === 'compile' && i === 0 ? 'compiling step' : 'warm-up';
        const r = await anchorStep(a, phase);
        if (r) sides[a].warmupMs.push(...r.ms);
      }
    }
    const reps = o.reps === 'auto' ? AUTO_REPS[name] : o.reps;
    const samples = [];
    const usage = [];
    for (let i = 0; i < reps; i += 1) {
      const x = await ours.step(batch);
      samples.push(x.ms);
      usage.push(x.usage);
      for (const a of o.anchors) {
        const r = await anchorStep(a, 'timed step');
        if (!r) continue;
        sides[a].ms.push(...r.ms);
        sides[a].usage.push(...r.usage);
        sides[a].turns = sides[a].turns || [];
        sides[a].turns.push(i);
      }
    }
    for (const a of o.anchors) await workers[a].send({ op: 'unload' }).catch(() => undefined);
    const sgemmAfter = await checker.send({ op: 'sgemm', threads: o.threads, size: 2048, repeats: 5 });
    run.sgemm = { before: sgemmBefore.gflops, after: sgemmAfter.gflops, gflops: Math.max(sgemmBefore.gflops, sgemmAfter.gflops) };
    run.reps = reps;
    run.ours = { warmupMs: warm, ms: samples, median: median(samples), usage, usageMedian: usageSummary(usage, samples) };
    run.anchors = {};
    const parts = [`ours ${run.ours.median.toFixed(1)} ms`];
    for (const a of o.anchors) {
      const s = sides[a];
      if (s.error || s.ms.length === 0) {
        run.anchors[a] = { error: s.error || 'no timed step', phase: s.phase || 'timed step', warmupMs: s.warmupMs, dynamo: s.dynamo };
        parts.push(`${ANCHORS[a]} failed`);
        continue;
      }
      const x = { warmupMs: s.warmupMs, ms: s.ms, median: median(s.ms), usage: s.usage, usageMedian: usageSummary(s.usage, s.ms), losses: s.losses };
      if (s.dynamo) x.dynamo = s.dynamo;
      if (a === 'compile') x.compileStepMs = s.warmupMs[0];
      x.ratio = run.ours.median / x.median;
      // Each turn ran back to back under about the same load: the median of the per-turn ratios is a second estimate.
      x.pairedRatio = median(s.ms.map((ms, k) => samples[s.turns[k]] / ms));
      run.anchors[a] = x;
      parts.push(`${ANCHORS[a]} ${x.median.toFixed(1)} ms, ratio ${x.ratio.toFixed(3)} (paired ${x.pairedRatio.toFixed(3)})`);
    }
    log(
      `${label}: ${parts.join('; ')}  (ours ${samples.map((x) => x.toFixed(0)).join(' ')}` +
        `${o.anchors
          .filter((a) => !run.anchors[a].error)
          .map((a) => ` | ${a} ${run.anchors[a].ms.map((x) => x.toFixed(0)).join(' ')}`)
          .join('')})` +
        `${run.anchors.compile && !run.anchors.compile.error ? `; torch.compile warm-up ${run.anchors.compile.warmupMs.map((x) => x.toFixed(0)).join(' ')} ms` : ''}`,
    );
  }
  ours.dispose();

  // 3. Peak RSS: a fresh process for ours and for the SDPA anchor.
  if (o.memory && run.correct) {
    const oursMem = runJsonProcess(
      process.execPath,
      ['--expose-gc', __filename, '--memory-child', dir, batchFile, String(o.threads), String(MEMORY_STEPS), o.precision],
      env,
    );
    const pyMem = runJsonProcess(o.python, [REFERENCE, 'memory', dir, batchFile, String(o.threads), String(MEMORY_STEPS), o.precision, 'sdpa'], env);
    run.memory = { ours: oursMem, pytorch: pyMem, ratio: oursMem.hwm_kib / pyMem.hwm_kib };
    log(
      `${label}: peak RSS ours ${mib(oursMem.hwm_kib)} SDPA ${mib(pyMem.hwm_kib)} (ratio ${run.memory.ratio.toFixed(3)}); ` +
        `training-phase peak ours ${mib(oursMem.train_hwm_kib)} SDPA ${mib(pyMem.train_hwm_kib)}`,
    );
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

module.exports = { runStepBench, formatMarkdown, trainingFlops, oursTrainingFlops, CONFIGS, ANCHORS, TARGETS, main };

runIfMain(module, main);
