// AutoClassifier: transformers' AutoModelForSequenceClassification for the BERT family. config.json's model_type
// picks the architecture (architectures.ts lists them; another model_type is an Error naming the supported ones); the
// model is a BertClassifier object whatever the architecture, with the same forward, predict, save, training and
// export, and model.config.model_type saying which it is.
import { BertClassifier, FromPretrainedOptions } from './classifier';
import type { BertTokenizer } from '../tokenizer/tokenizer';

export class AutoClassifier {
  private constructor() {}

  /**
   * Loads a model folder or hub id of any supported model_type (bert, roberta, xlm-roberta, distilbert, electra):
   * config.json, the weights (safetensors or pytorch_model.bin, sharded or not) and the tokenizer (tokenizer.json:
   * WordPiece, byte-level BPE or Unigram). Weights the checkpoint lacks (a base model's classifier head) are drawn as
   * the architecture's _init_weights draws them.
   */
  static fromPretrained(dirOrHubId: string, options: FromPretrainedOptions = {}): Promise<BertClassifier> {
    return BertClassifier.fromPretrained(dirOrHubId, options);
  }

  /** A freshly initialised model of config.model_type (absent: bert) from config.json's fields. */
  static fromConfig(config: Record<string, unknown>, options: FromPretrainedOptions & { tokenizer?: BertTokenizer } = {}): Promise<BertClassifier> {
    return BertClassifier.fromConfig(config, options);
  }
}
