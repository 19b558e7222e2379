// The hostile-input harness: for every stage that reads user input (the CSV, TSV, JSONL and Parquet readers,
// tokenization, vocabulary learning, label mapping, config.json, checkpoint headers) a generator of adversarial
// input (long runs of one character, long words, deep JSON, huge lines, invalid UTF-8, NULs, thousands of labels) at
// a given size, and a measurement of the stage on it at growing sizes: best-of-N time, the heap it keeps, and the
// growth exponent of time against size, checked against the bound the stage states. test/hostile-input.test.ts runs
// it at small sizes; scripts/bench/hostile-input.js at large ones. The library is passed in (the sources under jest,
// dist/ for the bench), so both measure the same code the same way.
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');

/** A time ratio against a size ratio above this exponent fails a linear or n log n stage (quadratic is 2). */
const MAX_GROWTH_EXPONENT = 1.5;

/** The garbage collector, reachable without --expose-gc (jest and node alike). */
function collector() {
  if (typeof global.gc === 'function') return global.gc;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
}

/** Heap, external and array-buffer bytes after a full collection. */
function liveBytes(gc) {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

// ---------------------------------------------------------------------------------------------------------------
// adversarial pieces

/** A deterministic generator (mulberry32), so that every run measures the same input. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const WORDS = ['the', 'model', 'learns', 'from', 'data', 'and', 'a', 'rule', 'of', 'thumb', 'is', 'fine', 'but', 'not', 'always'];

/** `length` characters of random letters (one long word). */
function randomWord(length, rand) {
  let s = '';
  for (let i = 0; i < length; i++) s += LETTERS[Math.floor(rand() * 26)];
  return s;
}

/** About `length` characters of ordinary words. */
function ordinaryText(length, rand) {
  const parts = [];
  let n = 0;
  while (n < length) {
    const w = WORDS[Math.floor(rand() * WORDS.length)];
    parts.push(w);
    n += w.length + 1;
  }
  return parts.join(' ');
}

/** The kinds of hostile row a text file mixes, each about `size` bytes of text: what the readers must survive. */
function hostileTexts(size, rand) {
  return [
    'A'.repeat(size), // the "AAAA…" of blank base64 data
    '='.repeat(size), // a "=====" rule
    randomWord(size, rand), // one long word
    Array.from({ length: Math.max(1, Math.floor(size / 201)) }, () => randomWord(200, rand)).join(' '), // long words
    ordinaryText(size, rand),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// stages: each prepares an input of about `size` bytes in ctx.dir and returns { bytes, run }

/** A CSV (or TSV) of hostile rows: huge quoted fields with quotes and newlines, NULs, invalid UTF-8, 5,000 labels. */
function writeDelimited(file, size, delimiter) {
  const rand = random(size);
  const chunks = [Buffer.from(`text${delimiter}label\n`)];
  let bytes = 0;
  const push = (text, label) => {
    const quoted = `"${text.replace(/"/g, '""')}"${delimiter}${label}\n`;
    const b = Buffer.from(quoted);
    chunks.push(b);
    bytes += b.length;
  };
  const huge = Math.floor(size / 8);
  for (const text of hostileTexts(huge, rand)) push(text, 'run');
  push(`${'"quoted" line\n'.repeat(Math.floor(huge / 14))}end`, 'quotes');
  // Raw invalid UTF-8 and NUL bytes inside a field.
  const bad = Buffer.concat([
    Buffer.from('"bytes '),
    Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x00, 0xed, 0xa0, 0x80]),
    Buffer.from(` end"${delimiter}bytes\n`),
  ]);
  let i = 0;
  while (bytes < size) {
    if (i % 10 === 0) {
      chunks.push(bad);
      bytes += bad.length;
    } else {
      push(ordinaryText(40, rand), `label_${i % 5000}`);
    }
    i += 1;
  }
  fs.writeFileSync(file, Buffer.concat(chunks));
  return fs.statSync(file).size;
}

/** A JSONL of hostile lines: a huge line with escapes (\u0000, lone surrogates), deep nesting, raw invalid UTF-8. */
function writeJsonl(file, size) {
  const rand = random(size);
  const chunks = [];
  let bytes = 0;
  const push = (line) => {
    const b = Buffer.isBuffer(line) ? line : Buffer.from(`${line}\n`);
    chunks.push(b);
    bytes += b.length;
  };
  const huge = Math.floor(size / 8);
  for (const text of hostileTexts(huge, rand)) push(JSON.stringify({ text, label: 'run' }));
  push(`{"text": "${'\\u0000\\ud800x'.repeat(Math.floor(huge / 13))}", "label": "escapes"}`);
  const depth = Math.floor(size / 16);
  push(`{"text": "deep", "label": "deep", "extra": ${'['.repeat(depth)}${']'.repeat(depth)}}`);
  const raw = Buffer.concat([Buffer.from('{"text": "bytes '), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('", "label": "bytes"}\n')]);
  let i = 0;
  while (bytes < size) {
    push(i % 10 === 0 ? raw : JSON.stringify({ text: ordinaryText(40, rand), label: `label_${i % 5000}` }));
    i += 1;
  }
  fs.writeFileSync(file, Buffer.concat(chunks));
  return fs.statSync(file).size;
}

/** The same hostile rows as a Parquet file, written by pyarrow: a binary text column (invalid UTF-8, NULs). */
const PARQUET_WRITER = `
import json, random, sys
import pyarrow as pa, pyarrow.parquet as pq
spec = json.loads(sys.argv[1])
size = spec["size"]
rng = random.Random(size)
huge = size // 8
texts = [b"A" * huge, b"=" * huge, bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(huge))]
labels = ["run"] * 3
texts.append(b"bytes \\xff\\xfe\\x00\\xc3\\x28\\x00\\xed\\xa0\\x80 end"); labels.append("bytes")
total = sum(len(t) for t in texts)
i = 0
words = [w.encode() for w in ["the", "model", "learns", "from", "data", "and", "a", "rule"]]
while total < size:
    t = b" ".join(rng.choice(words) for _ in range(8))
    texts.append(t); labels.append("label_%d" % (i % 5000)); total += len(t) + 10; i += 1
table = pa.table({"text": pa.array(texts, pa.binary()), "label": pa.array(labels, pa.string())})
pq.write_table(table, spec["file"], row_group_size=max(1, len(texts) // 4), compression="snappy")
`;

function writeParquet(file, size, python) {
  execFileSync(python, ['-c', PARQUET_WRITER, JSON.stringify({ file, size })], { stdio: ['ignore', 'ignore', 'inherit'] });
  return fs.statSync(file).size;
}

/** The texts of the tokenization and vocabulary stages: every hostile kind, about `size` characters in all. */
function hostileCorpus(size) {
  const rand = random(size);
  const texts = hostileTexts(Math.floor(size / 10), rand);
  let total = texts.reduce((n, t) => n + t.length, 0);
  while (total < size) {
    const t = `${ordinaryText(60, rand)} ${randomWord(1 + Math.floor(rand() * 100), rand)} \u0000 ${'x'.repeat(Math.floor(rand() * 120))}`;
    texts.push(t);
    total += t.length;
  }
  return { texts, bytes: total };
}

/** A safetensors file whose JSON header is `header` (bytes), with `declared` as its header length. */
function writeSafetensors(file, header, declared = header.length) {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(declared));
  fs.writeFileSync(file, Buffer.concat([prefix, header]));
  return 8 + header.length;
}

/**
 * The stages. `bound` is the growth the stage promises in its input's size; `bytesPerByte` the heap it may keep per
 * input byte (its result included: a dataset holds its texts). `base` is the smallest size the test runs.
 */
const STAGES = [
  {
    name: 'csv',
    bound: 'linear',
    base: 64 << 10,
    bytesPerByte: 64,
    prepare: (size, ctx) => {
      const file = path.join(ctx.dir, `hostile-${size}.csv`);
      const bytes = writeDelimited(file, size, ',');
      return { bytes, run: () => ctx.lib.Dataset.fromCsv(file) };
    },
  },
  {
    name: 'tsv',
    bound: 'linear',
    base: 64 << 10,
    bytesPerByte: 64,
    prepare: (size, ctx) => {
      const file = path.join(ctx.dir, `hostile-${size}.tsv`);
      const bytes = writeDelimited(file, size, '\t');
      return { bytes, run: () => ctx.lib.Dataset.fromTsv(file) };
    },
  },
  {
    name: 'jsonl',
    bound: 'linear',
    base: 256 << 10,
    bytesPerByte: 64,
    prepare: (size, ctx) => {
      const file = path.join(ctx.dir, `hostile-${size}.jsonl`);
      const bytes = writeJsonl(file, size);
      return { bytes, run: () => ctx.lib.Dataset.fromJsonl(file) };
    },
  },
  {
    name: 'parquet',
    bound: 'linear',
    base: 64 << 10,
    bytesPerByte: 64,
    prepare: (size, ctx) => {
      const file = path.join(ctx.dir, `hostile-${size}.parquet`);
      const bytes = writeParquet(file, size, ctx.python);
      return { bytes, run: () => ctx.lib.Dataset.fromParquet(file) };
    },
  },
  {
    name: 'tokenization',
    bound: 'linear',
    base: 16 << 10,
    bytesPerByte: 64,
    prepare: async (size, ctx) => {
      const tokenizer = await ctx.tokenizer();
      const { texts, bytes } = hostileCorpus(size);
      return { bytes, run: () => tokenizer.encode(texts, null, { maxLength: 128, truncation: true, padding: 'longest' }) };
    },
  },
  {
    name: 'vocabulary (texts)',
    bound: 'linear',
    base: 16 << 10,
    bytesPerByte: 64,
    prepare: (size, ctx) => {
      const { texts, bytes } = hostileCorpus(size);
      return { bytes, run: () => ctx.lib.learnWordPieceTokens(texts, { vocabSize: 8000 }) };
    },
  },
  {
    // The merges themselves on words far past the 100 characters the texts stage keeps (the library's own entry).
    name: 'vocabulary (one long word)',
    bound: 'n log n',
    base: 16 << 10,
    bytesPerByte: 256,
    prepare: (size, ctx) => {
      const eighth = Math.floor(size / 8);
      const counts = new Map([
        ['a'.repeat(4 * eighth), 1],
        [`${'ab'.repeat(Math.floor(eighth / 2))}${'x'.repeat(eighth)}`, 1],
        [`${'b'.repeat(eighth)}${'c'.repeat(eighth)}`, 2],
      ]);
      return { bytes: 8 * eighth, run: () => ctx.lib.learnWordPieceVocabulary(counts, { vocabSize: 8000, minFrequency: 0, specialTokens: ['[UNK]'] }) };
    },
  },
  {
    // Labels by the thousand: names sorted (n log n), ids assigned, every example's label encoded.
    name: 'label mapping',
    bound: 'n log n',
    base: 64 << 10,
    bytesPerByte: 256,
    prepare: (size, ctx) => {
      const rows = Math.floor(size / 24);
      const examples = Array.from({ length: rows }, (_, i) => ({ inputIds: [2, 5, 3], label: `label ${(i * 7919) % Math.max(2, Math.floor(rows / 2))}` }));
      const bytes = examples.reduce((n, e) => n + e.label.length + 8, 0);
      return {
        bytes,
        run: async () => {
          const dataset = ctx.lib.Dataset.fromArray(examples);
          const { names, numLabels } = ctx.lib.trainingLabels(dataset, 'hostile');
          const label2id = Object.create(null);
          names.forEach((name, id) => (label2id[name] = id));
          const encodeContext = { padTokenId: 0, problemType: 'single_label_classification', numLabels, label2id, requireLabels: true };
          for (let start = 0; start < rows; start += 256) {
            const indices = [];
            for (let i = start; i < Math.min(rows, start + 256); i++) indices.push(i);
            await ctx.lib.encodeExamples({ examples: indices.map((i) => examples[i]), indices }, encodeContext);
          }
          return numLabels;
        },
      };
    },
  },
  {
    // A config.json with deep nesting, huge numbers and long strings in fields it does not use, and 1,000s of labels.
    name: 'config.json',
    bound: 'linear',
    base: 64 << 10,
    bytesPerByte: 64,
    prepare: (size, ctx) => {
      const dir = path.join(ctx.dir, `config-${size}`);
      fs.mkdirSync(dir, { recursive: true });
      const labels = Math.max(2, Math.floor(size / 64));
      const id2label = {};
      for (let i = 0; i < labels; i++) id2label[i] = `label ${i}`;
      const depth = Math.floor(size / 8);
      const body = JSON.stringify({
        model_type: 'bert',
        vocab_size: 99,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 37,
        id2label,
        huge_number: 1e308,
        long_string: 'A'.repeat(Math.floor(size / 8)),
      });
      const text = `${body.slice(0, -1)}, "deep": ${'['.repeat(depth)}${']'.repeat(depth)}, "big": ${'9'.repeat(Math.floor(size / 16))}}`;
      fs.writeFileSync(path.join(dir, 'config.json'), text);
      return { bytes: Buffer.byteLength(text), run: () => ctx.lib.readConfig(dir) };
    },
  },
  {
    // A safetensors header of deep nesting (the reader must refuse it, quickly, with an Error naming the file).
    name: 'checkpoint header',
    bound: 'linear',
    base: 64 << 10,
    bytesPerByte: 64,
    expectError: true,
    prepare: (size, ctx) => {
      const file = path.join(ctx.dir, `deep-${size}.safetensors`);
      const depth = Math.floor(size / 6);
      const bytes = writeSafetensors(file, Buffer.from(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));
      return { bytes, run: () => ctx.lib.readCheckpoint(file) };
    },
  },
];

/**
 * What the stages need: `lib` (Dataset, BertTokenizer, learnWordPieceTokens, learnWordPieceVocabulary,
 * trainingLabels, encodeExamples, readConfig, readCheckpoint), a scratch folder and a Python with pyarrow.
 */
function harnessContext(lib, dir, python) {
  let tokenizer;
  return {
    lib,
    dir,
    python,
    tokenizer: async () => (tokenizer ??= await lib.BertTokenizer.trainWordPiece([ordinaryText(2000, random(1))], { vocabSize: 200, minFrequency: 0 })),
  };
}

/**
 * The best of `repeats` timings of run(), and (measureMemory) the heap the first run keeps, its result held. The
 * full collections that measure the heap are not repeated before every run: under jest one costs more than a run.
 */
async function measureOnce(prepared, repeats, gc, expectError, measureMemory) {
  let best = Infinity;
  let kept = 0;
  let error;
  for (let r = 0; r < repeats; r++) {
    const heap = r === 0 && measureMemory;
    const before = heap ? liveBytes(gc) : 0;
    const start = process.hrtime.bigint();
    let result;
    try {
      result = await prepared.run();
    } catch (err) {
      if (!expectError) throw err;
      error = err;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
    if (heap) kept = Math.max(0, liveBytes(gc) - before);
    result = undefined; // released only after the heap was measured with it
    void result;
  }
  return { seconds: best, keptBytes: kept, error };
}

/**
 * Runs `stage` at each of `sizes` (ascending): the rows { size, bytes, seconds, keptBytes (largest size only),
 * error }, the growth exponent of time from the smallest to the largest input (1: linear, 2: quadratic), and the
 * heap kept per input byte at the largest.
 */
async function measureStage(stage, sizes, ctx, repeats = 2) {
  const gc = collector();
  const rows = [];
  for (const [i, size] of sizes.entries()) {
    const prepared = await stage.prepare(size, ctx);
    const m = await measureOnce(prepared, repeats, gc, stage.expectError === true, i === sizes.length - 1);
    rows.push({ size, bytes: prepared.bytes, ...m });
  }
  const first = rows[0];
  const last = rows[rows.length - 1];
  const exponent = Math.log(last.seconds / first.seconds) / Math.log(last.bytes / first.bytes);
  // The heap kept per input byte at the largest size (its fixed costs included, which only make it larger).
  const keptPerByte = last.keptBytes / last.bytes;
  return {
    stage: stage.name,
    bound: stage.bound,
    rows,
    exponent,
    keptPerByte,
    withinBound: exponent <= MAX_GROWTH_EXPONENT && keptPerByte <= stage.bytesPerByte,
  };
}

module.exports = {
  STAGES,
  harnessContext,
  MAX_GROWTH_EXPONENT,
  measureStage,
  hostileTexts,
  random,
  writeDelimited,
  writeJsonl,
  writeParquet,
  writeSafetensors,
  ordinaryText,
};
