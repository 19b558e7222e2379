// File datasets: CSV/TSV (RFC 4180 quoting, BOM, CRLF), JSONL, column selection, label rules, errors naming file and
// line, skipped rows, limit, the record count of the streaming pass, and seeded (stratified) splits.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { Dataset } from '../src/data/dataset';
import { countFileRecords, resolveFileOptions } from '../src/data/dataset-files';
import { Example } from '../src/data/example';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-trainer-files-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

function texts(ds: Dataset): string[] {
  return ds.toArray().map((e) => (e as { text: string }).text);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Every example of a stream, read once. */
async function drain(stream: AsyncIterable<Example>): Promise<Example[]> {
  const all: Example[] = [];
  for await (const e of stream) all.push(e);
  return all;
}

describe('CSV and TSV', () => {
  it('reads quoted fields with delimiters, quotes and newlines; strips a BOM; label names and ids', async () => {
    const file = write('quoted.csv', '\ufefftext,label\n"hello, world",pos\n"a ""quoted""\nline",neg\nplain,3\n');
    const ds = await Dataset.fromCsv(file);
    expect(ds.toArray()).toEqual([
      { text: 'hello, world', label: 'pos' },
      { text: 'a "quoted"\nline', label: 'neg' },
      { text: 'plain', label: '3' },
    ]);
    expect(ds.labelNames).toEqual(['3', 'neg', 'pos']);
    expect(ds.skipped).toEqual({ count: 0, examples: [] });
  });

  it('errors name the file and the starting line of the record, also after quoted newlines and CRLF', async () => {
    const file = write('lines.csv', 'text,label\r\n"one\r\ntwo",a\r\n\r\n"",b\r\n');
    expect((await failure(Dataset.fromCsv(file))).message).toBe(`${file}: line 5: empty text in column "text"`);
    const lf = write('lines-lf.csv', 'text,label\n"x\n\ny",a\nok,b\nbad\n');
    expect((await failure(Dataset.fromCsv(lf))).message).toMatch(new RegExp(`^${lf}: line 6: Invalid Record Length: expect 2, got 1`));
  });

  it('names the available columns when the header lacks one, even with onBadRow skip', async () => {
    const file = write('data.csv', 'text,label\nhi,1\n');
    expect((await failure(Dataset.fromCsv(file, { textColumn: 'txt' }))).message).toBe(`${file}: line 1: no column "txt" (columns: text, label)`);
    expect((await failure(Dataset.fromCsv(file, { textColumn: 'txt', onBadRow: 'skip' }))).message).toMatch(/line 1: no column "txt"/);
    expect((await failure(Dataset.fromCsv(file, { labelColumn: 'y' }))).message).toBe(`${file}: line 1: no column "y" (columns: text, label)`);
  });

  it("onBadRow 'skip' skips and counts bad rows with their lines and reasons", async () => {
    const rows = ['text,label', 'good,1', ',1', 'short', 'fine,0', 'nolabel,', '"x",-2'];
    const file = write('bad.csv', `${rows.join('\n')}\n`);
    const ds = await Dataset.fromCsv(file, { onBadRow: 'skip' });
    expect(texts(ds)).toEqual(['good', 'fine']);
    expect(ds.skipped.count).toBe(4);
    expect(ds.skipped.examples.map((e) => e.line)).toEqual([3, 4, 6, 7]);
    expect(ds.skipped.examples[0].reason).toBe('empty text in column "text"');
    expect(ds.skipped.examples[2].reason).toBe('no label in column "label"');
    expect(ds.skipped.examples[3].reason).toMatch(/"-2" is negative, not a class id/);
    await expect(Dataset.fromCsv(file)).rejects.toThrow(`${file}: line 3: empty text in column "text"`);
  });

  it('lists at most 20 skipped rows but counts them all', async () => {
    const lines = ['text,label', ...Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? `t${i},1` : `,1`))];
    const ds = await Dataset.fromCsv(write('many-bad.csv', lines.join('\n')), { onBadRow: 'skip' });
    expect(ds.length).toBe(15);
    expect(ds.skipped.count).toBe(15);
    expect(ds.skipped.examples).toHaveLength(15);
    const more = ['text,label', ...Array.from({ length: 50 }, () => ',1')];
    const all = await Dataset.fromCsv(write('all-bad.csv', more.join('\n')), { onBadRow: 'skip' });
    expect(all.skipped.count).toBe(50);
    expect(all.skipped.examples).toHaveLength(20);
    expect(all.skipped.examples[19].line).toBe(21);
  });

  it('labelType: auto reads a column of integers as ids and any other column as names, name keeps strings, id insists on ids', async () => {
    const file = write('types.csv', 'text,label\na,1\nb,pos\nc, 2 \n');
    // Not every label is an integer: all of them are names, "1" and "2" included (one rule per column, not per row).
    const auto = await Dataset.fromCsv(file);
    expect(auto.toArray().map((e) => e.label)).toEqual(['1', 'pos', '2']);
    expect(auto.labelNames).toEqual(['1', '2', 'pos']);
    const ids = write('ids.csv', 'text,label\na,1\nb,0\nc, 2 \n');
    expect((await Dataset.fromCsv(ids)).toArray().map((e) => e.label)).toEqual([1, 0, 2]);
    // A stream cannot read again: the mix is an Error naming the first row of each kind, with its code.
    const streamed = await failure(drain(Dataset.streamCsv(file)));
    expect(streamed.message).toBe(
      `${file}: the label column "label" mixes integers (first at line 2: "1") and other texts (first at line 3: "pos"): not all labels are class ids, so every label is a name; read it with labelType 'name' (--label-type name)`,
    );
    expect((streamed as Error & { code?: string }).code).toBe('ERR_LABEL_IDS_AND_NAMES');
    const byName = await Dataset.fromCsv(file, { labelType: 'name' });
    expect(byName.toArray().map((e) => e.label)).toEqual(['1', 'pos', '2']);
    expect(byName.labelNames).toEqual(['1', '2', 'pos']);
    expect((await failure(Dataset.fromCsv(file, { labelType: 'id' }))).message).toBe(
      `${file}: line 3: label "pos" is not a class id (a non-negative integer), as labelType 'id' requires`,
    );
  });

  it('text pairs, other column names, TSV, header: false, requireLabels: false, limit', async () => {
    const pairs = write('pairs.csv', 'id,premise,hypothesis,gold\n1,A man sleeps,Someone rests,entail\n2,It rains,It is dry,contra\n');
    const ds = await Dataset.fromCsv(pairs, { textColumn: 'premise', textPairColumn: 'hypothesis', labelColumn: 'gold' });
    expect(ds.get(1)).toEqual({ text: 'It rains', textPair: 'It is dry', label: 'contra' });

    const tsv = write('data.tsv', 'label\ttext\n0\tsay "hi", ok\n1\tbye\n');
    expect((await Dataset.fromTsv(tsv)).toArray()).toEqual([
      { text: 'say "hi", ok', label: 0 },
      { text: 'bye', label: 1 },
    ]);

    const noHeader = write('noheader.csv', 'great film,1\nawful,0\n');
    const positional = await Dataset.fromCsv(noHeader, { header: false, textColumn: '0', labelColumn: '1' });
    expect(positional.toArray()).toEqual([
      { text: 'great film', label: 1 },
      { text: 'awful', label: 0 },
    ]);

    const unlabeled = write('unlabeled.csv', 'text\nfirst\nsecond\nthird\n');
    expect((await failure(Dataset.fromCsv(unlabeled))).message).toMatch(/line 1: no column "label" \(columns: text\)/);
    const free = await Dataset.fromCsv(unlabeled, { requireLabels: false, limit: 2 });
    expect(free.toArray()).toEqual([{ text: 'first' }, { text: 'second' }]);
    expect(free.labeledCount).toBe(0);
    expect(free.labelNames).toBeUndefined();
  });

  it('a missing file and bad options are clear errors', async () => {
    await expect(Dataset.fromCsv(path.join(dir, 'nope.csv'))).rejects.toThrow(/ENOENT.*nope\.csv/);
    await expect(Dataset.fromCsv(path.join(dir, 'x.csv'), { onBadRow: 'ignore' as 'skip' })).rejects.toThrow(RangeError);
    await expect(Dataset.fromCsv(path.join(dir, 'x.csv'), { textcolumn: 'x' } as unknown as { textColumn: string })).rejects.toThrow(
      /unknown option "textcolumn"/,
    );
    await expect(Dataset.fromCsv(path.join(dir, 'x.csv'), { limit: 0 })).rejects.toThrow(/limit/);
  });
});

describe('JSONL', () => {
  it('reads objects line by line: names, ids, multi-label arrays, regression numbers; blank lines ignored', async () => {
    const file = write(
      'data.jsonl',
      [
        '{"text": "good", "label": "pos"}',
        '',
        '{"text": "tags", "label": ["a", "b"], "extra": 1}',
        '{"text": "hot", "label": [1, 0, 1]}',
        '{"text": "two", "label": "2"}',
      ].join('\r\n'),
    );
    const ds = await Dataset.fromJsonl(file);
    // "2" sits in a column of names: a name too.
    expect(ds.toArray()).toEqual([
      { text: 'good', label: 'pos' },
      { text: 'tags', label: ['a', 'b'] },
      { text: 'hot', label: [1, 0, 1] },
      { text: 'two', label: '2' },
    ]);
    expect(ds.labelNames).toEqual(['2', 'a', 'b', 'pos']);
    const numbers = write('numbers.jsonl', '{"text": "score", "label": 0.25}\n{"text": "id", "label": 2}\n{"text": "id as text", "label": "3"}\n');
    expect((await Dataset.fromJsonl(numbers, { limit: 2 })).toArray().map((e) => e.label)).toEqual([0.25, 2]);
    expect((await Dataset.fromJsonl(write('ids.jsonl', '{"text": "a", "label": "1"}\n{"text": "b", "label": " 0"}\n'))).toArray().map((e) => e.label)).toEqual([
      1, 0,
    ]);
  });

  it('a label field that mixes JSON numbers and JSON strings is an Error naming the first row of each kind', async () => {
    const file = write('mixed.jsonl', '{"text": "a", "label": 1}\n{"text": "b", "label": 1}\n\n{"text": "c", "label": "2"}\n');
    // Each read starts only when the one before has failed: two in flight at once leave one rejection unhandled.
    for (const read of [() => Dataset.fromJsonl(file), () => drain(Dataset.streamJsonl(file))]) {
      const err = await failure(read());
      expect(err.message).toBe(
        `${file}: the label field "label" mixes numbers (first at line 1: 1) and strings (first at line 4: "2"); write every label the same way: numbers for class ids, strings for label names`,
      );
      expect((err as Error & { code?: string }).code).toBe('ERR_MIXED_LABEL_TYPES');
    }
    // labelType 'id' asks for ids whatever their form.
    expect((await Dataset.fromJsonl(file, { labelType: 'id' })).toArray().map((e) => e.label)).toEqual([1, 1, 2]);
  });

  it('broken JSON, wrong types and missing fields name the line; skip mode counts them', async () => {
    const lines = [
      '{"text": "ok", "label": 1}',
      '{"text": "cut',
      '{"text": 5, "label": 1}',
      '{"label": 1}',
      '[1]',
      '{"text": "x", "label": true}',
      '{"text": "y", "label": 0}',
    ];
    const file = write('bad.jsonl', `${lines.join('\n')}\n`);
    expect((await failure(Dataset.fromJsonl(file))).message).toMatch(new RegExp(`^${file}: line 2: broken JSON \\(`));
    const ds = await Dataset.fromJsonl(file, { onBadRow: 'skip' });
    expect(texts(ds)).toEqual(['ok', 'y']);
    expect(ds.skipped.examples).toEqual([
      { line: 2, reason: expect.stringMatching(/^broken JSON/) },
      { line: 3, reason: '"text" must be a string, got number 5' },
      { line: 4, reason: 'no field "text"' },
      { line: 5, reason: 'expected a JSON object, got an array' },
      { line: 6, reason: 'label must be a class id, a label name or an array, got boolean true' },
    ]);
    const noLabel = write('nolabel.jsonl', '{"text": "a"}\n{"text": "b", "label": null}\n');
    expect((await failure(Dataset.fromJsonl(noLabel))).message).toBe(`${noLabel}: line 1: no label in field "label"`);
    expect((await Dataset.fromJsonl(noLabel, { requireLabels: false })).labeledCount).toBe(0);
    expect((await failure(Dataset.fromJsonl(file, { labelType: 'name' }))).message).toMatch(
      /line 1: label must be a label name \(a string\) for labelType 'name'/,
    );
  });
});

describe('record count (the streaming pass)', () => {
  it('counts records by a byte scan: quoted newlines and blank lines do not count, the header does not', async () => {
    const csv = write('count.csv', 'text,label\n"a\nb",1\n\n"c ""d""\n",2\nx,3');
    expect(await countFileRecords(csv, 'csv', resolveFileOptions({}, 'csv'))).toBe((await Dataset.fromCsv(csv)).length);
    const jsonl = write('count.jsonl', '{"text":"a","label":1}\n\n  \n{"text":"b","label":1}\r\n{"text":"c","label":1}');
    expect(await countFileRecords(jsonl, 'jsonl', resolveFileOptions({}, 'jsonl'))).toBe(3);
    expect(await countFileRecords(jsonl, 'jsonl', resolveFileOptions({ limit: 2 }, 'jsonl'))).toBe(2);
  });
});

describe('split', () => {
  const labels = [...Array(60).fill('a'), ...Array(30).fill('b'), ...Array(10).fill('c')] as string[];
  const ds = Dataset.fromArray(labels.map((label, i) => ({ text: `t${i}`, label })));

  it('stratified by default: each class keeps its share; deterministic from the seed; disjoint and complete', () => {
    const { train, validation } = ds.split({ validation: 0.2 });
    expect(validation.length).toBe(20);
    expect(train.length).toBe(80);
    const count = (d: Dataset, l: string): number => d.toArray().filter((e) => e.label === l).length;
    expect([count(validation, 'a'), count(validation, 'b'), count(validation, 'c')]).toEqual([12, 6, 2]);
    expect(new Set([...texts(train), ...texts(validation)]).size).toBe(100);
    expect(texts(ds.split({ validation: 0.2 }).validation)).toEqual(texts(validation));
    expect(texts(ds.split({ validation: 0.2, seed: 7 }).validation)).not.toEqual(texts(validation));
    // Both parts keep the source order and its label names.
    const order = texts(train).map((t) => Number(t.slice(1)));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(validation.labelNames).toEqual(['a', 'b', 'c']);
  });

  it('a count, no stratification, and the errors', () => {
    const { validation } = ds.split({ validation: 7, stratify: false, seed: 1 });
    expect(validation.length).toBe(7);
    const regression = Dataset.fromArray([0.5, 1.5, 2.5, 3.5].map((label, i) => ({ text: `r${i}`, label })) as Example[]);
    expect(regression.split({ validation: 0.5 }).validation.length).toBe(2); // not stratifiable: a plain split
    expect(() => regression.split({ validation: 0.5, stratify: true })).toThrow(/stratify needs a class label/);
    expect(() => ds.split({ validation: 1.5 })).toThrow(RangeError);
    expect(() => ds.split({ validation: 100 })).toThrow(/leaves no training example/);
    expect(() => ds.split({ validation: 0 })).toThrow(RangeError);
  });

  it('subsets of a file dataset keep its label names (a class absent from one part stays a label)', async () => {
    const file = write('rare.csv', 'text,label\na,common\nb,common\nc,common\nd,rare\n');
    const full = await Dataset.fromCsv(file);
    expect(full.filter((e) => e.label === 'common').labelNames).toEqual(['common', 'rare']);
  });
});

describe('large files', () => {
  it('lines spanning the 1 MiB read chunks (multi-byte characters included) are read whole', async () => {
    const rows = Array.from({ length: 12000 }, (_, i) => ({ text: `${'é€😀 '.repeat(i % 40)}row ${i}`, label: i % 3 }));
    rows[5000].text = 'x'.repeat(1_500_000); // a single line longer than a chunk
    const file = write('big.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
    expect(fs.statSync(file).size).toBeGreaterThan(2 * 1024 * 1024);
    const ds = await Dataset.fromJsonl(file);
    expect(ds.toArray()).toEqual(rows);
    expect(await countFileRecords(file, 'jsonl', resolveFileOptions({}, 'jsonl'))).toBe(12000);
  });
});
