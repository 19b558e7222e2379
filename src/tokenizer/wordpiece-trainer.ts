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

  // 2. Every word as symbol ids: its first character, then "##" characters, as linked lists.
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    const ids: number[] = [];
    for (const char of word) ids.push(idOf.get(ids.length === 0 ? char : prefix + char) as number);
    words.push(ids);
    counts.push(count);
  }
  const symbols = new WordSymbols(words);
  words.length = 0;

  // 3. Pair counts (occurrences weighted by word count), the words each pair occurs in, and where.
  const pairCounts = new Map<number, number>();
  let wordsOfPair = new Map<number, Set<number>>();
  const note = (key: number, delta: number, node: number): void => {
    const w = symbols.wordOf[node];
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta * counts[w]);
    if (delta > 0) {
      let set = wordsOfPair.get(key);
      if (!set) wordsOfPair.set(key, (set = new Set()));
      set.add(w);
      symbols.noteOccurrence(key, node);
    }
  };
  for (let node = 0; node < symbols.size; node++) {
    const next = symbols.next[node];
    if (next !== NONE) note(symbols.symbol[node] * PAIR_BASE + symbols.symbol[next], 1, node);
  }

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
    symbols.merge(top.key, top.words, merged, note);
    enqueueNoted();
    options.onMerge?.(tokens.length);
  }
  return tokens;
}

const NONE = -1;

/**
 * The symbols of every word as doubly linked lists over one set of arrays (a node per symbol, numbered in word
 * order and left to right, so a merged symbol keeps its left node's number and its place), with the nodes where each
 * pair was formed. A merge visits the nodes of its pair only, never a whole word: the Rust trainer rescans each word
 * and removes from a Vec per merge, which makes a long run of one character quadratic.
 */
class WordSymbols {
  readonly symbol: Int32Array;
  readonly next: Int32Array;
  readonly previous: Int32Array;
  readonly wordOf: Int32Array;
  readonly size: number;
  /** Nodes where a pair was formed, by pair key; checked when used, as later merges leave some stale. */
  private readonly occurrences = new Map<number, number[]>();

  /** The words (numbered 0, 1, … in this order) as symbol ids. */
  constructor(words: readonly (readonly number[])[]) {
    this.size = words.reduce((n, ids) => n + ids.length, 0);
    this.symbol = new Int32Array(this.size);
    this.next = new Int32Array(this.size);
    this.previous = new Int32Array(this.size);
    this.wordOf = new Int32Array(this.size);
    let node = 0;
    words.forEach((ids, word) => {
      for (let k = 0; k < ids.length; k++, node++) {
        this.symbol[node] = ids[k];
        this.previous[node] = k === 0 ? NONE : node - 1;
        this.next[node] = k === ids.length - 1 ? NONE : node + 1;
        this.wordOf[node] = word;
      }
    });
  }

  noteOccurrence(key: number, node: number): void {
    let nodes = this.occurrences.get(key);
    if (!nodes) this.occurrences.set(key, (nodes = []));
    nodes.push(node);
  }

  /**
   * Replaces the pair `key` by `merged` in the words `words`, left to right within each word as the Rust trainer's
   * Word::merge does, and reports through `note` each neighbouring pair that disappears (-1) or appears (+1), at its
   * left node. The merged pair's own count is left alone, as in the Rust trainer.
   */
  merge(key: number, words: ReadonlySet<number>, merged: number, note: (key: number, delta: number, node: number) => void): void {
    const first = Math.floor(key / PAIR_BASE);
    const second = key % PAIR_BASE;
    const nodes = this.occurrences.get(key) ?? [];
    const kept: number[] = [];
    const chosen: number[] = [];
    for (const node of nodes) {
      if (!this.holds(node, first, second)) continue; // stale: a later merge took it apart
      (words.has(this.wordOf[node]) ? chosen : kept).push(node);
    }
    chosen.sort((a, b) => a - b);
    for (const node of chosen) {
      // An earlier merge of this pass may have taken the node (in a run, "a a a" merges once).
      if (!this.holds(node, first, second)) continue;
      const right = this.next[node];
      const before = this.previous[node];
      const after = this.next[right];
      if (before !== NONE) {
        note(this.symbol[before] * PAIR_BASE + first, -1, before);
        note(this.symbol[before] * PAIR_BASE + merged, 1, before);
      }
      this.symbol[node] = merged;
      this.symbol[right] = NONE;
      this.next[node] = after;
      if (after !== NONE) {
        this.previous[after] = node;
        note(second * PAIR_BASE + this.symbol[after], -1, node);
        note(merged * PAIR_BASE + this.symbol[after], 1, node);
      }
    }
    if (kept.length > 0) this.occurrences.set(key, kept);
    else this.occurrences.delete(key);
  }

  /** Whether `node` is live and starts the pair (first, second). */
  private holds(node: number, first: number, second: number): boolean {
    const right = this.next[node];
    return this.symbol[node] === first && right !== NONE && this.symbol[right] === second;
  }
}
