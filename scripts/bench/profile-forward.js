#!/usr/bin/env node
// Our forward alone, at one of bench:infer's shapes, for a profiler. It builds the model scripts/bench/infer.js builds,
// runs 3 untimed forwards, then times --calls forwards and prints the median and fastest call. onnxruntime is not
// loaded, so a profile of this process is ours only; -D skips the model's construction:
//
//   npx tsc -p tsconfig.json
//   perf record -D 5000 -F 2000 -g node scripts/bench/profile-forward.js --shape base-8x128 --calls 16
//   perf report --no-children --sort symbol
//
//     --shape NAME    one of mini-32x128, mini-1x32, base-8x128, base-1x32 (default base-8x128)
//     --calls N       timed forwards (default 16)
//     --threads N     setNumThreads(N) (default 2)
//     --help          this text
'use strict';

const { applyBenchThreadEnv, runIfMain, flagsOf, headerComment, integerArg, listArg, median } = require('./common');
const { SHAPES, hfConfig, vocabulary, loadLibrary } = require('./infer');

function parseArgs(argv) {
  const o = { shape: 'base-8x128', calls: 16, threads: 2 };
  for (const { flag: a, value } of flagsOf(argv)) {
    if (a === '--shape') [o.shape] = listArg(value(), Object.keys(SHAPES), '--shape');
    else if (a === '--calls') o.calls = integerArg(value(), '--calls', 1);
    else if (a === '--threads') o.threads = integerArg(value(), '--threads', 1);
    else if (a === '--help') o.help = true;
    else throw new TypeError(`unknown argument ${a}`);
  }
  return o;
}

async function main(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  if (o.help) {
    process.stdout.write(headerComment(__filename));
    return 0;
  }
  applyBenchThreadEnv('spin100'); // the thread-waiting settings bench:infer runs with
  const lib = loadLibrary();
  lib.native().setNumThreads(o.threads);
  const { config, batch, seq } = SHAPES[o.shape];
  const tokenizer = lib.BertTokenizer.fromVocab(vocabulary());
  const model = await lib.BertClassifier.fromConfig(hfConfig(config), { labels: ['neg', 'pos'], tokenizer, seed: 0 });
  try {
    const shape = [batch, seq];
    const ids = new Int32Array(batch * seq).map((_, i) => 5 + ((i * 7919) % 30000));
    const input = {
      inputIds: { data: ids, shape },
      attentionMask: { data: new Int32Array(batch * seq).fill(1), shape },
      tokenTypeIds: { data: new Int32Array(batch * seq), shape },
    };
    for (let i = 0; i < 3; i += 1) await model.forward(input);
    const times = [];
    for (let i = 0; i < o.calls; i += 1) {
      const t0 = process.hrtime.bigint();
      await model.forward(input);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    process.stdout.write(
      `${o.shape} forward: median ${median(times).toFixed(3)} ms, fastest ${Math.min(...times).toFixed(3)} ms (${o.calls} calls, ${o.threads} threads)\n`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}

module.exports = { main };

runIfMain(module, main);
