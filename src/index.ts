// bert-trainer's public API: what a user of the package calls. Internals (epoch orders, length grouping, shard
// orders, schedule arithmetic) are imported from their modules by the code and tests that need them.
export { BertClassifier } from './classifier';
export type { FromPretrainedOptions, LoadReport, ForwardOptions, ForwardResult, Prediction, PredictOptions, SaveFormat } from './classifier';
export { BertTokenizer } from './tokenizer';
export { versions } from './versions';
export type { Versions } from './versions';
export { DeviceError, DEVICE_ERROR_CODES } from './device';
export type { DeviceOption } from './device';
export type { BatchEncoding, EncodeOptions, BertTokenizerConfig } from './tokenizer';
export { BERT_CONFIG_DEFAULTS, resolveConfig } from './config';
export type { BertConfig, ProblemType } from './config';
export type { ForwardInputs, MatrixInput, IdMatrix } from './inputs';
export { readCheckpoint } from './checkpoint';
export type { TensorInfo } from './checkpoint';
export { Trainer, AbortError } from './trainer';
export type {
  TrainerOptions,
  TrainerCallbacks,
  EarlyStoppingOptions,
  IntervalStrategy,
  MixedPrecision,
  FitOptions,
  FitResult,
  StepEvent,
  EvaluateEvent,
  EpochEndEvent,
  CheckpointEvent,
  TrainBeginLogs,
  HistoryEntry,
  EvaluationResult,
} from './trainer';
export type { WarningEvent, TrainingWarningCode, TrainingFix } from './training-health';
export { Dataset, inferProblemType } from './dataset';
export type { Example, TextExample, TokenizedExample, Label } from './dataset';
export { classificationMetrics, multiLabelMetrics, regressionMetrics } from './metrics';
export type { ClassificationMetrics, MultiLabelMetrics, RegressionMetrics, ClassMetrics } from './metrics';
export { learningRateAt } from './schedule';
export type { LrSchedulerType, LearningRateOptions, WarmupOptions } from './schedule';
export { resolveModel, hubCacheDir, isHubId, HubError } from './hub';
export type { ResolveModelOptions, DownloadProgress } from './hub';
// Data from files, streaming, and the pipeline in front of the training step.
export { StreamingDataset } from './streaming-dataset';
export type { StreamingDatasetOptions, StreamedExample, EpochStreamOptions } from './streaming-dataset';
export type { FileDatasetOptions, SkippedRows } from './dataset-files';
export { setNumThreads, numThreads } from './threads';
export type { TrainingData } from './trainer';
export { distributedFromEnv } from './distributed';
export type { DistributedOptions } from './distributed';
export { renderReport, writeReport } from './report';
export type { ReportData, ReportStep, ReportEvaluation, ReportMetrics, ReportClassMetrics } from './report';
