// One process of the data-parallel tests (plain JS on the compiled dist/, since ts-node is not installed).
// Usage: node distributed-child.js '<json>' with
//   { modelDir, out, examples, options, world?: { rank, worldSize, port, timeoutMs, bucketCapMb? }, resumeFrom?, exitAtStep? }
// Trains a Trainer on `examples` with `options` (plus `distributed` from `world`), evaluates on the same examples,
// saves the weights to <out>/model and writes <out>/result.json ({ steps, history, eval, reductions }), or on failure
// <out>/error.json ({ name, message, seconds }: seconds from the last step to the failure) and exits 1.
// exitAtStep: this process exits with code 7 right after that optimizer step (a rank dying mid-training).
// hangAtStep: this process blocks its thread for hangSeconds right after that step (a rank that stops responding).
// streamFile: train on Dataset.streamJsonl(streamFile, { shuffleBuffer: 8 }) instead of `examples` (still evaluated).
'use strict';
const fs = require('fs');
const path = require('path');

const dist = path.resolve(__dirname, '..', '..', 'dist');
const { BertClassifier, Dataset, Trainer } = require(path.join(dist, 'index.js'));
// Each native step's gradient-reduction summary ({ buckets, launchedDuringBackward, gradientsCopied }), for the tests: recorded by
// wrapping the model's native handle (the prototype's methods are read-only; an own property shadows them).
const reductions = [];
function recordReductions(model) {
  const handle = model.handle;
  const trainStep = handle.trainStep.bind(handle);
  Object.defineProperty(handle, 'trainStep', {
    value: async (...args) => {
      const result = await trainStep(...args);
      if (result.reduction) reductions.push(result.reduction);
      return result;
    },
  });
}

const spec = JSON.parse(process.argv[2]);
let lastStepAt = Date.now();

async function main() {
  fs.mkdirSync(spec.out, { recursive: true });
  const model = await BertClassifier.fromPretrained(spec.modelDir);
  recordReductions(model);
  const options = { ...spec.options };
  if (spec.world) {
    options.distributed = {
      rank: spec.world.rank,
      worldSize: spec.world.worldSize,
      masterAddr: '127.0.0.1',
      masterPort: spec.world.port,
      timeoutMs: spec.world.timeoutMs,
      bucketCapMb: spec.world.bucketCapMb,
    };
  }
  options.callbacks = {
    onStepEnd: (step) => {
      lastStepAt = Date.now();
      if (spec.exitAtStep === step) process.exit(7);
      if (spec.hangAtStep === step) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, spec.hangSeconds * 1000);
    },
  };
  const trainer = new Trainer(model, options);
  const train = spec.streamFile ? Dataset.streamJsonl(spec.streamFile, { shuffleBuffer: 8 }) : spec.examples;
  const fit = await trainer.fit(train, spec.resumeFrom ? { resumeFrom: spec.resumeFrom } : {});
  const evaluation = await trainer.evaluate(spec.examples, { batchSize: 5 });
  await model.save(path.join(spec.out, 'model'));
  await trainer.close();
  const { runtimeSeconds, samplesPerSecond, ...evalMetrics } = evaluation;
  fs.writeFileSync(
    path.join(spec.out, 'result.json'),
    JSON.stringify({ steps: fit.metrics.steps, history: fit.history.filter((e) => e.type === 'step'), eval: evalMetrics, reductions }),
  );
  model.dispose();
}

main().catch((err) => {
  fs.writeFileSync(
    path.join(spec.out, 'error.json'),
    JSON.stringify({ name: err.name, message: err.message, seconds: (Date.now() - lastStepAt) / 1000 }),
  );
  process.exit(1);
});
