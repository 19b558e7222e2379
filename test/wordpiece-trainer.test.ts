// The WordPiece vocabulary trainer (src/tokenizer/wordpiece-trainer.ts) against Hugging Face tokenizers' own Rust trainer, and
// its reproducibility.
import { execFileSync } from 'child_process';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { loadSpamAssassin } from '../src/demo/demo-data';
import { BertTokenizer, WordPieceProgress, learnWordPieceTokens } from '../src/tokenizer/tokenizer';
import { CONTINUING_SUBWORD_PREFIX, learnWordPieceVocabulary } from '../src/tokenizer/wordpiece-trainer';

interface RustRun {
  vocab: string[];
  wordCounts: Array<[string, number]>;
}

/** One run of the Rust trainer on `texts` (test/helpers/rust-wordpiece.js), in a child process. */
async function rustRun(texts: string[]): Promise<RustRun> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wordpiece-test-'));
  try {
    const textsFile = path.join(dir, 'texts.json');
    const outFile = path.join(dir, 'out.json');
    await fsp.writeFile(textsFile, JSON.stringify(texts));
    execFileSync(process.execPath, [path.join(__dirname, 'helpers', 'rust-wordpiece.js'), textsFile, outFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return JSON.parse(await fsp.readFile(outFile, 'utf8')) as RustRun;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** The "##" characters of a vocabulary, in id order: the order that run numbered them. */
function continuingCharacters(vocab: string[]): string[] {
  return vocab.filter((t) => t.startsWith(CONTINUING_SUBWORD_PREFIX) && Array.from(t.slice(CONTINUING_SUBWORD_PREFIX.length)).length === 1);
}

const EMAILS = loadSpamAssassin()
  .examples.slice(0, 300)
  .map((e) => e.text);

// The reproducer of huggingface/tokenizers#1794: ties everywhere, so the Rust trainer's vocabulary depends on the
// order it numbered the "##" characters.
const TIES = ['Wel come to the 🤗 Tok en izers libr ary.'];

describe('learnWordPieceVocabulary', () => {
  test.each([
    ['300 SpamAssassin e-mails', EMAILS],
    ['the tie-breaking reproducer of tokenizers#1794', TIES],
  ])("is the Rust trainer's vocabulary, token for token and id for id, given that run's numbering of the ## characters (%s)", async (_, texts) => {
    const rust = await rustRun(texts);
    const ours = learnWordPieceVocabulary(new Map(rust.wordCounts), {
      vocabSize: 30000, // the binding's trainer defaults
      minFrequency: 0,
      specialTokens: [],
      continuingTokenOrder: continuingCharacters(rust.vocab),
    });
    expect(ours.length).toBe(rust.vocab.length);
    expect(ours).toEqual(rust.vocab);
  });

  test("long runs of one character merge as the Rust trainer merges them (a merge visits its pair's nodes only)", async () => {
    const texts = ['a'.repeat(2000), `${'='.repeat(777)} ab ${'ab'.repeat(300)}`, 'aaa aab'];
    const rust = await rustRun(texts);
    const ours = learnWordPieceVocabulary(new Map(rust.wordCounts), {
      vocabSize: 30000,
      minFrequency: 0,
      specialTokens: [],
      continuingTokenOrder: continuingCharacters(rust.vocab),
    });
    expect(ours).toEqual(rust.vocab);
  });

  test('numbers the ## characters by code point, so the same words give the same vocabulary in any order', () => {
    const counts: Array<[string, number]> = [
      ['lower', 5],
      ['newest', 6],
      ['widest', 3],
      ['low', 5],
      ['abab', 2],
      ['#x#', 1],
      ['🤗a', 2],
    ];
    const options = { vocabSize: 1000, minFrequency: 0, specialTokens: ['[UNK]'] };
    const forward = learnWordPieceVocabulary(new Map(counts), options);
    const backward = learnWordPieceVocabulary(new Map([...counts].reverse()), options);
    expect(backward).toEqual(forward);
    // [UNK], the alphabet by code point, the ## characters by code point, then what was learned
    const alphabet = ['#', 'a', 'b', 'd', 'e', 'i', 'l', 'n', 'o', 'r', 's', 't', 'w', 'x', '🤗'];
    const continuing = ['#', 'a', 'b', 'd', 'e', 'i', 'o', 'r', 's', 't', 'w', 'x'].map((c) => `##${c}`);
    expect(forward.slice(0, 1 + alphabet.length + continuing.length)).toEqual(['[UNK]', ...alphabet, ...continuing]);
    // The most frequent pair first: ##w ##e (lower 5 + newest 6), l ##o (10), ##s ##t (9); then three pairs at 6
    // (n ##e, ##e ##we, ##we ##st), and ties go to the lower ids: the alphabet's "n" first.
    const learned = forward.slice(1 + alphabet.length + continuing.length);
    expect(learned.slice(0, 4)).toEqual(['##we', 'lo', '##st', 'ne']);
    expect(learned).toContain('lower');
    expect(learned).toContain('newest');
    expect(learned).toContain('#x#');
    expect(new Set(forward).size).toBe(forward.length);
  });

  test('stops at vocabSize (special tokens included) and at minFrequency', () => {
    const counts = new Map<string, number>([
      ['aaab', 4],
      ['ab', 3],
      ['b', 1],
    ]);
    const base = ['[UNK]', 'a', 'b', '##a', '##b'];
    expect(learnWordPieceVocabulary(counts, { vocabSize: 1, minFrequency: 0, specialTokens: ['[UNK]'] })).toEqual(base);
    const two = learnWordPieceVocabulary(counts, { vocabSize: base.length + 2, minFrequency: 0, specialTokens: ['[UNK]'] });
    // a ##a, ##a ##a and ##a ##b all occur 4 times: the lowest ids win (a ##a → aa). Then ##a ##b (4) beats aa ##a
    // (4): ##a's id is lower than aa's.
    expect(two).toEqual([...base, 'aa', '##ab']);
    // min_frequency 4: aa ##ab (4) is learned too, a ##b (3) is not
    const frequent = learnWordPieceVocabulary(counts, { vocabSize: 1000, minFrequency: 4, specialTokens: ['[UNK]'] });
    expect(frequent).toEqual([...base, 'aa', '##ab', 'aaab']);
    const all = learnWordPieceVocabulary(counts, { vocabSize: 1000, minFrequency: 0, specialTokens: ['[UNK]'] });
    expect(all).toEqual([...base, 'aa', '##ab', 'aaab', 'ab']);
    expect(learnWordPieceVocabulary(new Map(), { vocabSize: 10, minFrequency: 0, specialTokens: ['[PAD]'] })).toEqual(['[PAD]']);
  });
});

describe('BertTokenizer.trainWordPiece is reproducible', () => {
  test('the same texts, in the same or another order, give the same vocabulary and the same encodings', async () => {
    const texts = EMAILS.slice(0, 150);
    const first = await BertTokenizer.trainWordPiece(texts, { vocabSize: 2000 });
    const again = await BertTokenizer.trainWordPiece(texts, { vocabSize: 2000 });
    const shuffled = await BertTokenizer.trainWordPiece([...texts].reverse(), { vocabSize: 2000 });
    const ids = Array.from({ length: first.vocabSize }, (_, i) => i);
    expect(first.vocabSize).toBe(2000);
    expect(again.convertIdsToTokens(ids)).toEqual(first.convertIdsToTokens(ids));
    expect(shuffled.convertIdsToTokens(ids)).toEqual(first.convertIdsToTokens(ids));
    const probe = EMAILS.slice(150, 170);
    expect((await again.encode(probe)).inputIds).toEqual((await first.encode(probe)).inputIds);
  });
});

describe('BertTokenizer.trainWordPiece and hostile words', () => {
  test('leaves words longer than 100 characters out of the counts, as the encoder gives them [UNK] whole', async () => {
    const long = 'x'.repeat(101);
    const { tokens } = await learnWordPieceTokens(['hello world', long, 'y'.repeat(100)], { vocabSize: 200, minFrequency: 0 });
    expect(tokens).not.toContain('x');
    expect(tokens).not.toContain('##x');
    expect(tokens).toContain('y');
    const tok = BertTokenizer.fromVocab(tokens);
    expect(tok.convertIdsToTokens((await tok.encode([long])).inputIds[0])).toEqual(['[CLS]', '[UNK]', '[SEP]']);
    // Code points, not UTF-16 units: 100 emoji (200 units) are a word of 100 characters.
    expect((await learnWordPieceTokens(['🤗'.repeat(100)], { vocabSize: 200, minFrequency: 0 })).tokens).toContain('🤗');
  });

  test('reports progress: counting (every 1,000 texts and at the end), then each learned token', async () => {
    const events: WordPieceProgress[] = [];
    const texts = Array.from({ length: 2500 }, (_, i) => `text number ${i} of many`);
    const tok = await BertTokenizer.trainWordPiece(texts, { vocabSize: 120, minFrequency: 0, onProgress: (p) => events.push({ ...p }) });
    const counting = events.filter((e) => e.phase === 'count');
    expect(counting.map((e) => e.texts)).toEqual([1000, 2000, 2500]);
    expect(counting[2].words).toBeGreaterThan(0);
    const merging = events.filter((e) => e.phase === 'merge');
    expect(events.indexOf(merging[0])).toBe(counting.length);
    expect(merging.length).toBeGreaterThan(0);
    expect(merging.every((e, i) => e.vocabSize === 120 && e.texts === 2500 && (i === 0 || e.tokens >= merging[i - 1].tokens))).toBe(true);
    expect(merging[merging.length - 1].tokens).toBe(tok.vocabSize);
    await expect(BertTokenizer.trainWordPiece(texts, { vocabSize: 10, onProgress: 'yes' as unknown as () => void })).rejects.toThrow(
      'onProgress must be a function, got "yes"',
    );
  });
});
