#!/usr/bin/env node
// Streaming memory benchmark: writes a large JSONL training file (default 2 GiB) into a temporary folder, trains a
// tiny BERT on part of it through Dataset.streamJsonl (shuffle buffer, counting pass), and samples the process's
// resident set size all along. Prints the file size, the peak RSS, and the time of each phase. Memory should stay
// flat at a few hundred MiB whatever the file size: only the shuffle buffer and the prefetched batches are held.
// With --format parquet the JSONL is rewritten as a Parquet file (snappy, row groups of --row-group rows, by pyarrow
// from the project's .venv, as 🤗 datasets writes them) and streamed through Dataset.streamParquet instead: then a
// row group is held too. --full-pass then reads one whole shuffled epoch of the stream (no training) and reports its
// peak RSS: the whole file goes through memory. The temporary folder is deleted at the end. Not part of CI (it writes
// gigabytes).
//
// Usage: npx tsc -p tsconfig.json && node scripts/bench-streaming.js [--size 2GiB] [--steps 300] [--batch-size 16]
//        [--shuffle-buffer 10000] [--dir /tmp] [--format jsonl|parquet] [--row-group 10000] [--full-pass yes]
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { BertClassifier, BertTokenizer, Dataset, Trainer } = require(path.resolve(__dirname, '..', 'dist'));

function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(String(text).trim());
  if (!match) throw new Error(`--size: expected a size like 2GiB or 500MiB, got ${text}`);
  const unit = (match[2] || 'b').toLowerCase()[0];
  return Math.round(Number(match[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
}

function parseArgs(argv) {
  const args = { size: 2 * 1024 ** 3, steps: 300, batchSize: 16, shuffleBuffer: 10000, dir: os.tmpdir(), format: 'jsonl', rowGroup: 10000, fullPass: false };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--size') args.size = parseSize(value);
    else if (flag === '--steps') args.steps = Number(value);
    else if (flag === '--batch-size') args.batchSize = Number(value);
    else if (flag === '--shuffle-buffer') args.shuffleBuffer = Number(value);
    else if (flag === '--dir') args.dir = value;
    else if (flag === '--format') args.format = value;
    else if (flag === '--row-group') args.rowGroup = Number(value);
    else if (flag === '--full-pass') args.fullPass = value === 'yes';
    else throw new Error(`unknown flag ${flag} (known: --size, --steps, --batch-size, --shuffle-buffer, --dir, --format, --row-group, --full-pass)`);
  }
  if (!['jsonl', 'parquet'].includes(args.format)) throw new Error(`--format: jsonl or parquet, got ${args.format}`);
  return args;
}

const MiB = 1024 * 1024;
const WORDS = Array.from({ length: 2000 }, (_, i) => `word${i}`);

/** Writes `size` bytes of JSONL examples ({ text: 5..60 words, label: 0/1 }) in 8 MiB blocks; returns the line count. */
function writeJsonl(file, size) {
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const fd = fs.openSync(file, 'w');
  let written = 0;
  let lines = 0;
  try {
    while (written < size) {
      const parts = [];
      let block = 0;
      while (block < 8 * MiB && written + block < size) {
        const n = 5 + Math.floor(random() * 56);
        const words = [];
        for (let w = 0; w < n; w++) words.push(WORDS[Math.floor(random() * WORDS.length)]);
        const line = `{"text":"${words.join(' ')}","label":${n % 2}}\n`;
        parts.push(line);
        block += line.length;
        lines += 1;
      }
      const buffer = Buffer.from(parts.join(''));
      fs.writeSync(fd, buffer);
      written += buffer.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return lines;
}

const VENV_PYTHON = path.resolve(__dirname, '..', '.venv', 'bin', 'python');

/** Rewrites a JSONL file as Parquet with pyarrow (snappy, `rowGroup` rows per row group), reading it line by line. */
function jsonlToParquet(jsonl, parquet, rowGroup) {
  const python = process.env.BERT_TRAINER_PYTHON ?? (fs.existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3');
  const program = `
import itertools, json, sys
import pyarrow as pa, pyarrow.parquet as pq
source, target, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
schema = pa.schema([("text", pa.string()), ("label", pa.int64())])
with open(source, encoding="utf-8") as f, pq.ParquetWriter(target, schema, compression="snappy") as writer:
    while True:
        rows = [json.loads(line) for line in itertools.islice(f, size)]
        if not rows:
            break
        writer.write_table(pa.table({"text": [r["text"] for r in rows], "label": [r["label"] for r in rows]}, schema=schema))
`;
  execFileSync(python, ['-c', program, jsonl, parquet, String(rowGroup)], { stdio: 'inherit' });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(args.dir, 'bert-trainer-stream-bench-'));
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const jsonl = path.join(dir, 'train.jsonl');
    let t = Date.now();
    const lines = writeJsonl(jsonl, args.size);
    let file = jsonl;
    if (args.format === 'parquet') {
      file = path.join(dir, 'train.parquet');
      jsonlToParquet(jsonl, file, args.rowGroup);
      fs.rmSync(jsonl);
    }
    const size = fs.statSync(file).size;
    console.log(`wrote ${file}: ${(size / 1024 ** 3).toFixed(2)} GiB, ${lines.toLocaleString('en-US')} examples (${((Date.now() - t) / 1000).toFixed(1)} s)`);

    const tokenizer = BertTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS], {}, { maxLength: 64 });
    const model = await BertClassifier.fromConfig(
      { vocab_size: WORDS.length + 5, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 },
      { labels: ['even', 'odd'], seed: 1, tokenizer },
    );
    const stream =
      args.format === 'parquet'
        ? Dataset.streamParquet(file, { shuffleBuffer: args.shuffleBuffer })
        : Dataset.streamJsonl(file, { shuffleBuffer: args.shuffleBuffer });
    peak = process.memoryUsage.rss();
    const before = peak;

    t = Date.now();
    const count = await stream.count();
    const countSeconds = (Date.now() - t) / 1000;
    console.log(`counting pass: ${count.toLocaleString('en-US')} examples in ${countSeconds.toFixed(1)} s (${(size / MiB / countSeconds).toFixed(0)} MiB/s)`);

    const stepsPerEpoch = Math.ceil(count / args.batchSize);
    const trainer = new Trainer(model, { epochs: args.steps / stepsPerEpoch, batchSize: args.batchSize, learningRate: 1e-4, logEvery: 50, seed: 7 });
    trainer.on('step', (e) =>
      console.log(
        `  step ${e.step}: loss ${e.loss.toFixed(4)}, ${e.samplesPerSecond.toFixed(0)} samples/s, data wait ${(100 * e.dataWaitFraction).toFixed(1)}%, rss ${(process.memoryUsage.rss() / MiB).toFixed(0)} MiB`,
      ),
    );
    t = Date.now();
    const result = await trainer.fit(stream);
    const trainSeconds = (Date.now() - t) / 1000;
    model.dispose();
    peak = Math.max(peak, process.memoryUsage.rss());
    const fitPeak = peak;

    let pass;
    if (args.fullPass) {
      peak = process.memoryUsage.rss();
      const passBefore = peak;
      t = Date.now();
      let examples = 0;
      for await (const e of stream.epoch({ seed: 7, epoch: 1, shuffle: true })) examples += e.example.text.length > 0 ? 1 : 0;
      pass = { examples, seconds: (Date.now() - t) / 1000, before: passBefore, peak: Math.max(peak, process.memoryUsage.rss()) };
    }
    clearInterval(sampler);

    console.log('');
    console.log(`file size:          ${(size / 1024 ** 3).toFixed(2)} GiB (${size.toLocaleString('en-US')} bytes, ${args.format})`);
    console.log(
      `trained:            ${result.metrics.steps} steps x ${args.batchSize} examples in ${trainSeconds.toFixed(1)} s (shuffle buffer ${args.shuffleBuffer.toLocaleString('en-US')})`,
    );
    console.log(`RSS before fit:     ${(before / MiB).toFixed(0)} MiB`);
    console.log(`peak RSS (sampled): ${(fitPeak / MiB).toFixed(0)} MiB`);
    if (pass) {
      console.log(
        `full pass:          ${pass.examples.toLocaleString('en-US')} examples in ${pass.seconds.toFixed(1)} s (${(size / MiB / pass.seconds).toFixed(0)} MiB/s), RSS ${(pass.before / MiB).toFixed(0)} MiB before, peak ${(pass.peak / MiB).toFixed(0)} MiB`,
      );
    }
    console.log(`peak RSS (kernel):  ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (whole process, file generation included)`);
    console.log(`data wait:          ${(100 * result.metrics.dataWaitFraction).toFixed(1)}% of step time`);
  } finally {
    clearInterval(sampler);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
