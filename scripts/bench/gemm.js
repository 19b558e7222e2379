#!/usr/bin/env node
// The inference path's matrix product (native/model/packed_gemm.h) timed alone, under settings of its blocking that
// the environment chooses (BERT_TRAINER_GEMM_TILE_ROWS, BERT_TRAINER_GEMM_K_BLOCK, BERT_TRAINER_CPU_CAPABILITY, each read
// once a process): for tuning the kernel on a CPU, where a whole forward (bench:infer) is too noisy to tell a few per
// cent apart. Each round runs every setting in its own process, the order rotated every round; a process times every
// shape (the best of its calls, so a stall does not count) and checks the product against addmm. Reported per setting
// and shape: median GFLOP/s over the rounds, its share of the FMA peak measured at the start and the end
// (bench/fma_peak.c), and the median over rounds of the time against the first setting's in the same round.
//
// It runs on the benchmark addon, which bert_trainer.node does not contain; build it first (and after changing
// native/model/packed_gemm*):
//   npx cmake-js compile --target bert_trainer_bench -O build-bench
// (BERT_TRAINER_BENCH_ADDON: a bert_trainer_bench.node elsewhere.) Then:
//   node scripts/bench/gemm.js [options]     (or: npm run bench:gemm -- [options], which builds it first)
//     --settings LIST   settings to compare, the first the baseline: default (the environment's own), or
//                       KEY=VALUE joined by + with KEY rows (tile rows), kblock (k per block) or isa (avx2)
//                       (default: default,kblock=256,rows=6)
//     --shapes LIST     MxKxN products, y[M, N] = x[M, K] · Wᵀ + b (default: bert-base's four at 8 × 128 = 1024 rows
//                       and at 1 × 32 = 32 rows: 1024x768x2304,1024x768x768,1024x768x3072,1024x3072x768 and the same
//                       with 32 rows)
//     --threads N       inference threads (default 2)
//     --rounds N        rounds (default 7)
//     --ms N            each shape is called for about N ms in each process (default 150)
//     --out DIR         results folder (default bench/results)
//     --no-write        print only
//     --help            this text
'use strict';

const path = require('path');
const {
  runIfMain,
  runJsonProcess,
  measureFmaPeak,
  machineInfo,
  flagsOf,
  integerArg,
  median,
  headerComment,
  uptimeLine,
  applyBenchThreadEnv,
  threadEnvLabel,
  benchAddon,
  writeResultFiles,
} = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const SETTING_ENV = { rows: 'BERT_TRAINER_GEMM_TILE_ROWS', kblock: 'BERT_TRAINER_GEMM_K_BLOCK', isa: 'BERT_TRAINER_CPU_CAPABILITY' };
const DEFAULT_SHAPES = [1024, 32].flatMap((m) => [`${m}x768x2304`, `${m}x768x768`, `${m}x768x3072`, `${m}x3072x768`]);

function parseSetting(text) {
  if (text === 'default') return { name: text, env: {} };
  const env = {};
  for (const part of text.split('+')) {
    const [key, value] = part.split('=');
    if (!(key in SETTING_ENV) || !value) throw new TypeError(`--settings: ${part} is not KEY=VALUE with KEY one of ${Object.keys(SETTING_ENV).join(', ')}`);
    env[SETTING_ENV[key]] = value;
  }
  return { name: text, env };
}

function parseShape(text) {
  const dims = text.split('x').map(Number);
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d >= 1) || dims[2] % 16 !== 0) {
    throw new RangeError(`--shapes: ${text} is not MxKxN with positive integers and N a multiple of 16`);
  }
  const [m, k, n] = dims;
  return { name: text, m, k, n };
}

function parseArgs(argv) {
  const o = {
    settings: 'default,kblock=256,rows=6',
    shapes: DEFAULT_SHAPES.join(','),
    threads: 2,
    rounds: 7,
    ms: 150,
    out: path.join(ROOT, 'bench', 'results'),
    write: true,
  };
  for (const { flag, value } of flagsOf(argv)) {
    if (flag === '--settings') o.settings = value();
    else if (flag === '--shapes') o.shapes = value();
    else if (flag === '--threads') o.threads = integerArg(value(), '--threads', 1);
    else if (flag === '--rounds') o.rounds = integerArg(value(), '--rounds', 1);
    else if (flag === '--ms') o.ms = integerArg(value(), '--ms', 1);
    else if (flag === '--out') o.out = path.resolve(value());
    else if (flag === '--no-write') o.write = false;
    else if (flag === '--child') o.child = JSON.parse(value());
    else if (flag === '--help') o.help = true;
    else throw new TypeError(`unknown argument ${flag}`);
  }
  o.settings = o.settings.split(',').map(parseSetting);
  o.shapes = o.shapes.split(',').map(parseShape);
  return o;
}

// In a child process: each shape called for about `ms` ms after a warm-up; its best call in ms, and how it ran.
function timeShapes({ shapes, threads, ms }) {
  const bench = benchAddon();
  const rows = shapes.map(({ m, k, n }) => {
    const probe = bench.timePackedGemm({ m, k, n, threads, warmup: 1, repeats: 3 });
    const repeats = Math.max(3, Math.round(ms / Math.min(...probe.millis)));
    const timed = bench.timePackedGemm({ m, k, n, threads, warmup: 1, repeats });
    return { ms: Math.min(...timed.millis), isa: timed.isa, tileRows: timed.tileRows, kBlock: timed.kBlock };
  });
  return rows;
}

function runGemmBench(o) {
  benchAddon(); // fails here, before any child, where the addon is not built
  // The library's own thread-waiting settings, which the children inherit: LibTorch's OpenMP workers (the addmm check,
  // randn) would otherwise spin on the cores the product's threads need.
  applyBenchThreadEnv('spin100');
  const peakStart = measureFmaPeak(o.threads);
  const result = { date: new Date().toISOString().slice(0, 10), argv: o.argv, threads: o.threads, rounds: o.rounds, uptimeStart: uptimeLine() };
  result.machine = machineInfo(ROOT, require(path.join(ROOT, 'dist', 'engine', 'native')).native, o.threads);
  const times = o.settings.map(() => o.shapes.map(() => [])); // [setting][shape][round] ms
  const ran = o.settings.map(() => null);
  for (let round = 0; round < o.rounds; round += 1) {
    for (let i = 0; i < o.settings.length; i += 1) {
      const s = (i + round) % o.settings.length;
      const env = { ...process.env };
      for (const key of Object.values(SETTING_ENV)) delete env[key];
      Object.assign(env, o.settings[s].env);
      const child = { shapes: o.shapes, threads: o.threads, ms: o.ms };
      const rows = runJsonProcess(process.execPath, [__filename, '--child', JSON.stringify(child)], env);
      rows.forEach((row, j) => times[s][j].push(row.ms));
      ran[s] = rows[0];
    }
  }
  const peakEnd = measureFmaPeak(o.threads);
  result.uptimeEnd = uptimeLine();
  result.fmaPeak = { start: peakStart, end: peakEnd, gflops: Math.max(peakStart.gflops, peakEnd.gflops) };
  result.settings = o.settings.map((setting, s) => ({
    name: setting.name,
    env: setting.env,
    isa: ran[s].isa,
    tileRows: ran[s].tileRows,
    kBlock: ran[s].kBlock,
    shapes: o.shapes.map((shape, j) => {
      const gflops = times[s][j].map((ms) => (2 * shape.m * shape.k * shape.n) / ms / 1e6);
      const paired = times[s][j].map((ms, r) => ms / times[0][j][r]);
      return { shape: shape.name, ms: times[s][j], gflops: median(gflops), peakShare: median(gflops) / result.fmaPeak.gflops, pairedRatio: median(paired) };
    }),
  }));
  result.markdown = formatMarkdown(result);
  if (o.write) {
    const base = `${result.date}-${result.machine.hostname}-gemm${o.threads === 2 ? '' : `-t${o.threads}`}`;
    writeResultFiles(o.out, base, result);
  }
  return result;
}

function formatMarkdown(r) {
  const m = r.machine;
  const lines = [
    `# The packed GEMM alone, by blocking setting (${r.date}, ${m.hostname})`,
    '',
    `\`node scripts/bench/gemm.js ${(r.argv || []).join(' ')}\``.replace(/ `$/, '`') +
      ` — ${m.cpuModel}, ${m.cores} cores, ${r.threads} inference threads (${threadEnvLabel(m)}); commit ${m.commit ? m.commit.slice(0, 12) : 'unknown'}${m.dirty ? ' (dirty tree)' : ''}.`,
    `${r.rounds} rounds, every setting in its own process each round (order rotated), each shape's best call per process; ` +
      `GFLOP/s = 2·M·K·N / time, median over rounds; "vs first" = median over rounds of the time against the first setting's in the same round.`,
    `FMA peak (bench/fma_peak.c, ${r.fmaPeak.start.isa}, ${r.threads} threads): ${r.fmaPeak.start.gflops} GFLOP/s at the start, ${r.fmaPeak.end.gflops} at the end.`,
    `Load: start \`${r.uptimeStart}\`; end \`${r.uptimeEnd}\`.`,
    '',
  ];
  const header = ['shape (MxKxN)', ...r.settings.map((s) => `${s.name} (${s.isa}, ${s.tileRows} rows, k ${s.kBlock}): GFLOP/s, % of peak, vs first`)];
  lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
  r.settings[0].shapes.forEach((_shape, j) => {
    const cells = r.settings.map((s) => {
      const x = s.shapes[j];
      return `${x.gflops.toFixed(1)}, ${(100 * x.peakShare).toFixed(1)}%, ${x.pairedRatio.toFixed(3)}`;
    });
    lines.push(`| ${r.settings[0].shapes[j].shape} | ${cells.join(' | ')} |`);
  });
  return `${lines.join('\n')}\n`;
}

async function main(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  if (o.help) {
    process.stdout.write(headerComment(__filename));
    return 0;
  }
  if (o.child) {
    process.stdout.write(`${JSON.stringify(timeShapes(o.child))}\n`);
    return 0;
  }
  const result = runGemmBench({ ...o, argv });
  process.stdout.write(result.markdown);
  if (result.files) process.stderr.write(`wrote ${result.files.join(' and ')}\n`);
  return 0;
}

module.exports = { runGemmBench, formatMarkdown, parseArgs };

runIfMain(module, main);
