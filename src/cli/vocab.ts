// Learns the WordPiece vocabulary of a model trained from scratch, from the training texts, with progress lines.
import { formatDuration } from './format';
import { BertTokenizer, learnWordPieceTokens, type WordPieceProgress } from '../tokenizer/tokenizer';

export interface VocabularyOptions {
  vocabSize: number;
  /** The model's max_position_embeddings (caps the tokenizer's length). */
  maxPositionEmbeddings: number;
  /**
   * The length the model is trained at, recorded as the tokenizer's model_max_length: whoever loads the saved model
   * later (eval, predict, transformers) truncates where training did, and never feeds the position embeddings that
   * training left untouched.
   */
  maxLength: number;
  /** Where progress lines go (none when absent). */
  log?: (line: string) => void;
}

/** Seconds between two progress lines of one phase (a phase's end always gets its line). */
const SECONDS_BETWEEN_LINES = 2;

/**
 * Progress lines for learning a vocabulary, like training's plain lines: a line while counting or merging takes
 * long (every few seconds), and one at the end of each phase, so a quick run prints two lines and a long one shows
 * that it moves.
 */
export function vocabularyProgressLines(log: (line: string) => void): { progress: (p: WordPieceProgress) => void; done: (tokens: number) => void } {
  const started = performance.now();
  let lastLine = started;
  let last: WordPieceProgress | undefined;
  let lastShown = false;
  const elapsed = (): string => `${formatDuration((performance.now() - started) / 1000)} elapsed`;
  const counted = (p: WordPieceProgress): string => `vocabulary: ${p.texts} texts read, ${p.words} distinct words  ${elapsed()}`;
  const merged = (p: WordPieceProgress): string =>
    `vocabulary: ${p.tokens}/${p.vocabSize} tokens (${Math.floor((100 * p.tokens) / p.vocabSize)}%)  ${elapsed()}`;
  return {
    progress: (p) => {
      const now = performance.now();
      if (last?.phase === 'count' && p.phase === 'merge' && !lastShown) {
        // Counting is over: its last line, whatever the time.
        log(counted(last));
        lastLine = now;
      }
      last = p;
      lastShown = (now - lastLine) / 1000 >= SECONDS_BETWEEN_LINES;
      if (!lastShown) return;
      lastLine = now;
      log(p.phase === 'count' ? counted(p) : merged(p));
    },
    done: (tokens) => {
      if (last?.phase === 'count' && !lastShown) log(counted(last));
      log(`vocabulary: ${tokens} tokens learned  ${elapsed()}`);
    },
  };
}

/** A BERT WordPiece tokenizer ([PAD] [UNK] [CLS] [SEP] [MASK], lowercased) learned from `texts`. */
export async function learnVocabulary(texts: Iterable<string>, options: VocabularyOptions): Promise<BertTokenizer> {
  const lines = options.log && vocabularyProgressLines(options.log);
  const { tokens, config } = await learnWordPieceTokens(texts, { vocabSize: options.vocabSize, onProgress: lines?.progress });
  lines?.done(tokens.length);
  return BertTokenizer.fromVocab(tokens, { ...config, modelMaxLength: options.maxLength }, { maxPositionEmbeddings: options.maxPositionEmbeddings });
}
