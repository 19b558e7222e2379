// Child process for test/cpu-kernels.test.ts (plain JS on the compiled dist/): the packed-weight kernel is chosen once
// per process (BERT_TRAINER_CPU_CAPABILITY, read when the first product runs), so each kernel runs in its own process.
// Usage: node kernel-child.js <hiddenSize> <intermediateSize>
// Prints JSON { rows: [{ shape, logits, lastHiddenState }] } for a seeded model and batches of several shapes.
'use strict';
const path = require('path');

const { BertClassifier, BertTokenizer, setNumThreads } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

const [hidden, intermediate] = process.argv.slice(2).map(Number);
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 59 }, (_, i) => `w${i}`)];

async function main() {
  setNumThreads(2);
  const config = {
    vocab_size: VOCAB.length,
    hidden_size: hidden,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: intermediate,
    max_position_embeddings: 128,
    initializer_range: 0.2,
  };
  const model = await BertClassifier.fromConfig(config, { labels: ['a', 'b', 'c'], tokenizer: BertTokenizer.fromVocab(VOCAB), seed: 5 });
  const rows = [];
  // 1 x 7 and 3 x 11: few rows (the threads split the panels); 7 x 50: many rows (each thread its own rows).
  for (const [batch, length] of [
    [1, 7],
    [3, 11],
    [7, 50],
  ]) {
    const inputIds = Array.from({ length: batch }, (_, b) => Array.from({ length }, (_, i) => (i === 0 ? 2 : 5 + ((b * 31 + i * 17) % 59))));
    const out = await model.forward({ inputIds, outputHiddenStates: true });
    rows.push({ shape: [batch, length], logits: Array.from(out.logits), lastHiddenState: Array.from(out.lastHiddenState) });
  }
  model.dispose();
  process.stdout.write(JSON.stringify({ rows }));
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
