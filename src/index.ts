// bert-trainer's public API: what a user of the package calls. Internals (epoch orders, length grouping, shard
// orders, schedule arithmetic) are imported from their modules by the code and tests that need them.
export { BertClassifier } from './model/classifier';
export { AutoClassifier } from './model/auto-classifier';
export { MODEL_TYPES } from './model/architectures';
export type { ModelType } from './model/architectures';
export type { FromPretrainedOptions, LoadReport, ForwardOptions, ForwardResult, Prediction, PredictOptions, SaveFormat, SaveOptions } from './model/classifier';
export type { ExportOnnxOptions, OnnxQuantization } from './model/onnx/export-onnx';
export type { RequestBatchingOptions, ResolvedRequestBatching } from './model/request-batcher';
export { BertTokenizer } from './tokenizer/tokenizer';
export { versions } from './engine/versions';
export type { Versions } from './engine/versions';
export { DeviceError, DEVICE_ERROR_CODES } from './engine/device';
export type { DeviceOption } from './engine/device';
export type { BatchEncoding, EncodeOptions, BertTokenizerConfig, TrainWordPieceOptions, WordPieceProgress } from './tokenizer/tokenizer';
export { BERT_CONFIG_DEFAULTS, resolveConfig } from './model/config';
export type { BertConfig, ProblemType } from './model/config';
export type { ForwardInputs, MatrixInput, IdMatrix } from './model/inputs';
export { readCheckpoint } from './checkpoint/read-checkpoint';
export type { TensorInfo } from './checkpoint/read-checkpoint';
export { Trainer } from './train/trainer';
export { AbortError } from './train/abort-error';
export type { TrainerOptions, TrainerCallbacks, EarlyStoppingOptions, IntervalStrategy, MixedPrecision, FitOptions } from './train/trainer-options';
export type {
  FitResult,
  StepEvent,
  EvaluateEvent,
  EpochEndEvent,
  CheckpointEvent,
  TrainBeginLogs,
  HistoryEntry,
  EvaluationResult,
  WarningEvent,
  TrainingWarningCode,
  TrainingFix,
} from './train/events';
export { Dataset, inferProblemType } from './data/dataset';
export type { ParquetDatasetOptions, HubDatasetOptions } from './data/dataset';
export type { Example, TextExample, TokenizedExample, Label } from './data/example';
export { classificationMetrics, multiLabelMetrics, regressionMetrics } from './train/metrics';
export type { ClassificationMetrics, MultiLabelMetrics, RegressionMetrics, ClassMetrics } from './train/metrics';
export { learningRateAt } from './train/schedule';
export type { LrSchedulerType, LearningRateOptions, WarmupOptions } from './train/schedule';
export { resolveModel, isHubId } from './hub/resolve-model';
export { hubCacheDir } from './hub/cache';
export { HubError } from './hub/hub-error';
export type { ResolveModelOptions, HubAccessOptions, DownloadProgress } from './hub/resolve-options';
export { resolveDatasetSplit } from './hub/resolve-dataset';
export type { ResolveDatasetOptions, DatasetSplit } from './hub/resolve-dataset';
export type { HubErrorCode } from './hub/hub-error';
// Data from files, streaming, and the pipeline in front of the training step.
export { StreamingDataset } from './data/streaming-dataset';
export type { StreamingDatasetOptions, StreamingParquetOptions, StreamedExample, EpochStreamOptions } from './data/streaming-dataset';
export type { FileDatasetOptions, SkippedRows, SkippedRow } from './data/dataset-files';
export type { RowPosition } from './data/row-position';
export { setNumThreads, numThreads } from './engine/threads';
export type { TrainingData } from './train/training-data';
export { distributedFromEnv } from './engine/distributed';
export type { DistributedOptions } from './engine/distributed';
export { renderReport, writeReport } from './report/report';
export type { ReportData, ReportStep, ReportEvaluation, ReportMetrics, ReportClassMetrics } from './report/report';
