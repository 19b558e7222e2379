// bert-trainer's public API.
export { BertClassifier } from './classifier';
export type { FromPretrainedOptions, LoadReport, ForwardOptions, ForwardResult, Prediction, PredictOptions, SaveFormat } from './classifier';
export { BertTokenizer } from './tokenizer';
export type { BatchEncoding, EncodeOptions, BertTokenizerConfig } from './tokenizer';
export { BERT_CONFIG_DEFAULTS, resolveConfig } from './config';
export type { BertConfig, ProblemType } from './config';
export type { ForwardInputs, MatrixInput, IdMatrix } from './inputs';
export { readCheckpoint } from './checkpoint';
export type { TensorInfo } from './checkpoint';
