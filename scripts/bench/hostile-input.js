#!/usr/bin/env node
// Hostile-input benchmark: runs the harness of test/hostile-input.test.ts (scripts/bench/hostile-harness.js) at
// large sizes on the built library (dist/), each stage and size in a process of its own so that its peak RSS is its
// own, and prints a table of size -> time, heap kept and peak RSS per stage, with the growth exponent of time from
// the smallest size to the largest (1: linear, 2: quadratic). `npm run bench:hostile` builds first.
//
//   node scripts/bench/hostile-input.js [--stages csv,jsonl,...] [--scale 4,16,64,256] [--repeats 2]
//                                       [--out bench/results/<name>]   (writes <name>.json and <name>.md)
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const harness = require('./hostile-harness');

const ROOT = path.resolve(__dirname, '..', '..');
const USAGE = `Hostile-input benchmark: every input stage on adversarial input at growing sizes (time, heap, peak RSS).

  --stages <list>   stages to run (default: all): ${harness.STAGES.map((s) => s.name.replace(/ /g, '_')).join(', ')}
  --scale <list>    sizes as multiples of each stage's smallest test size (default: 4,16,64,256)
  --repeats <n>     timed runs per size, the best kept (default: 2)
  --out <path>      also write <path>.json and <path>.md (e.g. bench/results/2026-12-03-hostile-input)
  --help            this text
`;

function parseArgs(argv) {
  const o = { stages: undefined, scale: [4, 16, 64, 256], repeats: 2, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i += 1;
    if (flag === '--stages') {
      const names = harness.STAGES.map((s) => s.name.replace(/ /g, '_'));
      o.stages = value.split(',');
      for (const s of o.stages) if (!names.includes(s)) throw new Error(`--stages: unknown stage ${s} (stages: ${names.join(', ')})`);
    } else if (flag === '--scale') {
      o.scale = value.split(',').map(Number);
      if (o.scale.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--scale must be positive integers, got ${value}`);
    } else if (flag === '--repeats') {
      o.repeats = Number(value);
      if (!Number.isInteger(o.repeats) || o.repeats < 1) throw new Error(`--repeats must be an integer >= 1, got ${value}`);
    } else if (flag === '--out') {
      o.out = value;
    } else {
      throw new Error(`unknown argument ${flag}`);
    }
  }
  return o;
}

/** The library as dist/ builds it, under the names the harness uses. */
function library() {
  const dist = path.join(ROOT, 'dist');
  return {
    ...require(path.join(dist, 'data', 'dataset')),
    ...require(path.join(dist, 'data', 'encode')),
    ...require(path.join(dist, 'checkpoint', 'read-checkpoint')),
    ...require(path.join(dist, 'model', 'config')),
    ...require(path.join(dist, 'cli', 'labels')),
    ...require(path.join(dist, 'tokenizer', 'tokenizer')),
    ...require(path.join(dist, 'tokenizer', 'wordpiece-trainer')),
  };
}

function python() {
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  return process.env.BERT_TRAINER_PYTHON ?? (fs.existsSync(venv) ? venv : 'python3');
}

/** In a child: one stage at one size; prints { bytes, seconds, keptBytes, peakRssBytes, error }. */
async function child(stageName, size, repeats) {
  const stage = harness.STAGES.find((s) => s.name === stageName);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-hostile-bench-'));
  try {
    const ctx = harness.harnessContext(library(), dir, python());
    const result = await harness.measureStage(stage, [size], ctx, repeats);
    const row = result.rows[0];
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(
      `${JSON.stringify({ bytes: row.bytes, seconds: row.seconds, keptBytes: row.keptBytes, peakRssBytes, error: row.error ? String(row.error.message).slice(0, 200) : undefined })}\n`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], Number(argv[2]), Number(argv[3]));
  const o = parseArgs(argv);
  const stages = harness.STAGES.filter((s) => !o.stages || o.stages.includes(s.name.replace(/ /g, '_')));
  const results = [];
  for (const stage of stages) {
    const rows = [];
    for (const k of o.scale) {
      const size = stage.base * k;
      const out = execFileSync(process.execPath, [__filename, '--child', stage.name, String(size), String(o.repeats)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const row = JSON.parse(out.trim().split('\n').pop());
      rows.push({ size, ...row });
      process.stdout.write(
        `${stage.name.padEnd(28)} ${mib(row.bytes).padStart(8)} MiB  ${row.seconds.toFixed(3).padStart(8)} s  kept ${mib(row.keptBytes).padStart(7)} MiB  peak RSS ${mib(row.peakRssBytes).padStart(7)} MiB${row.error ? `  (refused: ${row.error.slice(0, 60)}…)` : ''}\n`,
      );
    }
    const first = rows[0];
    const last = rows[rows.length - 1];
    const exponent = Math.log(last.seconds / first.seconds) / Math.log(last.bytes / first.bytes);
    results.push({ stage: stage.name, bound: stage.bound, exponent, rows });
    process.stdout.write(`${stage.name.padEnd(28)} growth exponent ${exponent.toFixed(2)} (bound: ${stage.bound})\n`);
  }
  const table = [
    '| stage | bound | input (MiB) → time (s) | growth exponent | heap kept / input byte (largest) | peak RSS (MiB, largest) |',
    '|---|---|---|---|---|---|',
    ...results.map((r) => {
      const last = r.rows[r.rows.length - 1];
      const curve = r.rows.map((x) => `${mib(x.bytes)} → ${x.seconds.toFixed(3)}`).join(', ');
      return `| ${r.stage} | ${r.bound} | ${curve} | ${r.exponent.toFixed(2)} | ${(last.keptBytes / last.bytes).toFixed(2)} | ${mib(last.peakRssBytes)} |`;
    }),
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  if (o.out) {
    const machine = {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadavg: os.loadavg(),
    };
    fs.mkdirSync(path.dirname(o.out), { recursive: true });
    fs.writeFileSync(`${o.out}.json`, `${JSON.stringify({ date: new Date().toISOString(), machine, options: o, results }, null, 2)}\n`);
    fs.writeFileSync(`${o.out}.md`, `# Hostile-input benchmark, ${new Date().toISOString()}\n\n${table}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
