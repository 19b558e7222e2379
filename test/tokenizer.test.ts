import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { writeFileAtomic } from '../src/util/atomic-write';
import { BertTokenizer } from '../src/tokenizer/tokenizer';

// id = line index. Expected ids below are worked out by hand from BERT's algorithm
// (BertNormalizer → BertPreTokenizer → greedy longest-match WordPiece → [CLS] A [SEP] B [SEP]).
const VOCAB = [
  '[PAD]', //   0
  '[UNK]', //   1
  '[CLS]', //   2
  '[SEP]', //   3
  '[MASK]', //  4
  'hello', //   5
  'world', //   6
  'un', //      7
  '##aff', //   8
  '##able', //  9
  'cafe', //   10
  'naive', //  11
  '中', //     12
  '文', //     13
  ',', //      14
  '.', //      15
  '!', //      16
  'the', //    17
  '##s', //    18
  'cat', //    19
  'dog', //    20
  'a', //      21
  '##a', //    22
  'é', //      23
  'Hello', //  24
  'Cafe', //   25
  '?', //      26
  '__proto__', // 27 (must stay a plain vocabulary entry)
];
const PAD = 0;
const UNK = 1;
const CLS = 2;
const SEP = 3;
const MASK = 4;

let root: string;
let counter = 0;

async function freshDir(): Promise<string> {
  const dir = path.join(root, `case-${counter++}`);
  await fsp.mkdir(dir, { recursive: true });
  return dir;
}

async function vocabDir(tokenizerConfig?: object, extra: Record<string, string> = {}): Promise<string> {
  const dir = await freshDir();
  await fsp.writeFile(path.join(dir, 'vocab.txt'), VOCAB.join('\n') + '\n');
  if (tokenizerConfig) await fsp.writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  for (const [name, text] of Object.entries(extra)) await fsp.writeFile(path.join(dir, name), text);
  return dir;
}

async function ids(tok: BertTokenizer, text: string): Promise<number[]> {
  return (await tok.encode([text])).inputIds[0];
}

beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'bert-tokenizer-test-'));
});

afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('BertTokenizer from vocab.txt (uncased defaults)', () => {
  let tok: BertTokenizer;
  beforeAll(async () => {
    tok = await BertTokenizer.fromDirectory(await vocabDir());
  });

  test('special token ids, vocab size and config defaults', () => {
    expect([tok.padTokenId, tok.unkTokenId, tok.clsTokenId, tok.sepTokenId, tok.maskTokenId]).toEqual([PAD, UNK, CLS, SEP, MASK]);
    expect(tok.vocabSize).toBe(VOCAB.length);
    expect(tok.maxLength).toBe(512);
    expect(tok.config).toEqual({
      doLowerCase: true,
      stripAccents: null,
      tokenizeChineseChars: true,
      modelMaxLength: null,
      clsToken: '[CLS]',
      sepToken: '[SEP]',
      padToken: '[PAD]',
      unkToken: '[UNK]',
      maskToken: '[MASK]',
      tokenizerClass: 'BertTokenizer',
    });
  });

  test('lowercases and strips accents', async () => {
    expect(await ids(tok, 'Hello WORLD Café NAÏVE')).toEqual([CLS, 5, 6, 10, 11, SEP]);
    // "é" → "e" (not in the vocab) → [UNK]
    expect(await ids(tok, 'é')).toEqual([CLS, UNK, SEP]);
  });

  test('splits CJK characters and punctuation', async () => {
    expect(await ids(tok, '中文')).toEqual([CLS, 12, 13, SEP]);
    expect(await ids(tok, 'hello中文world')).toEqual([CLS, 5, 12, 13, 6, SEP]);
    expect(await ids(tok, 'hello,world!')).toEqual([CLS, 5, 14, 6, 16, SEP]);
    expect(await ids(tok, 'hello ... ?')).toEqual([CLS, 5, 15, 15, 15, 26, SEP]);
  });

  test('## continuation pieces and [UNK]', async () => {
    expect(await ids(tok, 'unaffable')).toEqual([CLS, 7, 8, 9, SEP]);
    expect(await ids(tok, 'cats dogs')).toEqual([CLS, 19, 18, 20, 18, SEP]);
    expect(await ids(tok, 'xyz hello')).toEqual([CLS, UNK, 5, SEP]);
    // one unmatched piece makes the whole word [UNK]
    expect(await ids(tok, 'unaffablex')).toEqual([CLS, UNK, SEP]);
    // "_" is punctuation: "__proto__" becomes 4 x "_" ([UNK]) + "proto" ([UNK])
    expect(await ids(tok, '__proto__')).toEqual([CLS, UNK, UNK, UNK, UNK, UNK, SEP]);
  });

  test('max_input_chars_per_word = 100', async () => {
    const hundred = await ids(tok, 'a'.repeat(100));
    expect(hundred).toEqual([CLS, 21, ...new Array(99).fill(22), SEP]);
    expect(await ids(tok, 'a'.repeat(101))).toEqual([CLS, UNK, SEP]);
  });

  test('special tokens in the text are kept whole', async () => {
    expect(await ids(tok, 'hello [MASK] world')).toEqual([CLS, 5, MASK, 6, SEP]);
  });

  test('pairs: [CLS] A [SEP] B [SEP] with token_type_ids 1 for B', async () => {
    const enc = await tok.encode(['hello world'], ['the cat']);
    expect(enc.inputIds).toEqual([[CLS, 5, 6, SEP, 17, 19, SEP]]);
    expect(enc.tokenTypeIds).toEqual([[0, 0, 0, 0, 1, 1, 1]]);
    expect(enc.attentionMask).toEqual([[1, 1, 1, 1, 1, 1, 1]]);
  });

  test('pads to the longest row by default, attention mask 0 on padding', async () => {
    const enc = await tok.encode(['hello', 'hello world the cat'], ['cat', 'dog']);
    expect(enc.inputIds).toEqual([
      [CLS, 5, SEP, 19, SEP, PAD, PAD, PAD],
      [CLS, 5, 6, 17, 19, SEP, 20, SEP],
    ]);
    expect(enc.attentionMask).toEqual([
      [1, 1, 1, 1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1, 1, 1, 1],
    ]);
    expect(enc.tokenTypeIds).toEqual([
      [0, 0, 0, 1, 1, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 1, 1],
    ]);
  });

  test('padding: false, true, max_length', async () => {
    const texts = ['hello', 'hello world'];
    expect((await tok.encode(texts, undefined, { padding: false })).inputIds).toEqual([
      [CLS, 5, SEP],
      [CLS, 5, 6, SEP],
    ]);
    expect((await tok.encode(texts, undefined, { padding: true })).inputIds).toEqual([
      [CLS, 5, SEP, PAD],
      [CLS, 5, 6, SEP],
    ]);
    const fixed = await tok.encode(texts, null, { padding: 'max_length', maxLength: 6 });
    expect(fixed.inputIds).toEqual([
      [CLS, 5, SEP, PAD, PAD, PAD],
      [CLS, 5, 6, SEP, PAD, PAD],
    ]);
    expect(fixed.attentionMask).toEqual([
      [1, 1, 1, 0, 0, 0],
      [1, 1, 1, 1, 0, 0],
    ]);
  });

  test('empty batch and empty text', async () => {
    expect(await tok.encode([])).toEqual({ inputIds: [], attentionMask: [], tokenTypeIds: [] });
    expect(await ids(tok, '')).toEqual([CLS, SEP]);
  });

  test('truncation to maxLength (single sequences)', async () => {
    expect((await tok.encode(['hello world the cat'], undefined, { maxLength: 4 })).inputIds).toEqual([[CLS, 5, 6, SEP]]);
    const long = 'hello '.repeat(600);
    expect((await tok.encode([long])).inputIds[0]).toHaveLength(512);
    expect((await tok.encode([long], undefined, { truncation: false })).inputIds[0]).toHaveLength(602);
    // padding to max_length never cuts an untruncated longer row
    const r = await tok.encode(['hello world the cat'], undefined, { truncation: false, padding: 'max_length', maxLength: 3 });
    expect(r.inputIds[0]).toEqual([CLS, 5, 6, 17, 19, SEP]);
  });

  test("truncation of pairs is 'longest_first' (as BertTokenizerFast / Rust tokenizers)", async () => {
    // only the longer side is cut: A 7 tokens, B 1, budget 9 - 3 = 6 → A 5, B 1
    let enc = await tok.encode(['hello world the cat dog hello world'], ['cat'], { maxLength: 9 });
    expect(enc.inputIds).toEqual([[CLS, 5, 6, 17, 19, 20, SEP, 19, SEP]]);
    expect(enc.tokenTypeIds).toEqual([[0, 0, 0, 0, 0, 0, 0, 1, 1]]);
    // both cut, odd budget 7: the longer (A, 7) keeps 4, B (5) keeps 3
    enc = await tok.encode(['hello world the cat dog hello world'], ['the cat dog hello world'], { maxLength: 10 });
    expect(enc.inputIds).toEqual([[CLS, 5, 6, 17, 19, SEP, 17, 19, 20, SEP]]);
    // same lengths (5 and 5), budget 7: A keeps 3, B keeps 4 (Rust rule; slow python would give 4/3)
    enc = await tok.encode(['hello world the cat dog'], ['dog cat the world hello'], { maxLength: 10 });
    expect(enc.inputIds).toEqual([[CLS, 5, 6, 17, SEP, 20, 19, 17, 6, SEP]]);
    // B longer: B (7) keeps 4, A (5) keeps 3
    enc = await tok.encode(['dog cat the world hello'], ['hello world the cat dog hello world'], { maxLength: 10 });
    expect(enc.inputIds).toEqual([[CLS, 20, 19, 17, SEP, 5, 6, 17, 19, SEP]]);
    // pair too short for the special tokens
    await expect(tok.encode(['a'], ['a'], { maxLength: 2 })).rejects.toThrow(RangeError);
  });

  test('concurrent encodes with different options do not interfere', async () => {
    const text = 'hello world the cat dog hello world';
    const results = await Promise.all([3, 4, 5, 6, 7, 8, 512].map((m) => tok.encode([text], undefined, { maxLength: m })));
    expect(results.map((r) => r.inputIds[0].length)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  test('decode', () => {
    expect(tok.decode([CLS, 7, 8, 9, 14, 5, 15, SEP, PAD])).toBe('unaffable, hello.');
    expect(tok.decode([CLS, 7, 8, 9, SEP], false)).toBe('[CLS] unaffable [SEP]');
    expect(tok.decode([12, 13])).toBe('中 文');
    expect(tok.decode([])).toBe('');
    expect(() => tok.decode([999])).toThrow(RangeError);
    expect(() => tok.decode([1.5])).toThrow(/ids\[0\]/);
  });
});

describe('tokenizer_config.json options', () => {
  test('cased: do_lower_case false keeps case and accents', async () => {
    const tok = await BertTokenizer.fromDirectory(await vocabDir({ do_lower_case: false }));
    expect(tok.config.doLowerCase).toBe(false);
    expect(await ids(tok, 'Hello hello é Café')).toEqual([CLS, 24, 5, 23, UNK, SEP]);
  });

  test('strip_accents true without lowercasing', async () => {
    const tok = await BertTokenizer.fromDirectory(await vocabDir({ do_lower_case: false, strip_accents: true }));
    expect(await ids(tok, 'Café é')).toEqual([CLS, 25, UNK, SEP]);
  });

  test('strip_accents false with lowercasing', async () => {
    const tok = await BertTokenizer.fromDirectory(await vocabDir({ do_lower_case: true, strip_accents: false }));
    expect(await ids(tok, 'É')).toEqual([CLS, 23, SEP]);
  });

  test('tokenize_chinese_chars false keeps CJK runs as one word', async () => {
    const tok = await BertTokenizer.fromDirectory(await vocabDir({ tokenize_chinese_chars: false }));
    // "中文" is one word; "中" matches but "##文" is not in the vocab → [UNK]
    expect(await ids(tok, '中文')).toEqual([CLS, UNK, SEP]);
    expect(await ids(tok, '中 文')).toEqual([CLS, 12, 13, SEP]);
  });

  test('custom special tokens (AddedToken dicts too); special_tokens_map.json wins', async () => {
    const dir = await vocabDir(
      { cls_token: { content: 'hello', __type: 'AddedToken' }, sep_token: 'world' },
      { 'special_tokens_map.json': JSON.stringify({ sep_token: 'the' }) },
    );
    const tok = await BertTokenizer.fromDirectory(dir);
    expect(tok.clsTokenId).toBe(5);
    expect(tok.sepTokenId).toBe(17);
    expect(await ids(tok, 'cat')).toEqual([5, 19, 17]);
  });

  test('special tokens missing from the vocab get ids after it', () => {
    const tok = BertTokenizer.fromVocab(['[UNK]', 'hello', '[CLS]', '[SEP]']);
    // added in transformers' order unk, sep, pad, cls, mask → [PAD]=4, [MASK]=5
    expect(tok.padTokenId).toBe(4);
    expect(tok.maskTokenId).toBe(5);
    expect(tok.vocabSize).toBe(6);
  });

  test('maxLength = min(model_max_length, max_position_embeddings, 512), overridable', async () => {
    const dir = await vocabDir({ model_max_length: 128 });
    expect((await BertTokenizer.fromDirectory(dir)).maxLength).toBe(128);
    expect((await BertTokenizer.fromDirectory(dir, { maxPositionEmbeddings: 64 })).maxLength).toBe(64);
    expect((await BertTokenizer.fromDirectory(dir, { maxLength: 16 })).maxLength).toBe(16);
    await expect(BertTokenizer.fromDirectory(dir, { maxPositionEmbeddings: 64, maxLength: 100 })).rejects.toThrow(/maxLength/);

    const big = await vocabDir({ model_max_length: 1e30 }); // transformers' "unknown"
    const tokBig = await BertTokenizer.fromDirectory(big);
    expect(tokBig.maxLength).toBe(512);
    expect(tokBig.config.modelMaxLength).toBeNull();
    expect((await BertTokenizer.fromDirectory(big, { maxPositionEmbeddings: 40 })).maxLength).toBe(40);
    expect((await BertTokenizer.fromDirectory(big, { maxLength: 1024 })).maxLength).toBe(1024);

    // max_position_embeddings read from config.json next to the tokenizer files
    const withModel = await vocabDir({}, { 'config.json': JSON.stringify({ max_position_embeddings: 32 }) });
    const tok = await BertTokenizer.fromDirectory(withModel);
    expect(tok.maxLength).toBe(32);
    expect(tok.maxPositionEmbeddings).toBe(32);
    await expect(tok.encode(['hello'], undefined, { maxLength: 33 })).rejects.toThrow(RangeError);
    expect((await tok.encode(['hello '.repeat(100)])).inputIds[0]).toHaveLength(32);
  });
});

describe('save / fromDirectory round trip', () => {
  const texts = ['Hello WORLD, Café!', 'unaffable 中文 xyz', '', 'cats and dogs [MASK] the end.', 'a'.repeat(120)];
  const pairs = ['the cat', 'hello', 'naïve?', '', 'world'];

  async function encodings(tok: BertTokenizer): Promise<unknown[]> {
    return [
      await tok.encode(texts),
      await tok.encode(texts, pairs),
      await tok.encode(texts, pairs, { maxLength: 7, padding: 'max_length' }),
      await tok.encode(texts, undefined, { padding: false }),
    ];
  }

  test.each([
    ['uncased', {}],
    ['cased', { do_lower_case: false, model_max_length: 256 }],
    ['strip accents only', { do_lower_case: false, strip_accents: true, tokenize_chinese_chars: false }],
  ])('%s: identical encodings via tokenizer.json and via vocab.txt only', async (_name, cfg) => {
    const original = await BertTokenizer.fromDirectory(await vocabDir(cfg));
    const expected = await encodings(original);

    const saved = await freshDir();
    await original.save(saved);
    expect((await fsp.readdir(saved)).sort()).toEqual(['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);

    const viaJson = await BertTokenizer.fromDirectory(saved);
    expect(await encodings(viaJson)).toEqual(expected);
    expect(viaJson.config).toEqual(original.config);
    expect(viaJson.maxLength).toBe(original.maxLength);
    expect(viaJson.vocabSize).toBe(original.vocabSize);

    await fsp.rm(path.join(saved, 'tokenizer.json'));
    const viaVocab = await BertTokenizer.fromDirectory(saved);
    expect(await encodings(viaVocab)).toEqual(expected);
    expect(viaVocab.config).toEqual(original.config);
  });

  test('files look like BertTokenizerFast.save_pretrained output', async () => {
    const tok = await BertTokenizer.fromDirectory(await vocabDir({ model_max_length: 128 }));
    const dir = await freshDir();
    await tok.save(dir);
    const vocabTxt = await fsp.readFile(path.join(dir, 'vocab.txt'), 'utf8');
    expect(vocabTxt).toBe(VOCAB.join('\n') + '\n');
    const cfg = JSON.parse(await fsp.readFile(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      strip_accents: null,
      tokenize_chinese_chars: true,
      model_max_length: 128,
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      mask_token: '[MASK]',
    });
    expect(cfg.added_tokens_decoder['0']).toEqual({
      content: '[PAD]',
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: true,
    });
    expect(JSON.parse(await fsp.readFile(path.join(dir, 'special_tokens_map.json'), 'utf8'))).toEqual({
      cls_token: '[CLS]',
      mask_token: '[MASK]',
      pad_token: '[PAD]',
      sep_token: '[SEP]',
      unk_token: '[UNK]',
    });
    const tj = JSON.parse(await fsp.readFile(path.join(dir, 'tokenizer.json'), 'utf8'));
    expect(tj.normalizer).toEqual({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true });
    expect(tj.pre_tokenizer).toEqual({ type: 'BertPreTokenizer' });
    expect(tj.model).toMatchObject({ type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100 });
    expect(tj.decoder).toMatchObject({ type: 'WordPiece', prefix: '##' });
    expect(tj.truncation).toBeNull();
    expect(tj.padding).toBeNull();

    // saving again over existing files works and leaves no temporary files
    await tok.save(dir);
    expect((await fsp.readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  test('tokenizer_config.json settings override the tokenizer.json normalizer', async () => {
    const dir = await freshDir();
    await (await BertTokenizer.fromDirectory(await vocabDir())).save(dir);
    await fsp.writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
    const tok = await BertTokenizer.fromDirectory(dir);
    expect(tok.config.doLowerCase).toBe(false);
    expect(await ids(tok, 'Hello hello')).toEqual([CLS, 24, 5, SEP]);
  });

  test('tokenizer.json with truncation/padding set is still controlled per call', async () => {
    const dir = await freshDir();
    await (await BertTokenizer.fromDirectory(await vocabDir())).save(dir);
    const file = path.join(dir, 'tokenizer.json');
    const json = JSON.parse(await fsp.readFile(file, 'utf8'));
    json.truncation = { direction: 'Right', max_length: 3, strategy: 'LongestFirst', stride: 0 };
    json.padding = { strategy: { Fixed: 20 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' };
    await fsp.writeFile(file, JSON.stringify(json));
    const tok = await BertTokenizer.fromDirectory(dir);
    expect(await ids(tok, 'hello world the cat')).toEqual([CLS, 5, 6, 17, 19, SEP]);
  });
});

describe('fromVocab', () => {
  test('array and Map give the same tokenizer as vocab.txt', async () => {
    const fromDir = await BertTokenizer.fromDirectory(await vocabDir());
    const fromArray = BertTokenizer.fromVocab(VOCAB);
    const fromMap = BertTokenizer.fromVocab(new Map(VOCAB.map((t, i) => [t, i] as [string, number])));
    const texts = ['Hello WORLD, Café!', 'unaffable 中文 xyz [MASK]'];
    const expected = await fromDir.encode(texts, ['the cat', 'dogs']);
    expect(await fromArray.encode(texts, ['the cat', 'dogs'])).toEqual(expected);
    expect(await fromMap.encode(texts, ['the cat', 'dogs'])).toEqual(expected);
    expect(fromArray.vocabSize).toBe(VOCAB.length);
  });

  test('config and options', async () => {
    const tok = BertTokenizer.fromVocab(VOCAB, { doLowerCase: false, modelMaxLength: 100 }, { maxPositionEmbeddings: 50 });
    expect(tok.maxLength).toBe(50);
    expect(await ids(tok, 'Hello')).toEqual([CLS, 24, SEP]);
    expect(BertTokenizer.fromVocab(VOCAB, {}, { maxLength: 8 }).maxLength).toBe(8);
  });

  test('validation', () => {
    expect(() => BertTokenizer.fromVocab(['[UNK]', 'a', 'a'])).toThrow(/vocab\[2\]/);
    expect(() => BertTokenizer.fromVocab(['[UNK]', 3 as unknown as string])).toThrow(TypeError);
    expect(() => BertTokenizer.fromVocab(['hello'])).toThrow(/unk token/);
    expect(() =>
      BertTokenizer.fromVocab(
        new Map([
          ['[UNK]', 0],
          ['a', 0],
        ]),
      ),
    ).toThrow(/unique/);
    expect(() => BertTokenizer.fromVocab(new Map([['[UNK]', -1]]))).toThrow(RangeError);
    expect(() => BertTokenizer.fromVocab(VOCAB, { doLowerCase: 'yes' as unknown as boolean })).toThrow(/doLowerCase/);
    expect(() => BertTokenizer.fromVocab(VOCAB, {}, { maxLength: 0 })).toThrow(/maxLength/);
  });
});

describe('errors', () => {
  let tok: BertTokenizer;
  beforeAll(() => {
    tok = BertTokenizer.fromVocab(VOCAB);
  });

  test('directory without tokenizer files names it and both files', async () => {
    const dir = await freshDir();
    const err = (await BertTokenizer.fromDirectory(dir).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(dir);
    expect(err.message).toContain('tokenizer.json');
    expect(err.message).toContain('vocab.txt');
    const missing = path.join(dir, 'does-not-exist');
    await expect(BertTokenizer.fromDirectory(missing)).rejects.toThrow(missing);
  });

  test('bad JSON names the file', async () => {
    const dir = await vocabDir(undefined, { 'tokenizer_config.json': '{ not json' });
    await expect(BertTokenizer.fromDirectory(dir)).rejects.toThrow(path.join(dir, 'tokenizer_config.json'));
    const dir2 = await vocabDir(undefined, { 'tokenizer.json': '{"version": ' });
    await expect(BertTokenizer.fromDirectory(dir2)).rejects.toThrow(path.join(dir2, 'tokenizer.json'));
    const dir3 = await vocabDir(undefined, { 'tokenizer.json': '{"version": "1.0"}' });
    await expect(BertTokenizer.fromDirectory(dir3)).rejects.toThrow(path.join(dir3, 'tokenizer.json'));
    const dir4 = await vocabDir(undefined, { 'special_tokens_map.json': '[' });
    await expect(BertTokenizer.fromDirectory(dir4)).rejects.toThrow(path.join(dir4, 'special_tokens_map.json'));
    const dir5 = await vocabDir({ do_lower_case: 'no' });
    await expect(BertTokenizer.fromDirectory(dir5)).rejects.toThrow(/do_lower_case/);
  });

  test('fromDirectory options', async () => {
    const dir = await vocabDir();
    await expect(BertTokenizer.fromDirectory(dir, { maxLength: -1 })).rejects.toThrow(RangeError);
    await expect(BertTokenizer.fromDirectory(dir, { maxLength: 1.5 })).rejects.toThrow(/maxLength/);
    await expect(BertTokenizer.fromDirectory(dir, { maxPositionEmbeddings: '512' as unknown as number })).rejects.toThrow(TypeError);
    await expect(BertTokenizer.fromDirectory(dir, { maxPositionEmbeddings: 0 })).rejects.toThrow(/maxPositionEmbeddings/);
  });

  test('encode arguments', async () => {
    await expect(tok.encode('hello' as unknown as string[])).rejects.toThrow(TypeError);
    await expect(tok.encode('hello' as unknown as string[])).rejects.toThrow(/texts/);
    await expect(tok.encode(['a', 3 as unknown as string])).rejects.toThrow(/texts\[1\]/);
    await expect(tok.encode(['a', 'b'], ['a', null as unknown as string])).rejects.toThrow(/pairs\[1\]/);
    await expect(tok.encode(['a', 'b'], ['a'])).rejects.toThrow(RangeError);
    await expect(tok.encode(['a', 'b'], ['a'])).rejects.toThrow(/pairs/);
    await expect(tok.encode(['a'], undefined, { maxLength: 0 })).rejects.toThrow(RangeError);
    await expect(tok.encode(['a'], undefined, { maxLength: 0 })).rejects.toThrow(/maxLength/);
    await expect(tok.encode(['a'], undefined, { maxLength: '8' as unknown as number })).rejects.toThrow(TypeError);
    await expect(tok.encode(['a'], undefined, { padding: 'left' as unknown as 'longest' })).rejects.toThrow(/padding/);
    await expect(tok.encode(['a'], undefined, { truncation: 'yes' as unknown as boolean })).rejects.toThrow(/truncation/);
    await expect(tok.encode(['a'], undefined, { maxLength: 1 })).rejects.toThrow(/maxLength/);
  });
});

describe('trainWordPiece', () => {
  const corpus = ['The cat sat on the mat.', 'The dog ate the cat food!', 'Cats and dogs, cats and dogs.', 'Café naïve über 中文', 'the the the cat cat dog'];

  test('learns a vocabulary that starts with the special tokens', async () => {
    const tok = await BertTokenizer.trainWordPiece(corpus, { vocabSize: 1000, minFrequency: 0 });
    expect([tok.padTokenId, tok.unkTokenId, tok.clsTokenId, tok.sepTokenId, tok.maskTokenId]).toEqual([0, 1, 2, 3, 4]);
    expect(tok.config.doLowerCase).toBe(true);
    const enc = await tok.encode(['the cat sat on the mat']);
    // every word of the corpus is a single piece with an unlimited budget
    expect(tok.decode(enc.inputIds[0], false)).toBe('[CLS] the cat sat on the mat [SEP]');
    expect(enc.inputIds[0]).toHaveLength(8);
    expect(enc.inputIds[0]).not.toContain(tok.unkTokenId);
    // accents were stripped when learning
    expect(tok.decode((await tok.encode(['CAFÉ'])).inputIds[0])).toBe('cafe');
  });

  test('vocabSize caps the merges (alphabet always kept); smaller vocab = prefix', async () => {
    const full = await BertTokenizer.trainWordPiece(corpus, { vocabSize: 1000, minFrequency: 0 });
    const small = await BertTokenizer.trainWordPiece(corpus, { vocabSize: 60, minFrequency: 0 });
    expect(small.vocabSize).toBe(60);
    expect(full.vocabSize).toBeGreaterThan(60);
    const tiny = await BertTokenizer.trainWordPiece(corpus, { vocabSize: 10, minFrequency: 0 });
    // 5 specials + alphabet (plain and ## characters), no merges
    expect(tiny.vocabSize).toBeGreaterThan(10);
    const tinyIds = (await tiny.encode(['cat'])).inputIds[0];
    expect(tinyIds).toHaveLength(5); // [CLS] c ##a ##t [SEP]
    expect(tiny.decode(tinyIds)).toBe('cat');
  });

  test('minFrequency drops rare merges', async () => {
    const all = await BertTokenizer.trainWordPiece(corpus, { vocabSize: 1000, minFrequency: 0 });
    const frequent = await BertTokenizer.trainWordPiece(corpus, { vocabSize: 1000, minFrequency: 3 });
    expect(frequent.vocabSize).toBeLessThan(all.vocabSize);
    // "the" occurs 7 times → learned; "food" occurs once → not a single piece
    expect((await frequent.encode(['the'])).inputIds[0]).toHaveLength(3);
    expect((await frequent.encode(['food'])).inputIds[0].length).toBeGreaterThan(3);
    expect((await all.encode(['food'])).inputIds[0]).toHaveLength(3);
  });

  test('async iterable input, cased training', async () => {
    async function* gen(): AsyncGenerator<string> {
      for (const line of corpus) yield line;
    }
    const tok = await BertTokenizer.trainWordPiece(gen(), { vocabSize: 500, lowercase: false, minFrequency: 1 });
    expect(tok.config.doLowerCase).toBe(false);
    expect(tok.decode((await tok.encode(['The Cat'])).inputIds[0])).toBe('The Cat');
    const dir = await freshDir();
    await tok.save(dir);
    const reloaded = await BertTokenizer.fromDirectory(dir);
    expect(await reloaded.encode(corpus)).toEqual(await tok.encode(corpus));
  });

  test('validation', async () => {
    await expect(BertTokenizer.trainWordPiece(corpus, { vocabSize: 0 })).rejects.toThrow(/vocabSize/);
    await expect(BertTokenizer.trainWordPiece(corpus, { vocabSize: 2 ** 26 + 1 })).rejects.toThrow(/^vocabSize must be at most 67108864, got 67108865$/);
    await expect(BertTokenizer.trainWordPiece(corpus, { vocabSize: 100, minFrequency: -1 })).rejects.toThrow(/minFrequency/);
    await expect(BertTokenizer.trainWordPiece(['a', 1 as unknown as string], { vocabSize: 100 })).rejects.toThrow(/texts\[1\]/);
    await expect(BertTokenizer.trainWordPiece('abc' as unknown as string[], { vocabSize: 100 })).rejects.toThrow(TypeError);
  });
});

describe('writeFileAtomic', () => {
  test('writes strings and bytes, replaces, leaves no temporary file', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'out.json');
    await writeFileAtomic(file, '{"a": 1}');
    expect(await fsp.readFile(file, 'utf8')).toBe('{"a": 1}');
    await writeFileAtomic(file, new Uint8Array([104, 105]));
    expect(await fsp.readFile(file, 'utf8')).toBe('hi');
    expect(await fsp.readdir(dir)).toEqual(['out.json']);
  });

  test('a failed write keeps the old file and cleans up', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'target');
    await fsp.mkdir(file); // renaming a file over a directory fails
    await expect(writeFileAtomic(file, 'x')).rejects.toThrow();
    expect(await fsp.readdir(dir)).toEqual(['target']);
    await expect(writeFileAtomic(path.join(dir, 'missing', 'f.txt'), 'x')).rejects.toThrow();
  });
});
