#!/usr/bin/env node
// predict() on texts of mixed lengths, the case bench:infer's fixed-length shapes leave out: N texts of 8 to 62 words
// (the request table's texts, a fixed pseudo-random draw), one predict() call over all of them, the best of 3 after a
// warm-up, on the bench's randomly initialised mini or base model (scripts/bench/infer.js), 2 threads. --root runs
// another checkout's build (its dist/ and addon), so that two versions are compared by alternating processes:
//
//   for r in 1 2 3; do for root in /path/to/old /path/to/new; do node scripts/bench/predict-lengths.js --root $root; done; done
//
//     --config NAME   mini or base (default mini)
//     --texts N       texts in the call (default 256)
//     --root DIR      the bert-trainer checkout to load (default this one)
//     --help          this text
'use strict';

const path = require('path');
const { applyBenchThreadEnv, runIfMain, flagsOf, headerComment, integerArg, listArg } = require('./common');
const { hfConfig, vocabulary } = require('./infer');

function parseArgs(argv) {
  const o = { config: 'mini', texts: 256, root: path.resolve(__dirname, '..', '..') };
  for (const { flag, value } of flagsOf(argv)) {
    if (flag === '--config') [o.config] = listArg(value(), ['mini', 'base'], '--config');
    else if (flag === '--texts') o.texts = integerArg(value(), '--texts', 1);
    else if (flag === '--root') o.root = path.resolve(value());
    else if (flag === '--help') o.help = true;
    else throw new TypeError(`unknown argument ${flag}`);
  }
  return o;
}

/** `n` texts of 8 to 62 words ("w5" ... as the bench's vocabulary has them), the same every run. */
function mixedTexts(n) {
  let seed = 1;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, () => Array.from({ length: 8 + Math.floor(random() * 55) }, () => `w${5 + Math.floor(random() * 30000)}`).join(' '));
}

async function main(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  if (o.help) {
    process.stdout.write(headerComment(__filename));
    return 0;
  }
  applyBenchThreadEnv('spin100'); // before the addon loads
  const lib = require(o.root);
  require(path.join(o.root, 'dist', 'engine', 'native'))
    .native()
    .setNumThreads(2);
  const model = await lib.BertClassifier.fromConfig(hfConfig(o.config), {
    labels: ['neg', 'pos'],
    tokenizer: lib.BertTokenizer.fromVocab(vocabulary()),
    seed: 0,
  });
  try {
    const texts = mixedTexts(o.texts);
    await model.predict(texts.slice(0, 64));
    const times = [];
    for (let i = 0; i < 3; i += 1) {
      const t0 = process.hrtime.bigint();
      await model.predict(texts);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    process.stdout.write(
      `${o.config}, ${o.texts} texts of 8 to 62 words, ${o.root}: predict best ${Math.min(...times).toFixed(1)} ms (of ${times.map((t) => t.toFixed(1)).join(', ')})\n`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}

runIfMain(module, main);
