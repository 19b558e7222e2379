#!/usr/bin/env node
// The round trip a user does with a Hugging Face model directory, on a model made here (no download is
// possible on this machine): build a small BERT classifier with a vocabulary learned from a few texts,
// save it as transformers does, load the directory back, and check that both give the same predictions.
//   npm run example [-- <output dir>]
// With a real checkpoint, the same calls are: BertClassifier.fromPretrained('./bert-base-uncased', { numLabels: 3 }).
'use strict';
const path = require('path');
const { BertClassifier, BertTokenizer } = require('..');

const texts = [
  'I love this movie, it was wonderful!',
  'I hate that film, it was terrible.',
  'What a great day for a walk in the park.',
  'The service was slow and the food was cold.',
];

async function main() {
  const out = path.resolve(process.argv[2] || 'example-model');
  const tokenizer = await BertTokenizer.trainWordPiece(texts, { vocabSize: 200 });
  const model = await BertClassifier.fromConfig(
    { vocab_size: tokenizer.vocabSize, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 128 },
    { labels: ['negative', 'positive'], tokenizer, seed: 1 },
  );
  console.log(`fresh model: ${model.parameters().length} tensors, labels ${model.labels.join(', ')}`);
  const before = await model.predict(texts);

  const written = await model.save(out, { format: 'both' });
  console.log(`saved ${written.map((f) => path.basename(f)).join(', ')} and the tokenizer files to ${out}`);
  model.dispose();

  const reloaded = await BertClassifier.fromPretrained(out);
  console.log('loadReport:', JSON.stringify(reloaded.loadReport));
  console.log('config.hidden_size:', reloaded.config.hidden_size);
  const after = await reloaded.predict(texts);
  const { logits, shape } = await reloaded.forward(await reloaded.tokenizer.encode(texts.slice(0, 1)));
  console.log(
    `logits for "${texts[0]}": [${Array.from(logits)
      .map((x) => x.toFixed(5))
      .join(', ')}] shape [${shape}]`,
  );
  after.forEach((p, i) => console.log(`  ${p.label.padEnd(8)} ${p.score.toFixed(4)}  ${texts[i]}`));
  reloaded.dispose();

  const same = before.every((p, i) => p.label === after[i].label && Math.abs(p.score - after[i].score) < 1e-6);
  if (!same) throw new Error('predictions changed across save and load');
  console.log('save -> load round trip: identical predictions (transformers and torch.load read this directory too)');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
