// The BERT family's architectures as config.json names them (model_type): each one's config class defaults, its names
// for BERT's fields (DistilBERT's dim, n_layers, ...), the fields it does not have, and what its tokenizer gives.
// The one table behind config.ts (reading and writing config.json), AutoClassifier and the tokenizer's defaults; the
// native side builds the model from the same model_type (native/model/sequence_classifier.cpp).

/** config.json's model_type values bert-trainer loads, trains and saves. */
export const MODEL_TYPES = ['bert', 'roberta', 'xlm-roberta', 'distilbert', 'electra'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export interface Architecture {
  modelType: ModelType;
  /** config.json's architectures entry for the classifier (transformers' class). */
  classifierClass: string;
  /** The config class's defaults that differ from BertConfig's, under BERT's field names. */
  defaults: Record<string, unknown>;
  /** config.json name -> BERT's name, for an architecture that names its fields otherwise. */
  renames: Record<string, string>;
  /** BERT fields the architecture does not have, with the value that computes as it does; never written back. */
  absent: Record<string, unknown>;
  /** Positions start at pad_token_id + 1 (RoBERTa): the longest sequence is max_position_embeddings minus that. */
  positionsAfterPadding: boolean;
  /** tokenizer_class and special tokens of the architecture's tokenizer, for folders whose files leave them out. */
  tokenizer: { tokenizerClass: string; clsToken: string; sepToken: string; padToken: string; unkToken: string; maskToken: string };
}

const BERT_TOKENS = { clsToken: '[CLS]', sepToken: '[SEP]', padToken: '[PAD]', unkToken: '[UNK]', maskToken: '[MASK]' };
const ROBERTA_TOKENS = { clsToken: '<s>', sepToken: '</s>', padToken: '<pad>', unkToken: '<unk>', maskToken: '<mask>' };

export const ARCHITECTURES: Record<ModelType, Architecture> = {
  bert: {
    modelType: 'bert',
    classifierClass: 'BertForSequenceClassification',
    defaults: {},
    renames: {},
    absent: {},
    positionsAfterPadding: false,
    tokenizer: { tokenizerClass: 'BertTokenizer', ...BERT_TOKENS },
  },
  roberta: {
    modelType: 'roberta',
    classifierClass: 'RobertaForSequenceClassification',
    defaults: { vocab_size: 50265, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2 },
    renames: {},
    absent: {},
    positionsAfterPadding: true,
    tokenizer: { tokenizerClass: 'RobertaTokenizer', ...ROBERTA_TOKENS },
  },
  'xlm-roberta': {
    modelType: 'xlm-roberta',
    classifierClass: 'XLMRobertaForSequenceClassification',
    defaults: { pad_token_id: 1, bos_token_id: 0, eos_token_id: 2 },
    renames: {},
    absent: {},
    positionsAfterPadding: true,
    tokenizer: { tokenizerClass: 'XLMRobertaTokenizer', ...ROBERTA_TOKENS },
  },
  distilbert: {
    modelType: 'distilbert',
    classifierClass: 'DistilBertForSequenceClassification',
    defaults: { num_hidden_layers: 6, classifier_dropout: 0.2 },
    renames: {
      dim: 'hidden_size',
      n_layers: 'num_hidden_layers',
      n_heads: 'num_attention_heads',
      hidden_dim: 'intermediate_size',
      dropout: 'hidden_dropout_prob',
      attention_dropout: 'attention_probs_dropout_prob',
      activation: 'hidden_act',
      seq_classif_dropout: 'classifier_dropout',
    },
    // No token types, a fixed LayerNorm epsilon, learned absolute positions.
    absent: { type_vocab_size: 1, layer_norm_eps: 1e-12, position_embedding_type: 'absolute', use_cache: true },
    positionsAfterPadding: false,
    tokenizer: { tokenizerClass: 'DistilBertTokenizer', ...BERT_TOKENS },
  },
  electra: {
    modelType: 'electra',
    classifierClass: 'ElectraForSequenceClassification',
    defaults: { embedding_size: 128, hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 },
    renames: {},
    absent: {},
    positionsAfterPadding: false,
    tokenizer: { tokenizerClass: 'ElectraTokenizer', ...BERT_TOKENS },
  },
};

/** Tokenizer classes whose model_input_names leave token_type_ids out (the model then sees zeros). */
export const TOKENIZERS_WITHOUT_TOKEN_TYPES = [
  'RobertaTokenizer',
  'RobertaTokenizerFast',
  'XLMRobertaTokenizer',
  'XLMRobertaTokenizerFast',
  'DistilBertTokenizer',
  'DistilBertTokenizerFast',
];

/** The architecture of config.json's model_type (absent: BERT); an Error naming the file and the supported ones else. */
export function architectureOf(modelType: unknown, source: string): Architecture {
  if (modelType === undefined) return ARCHITECTURES.bert;
  if (typeof modelType !== 'string' || !(MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new Error(`${source}: model_type ${JSON.stringify(modelType)} is not supported (supported: ${MODEL_TYPES.join(', ')})`);
  }
  return ARCHITECTURES[modelType as ModelType];
}

/** config.json's object under BERT's field names (an architecture's own names renamed, its absent fields filled). */
export function toBertNames(raw: Record<string, unknown>, architecture: Architecture, source: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const renamed = architecture.renames[key];
    if (renamed === undefined && Object.values(architecture.renames).includes(key)) continue; // BERT's name, unused here
    out[renamed ?? key] = value;
  }
  if (architecture.modelType === 'distilbert' && raw.sinusoidal_pos_embds !== undefined && typeof raw.sinusoidal_pos_embds !== 'boolean') {
    throw new Error(`${source}: "sinusoidal_pos_embds" must be true or false, got ${JSON.stringify(raw.sinusoidal_pos_embds)}`);
  }
  return { ...out, ...architecture.absent };
}

/** The reverse of toBertNames, for writing config.json. */
export function fromBertNames(fields: Record<string, unknown>, architecture: Architecture): Record<string, unknown> {
  const back = Object.fromEntries(Object.entries(architecture.renames).map(([own, bert]) => [bert, own]));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key in architecture.absent) continue;
    out[back[key] ?? key] = value;
  }
  return out;
}
