// Child process for the SIGKILL test (plain JS on the compiled dist/, since ts-node is not installed).
// Usage: node checkpoint-child.js <modelDir> <outputDir> <manifestFile>
// Trains a tiny model, saving a checkpoint every step. After each complete checkpoint it appends
// {"step", "path", "files": {name: sha256}} to <manifestFile>. From step 3 on, every save pauses inside its
// temporary folder (after the optimizer state is written), so that the parent's SIGKILL lands mid-save.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const dist = path.resolve(__dirname, '..', '..', 'dist');
const { BertClassifier, Trainer } = require(path.join(dist, 'index.js'));
const { setCheckpointWriteHookForTesting } = require(path.join(dist, 'checkpoint', 'trainer-checkpoint.js'));

const [modelDir, outputDir, manifestFile] = process.argv.slice(2);

function hashes(dir) {
  const out = {};
  for (const name of fs.readdirSync(dir).sort()) {
    out[name] = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex');
  }
  return out;
}

async function main() {
  const model = await BertClassifier.fromPretrained(modelDir);
  const examples = Array.from({ length: 400 }, (_, i) => ({
    inputIds: Array.from({ length: 4 + (i % 9) }, (_, j) => 1 + ((i * 13 + j * 7) % 97)),
    label: i % 2,
  }));
  setCheckpointWriteHookForTesting(async (stage, tmpDir) => {
    const step = Number(/checkpoint-(\d+)/.exec(path.basename(tmpDir))[1]);
    if (stage === 'optimizer' && step >= 3) await new Promise((resolve) => setTimeout(resolve, 500));
  });
  const trainer = new Trainer(model, {
    epochs: 1,
    batchSize: 4,
    learningRate: 1e-3,
    outputDir,
    saveSteps: 1,
    callbacks: {
      onCheckpoint: (step, logs) => {
        fs.appendFileSync(manifestFile, `${JSON.stringify({ step, path: logs.path, files: hashes(logs.path) })}\n`);
      },
    },
  });
  await trainer.fit(examples);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
