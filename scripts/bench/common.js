// What the benchmark drivers (step.js, e2e.js, distributed.js) share: command-line reading, statistics, machine
// facts for the result files, /proc readings, the dropout-free copy of a model directory used by the correctness
// gates, and --help.
'use strict';

const crypto = require('crypto');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

/**
 * The thread-waiting settings bert-trainer applies to itself when the addon loads (src/engine/native.ts
 * THREAD_WAIT_DEFAULTS: GOMP_SPINCOUNT=100, OPENBLAS_THREAD_TIMEOUT=22), put into this process's environment so that
 * every process of a benchmark run, the PyTorch side included, runs with the same ones. `mode` 'default' leaves the
 * environment alone (then only ours has them). Settings the user exported win either way.
 */
function applyBenchThreadEnv(mode) {
  if (mode === 'default') return;
  const { applyThreadWaitDefaults } = require('../../dist/engine/native');
  applyThreadWaitDefaults(process.env);
}

/** One line naming the thread-waiting settings of this run, for the result tables. */
function threadEnvLabel(m) {
  const env = m.ompEnv || {};
  const omp = env.GOMP_SPINCOUNT
    ? `GOMP_SPINCOUNT=${env.GOMP_SPINCOUNT}`
    : env.OMP_WAIT_POLICY
      ? `OMP_WAIT_POLICY=${env.OMP_WAIT_POLICY}`
      : 'libgomp default spinning';
  const blas = env.OPENBLAS_THREAD_TIMEOUT ? `OPENBLAS_THREAD_TIMEOUT=${env.OPENBLAS_THREAD_TIMEOUT}` : 'OpenBLAS default thread timeout';
  return `${omp}, ${blas}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Command lines of the drivers

/** The arguments one by one: `value()` takes the next argument as this flag's value (TypeError when there is none). */
function* flagsOf(argv) {
  let i = 0;
  while (i < argv.length) {
    const flag = argv[i];
    yield {
      flag,
      value: () => {
        if (i + 1 >= argv.length) throw new TypeError(`${flag} needs a value`);
        i += 1;
        return argv[i];
      },
    };
    i += 1;
  }
}

/** An integer flag value of at least `min`, or a RangeError naming the flag. */
function integerArg(value, name, min) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  return n;
}

/** A comma-separated flag value whose items are all in `allowed` (RangeError naming the flag otherwise). */
function listArg(value, allowed, name) {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const x of items) if (!allowed.includes(x)) throw new RangeError(`${name}: unknown ${x} (${allowed.join(', ')})`);
  if (items.length === 0) throw new RangeError(`${name} is empty`);
  return items;
}

/**
 * The PyTorch reference's interpreter: $BERT_TRAINER_PYTHON when set, else the repository's .venv/bin/python (PyTorch
 * 2.13 and transformers 5.18, put there by scripts/install-deps.sh: the LibTorch the addon builds against), else
 * python3 on PATH. The drivers' --python overrides it.
 */
function defaultPython() {
  if (process.env.BERT_TRAINER_PYTHON) return process.env.BERT_TRAINER_PYTHON;
  const venv = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

/** --omp-env's value: 'spin100' (bert-trainer's thread-waiting settings for both sides) or 'default'. */
function ompEnvArg(value) {
  if (!['default', 'spin100'].includes(value)) throw new RangeError('--omp-env must be default or spin100');
  return value;
}

/**
 * The flags both the step and the e2e drivers take (--out, --no-write, --python, --omp-env, --help), set on `o`;
 * false for any other flag.
 */
function sharedFlag(o, flag, value) {
  if (flag === '--out') o.out = path.resolve(value());
  else if (flag === '--no-write') o.write = false;
  else if (flag === '--python') o.python = value();
  else if (flag === '--omp-env') o.ompEnv = ompEnvArg(value());
  else if (flag === '--help' || flag === '-h') o.help = true;
  else return false;
  return true;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function relDiff(a, b) {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

function uptimeLine() {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`;
  }
}

/** A field of /proc/<pid>/status in KiB (VmHWM, VmRSS), or -1. */
function procStatusKiB(field, pid = 'self') {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m ? Number(m[1]) : -1;
}

/** The machine, the software and the commit a result was measured on. */
function machineInfo(root, native, threads, pythonTorch = null) {
  const cpus = os.cpus();
  let lscpu = {};
  try {
    for (const line of execFileSync('lscpu', { encoding: 'utf8' }).split('\n')) {
      const m = /^([^:]+):\s+(.*)$/.exec(line);
      if (m && ['Model name', 'Thread(s) per core', 'Core(s) per socket', 'Socket(s)', 'Hypervisor vendor', 'L2 cache', 'L3 cache'].includes(m[1]))
        lscpu[m[1]] = m[2];
    }
  } catch {
    lscpu = {};
  }
  let commit = null;
  let dirty = null;
  try {
    const git = (args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit = git(['rev-parse', 'HEAD']);
    dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  } catch {
    // not a git checkout
  }
  return {
    hostname: os.hostname(),
    cpuModel: cpus[0] ? cpus[0].model : 'unknown',
    cores: cpus.length,
    lscpu,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    kernel: os.release(),
    node: process.version,
    torchOurs: native().torchVersion,
    torchPython: pythonTorch,
    threads,
    openblasThreads: process.env.OPENBLAS_NUM_THREADS,
    ompEnv: {
      GOMP_SPINCOUNT: process.env.GOMP_SPINCOUNT || null,
      OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY || null,
      OPENBLAS_THREAD_TIMEOUT: process.env.OPENBLAS_THREAD_TIMEOUT || null,
    },
    commit,
    dirty,
  };
}

/** A directory with the same weights as `from` (hard link, else copy) and a config.json with dropout 0. */
function writeDropoutFreeDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const file of fs.readdirSync(from)) {
    const src = `${from}/${file}`;
    const dst = `${to}/${file}`;
    if (file === 'config.json') {
      const cfg = JSON.parse(fs.readFileSync(src, 'utf8'));
      Object.assign(cfg, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 });
      fs.writeFileSync(dst, `${JSON.stringify(cfg, null, 2)}\n`);
    } else {
      try {
        fs.linkSync(src, dst);
      } catch {
        fs.copyFileSync(src, dst);
      }
    }
  }
}

/** A driver's --help: the comment block at the top of its file, without the comment markers. */
function headerComment(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').slice(1);
  const end = lines.findIndex((l) => !l.startsWith('//'));
  return `${lines
    .slice(0, end)
    .map((l) => l.replace(/^\/\/ ?/, ''))
    .join('\n')}\n`;
}

/**
 * The positions ours' last layer computes at B x S (native/model/first_positions.cpp first_positions_to_compute): the
 * fewest P whose B·P·H·min(H, I) exceeds 1e6, at most S.
 */
function firstPositionsToCompute(batch, seq, hidden, intermediate) {
  const perRow = hidden * Math.min(hidden, intermediate);
  let positions = 1;
  while (positions < seq && batch * positions * perRow <= 1e6) positions += 1;
  return positions;
}

/** Runs `command args` and parses the last line of its standard output as JSON (its standard error passes through). */
function runJsonProcess(command, args, env = process.env) {
  const out = execFileSync(command, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const last = out.trim().split('\n').pop();
  return JSON.parse(last);
}

const SGEMM = path.resolve(__dirname, '..', '..', 'bench', 'sgemm.py');

/**
 * The machine's fp32 GEMM rate now (bench/sgemm.py in `python`: torch.mm of two 2048² matrices on `threads` threads,
 * best of `repeats`): { gflops, blas, torch, ... }. The ceiling a forward's or a step's GFLOP/s is read against.
 */
function measureSgemm(python, threads, repeats = 10, env = process.env) {
  return runJsonProcess(python, [SGEMM, String(threads), '2048', String(repeats)], env);
}

const FMA_PEAK = path.resolve(__dirname, '..', '..', 'bench', 'fma_peak.c');

/**
 * The machine's fp32 FMA peak now (bench/fma_peak.c: register-only FMAs on `threads` threads, best of `repeats`):
 * { gflops, isa, threads, samples_gflops }. The ceiling no product can pass, where the sgemm rate is what one BLAS
 * reaches under it. The program is compiled with the C compiler (`CC`, else cc) once per source text, into the
 * system's temporary folder; a machine without one, or a CPU without AVX2 and FMA, throws.
 */
function measureFmaPeak(threads, repeats = 5, env = process.env) {
  const source = fs.readFileSync(FMA_PEAK);
  const digest = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const binary = path.join(os.tmpdir(), `bert-trainer-fma-peak-${digest}`);
  if (!fs.existsSync(binary)) {
    const partial = `${binary}.${process.pid}`;
    execFileSync(env.CC || 'cc', ['-O2', '-pthread', FMA_PEAK, '-o', partial], { stdio: ['ignore', 'ignore', 'pipe'] });
    fs.renameSync(partial, binary);
  }
  return runJsonProcess(binary, [String(threads), String(repeats)], env);
}

/**
 * The benchmark addon (CMakeLists.txt's bert_trainer_bench target: functions timed alone, which bert_trainer.node does
 * not contain): $BERT_TRAINER_BENCH_ADDON, else build-bench/Release/bert_trainer_bench.node; an Error with the command
 * that builds it where it is not there.
 */
function benchAddon() {
  const root = path.resolve(__dirname, '..', '..');
  const file = path.resolve(process.env.BERT_TRAINER_BENCH_ADDON || path.join(root, 'build-bench', 'Release', 'bert_trainer_bench.node'));
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is not built: run \`npx cmake-js compile --target bert_trainer_bench -O build-bench\` (LibTorch found as for \`npm run build\`)`);
  }
  return require(file);
}

/**
 * A run's result files: `dir/base.json` (the result without its `markdown`) and `dir/base.md` (the markdown), the folder
 * made if needed; their paths are set as `result.files`.
 */
function writeResultFiles(dir, base, result) {
  fs.mkdirSync(dir, { recursive: true });
  const { markdown, ...json } = result;
  result.files = [path.join(dir, `${base}.json`), path.join(dir, `${base}.md`)];
  fs.writeFileSync(result.files[0], `${JSON.stringify(json, null, 1)}\n`);
  fs.writeFileSync(result.files[1], markdown);
}

/** Runs a bench script's `main()` when `mod` is the script node was started with: exits with what it resolves to, or
 * prints the error and exits 1. */
function runIfMain(mod, main) {
  if (require.main !== mod) return;
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

module.exports = {
  benchAddon,
  writeResultFiles,
  runIfMain,
  runJsonProcess,
  measureSgemm,
  measureFmaPeak,
  firstPositionsToCompute,
  defaultPython,
  flagsOf,
  integerArg,
  listArg,
  sharedFlag,
  median,
  relDiff,
  uptimeLine,
  procStatusKiB,
  machineInfo,
  writeDropoutFreeDir,
  headerComment,
  applyBenchThreadEnv,
  threadEnvLabel,
};
