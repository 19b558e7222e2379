#!/usr/bin/env node
// Inference benchmark (issue 15): bert-trainer's eval-mode forward and predict against onnxruntime-node (the runtime
// transformers.js runs in Node) running the same model, exported with model.exportOnnx (so the weights are the same),
// in the same process and run.
//
//   npm run bench:infer [-- options]      (npx tsc -p tsconfig.json && node scripts/bench/infer.js [options])
//     --shapes LIST          of mini-32x128, mini-1x32, base-8x128, base-1x32 (default all four: the issue's targets)
//     --threads N            intra-op threads on both sides (default 2): ours setNumThreads(N); onnxruntime
//                            intraOpNumThreads N, interOpNumThreads 1
//     --rounds N             rounds of alternating blocks per shape (default 7)
//     --block-ms N           a block of calls lasts about N ms (its call count is set from the warm-up; default 500)
//     --warmup N             untimed calls per side and kind before the rounds (default 5)
//     --clients LIST         concurrent clients of the request table (default 1,8,64; none: no table)
//     --requests-config C    the model of the request table: mini or base (default mini)
//     --duration-ms N        each cell of the request table runs this long, after a 500 ms warm-up (default 5000)
//     --max-batch-size N     the coalescing option's maxBatchSize in the request table (default 32)
//     --max-wait-ms N        and its maxWaitMs (default 0, the option's default)
//     --quick                --rounds 3 --block-ms 150 --warmup 2 --duration-ms 1500 (a smoke run, not a measurement)
//     --python PATH          the Python whose PyTorch measures the machine's GEMM rate (default $BERT_TRAINER_PYTHON,
//                            else the repository's .venv/bin/python; without one that imports torch, no rate table)
//     --out DIR              results folder (default bench/results)
//     --no-write             print only
//     --omp-env spin100|default   spin100 (default): bert-trainer's thread-waiting settings (GOMP_SPINCOUNT=100,
//                            OPENBLAS_THREAD_TIMEOUT=22) in the process unless the environment sets them
//
// Models: mini (4 layers, hidden 256, 4 heads, intermediate 1024) and base (bert-base: 12 layers, hidden 768, 12
// heads, intermediate 3072), vocabulary 30,522 words ("w5", "w6", ... after the five special tokens, so that a text
// of n words is n + 2 tokens), 2 labels, randomly initialised by BertClassifier.fromConfig (seed 0) and exported with
// model.exportOnnx into a temporary folder; onnxruntime-node loads its onnx/model.onnx (graph optimisations 'all',
// sequential execution, its other session options at their defaults).
//
// Correctness first, per model: a padded batch of 5 rows of different lengths (token types 0 and 1) through both
// sides: logits within 1e-4, or no time is reported for that model; and predict()'s scores against the onnxruntime
// pipeline's on the timing texts.
//
// Timing, per shape B x S, four kinds of call on warm sides:
//   forward:  ours model.forward({ inputIds, attentionMask, tokenTypeIds } as { data: Int32Array, shape }), against
//             session.run with the same ids as int64 tensors made beforehand;
//   predict:  ours model.predict(texts) (B texts of S - 2 words: S tokens each, no padding), against our tokenizer's
//             encode(texts) + int64 tensors + session.run + the same softmax and label per row.
// Rounds of one block per kind and side, the sides' order swapped every round (ours first, then theirs first); every
// call timed alone. Ratio = ours / onnxruntime median time per call (below 1: ours is faster); paired = the median
// over rounds of the ratio of the two blocks' medians.
//
// Request table (one model): a closed loop of N async clients for a fixed time, each sending single-text predict
// requests one after another (texts of 8 to 62 words, drawn once, the same sequence for every side): requests per
// second (completed requests / elapsed time) and latency p50/p99 per request. Sides: ours (predict, one native forward
// per request), ours with request coalescing (setRequestBatching({ maxBatchSize, maxWaitMs })), and onnxruntime-node
// run once per request (our tokenizer's encode, then session.run).
//
// The ceiling: the machine's fp32 GEMM rate (bench/sgemm.py, torch.mm 2048², at the start and the end of the run),
// against which each side's forward GFLOP/s (the model's FLOPs / median time) is read, and the lowest ratio ours could
// reach at that rate (its own FLOPs at the GEMM rate over onnxruntime's time); and the machine's fp32 FMA peak
// (bench/fma_peak.c, compiled with cc: register-only FMAs, at the start and the end), which no product passes: ours'
// own FLOPs per second as a share of it, and the lowest ratio with every product at the peak.
//
// Writes bench/results/<YYYY-MM-DD>-<hostname>-infer[-<shapes>][-t<threads>].json (every sample) and .md (the tables).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const {
  applyBenchThreadEnv,
  runIfMain,
  flagsOf,
  defaultPython,
  firstPositionsToCompute,
  headerComment,
  integerArg,
  listArg,
  machineInfo,
  measureSgemm,
  measureFmaPeak,
  median,
  sharedFlag,
  threadEnvLabel,
  uptimeLine,
  writeResultFiles,
} = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');

const CONFIGS = {
  mini: { layers: 4, hidden: 256, heads: 4, intermediate: 1024 },
  base: { layers: 12, hidden: 768, heads: 12, intermediate: 3072 },
};
const SHAPES = {
  'mini-32x128': { config: 'mini', batch: 32, seq: 128, before: 1.17 },
  'mini-1x32': { config: 'mini', batch: 1, seq: 32, before: 1.74 },
  'base-8x128': { config: 'base', batch: 8, seq: 128, before: 1.08 },
  'base-1x32': { config: 'base', batch: 1, seq: 32, before: 1.53 },
};
const TARGET = 0.9;
const VOCAB = 30522;
const MAX_POSITIONS = 512;
const LABELS = ['neg', 'pos'];
const LOGIT_TOLERANCE = 1e-4;
const REQUEST_WARMUP_MS = 500;

/**
 * FLOPs of one forward at B x S (multiply-add = 2): { model, ours, positions }. model: what the model defines and
 * onnxruntime computes, L·(2·B·S·(4H² + 2HI) + 4·B·S²·H) + the pooler 2·B·H². ours: the same with the last layer for
 * the first P positions only (native/model/first_positions.h; P, `positions`, as first_positions_to_compute picks it:
 * the fewest positions whose B·P·H·min(H, I) exceeds 1e6, 1 at the batched shapes): its keys and values for all S
 * positions, its query, attention, output projection and feed-forward block for P.
 */
function forwardFlops({ layers: L, hidden: H, intermediate: I }, B, S) {
  const layer = 2 * B * S * (4 * H * H + 2 * H * I) + 4 * B * S * S * H;
  const pooler = 2 * B * H * H;
  const P = firstPositionsToCompute(B, S, H, I);
  const last = P >= S ? layer : 2 * B * S * 2 * H * H + 2 * B * P * (2 * H * H + 2 * H * I) + 4 * B * P * S * H;
  return { model: L * layer + pooler, ours: (L - 1) * layer + last + pooler, positions: P };
}

function parseArgs(argv) {
  const o = {
    shapes: Object.keys(SHAPES),
    threads: 2,
    rounds: 7,
    blockMs: 500,
    warmup: 5,
    clients: [1, 8, 64],
    requestsConfig: 'mini',
    durationMs: 5000,
    maxBatchSize: 32,
    maxWaitMs: 0,
    write: true,
    out: path.join(ROOT, 'bench', 'results'),
  };
  for (const { flag: a, value } of flagsOf(argv)) {
    if (a === '--shapes') o.shapes = listArg(value(), Object.keys(SHAPES), '--shapes');
    else if (a === '--threads') o.threads = integerArg(value(), '--threads', 1);
    else if (a === '--rounds') o.rounds = integerArg(value(), '--rounds', 1);
    else if (a === '--block-ms') o.blockMs = integerArg(value(), '--block-ms', 1);
    else if (a === '--warmup') o.warmup = integerArg(value(), '--warmup', 1);
    else if (a === '--clients') {
      const v = value();
      o.clients = v === 'none' ? [] : v.split(',').map((s) => integerArg(s.trim(), '--clients', 1));
    } else if (a === '--requests-config') [o.requestsConfig] = listArg(value(), Object.keys(CONFIGS), '--requests-config');
    else if (a === '--duration-ms') o.durationMs = integerArg(value(), '--duration-ms', 100);
    else if (a === '--max-batch-size') o.maxBatchSize = integerArg(value(), '--max-batch-size', 1);
    else if (a === '--max-wait-ms') o.maxWaitMs = integerArg(value(), '--max-wait-ms', 0);
    else if (a === '--quick') Object.assign(o, { rounds: 3, blockMs: 150, warmup: 2, durationMs: 1500 });
    else if (!sharedFlag(o, a, value)) throw new TypeError(`unknown argument ${a}`);
  }
  return o;
}

function loadLibrary() {
  // Lazy: the thread-waiting settings must be in the environment before the addon (and libgomp) is loaded.
  const lib = require(ROOT);
  const { native } = require(path.join(ROOT, 'dist', 'engine', 'native'));
  return { ...lib, native };
}

function hfConfig(name) {
  const c = CONFIGS[name];
  return {
    vocab_size: VOCAB,
    hidden_size: c.hidden,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    intermediate_size: c.intermediate,
    max_position_embeddings: MAX_POSITIONS,
  };
}

function vocabulary() {
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  for (let i = tokens.length; i < VOCAB; i += 1) tokens.push(`w${i}`);
  return tokens;
}

/** mulberry32: the same inputs on every run. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const wordId = (next) => 5 + Math.floor(next() * (VOCAB - 5));
const textOf = (words, next) => Array.from({ length: words }, () => `w${wordId(next)}`).join(' ');

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i += 1) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// The onnxruntime side

function int64Tensor(ort, rows) {
  const width = rows[0].length;
  const data = new BigInt64Array(rows.length * width);
  for (let i = 0; i < rows.length; i += 1) for (let j = 0; j < width; j += 1) data[i * width + j] = BigInt(rows[i][j]);
  return new ort.Tensor('int64', data, [rows.length, width]);
}

function int64FromInt32(ort, data, shape) {
  return new ort.Tensor('int64', BigInt64Array.from(data, BigInt), shape);
}

/** Softmax per row, the top label and every score: what predict() returns, for the onnxruntime pipeline. */
function predictions(logits, rows) {
  const labels = logits.length / rows;
  const out = [];
  for (let r = 0; r < rows; r += 1) {
    const z = logits.subarray(r * labels, (r + 1) * labels);
    const max = Math.max(...z);
    const exps = Array.from(z, (x) => Math.exp(x - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    const values = exps.map((e) => e / sum);
    let best = 0;
    values.forEach((v, i) => {
      if (v > values[best]) best = i;
    });
    out.push({ label: LABELS[best], score: values[best], scores: Object.fromEntries(LABELS.map((l, i) => [l, values[i]])) });
  }
  return out;
}

class OrtSide {
  static async create(ort, file, threads) {
    const session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new OrtSide(ort, session);
  }

  constructor(ort, session) {
    this.ort = ort;
    this.session = session;
  }

  async logits(feeds) {
    const out = await this.session.run(feeds);
    return out.logits.data;
  }

  feedsOf(encoding) {
    return {
      input_ids: int64Tensor(this.ort, encoding.inputIds),
      attention_mask: int64Tensor(this.ort, encoding.attentionMask),
      token_type_ids: int64Tensor(this.ort, encoding.tokenTypeIds),
    };
  }

  /** Our tokenizer, then the session: the onnxruntime counterpart of model.predict(texts). */
  async predict(tokenizer, texts) {
    const encoding = await tokenizer.encode(texts);
    return predictions(await this.logits(this.feedsOf(encoding)), texts.length);
  }

  async release() {
    await this.session.release();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Timing

async function timeCalls(fn, calls) {
  const ms = [];
  for (let i = 0; i < calls; i += 1) {
    const t0 = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms;
}

/** Ours against theirs in alternating blocks: per-call samples, medians, ratio and paired ratio. */
async function compare(kind, ours, theirs, o, log, label) {
  const warm = { ours: await timeCalls(ours, o.warmup), theirs: await timeCalls(theirs, o.warmup) };
  const slower = Math.max(median(warm.ours), median(warm.theirs));
  const calls = Math.max(3, Math.round(o.blockMs / Math.max(slower, 0.01)));
  const samples = { ours: [], theirs: [] };
  const blockRatios = [];
  for (let r = 0; r < o.rounds; r += 1) {
    const order = r % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours'];
    const block = {};
    for (const side of order) {
      block[side] = await timeCalls(side === 'ours' ? ours : theirs, calls);
      samples[side].push(...block[side]);
    }
    blockRatios.push(median(block.ours) / median(block.theirs));
  }
  const result = {
    callsPerBlock: calls,
    warmupMs: warm,
    ours: { ms: samples.ours, median: median(samples.ours) },
    theirs: { ms: samples.theirs, median: median(samples.theirs) },
    blockRatios,
  };
  result.ratio = result.ours.median / result.theirs.median;
  result.pairedRatio = median(blockRatios);
  log(
    `${label} ${kind}: ours ${result.ours.median.toFixed(3)} ms, onnxruntime ${result.theirs.median.toFixed(3)} ms, ` +
      `ratio ${result.ratio.toFixed(3)} (paired ${result.pairedRatio.toFixed(3)}; ${calls} calls x ${o.rounds} blocks per side)`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The request table

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** N clients, each sending its next request when the previous one answered, for durationMs. */
async function closedLoop(call, texts, clients, durationMs) {
  let nextText = 0;
  const latencies = [];
  const start = performance.now();
  const end = start + durationMs;
  const client = async () => {
    while (performance.now() < end) {
      const text = texts[nextText % texts.length];
      nextText += 1;
      const t0 = performance.now();
      await call(text);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const elapsedMs = performance.now() - start;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    elapsedMs,
    requestsPerSecond: latencies.length / (elapsedMs / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
  };
}

/**
 * Counts the native forwards (and their rows) a model runs while `fn` runs: the coalescing's batch sizes. The
 * addon's methods are read-only, so the model's native handle is swapped for a proxy that counts forward() calls.
 */
async function countingForwards(model, fn) {
  const handle = model.handle;
  const counts = { forwards: 0, rows: 0 };
  model.handle = new Proxy(handle, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      if (key !== 'forward') return value.bind(target);
      return (...args) => {
        counts.forwards += 1;
        counts.rows += args[3];
        return value.apply(target, args);
      };
    },
  });
  try {
    return { result: await fn(), ...counts };
  } finally {
    model.handle = handle;
  }
}

async function requestTable(model, side, tokenizer, o, log) {
  const next = random(77);
  const texts = Array.from({ length: 512 }, () => textOf(8 + Math.floor(next() * 55), next));
  const sides = {
    ours: (text) => model.predict(text),
    'ours-coalesced': (text) => model.predict(text),
    onnxruntime: (text) => side.predict(tokenizer, [text]),
  };
  const cells = [];
  for (const clients of o.clients) {
    for (const name of Object.keys(sides)) {
      model.setRequestBatching(name === 'ours-coalesced' ? { maxBatchSize: o.maxBatchSize, maxWaitMs: o.maxWaitMs } : null);
      await closedLoop(sides[name], texts, clients, REQUEST_WARMUP_MS);
      const load = os.loadavg();
      const { result, forwards, rows } = await countingForwards(model, () => closedLoop(sides[name], texts, clients, o.durationMs));
      const cell = { clients, side: name, ...result, loadStart: load };
      if (name !== 'onnxruntime') Object.assign(cell, { nativeForwards: forwards, meanBatchRows: rows / Math.max(1, forwards) });
      cells.push(cell);
      log(
        `requests, ${clients} clients, ${name}: ${cell.requestsPerSecond.toFixed(1)} req/s, p50 ${cell.p50.toFixed(2)} ms, p99 ${cell.p99.toFixed(2)} ms` +
          `${cell.nativeForwards !== undefined ? `, ${cell.nativeForwards} native forwards of ${cell.meanBatchRows.toFixed(1)} rows on average` : ''}`,
      );
    }
  }
  model.setRequestBatching(null);
  return { texts: { count: texts.length, words: '8-62', seed: 77 }, cells };
}

// ---------------------------------------------------------------------------------------------------------------

async function prepareModel(name, lib, ort, tokenizer, tmp, o, log) {
  const model = await lib.BertClassifier.fromConfig(hfConfig(name), { labels: LABELS, tokenizer, seed: 0 });
  const dir = path.join(tmp, name);
  const t0 = Date.now();
  await model.exportOnnx(dir);
  const side = await OrtSide.create(ort, path.join(dir, 'onnx', 'model.onnx'), o.threads);
  log(`${name}: exported and loaded in onnxruntime in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // Correctness: a padded batch of rows of different lengths, token types 0 and 1.
  const next = random(5);
  const lengths = [7, 19, 3, 32, 12];
  const width = Math.max(...lengths);
  const encoding = { inputIds: [], attentionMask: [], tokenTypeIds: [] };
  for (const n of lengths) {
    encoding.inputIds.push(Array.from({ length: width }, (_, j) => (j < n ? wordId(next) : 0)));
    encoding.attentionMask.push(Array.from({ length: width }, (_, j) => (j < n ? 1 : 0)));
    encoding.tokenTypeIds.push(Array.from({ length: width }, (_, j) => (j < n && j >= n / 2 ? 1 : 0)));
  }
  const ours = await model.forward(encoding);
  const theirs = await side.logits(side.feedsOf(encoding));
  const check = { maxAbsDiff: maxAbsDiff(ours.logits, theirs), tolerance: LOGIT_TOLERANCE };
  check.correct = check.maxAbsDiff <= LOGIT_TOLERANCE;
  log(
    `${name}: logits ours vs onnxruntime on a padded batch: max abs diff ${check.maxAbsDiff.toExponential(2)}${check.correct ? '' : '  MISMATCH: no time reported'}`,
  );
  return { model, side, dir, check };
}

async function runShape(key, prepared, tokenizer, o, log) {
  const { config, batch, seq, before } = SHAPES[key];
  const { model, side } = prepared;
  const label = `${config} ${batch}x${seq}`;
  const run = { shape: key, config, batch, seq, before, flops: forwardFlops(CONFIGS[config], batch, seq), loadStart: os.loadavg(), uptimeStart: uptimeLine() };
  const next = random(1000 + batch * seq);
  const ids = new Int32Array(batch * seq);
  for (let i = 0; i < ids.length; i += 1) ids[i] = wordId(next);
  const mask = new Int32Array(batch * seq).fill(1);
  const types = new Int32Array(batch * seq);
  const shape = [batch, seq];
  const oursInputs = { inputIds: { data: ids, shape }, attentionMask: { data: mask, shape }, tokenTypeIds: { data: types, shape } };
  const feeds = {
    input_ids: int64FromInt32(side.ort, ids, shape),
    attention_mask: int64FromInt32(side.ort, mask, shape),
    token_type_ids: int64FromInt32(side.ort, types, shape),
  };
  const texts = Array.from({ length: batch }, () => textOf(seq - 2, next));
  // The texts are S tokens each, and both sides score them alike.
  const encoded = await tokenizer.encode(texts);
  if (encoded.inputIds.some((row) => row.length !== seq)) throw new Error(`${label}: the texts are not ${seq} tokens each`);
  const [oursPredictions, theirPredictions] = [await model.predict(texts, { batchSize: batch }), await side.predict(tokenizer, texts)];
  run.predictMaxScoreDiff = Math.max(...oursPredictions.flatMap((p, i) => LABELS.map((l) => Math.abs(p.scores[l] - theirPredictions[i].scores[l]))));
  run.forward = await compare(
    'forward',
    () => model.forward(oursInputs),
    () => side.logits(feeds),
    o,
    log,
    label,
  );
  run.predict = await compare(
    'predict',
    () => model.predict(texts, { batchSize: batch }),
    () => side.predict(tokenizer, texts),
    o,
    log,
    label,
  );
  run.loadEnd = os.loadavg();
  return run;
}

function cell(x, digits = 2) {
  return x === undefined || x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(digits);
}

function formatMarkdown(result) {
  const m = result.machine;
  const lines = [];
  lines.push(`# Inference: bert-trainer vs onnxruntime-node ${m.onnxruntime} (${result.date}, ${m.hostname})`);
  lines.push('');
  lines.push(
    `\`node scripts/bench/infer.js${result.argv.length ? ` ${result.argv.join(' ')}` : ''}\` — ${m.cpuModel}, ${m.cores} cores, ` +
      `${m.threads} intra-op threads each (ours: setNumThreads(${m.threads}); onnxruntime: intraOpNumThreads ${m.threads}, interOpNumThreads 1; ` +
      `${threadEnvLabel(m)}), LibTorch ${m.torchOurs} (ours, addon ${m.addon}), node ${m.node}; commit ${m.commit ? m.commit.slice(0, 12) : 'n/a'}${m.dirty ? ' (dirty tree)' : ''}` +
      `${m.niceness ? `; the benchmark process ran at nice ${m.niceness}` : ''}.`,
  );
  lines.push(
    `The same randomly initialised model on both sides (exported with model.exportOnnx). Per shape, ${result.settings.rounds} rounds of one block ` +
      `of calls per side and kind (sides in turn, the order swapped every round), after ${result.settings.warmup} warm-up calls each; ` +
      "ratio = ours / onnxruntime median time per call (lower is better for ours); paired = median over rounds of the blocks' ratio. " +
      'forward: pre-tokenized ids (ours: Int32Array matrices; onnxruntime: int64 tensors made beforehand); predict: texts (ours: ' +
      "model.predict; onnxruntime: our tokenizer's encode, int64 tensors, session.run, softmax).",
  );
  lines.push(`Load: start \`${result.uptimeStart}\`; end \`${result.uptimeEnd}\`.`);
  lines.push('');
  lines.push(
    '| shape | logits max abs diff | ours forward ms | onnxruntime ms | ratio (paired) | ours predict ms | onnxruntime ms | ratio (paired) | target | before |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of result.runs) {
    const check = result.checks[r.config];
    if (!r.forward) {
      lines.push(`| ${r.config} ${r.batch} × ${r.seq} | ${check.maxAbsDiff.toExponential(1)} | refused | | | | | | ≤ ${TARGET} | ${r.before} |`);
      continue;
    }
    lines.push(
      `| ${r.config} ${r.batch} × ${r.seq} | ${check.maxAbsDiff.toExponential(1)} | ${cell(r.forward.ours.median, 3)} | ${cell(r.forward.theirs.median, 3)} | ` +
        `**${cell(r.forward.ratio, 3)}** (${cell(r.forward.pairedRatio, 3)}) | ${cell(r.predict.ours.median, 3)} | ${cell(r.predict.theirs.median, 3)} | ` +
        `**${cell(r.predict.ratio, 3)}** (${cell(r.predict.pairedRatio, 3)}) | ≤ ${TARGET}: ${r.forward.ratio <= TARGET && r.predict.ratio <= TARGET ? 'met' : 'missed'} | ${r.before} |`,
    );
  }
  lines.push('');
  lines.push('"before": ours / onnxruntime forward time measured when issue 15 was filed.');
  const ceiling = result.sgemm && result.sgemm.gflops;
  if (ceiling) {
    const sg = result.sgemm.start || result.sgemm.end;
    lines.push('');
    lines.push(
      `The machine's fp32 GEMM rate in this run (bench/sgemm.py: torch.mm 2048² on ${m.threads} threads, ${sg.blas}, best at the start and the end): ` +
        `${ceiling.toFixed(1)} GFLOP/s. GFLOP/s below = the model's forward FLOPs (what onnxruntime computes) / median forward time; ours performs ` +
        'fewer (its last layer for the first positions only). "lowest ratio at this rate": ours\' own FLOPs at the GEMM rate over onnxruntime\'s ' +
        'measured time, the ratio ours would reach with every product at that rate and nothing else taking time.',
    );
    const peak = result.fmaPeak && result.fmaPeak.gflops;
    if (peak) {
      const fp = result.fmaPeak.start || result.fmaPeak.end;
      lines.push('');
      lines.push(
        `The machine's fp32 FMA peak in this run (bench/fma_peak.c: register-only ${fp.isa} FMAs on ${fp.threads} threads, best at the start and the end): ` +
          `${peak.toFixed(1)} GFLOP/s; the GEMM rate above is ${((100 * ceiling) / peak).toFixed(1)}% of it. No product runs faster than the peak: ` +
          '"% of FMA peak" is ours\' own FLOPs over its time against it, and "lowest ratio at the peak" the ratio with every product at the peak.',
      );
    }
    const peakHead = peak ? ' ours % of FMA peak | lowest ratio at the peak |' : '';
    lines.push('');
    lines.push(
      `| shape | model GFLOP | ours GFLOP | ours GFLOP/s | % of GEMM rate | onnxruntime GFLOP/s | % of GEMM rate | lowest ratio at this rate |${peakHead}`,
    );
    lines.push(`|---|---|---|---|---|---|---|---|${peak ? '---|---|' : ''}`);
    for (const r of result.runs.filter((x) => x.forward)) {
      const ours = r.flops.model / r.forward.ours.median / 1e6;
      const theirs = r.flops.model / r.forward.theirs.median / 1e6;
      const lowest = r.flops.ours / (ceiling * 1e6) / r.forward.theirs.median;
      const atPeak = peak
        ? ` ${cell((100 * r.flops.ours) / (peak * 1e6) / r.forward.ours.median, 1)}% | ${cell(r.flops.ours / (peak * 1e6) / r.forward.theirs.median, 3)} |`
        : '';
      lines.push(
        `| ${r.config} ${r.batch} × ${r.seq} | ${cell(r.flops.model / 1e9, 2)} | ${cell(r.flops.ours / 1e9, 2)} | ${cell(ours, 1)} | ${cell((100 * ours) / ceiling, 1)}% | ` +
          `${cell(theirs, 1)} | ${cell((100 * theirs) / ceiling, 1)}% | ${cell(lowest, 3)} |${atPeak}`,
      );
    }
  }
  if (result.requests) {
    const s = result.settings;
    lines.push('');
    lines.push(`## Concurrent single-text requests (${s.requestsConfig}, ${s.durationMs} ms per cell after ${REQUEST_WARMUP_MS} ms warm-up)`);
    lines.push('');
    lines.push(
      `A closed loop of N async clients, each sending its next predict request (one text of 8 to 62 words) when the previous one ` +
        `answered. ours: model.predict(text); coalesced: the same with setRequestBatching({ maxBatchSize: ${s.maxBatchSize}, maxWaitMs: ${s.maxWaitMs} }); ` +
        "onnxruntime: our tokenizer's encode, then session.run, once per request.",
    );
    lines.push('');
    lines.push('| clients | side | requests/s | p50 ms | p99 ms | native forwards (mean rows) |');
    lines.push('|---|---|---|---|---|---|');
    for (const c of result.requests.cells) {
      lines.push(
        `| ${c.clients} | ${c.side} | ${cell(c.requestsPerSecond, 1)} | ${cell(c.p50)} | ${cell(c.p99)} | ` +
          `${c.nativeForwards === undefined ? '' : `${c.nativeForwards} (${cell(c.meanBatchRows, 1)})`} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

async function runInferBench(options = {}) {
  const o = { ...parseArgs([]), ...options };
  const log = o.log || ((line) => process.stderr.write(`${line}\n`));
  applyBenchThreadEnv(o.ompEnv);
  const lib = loadLibrary();
  lib.native().setNumThreads(o.threads);
  const ort = require('onnxruntime-node');
  const tokenizer = lib.BertTokenizer.fromVocab(vocabulary());
  const configs = [...new Set([...o.shapes.map((s) => SHAPES[s].config), ...(o.clients.length ? [o.requestsConfig] : [])])];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-infer-bench-'));
  const result = {
    date: new Date().toISOString().slice(0, 10),
    argv: o.argv || [],
    settings: {
      threads: o.threads,
      rounds: o.rounds,
      blockMs: o.blockMs,
      warmup: o.warmup,
      shapes: o.shapes,
      clients: o.clients,
      requestsConfig: o.requestsConfig,
      durationMs: o.durationMs,
      maxBatchSize: o.maxBatchSize,
      maxWaitMs: o.maxWaitMs,
      target: TARGET,
    },
    uptimeStart: uptimeLine(),
    checks: {},
    runs: [],
  };
  result.machine = machineInfo(ROOT, lib.native, o.threads);
  result.machine.onnxruntime = require('onnxruntime-node/package.json').version;
  result.machine.oursThreads = lib.native().numThreads();
  result.machine.addon = process.env.BERT_TRAINER_ADDON || 'build/Release/bert_trainer.node';
  result.machine.niceness = os.getPriority();
  log(`inference bench: ${result.uptimeStart}`);
  const sgemm = () => {
    try {
      return measureSgemm(o.python || defaultPython(), o.threads);
    } catch (err) {
      log(`sgemm: not measured (${err.message.split('\n')[0]})`);
      return null;
    }
  };
  const fmaPeak = () => {
    try {
      return measureFmaPeak(o.threads);
    } catch (err) {
      log(`FMA peak: not measured (${err.message.split('\n')[0]})`);
      return null;
    }
  };
  result.sgemm = { start: sgemm() };
  result.fmaPeak = { start: fmaPeak() };
  try {
    for (const name of configs) {
      const prepared = await prepareModel(name, lib, ort, tokenizer, tmp, o, log);
      result.checks[name] = prepared.check;
      try {
        for (const key of o.shapes.filter((s) => SHAPES[s].config === name)) {
          if (!prepared.check.correct) {
            result.runs.push({ shape: key, ...SHAPES[key] });
            continue;
          }
          result.runs.push(await runShape(key, prepared, tokenizer, o, log));
        }
        if (o.clients.length && name === o.requestsConfig && prepared.check.correct) {
          result.requests = await requestTable(prepared.model, prepared.side, tokenizer, o, log);
        }
      } finally {
        prepared.model.dispose();
        await prepared.side.release();
        fs.rmSync(prepared.dir, { recursive: true, force: true });
      }
    }
    result.uptimeEnd = uptimeLine();
    result.sgemm.end = sgemm();
    const rates = [result.sgemm.start, result.sgemm.end].filter(Boolean).map((x) => x.gflops);
    result.sgemm.gflops = rates.length ? Math.max(...rates) : null;
    result.fmaPeak.end = fmaPeak();
    const peaks = [result.fmaPeak.start, result.fmaPeak.end].filter(Boolean).map((x) => x.gflops);
    result.fmaPeak.gflops = peaks.length ? Math.max(...peaks) : null;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  result.runs.sort((a, b) => o.shapes.indexOf(a.shape) - o.shapes.indexOf(b.shape));
  result.markdown = formatMarkdown(result);
  if (o.write) {
    const suffix = [o.shapes.length === Object.keys(SHAPES).length ? '' : `-${o.shapes.join('-')}`, o.threads === 2 ? '' : `-t${o.threads}`].join('');
    const base = `${result.date}-${result.machine.hostname}-infer${suffix}`;
    writeResultFiles(o.out, base, result);
  }
  return result;
}

async function main(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  if (o.help) {
    process.stdout.write(headerComment(__filename));
    return 0;
  }
  const result = await runInferBench({ ...o, argv });
  process.stdout.write(result.markdown);
  if (result.files) process.stderr.write(`wrote ${result.files.join(' and ')}\n`);
  return Object.values(result.checks).every((c) => c.correct) ? 0 : 1;
}

module.exports = { runInferBench, formatMarkdown, forwardFlops, SHAPES, CONFIGS, hfConfig, vocabulary, loadLibrary, main };

runIfMain(module, main);
