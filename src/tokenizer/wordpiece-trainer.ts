/**
 * Learning a WordPiece vocabulary, reproducibly.
 *
 * Hugging Face tokenizers' WordPieceTrainer learns the vocabulary with its BPE trainer (a "##" prefix on every symbol
 * that does not start a word) and keeps that vocabulary. This is a port of that algorithm (BpeTrainer::do_train and
 * Word::merge in tokenizers/src/models/bpe), merge for merge, with one difference: the Rust trainer numbers the "##"
 * symbols in the order it happens to walk a hash map of words, and ties between equally frequent pairs go to the
 * lower ids, so the same texts give different vocabularies from one run to the next (huggingface/tokenizers#1794).
 * Here the "##" symbols are numbered by code point, like the alphabet before them, so the same word counts always
 * give the same vocabulary. Given the ids one Rust run used (`continuingTokenOrder`), the result is that run's
 * vocabulary, token for token and id for id (test/wordpiece-trainer.test.ts checks it against the binding).
 *
 * The vocabulary, by id: the special tokens, the alphabet (every character of the words, by code point), the "##"
 * characters (every character that occurs after a word's first), then the learned tokens in the order they were
 * created.
 */
import { Heap } from 'heap-js';

export const CONTINUING_SUBWORD_PREFIX = '##';

/** Ids are packed in pairs as `first * PAIR_BASE + second`, exact in a double while both are below 2^26. */
const PAIR_BASE = 2 ** 26;
export const MAX_WORDPIECE_VOCAB_SIZE = PAIR_BASE;

export interface WordPieceLearningOptions {
  /** Stop once the vocabulary (special tokens included) holds this many tokens. */
  vocabSize: number;
  /** A pair is merged only if it occurs at least this often (the Rust trainer's min_frequency). */
  minFrequency: number;
  /** Tokens placed first, with ids 0, 1, …; never merged. */
  specialTokens: readonly string[];
  /**
   * For reproducing one run of the Rust trainer: the "##" symbols in the id order that run gave them. Symbols the
   * words have and the list lacks follow, by code point; listed symbols the words lack are skipped.
   */
  continuingTokenOrder?: readonly string[];
  /** Called after each learned token with the vocabulary's size so far. */
  onMerge?: (tokens: number) => void;
}

/** A pair of symbol ids in the merge queue, with the words it was seen in when it was queued. */
interface QueuedPair {
  key: number;
  count: number;
  words: Set<number>;
  /** Queue order among entries equal in count and pair (the Rust heap leaves that order open). */
  seq: number;
}

/**
 * The WordPiece vocabulary (tokens by id) that `wordCounts` (word → occurrences, words as the normalizer and
 * pre-tokenizer give them) teaches.
 */
export function learnWordPieceVocabulary(wordCounts: ReadonlyMap<string, number>, options: WordPieceLearningOptions): string[] {
  const { vocabSize, minFrequency, specialTokens } = options;
  const prefix = CONTINUING_SUBWORD_PREFIX;
  const tokens: string[] = [];
  const idOf = new Map<string, number>();
  const add = (token: string): number => {
    let id = idOf.get(token);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(token);
      idOf.set(token, id);
    }
    return id;
  };
  for (const token of specialTokens) add(token);

  // 1. The alphabet, then the "##" symbols, each by code point.
  const alphabet = new Set<number>();
  const continuing = new Set<number>();
  for (const word of wordCounts.keys()) {
    let first = true;
    for (const char of word) {
      const codePoint = char.codePointAt(0) as number;
      alphabet.add(codePoint);
      if (!first) continuing.add(codePoint);
      first = false;
    }
  }
  const byValue = (a: number, b: number): number => a - b;
  for (const codePoint of [...alphabet].sort(byValue)) add(String.fromCodePoint(codePoint));
  for (const token of options.continuingTokenOrder ?? []) {
    const rest = token.startsWith(prefix) ? Array.from(token.slice(prefix.length)) : [];
    if (rest.length === 1 && continuing.has(rest[0].codePointAt(0) as number)) add(token);
  }
  for (const codePoint of [...continuing].sort(byValue)) add(prefix + String.fromCodePoint(codePoint));
  if (tokens.length > PAIR_BASE) throw new RangeError(`the alphabet has ${tokens.length} symbols, more than ${PAIR_BASE}`);

  // 2. Every word as symbol ids: its first character, then "##" characters.
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    const symbols: number[] = [];
    for (const char of word) symbols.push(idOf.get(symbols.length === 0 ? char : prefix + char) as number);
    words.push(symbols);
    counts.push(count);
  }

  // 3. Pair counts (occurrences weighted by word count) and the words each pair occurs in.
  const pairCounts = new Map<number, number>();
  let wordsOfPair = new Map<number, Set<number>>();
  const note = (key: number, delta: number, w: number): void => {
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta * counts[w]);
    if (delta > 0) {
      let set = wordsOfPair.get(key);
      if (!set) wordsOfPair.set(key, (set = new Set()));
      set.add(w);
    }
  };
  words.forEach((symbols, w) => {
    for (let i = 0; i + 1 < symbols.length; i++) note(symbols[i] * PAIR_BASE + symbols[i + 1], 1, w);
  });

  // The most frequent pair first; among equals, the lower (first id, second id), as the Rust trainer's Merge order.
  const queue = new Heap<QueuedPair>((x, y) => y.count - x.count || x.key - y.key || x.seq - y.seq);
  let seq = 0;
  const enqueueNoted = (): void => {
    for (const [key, set] of wordsOfPair) {
      const count = pairCounts.get(key) as number;
      if (count > 0) queue.push({ key, count, words: set, seq: seq++ });
    }
    wordsOfPair = new Map();
  };
  enqueueNoted();

  // 4. Merge the most frequent pair until the vocabulary is full or no pair is frequent enough.
  while (idOf.size < vocabSize) {
    const top = queue.pop();
    if (top === undefined) break;
    const current = pairCounts.get(top.key) as number;
    if (top.count !== current) {
      // Queued before later merges changed its count: back in line with the count it has now.
      top.count = current;
      top.seq = seq++;
      queue.push(top);
      continue;
    }
    if (top.count < 1 || top.count < minFrequency) break;

    const first = Math.floor(top.key / PAIR_BASE);
    const second = top.key % PAIR_BASE;
    const secondText = tokens[second];
    const merged = add(tokens[first] + (secondText.startsWith(prefix) ? secondText.slice(prefix.length) : secondText));
    if (tokens.length > PAIR_BASE) throw new RangeError(`vocabSize must be at most ${PAIR_BASE}`);
    for (const w of top.words) mergeInWord(words[w], first, second, merged, (key, delta) => note(key, delta, w));
    enqueueNoted();
    options.onMerge?.(tokens.length);
  }
  return tokens;
}

/**
 * Replaces every (first, second) in `symbols`, left to right, by `merged`, and reports each neighbouring pair that
 * disappears (-1) or appears (+1). The merged pair's own count is left alone, as in the Rust trainer. One pass that
 * writes the word back in place: the Rust trainer's Vec::remove per merge makes a long run of one character
 * quadratic.
 */
function mergeInWord(symbols: number[], first: number, second: number, merged: number, change: (key: number, delta: number) => void): void {
  const length = symbols.length;
  let out = 0;
  for (let i = 0; i < length; i++) {
    if (symbols[i] !== first || i + 1 >= length || symbols[i + 1] !== second) {
      symbols[out++] = symbols[i];
      continue;
    }
    // The symbol before is the one already written back (merged itself when the previous pair merged).
    if (out > 0) {
      change(symbols[out - 1] * PAIR_BASE + first, -1);
      change(symbols[out - 1] * PAIR_BASE + merged, 1);
    }
    symbols[out++] = merged;
    i++;
    if (i + 1 < length) {
      change(second * PAIR_BASE + symbols[i + 1], -1);
      change(merged * PAIR_BASE + symbols[i + 1], 1);
    }
  }
  symbols.length = out;
}
