// No input row can stall or exhaust a run: every stage that reads user input (CSV, TSV, JSONL and Parquet readers,
// tokenization, vocabulary learning, label mapping, config.json, checkpoint headers) is run by the hostile-input
// harness on adversarial input at growing sizes, and its time must grow no faster than its stated bound (linear or
// n log n: a growth exponent of at most 1.5 from the smallest input to one 16 times larger, where quadratic is 2)
// and the heap it keeps no more than a bound per input byte. Times are never compared with a fixed number, only with
// the same stage's time on a smaller input. Then single hostile rows, each of which gives a result or an Error
// naming the file, the row and (where there is one) the column.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { Dataset } from '../src/data/dataset';
import { readCheckpoint } from '../src/checkpoint/read-checkpoint';
import { readConfig } from '../src/model/config';
import { trainingLabels } from '../src/cli/labels';
import { confusionTable } from '../src/cli/summary';
import { learnWordPieceTokens } from '../src/tokenizer/tokenizer';
import { MAX_GROWTH_EXPONENT, STAGES, describeCurve, measureStage } from './helpers/hostile-input';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-hostile-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('every input stage grows within its bound on hostile input', () => {
  test.each(STAGES.map((s) => [s.name, s] as const))('%s', async (_, stage) => {
    const result = await measureStage(stage, [stage.base, stage.base * 16], dir);
    const curve = describeCurve(result);
    expect({ stage: stage.name, exponentWithinBound: result.exponent <= MAX_GROWTH_EXPONENT, curve }).toEqual({
      stage: stage.name,
      exponentWithinBound: true,
      curve,
    });
    expect({ stage: stage.name, keptWithinBound: result.keptPerByte <= stage.bytesPerByte, curve }).toEqual({
      stage: stage.name,
      keptWithinBound: true,
      curve,
    });
    for (const row of result.rows) {
      if (stage.expectError) {
        // Refused, as an Error that names the file.
        expect(typeof row.error?.message).toBe('string');
        expect(row.error?.message).toMatch(new RegExp(`^${dir}/\\S+: `));
      } else {
        expect(row.error).toBeUndefined();
      }
    }
  });
});

describe('hostile rows give a result or an Error naming the file, the row and the column', () => {
  test('CSV: an unclosed quote, a huge line of the wrong width, NULs as labels, integer-looking names', async () => {
    const unclosed = write('unclosed.csv', `text,label\nok,a\n"never closed ${'x'.repeat(100_000)},b\n`);
    expect((await failure(Dataset.fromCsv(unclosed))).message).toMatch(new RegExp(`^${unclosed}: line 3: Quote Not Closed`));
    const wide = write('wide.csv', `text,label\nok,a\n${'y'.repeat(1 << 20)}\n`);
    expect((await failure(Dataset.fromCsv(wide))).message).toMatch(new RegExp(`^${wide}: line 3: Invalid Record Length: expect 2, got 1`));
    const nul = write('nul.csv', 'text,label\n\u0000,\u0000\nfine,b\n');
    expect((await Dataset.fromCsv(nul)).toArray()).toEqual([
      { text: '\u0000', label: '\u0000' },
      { text: 'fine', label: 'b' },
    ]);
    const stars = write('stars.csv', `text,label\n${['1', '2', '3', '4', '5', '5+'].map((l) => `review ${l},${l}`).join('\n')}\n`);
    expect((await Dataset.fromCsv(stars)).labelNames).toEqual(['1', '2', '3', '4', '5', '5+']);
  });

  test('JSONL: unclosed deep nesting, raw NUL, infinite numbers, mixed label types, a text that is a number', async () => {
    const lines = [
      '{"text": "ok", "label": "a"}',
      `{"text": "deep", "label": "a", "x": ${'['.repeat(100_000)}}`,
      '{"text": "raw \u0000 nul", "label": "a"}',
      '{"text": "inf", "label": 1e400}',
      '{"text": 1e400, "label": "a"}',
    ];
    const file = write('hostile.jsonl', `${lines.join('\n')}\n`);
    const ds = await Dataset.fromJsonl(file, { onBadRow: 'skip' });
    expect(ds.toArray()).toEqual([{ text: 'ok', label: 'a' }]);
    expect(ds.skipped.examples.map((e) => [e.line, e.reason.replace(/\(.*/, '').trim()])).toEqual([
      [2, 'broken JSON'],
      [3, 'broken JSON'],
      [4, 'label must be a finite number, got Infinity'],
      [5, '"text" must be a string, got number Infinity'],
    ]);
    expect((await failure(Dataset.fromJsonl(file))).message).toMatch(new RegExp(`^${file}: line 2: broken JSON`));

    const mixed = write('mixed.jsonl', '{"text": "a", "label": 1}\n{"text": "b", "label": "2"}\n');
    const err = await failure(Dataset.fromJsonl(mixed));
    expect(err.code).toBe('ERR_MIXED_LABEL_TYPES');
    expect(err.message).toMatch(new RegExp(`^${mixed}: the label field "label" mixes numbers \\(first at line 1: 1\\) and strings \\(first at line 2: "2"\\)`));
  });

  test('Parquet: a truncated file and a file that is no Parquet are Errors naming the file', async () => {
    const source = path.join(dir, 'whole.parquet');
    const { writeParquet } = jest.requireActual('../scripts/bench/hostile-harness.js') as { writeParquet: (f: string, s: number, p: string) => number };
    const { PYTHON } = await import('./helpers/paths');
    writeParquet(source, 4096, PYTHON);
    const whole = fs.readFileSync(source);
    expect((await Dataset.fromParquet(source)).length).toBeGreaterThan(10);
    const truncated = write('truncated.parquet', whole.subarray(0, Math.floor(whole.length / 2)));
    expect((await failure(Dataset.fromParquet(truncated))).message).toMatch(new RegExp(`^${truncated}: `));
    const notParquet = write('not.parquet', `PAR1${'\u0000'.repeat(64)}`);
    expect((await failure(Dataset.fromParquet(notParquet))).message).toMatch(new RegExp(`^${notParquet}: `));
  });

  test('labels: one class only, and 5,000 classes', async () => {
    const one = Dataset.fromArray(Array.from({ length: 50 }, (_, i) => ({ text: `t${i}`, label: 'spam' })));
    expect(() => trainingLabels(one, 'one.csv')).toThrow('one.csv: every row has the label "spam"; a classifier needs at least two labels');
    const many = Dataset.fromArray(Array.from({ length: 10_000 }, (_, i) => ({ text: `t${i}`, label: `class ${i % 5000}` })));
    expect(trainingLabels(many, 'many.csv').numLabels).toBe(5000);
    // The confusion matrix of 5,000 labels has 25 million cells: the CLI prints a line instead.
    const labels = Array.from({ length: 5000 }, (_, i) => `class ${i}`);
    const matrix = labels.map((_, i) => labels.map((__, j) => (i === j ? 1 : 0)));
    expect(confusionTable(matrix, labels)).toBe('5000 labels: too many to print (more than 50); --json gives the matrix');
  });

  test('config.json: infinite and unsafe integer sizes and broken nesting are Errors naming the file and the key', async () => {
    const base = { model_type: 'bert', vocab_size: 99, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 37 };
    const config = (name: string, text: string): string => {
      const d = path.join(dir, name);
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, 'config.json'), text);
      return d;
    };
    const infinite = config('infinite', JSON.stringify(base).replace('"hidden_size":32', '"hidden_size":1e400'));
    expect((await failure(readConfig(infinite))).message).toMatch(new RegExp(`^${infinite}/config.json: .*hidden_size`));
    // Written as text: the file holds a number JavaScript cannot hold exactly.
    const huge = config('huge', JSON.stringify(base).replace('"num_hidden_layers":2', '"num_hidden_layers":12345678901234567890'));
    expect((await failure(readConfig(huge))).message).toMatch(new RegExp(`^${huge}/config.json: .*num_hidden_layers`));
    const broken = config('broken', `{"model_type": "bert", "x": ${'{"a":'.repeat(50_000)}`);
    expect((await failure(readConfig(broken))).message).toMatch(new RegExp(`^${broken}/config.json: malformed JSON`));
  });

  test('safetensors headers: a header length past the file or past 2^53, and bad offsets are Errors naming the file', async () => {
    const { writeSafetensors } = jest.requireActual('../scripts/bench/hostile-harness.js') as {
      writeSafetensors: (f: string, header: Buffer, declared?: number | bigint) => number;
    };
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [1000, 1000], data_offsets: [0, 4_000_000] } }));
    const cases: Array<[string, Buffer, number | bigint]> = [
      ['past-file.safetensors', header, header.length + 1_000_000],
      ['past-2-53.safetensors', header, 2n ** 63n],
      ['bad-offsets.safetensors', header, header.length],
    ];
    for (const [name, body, declared] of cases) {
      const file = path.join(dir, name);
      writeSafetensors(file, body, declared);
      expect((await failure(readCheckpoint(file))).message).toMatch(new RegExp(`^${file}: `));
    }
  });

  test('vocabulary learning: a 1,000,000-character run of one character is left out, as the encoder gives it [UNK]', async () => {
    const { tokens } = await learnWordPieceTokens(['A'.repeat(1_000_000), 'fine words here'], { vocabSize: 8000, minFrequency: 0 });
    expect(tokens).not.toContain('##a');
    expect(tokens).toContain('fine');
  });
});
