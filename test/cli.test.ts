// The bert-trainer command line, run as users run it: `node dist/cli/main.js ...` in a child process (compiled once
// in beforeAll). Help and usage errors (exit 2), runtime errors (exit 1), a small train run of a tiny model from
// scratch with everything it writes, eval and predict on its output, --resume, and Ctrl-C (exit 130, checkpoint).
import { execFileSync, spawn } from 'child_process';
import { existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { BertClassifier } from '../src';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. `onStdout` sees the output as it arrives (and may signal the child). */
function cli(args: string[], onStdout?: (soFar: string, child: ReturnType<typeof spawn>) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    // Two threads: the tests share a small machine.
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...process.env, OMP_NUM_THREADS: '2' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A 3-class CSV whose classes are told apart by their words (learnable in a few steps), with a comma in quotes. */
function syntheticCsv(rows: number, seed = 1): string {
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const cue: Record<string, string[]> = {
    positive: ['great', 'lovely', 'excellent', 'wonderful'],
    negative: ['awful', 'terrible', 'boring', 'horrible'],
    neutral: ['okay', 'average', 'plain', 'ordinary'],
  };
  const filler = ['the', 'movie', 'was', 'really', 'plot', 'acting', 'and', 'it'];
  const lines = ['text,label'];
  for (let i = 0; i < rows; i++) {
    const label = ['positive', 'negative', 'neutral'][i % 3];
    const words = Array.from({ length: 8 }, () => (random() < 0.4 ? cue[label][Math.floor(random() * 4)] : filler[Math.floor(random() * 8)]));
    lines.push(`"${words.slice(0, 4).join(' ')}, ${words.slice(4).join(' ')}",${label}`);
  }
  return `${lines.join('\n')}\n`;
}

let dir: string;
let csv: string;

beforeAll(async () => {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bert-trainer-cli-'));
  csv = path.join(dir, 'data.csv');
  await fs.writeFile(csv, syntheticCsv(90));
}, 120_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('help', () => {
  test('the program lists its commands', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const command of ['train', 'eval', 'predict', 'export', 'bench']) expect(r.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  test.each([
    [
      'train',
      [
        '--model <model>',
        '--train <file>',
        '--validation-split',
        '--epochs',
        '--batch-size',
        '--lr',
        '--max-length',
        '--warmup-ratio',
        '--weight-decay',
        '--grad-accum',
        '--save-strategy',
        '--eval-strategy',
        '--resume',
        '--skip-bad-rows',
        '--format',
        '--threads',
        'tiny',
        'intermediate 3072',
      ],
    ],
    ['eval', ['--model <model>', '--eval <file>', '--json', '--label-column']],
    ['predict', ['--model <model>', '--input <file>', '--text <text>', '--json']],
    ['bench', ['--size <size>', '--batch-size', '--seq-len', '--steps']],
  ])('%s --help', async (command, expected) => {
    const r = await cli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const text of expected) expect(r.stdout).toContain(text);
  });
});

describe('usage errors exit with 2 and name the flag', () => {
  test.each([
    [
      'a non-numeric --epochs',
      ['train', '--model', 'tiny', '--train', 'x.csv', '--output', 'o', '--epochs', 'abc'],
      /--epochs.*'abc' is invalid\. Expected a positive number/,
    ],
    [
      'a fractional --batch-size',
      ['train', '--model', 'tiny', '--train', 'x.csv', '--output', 'o', '--batch-size', '2.5'],
      /--batch-size.*Expected a positive integer/,
    ],
    [
      '--warmup-ratio above 1',
      ['train', '--model', 'tiny', '--train', 'x.csv', '--output', 'o', '--warmup-ratio', '2'],
      /--warmup-ratio.*Expected a number in \[0, 1\]/,
    ],
    [
      'an unknown --save-strategy',
      ['train', '--model', 'tiny', '--train', 'x.csv', '--output', 'o', '--save-strategy', 'always'],
      /--save-strategy.*Expected one of: no, steps, epoch/,
    ],
    [
      'a --max-shard-size that is not a size',
      ['train', '--model', 'tiny', '--train', 'x.csv', '--output', 'o', '--max-shard-size', '5 parsecs'],
      /--max-shard-size.*'5 parsecs' is invalid\. Expected a size such as 500MB/,
    ],
    ['an unknown flag', ['train', '--model', 'tiny', '--train', 'x.csv', '--output', 'o', '--learning-rate', '1'], /unknown option '--learning-rate'/],
    ['a missing --output', ['train', '--model', 'tiny', '--train', 'x.csv'], /required option '--output <dir>'/],
    [
      '--eval with --validation-split',
      ['train', '--model', 'tiny', '--train', 'x.csv', '--eval', 'y.csv', '--validation-split', '0.2', '--output', 'o'],
      /--eval and --validation-split/,
    ],
    [
      '--eval-strategy without held-out data',
      ['train', '--model', 'tiny', '--train', 'x.csv', '--output', 'o', '--eval-strategy', 'epoch'],
      /--eval-strategy epoch needs held-out data/,
    ],
    ['predict without input', ['predict', '--model', 'some-dir'], /--input FILE or --text/],
    ['bench --steps 0', ['bench', '--steps', '0'], /--steps.*Expected a positive integer/],
    ['an unknown command', ['fit'], /unknown command 'fit'/],
  ])('%s', async (_name, args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/--help' for the options/);
  });
});

describe('runtime errors exit with 1 and name the file', () => {
  test('a missing training file', async () => {
    const missing = path.join(dir, 'missing.csv');
    const r = await cli(['train', '--model', 'tiny', '--train', missing, '--output', path.join(dir, 'never')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: --train ${missing}: no such file\n`);
    expect(existsSync(path.join(dir, 'never'))).toBe(false);
  });

  test('a column that the file does not have', async () => {
    const r = await cli(['train', '--model', 'tiny', '--train', csv, '--output', path.join(dir, 'never'), '--text-column', 'review']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(csv);
    expect(r.stderr).toContain('"review"');
    expect(r.stderr).toContain('columns: text, label');
  });

  test('a file whose format the extension does not tell', async () => {
    const odd = path.join(dir, 'data.dat');
    await fs.writeFile(odd, 'text,label\nhi,a\n');
    const r = await cli(['train', '--model', 'tiny', '--train', odd, '--output', path.join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot tell the format of .*data\.dat.*--format/);
  });
});

describe('train, then eval and predict on its output', () => {
  let out: string;
  let train: Result;

  beforeAll(async () => {
    out = path.join(dir, 'run');
    train = await cli([
      'train',
      '--model',
      'tiny',
      '--train',
      csv,
      '--validation-split',
      '0.2',
      '--output',
      out,
      '--epochs',
      '3',
      '--batch-size',
      '8',
      '--max-length',
      '32',
      '--seed',
      '7',
      '--threads',
      '1',
    ]);
  }, 120_000);

  test('exits 0 with progress lines, evaluations and a summary', () => {
    expect(train.stderr).toBe('');
    expect(train.code).toBe(0);
    const out = train.stdout;
    expect(out).toContain('72 training examples, 18 held-out');
    expect(out).toContain('labels: negative, neutral, positive');
    expect(out).toMatch(/^step +\d+\/27 \(\d+%\) +epoch [\d.]+ +loss \d\.\d{4} +lr [\d.]+e-\d+ +[\d,.]+ samples\/s/m);
    expect(out.match(/^eval +step \d+/gm)).toHaveLength(3);
    for (const row of ['steps', 'epochs', 'time', 'train loss', 'eval loss', 'eval accuracy', 'eval F1 (macro)', 'samples/s'])
      expect(out).toMatch(new RegExp(`│ ${row.replace(/[()]/g, '\\$&')} +│`));
    // eslint-disable-next-line no-control-regex -- the escape character is what is looked for
    expect(out).not.toMatch(/\x1b\[/); // no escape codes when stdout is not a terminal
    expect(out.startsWith('\n')).toBe(false); // the vocabulary trainer's blank lines do not reach stdout
  });

  test('writes the model directory, metrics.json, report.html and report.svg', async () => {
    for (const file of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'vocab.txt',
      'tokenizer_config.json',
      'metrics.json',
      'report.html',
      'report.svg',
    ]) {
      expect(existsSync(path.join(out, file))).toBe(true);
    }
    const config = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ num_hidden_layers: 2, hidden_size: 128, num_attention_heads: 2, intermediate_size: 512, max_position_embeddings: 512 });
    expect(config.id2label).toEqual({ 0: 'negative', 1: 'neutral', 2: 'positive' });
    // Later loads truncate where training did.
    expect(JSON.parse(await fs.readFile(path.join(out, 'tokenizer_config.json'), 'utf8')).model_max_length).toBe(32);

    const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
    for (const key of ['accuracy', 'f1', 'loss']) expect(typeof metrics[key]).toBe('number');
    expect(metrics.numExamples).toBe(18);
    expect(metrics.confusionMatrix).toHaveLength(3);
    expect(metrics.labels).toEqual(['negative', 'neutral', 'positive']);
    expect(metrics.train).toMatchObject({ steps: 27, epochs: 3 });

    const html = await fs.readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('Confusion matrix');
    expect(html).toContain('tiny, trained from scratch');
    expect(html).not.toMatch(/<script|\bsrc=|<link/i);
    // The final metrics on the page are those of metrics.json.
    expect(html).toContain(metrics.f1.toFixed(4));
  });

  test('the same command with the same --seed learns the same vocabulary and the same weights, bit for bit', async () => {
    const again = path.join(dir, 'run-again');
    const r = await cli([
      'train',
      '--model',
      'tiny',
      '--train',
      csv,
      '--validation-split',
      '0.2',
      '--output',
      again,
      '--epochs',
      '3',
      '--batch-size',
      '8',
      '--max-length',
      '32',
      '--seed',
      '7',
      '--threads',
      '1',
    ]);
    expect(r.code).toBe(0);
    for (const file of ['vocab.txt', 'tokenizer.json', 'model.safetensors']) {
      expect((await fs.readFile(path.join(again, file))).equals(await fs.readFile(path.join(out, file)))).toBe(true);
    }
  }, 120_000);

  test('eval prints the metrics, and --json the same numbers', async () => {
    const table = await cli(['eval', '--model', out, '--eval', csv]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ accuracy +│ \d\.\d{4}/);
    expect(table.stdout).toMatch(/│ negative +│ +\d\.\d{4} │/);
    expect(table.stdout).toContain('confusion matrix');
    const json = await cli(['eval', '--model', out, '--eval', csv, '--json']);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result.numExamples).toBe(90);
    expect(result.labels).toEqual(['negative', 'neutral', 'positive']);
    expect(table.stdout).toContain(result.accuracy.toFixed(4));
  });

  test('predict prints label and score per text, or JSON Lines', async () => {
    const texts = await cli(['predict', '--model', out, '--text', 'great lovely excellent wonderful', '--text', 'awful terrible boring horrible']);
    expect(texts.code).toBe(0);
    const lines = texts.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^(negative|neutral|positive)\t[01]\.\d{4}$/);

    const file = await cli(['predict', '--model', out, '--input', csv, '--json', '--limit', '5']);
    expect(file.code).toBe(0);
    const rows = file.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(5);
    expect(Object.keys(rows[0].scores)).toEqual(['negative', 'neutral', 'positive']);
    expect(rows[0].score).toBe(Math.max(...(Object.values(rows[0].scores) as number[])));
    expect(rows[0].text).toContain(',');
  });

  test('export writes the folder transformers.js loads, the ONNX files exportOnnx writes; a size or a bad --quantize is a usage error', async () => {
    const onnxOut = path.join(dir, 'run-onnx');
    const r = await cli(['export', '--model', out, '--output', onnxOut, '--quantize', 'int8']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const listed = r.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t')[0]);
    const files = [
      'config.json',
      'onnx/model.onnx',
      'onnx/model_quantized.onnx',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.txt',
    ];
    expect(listed.sort()).toEqual(files.map((f) => path.join(onnxOut, f)));
    for (const file of listed) expect(existsSync(file)).toBe(true);

    const model = await BertClassifier.fromPretrained(out);
    const apiOut = path.join(dir, 'run-onnx-api');
    await model.exportOnnx(apiOut, { quantize: 'int8' });
    model.dispose();
    for (const file of ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'config.json']) {
      expect((await fs.readFile(path.join(onnxOut, file))).equals(await fs.readFile(path.join(apiOut, file)))).toBe(true);
    }

    const size = await cli(['export', '--model', 'tiny', '--output', path.join(dir, 'never')]);
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/--model tiny is a built-in size/);
    const quantize = await cli(['export', '--model', out, '--output', path.join(dir, 'never'), '--quantize', 'int4']);
    expect(quantize.code).toBe(2);
    expect(quantize.stderr).toMatch(/--quantize.*'int4' is invalid\. Expected one of: int8/);
    expect(existsSync(path.join(dir, 'never'))).toBe(false);
  });

  test('a bad row stops eval naming its line, or is skipped and reported with --skip-bad-rows', async () => {
    const bad = path.join(dir, 'bad.csv');
    await fs.writeFile(bad, 'text,label\ngreat lovely,positive\nawful thing,\nboring,negative\n');
    const strict = await cli(['eval', '--model', out, '--eval', bad]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toBe(`error: ${bad}: line 3: no label in column "label"\n`);
    const lenient = await cli(['eval', '--model', out, '--eval', bad, '--skip-bad-rows', '--json']);
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toBe(`skipped 1 bad row of ${bad} (first: line 3: no label in column "label")\n`);
    expect(JSON.parse(lenient.stdout).numExamples).toBe(2);
  });

  test('eval names labels the model does not know', async () => {
    const other = path.join(dir, 'other.csv');
    await fs.writeFile(other, 'text,label\ngreat movie,positive\nso so,mixed\n');
    const r = await cli(['eval', '--model', out, '--eval', other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/other\.csv: label "mixed" is not among the model's labels/);
  });

  test('a trained model directory as --model: fine-tuned further, with a new head when the labels differ', async () => {
    const twoLabels = path.join(dir, 'two.jsonl');
    const lines = Array.from({ length: 24 }, (_, i) =>
      JSON.stringify({ review: i % 2 ? 'great lovely film' : 'awful boring film', verdict: i % 2 ? 'yes' : 'no' }),
    );
    await fs.writeFile(twoLabels, `${lines.join('\n')}\n`);
    const tuned = path.join(dir, 'tuned');
    const r = await cli([
      'train',
      '--model',
      out,
      '--train',
      twoLabels,
      '--text-column',
      'review',
      '--label-column',
      'verdict',
      '--output',
      tuned,
      '--epochs',
      '1',
      '--save-strategy',
      'no',
      '--threads',
      '1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('new classification head for 2 labels (no, yes)');
    expect(r.stdout).toContain(`model: ${out}, pretrained (2 layers, hidden 128`);
    const config = JSON.parse(await fs.readFile(path.join(tuned, 'config.json'), 'utf8'));
    expect(config.id2label).toEqual({ 0: 'no', 1: 'yes' });
    expect(existsSync(path.join(tuned, 'checkpoint-3'))).toBe(false); // --save-strategy no
    // Without --eval or --validation-split there are no held-out metrics, only the training totals.
    const metrics = JSON.parse(await fs.readFile(path.join(tuned, 'metrics.json'), 'utf8'));
    expect(metrics.accuracy).toBeUndefined();
    expect(metrics.train.steps).toBe(3);
  });

  test('--resume continues from a checkpoint to the end', async () => {
    const r = await cli([
      'train',
      '--model',
      'tiny',
      '--train',
      csv,
      '--validation-split',
      '0.2',
      '--output',
      out,
      '--epochs',
      '3',
      '--batch-size',
      '8',
      '--max-length',
      '32',
      '--seed',
      '7',
      '--threads',
      '1',
      '--resume',
      path.join(out, 'checkpoint-18'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('resuming at step 18');
    expect(r.stdout.match(/^eval +step \d+/gm)).toEqual(['eval   step 27']);
  });

  test("--group-by-length / --no-group-by-length reach the Trainer: the opposite of the checkpoint's grouping cannot resume it", async () => {
    const state = JSON.parse(await fs.readFile(path.join(out, 'checkpoint-18', 'trainer_state.json'), 'utf8'));
    const grouped = state.bert_trainer.dataPosition.groupByLength === true; // what 'auto' decided for this data
    const r = await cli([
      'train',
      '--model',
      'tiny',
      '--train',
      csv,
      '--validation-split',
      '0.2',
      '--output',
      path.join(dir, 'regrouped'),
      '--epochs',
      '3',
      '--batch-size',
      '8',
      '--max-length',
      '32',
      '--seed',
      '7',
      '--threads',
      '1',
      grouped ? '--no-group-by-length' : '--group-by-length',
      '--resume',
      path.join(out, 'checkpoint-18'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`groupByLength ${grouped}, but this run has ${!grouped}`);
  });
});

describe('bench', () => {
  test('times training steps of a built-in size', async () => {
    const r = await cli(['bench', '--size', 'tiny', '--batch-size', '2', '--seq-len', '16', '--steps', '2', '--warmup', '1', '--threads', '1', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ size: 'tiny', layers: 2, hidden: 128, batchSize: 2, seqLen: 16, steps: 2, threads: 1 });
    expect(result.msPerStep).toBeGreaterThan(0);
    expect(result.samplesPerSecond).toBeCloseTo((2 * 1000) / result.msPerStep, 6);
  });
});

describe('Ctrl-C', () => {
  test('stops at the next step, saves a checkpoint, says where, and exits with 130', async () => {
    const big = path.join(dir, 'big.csv');
    await fs.writeFile(big, syntheticCsv(300, 2));
    const out = path.join(dir, 'interrupted');
    let sent = false;
    // Thousands of steps: far more than run before the signal lands.
    const r = await cli(
      [
        'train',
        '--model',
        'tiny',
        '--train',
        big,
        '--output',
        out,
        '--epochs',
        '50',
        '--batch-size',
        '4',
        '--max-length',
        '16',
        '--save-strategy',
        'no',
        '--threads',
        '1',
      ],
      (soFar, child) => {
        if (!sent && /^step /m.test(soFar)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    );
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    const checkpoint = /checkpoint saved to (\S+)/.exec(r.stdout)?.[1];
    expect(checkpoint).toBeDefined();
    expect(path.dirname(checkpoint as string)).toBe(out);
    expect(existsSync(path.join(checkpoint as string, 'trainer_state.json'))).toBe(true);
    expect(existsSync(path.join(checkpoint as string, 'model.safetensors'))).toBe(true);
    expect(r.stdout).toMatch(/resume with: bert-trainer train .* --resume \S+checkpoint-\d+/);
    // No final model or metrics, but a report of the steps that ran.
    expect(existsSync(path.join(out, 'metrics.json'))).toBe(false);
    expect(await fs.readFile(path.join(out, 'report.html'), 'utf8')).toContain('status interrupted');
  }, 120_000);
});
