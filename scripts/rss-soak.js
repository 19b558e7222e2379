#!/usr/bin/env node
// RSS soak test of the training loop: 2,000 optimizer steps of a tiny BERT (with periodic evaluation and
// checkpoints, so those paths are exercised too). Prints the resident set size after warm-up and at the end, and
// the growth; exits 1 when RSS grew by 10% or more (a leak in the native step, the batches or the Trainer).
//
// Usage: npx tsc -p tsconfig.json && node scripts/rss-soak.js      (SOAK_STEPS=N to change the step count)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');

const { BertClassifier, Trainer } = require(path.resolve(__dirname, '..', 'dist'));

const TOTAL_STEPS = Number(process.env.SOAK_STEPS || 2000);
const WARMUP_STEPS = Math.min(200, Math.floor(TOTAL_STEPS / 10));
const BATCH_SIZE = 8;
const EXAMPLES = 64; // 8 steps per epoch
const LIMIT_PERCENT = 10;

// A real gc() before each reading, so that garbage the collector has not reached yet is not counted.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

function rssMiB() {
  gc();
  return process.memoryUsage().rss / (1024 * 1024);
}

function examples(count) {
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  return Array.from({ length: count }, () => {
    const length = 4 + Math.floor(random() * 28);
    const inputIds = Array.from({ length }, () => 1 + Math.floor(random() * 98));
    return { inputIds, label: inputIds[0] % 2 };
  });
}

async function main() {
  const model = await BertClassifier.fromConfig(
    { vocab_size: 99, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 37, max_position_embeddings: 64 },
    { labels: ['a', 'b'], seed: 1 },
  );
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-soak-'));
  const train = examples(EXAMPLES);
  let warm;
  const trainer = new Trainer(model, {
    epochs: TOTAL_STEPS / (EXAMPLES / BATCH_SIZE),
    batchSize: BATCH_SIZE,
    learningRate: 1e-4,
    logEvery: 10,
    evalSteps: 250,
    outputDir,
    saveSteps: 500,
    saveTotalLimit: 1,
    callbacks: {
      onStepEnd: (step) => {
        if (step === WARMUP_STEPS) warm = rssMiB();
      },
    },
  });
  const started = Date.now();
  const result = await trainer.fit(train, { evalDataset: train.slice(0, 16) });
  const end = rssMiB();
  fs.rmSync(outputDir, { recursive: true, force: true });
  model.dispose();

  const growth = ((end - warm) / warm) * 100;
  console.log(`steps: ${result.metrics.steps} in ${((Date.now() - started) / 1000).toFixed(1)} s (${result.metrics.samplesPerSecond.toFixed(0)} samples/s)`);
  console.log(`RSS after warm-up (step ${WARMUP_STEPS}): ${warm.toFixed(1)} MiB`);
  console.log(`RSS at the end (step ${result.metrics.steps}): ${end.toFixed(1)} MiB`);
  console.log(`growth: ${growth.toFixed(2)}% (limit ${LIMIT_PERCENT}%)`);
  if (result.metrics.steps !== TOTAL_STEPS) {
    console.error(`expected ${TOTAL_STEPS} steps, ran ${result.metrics.steps}`);
    process.exit(1);
  }
  if (!(growth < LIMIT_PERCENT)) {
    console.error(`RSS grew by ${growth.toFixed(2)}% (>= ${LIMIT_PERCENT}%)`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
