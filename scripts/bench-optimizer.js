#!/usr/bin/env node
// AdamW step time on bert-base's parameters: ours against torch.optim.AdamW in Python (bench/optimizer_reference.py:
// foreach=False, foreach=True and fused=True, transformers' Trainer's default), same thread count, in the same run.
// The Python side runs in $BERT_TRAINER_PYTHON, else the repository's .venv/bin/python (PyTorch 2.13, the LibTorch
// the addon links, and transformers 5.18).
//
// Ours is timed by the benchmark addon, which bert_trainer.node does not contain; build it first (once, and after
// changing native/training/adamw*), into build-bench/Release/bert_trainer_bench.node (beside, not in, node-gyp's build/):
//   npx cmake-js compile --target bert_trainer_bench -O build-bench
// (BERT_TRAINER_BENCH_ADDON: a bert_trainer_bench.node elsewhere.) Then:
//   node scripts/bench-optimizer.js [repeats=10]
'use strict';
const { execFileSync } = require('child_process');
const path = require('path');
const { BertClassifier } = require('..');
const { native } = require('../dist/engine/native');
const { defaultPython, benchAddon } = require('./bench/common');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const repeats = Number(process.argv[2] || 10);
  const bench = benchAddon();
  const threads = native().numThreads();
  const model = await BertClassifier.fromConfig({}, { seed: 0 }); // BertConfig defaults: bert-base-uncased
  const parameters = model.parameters(); // names and shapes, in the model's order
  model.dispose();
  // Our AdamW with transformers' parameter groups (no decay on biases and LayerNorm weights); the first step warms up.
  const ours = bench.timeAdamWStep(parameters, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, learningRate: 1e-5, threads, warmup: 1, repeats });
  const python = JSON.parse(
    execFileSync(defaultPython(), [path.join(__dirname, '..', 'bench', 'optimizer_reference.py'), String(threads), String(repeats)], { encoding: 'utf8' }),
  );
  const rows = [
    ['bert-trainer AdamW', median(ours)],
    ["torch.optim.AdamW foreach=False (torch's CPU default)", median(python.single)],
    ['torch.optim.AdamW foreach=True', median(python.foreach)],
    ["torch.optim.AdamW fused=True (transformers Trainer's default)", median(python.fused)],
  ];
  console.log(
    `AdamW step on bert-base (${(python.parameters / 1e6).toFixed(1)}M parameters), ${threads} threads, median of ${repeats}; ` +
      `LibTorch ${native().torchVersion} (ours), torch ${python.torch} (${defaultPython()})`,
  );
  console.log('| optimizer | ms/step | ours / this |');
  console.log('|---|---|---|');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(1)} | ${(median(ours) / ms).toFixed(2)} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
