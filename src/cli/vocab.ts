// Learns the WordPiece vocabulary of a model trained from scratch, from the training texts.
import { BertTokenizer, learnWordPieceTokens } from '../tokenizer/tokenizer';

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
}

/** A BERT WordPiece tokenizer ([PAD] [UNK] [CLS] [SEP] [MASK], lowercased) learned from `texts`. */
export async function learnVocabulary(texts: Iterable<string>, options: VocabularyOptions): Promise<BertTokenizer> {
  const { tokens, config } = await learnWordPieceTokens(texts, { vocabSize: options.vocabSize });
  return BertTokenizer.fromVocab(tokens, { ...config, modelMaxLength: options.maxLength }, { maxPositionEmbeddings: options.maxPositionEmbeddings });
}
