// config.json as transformers' config classes of the BERT family read it (BertConfig, RobertaConfig, XLMRobertaConfig,
// DistilBertConfig, ElectraConfig): the same defaults and the label maps, under BERT's field names (architectures.ts
// renames DistilBERT's). This is the only place that decides what a config means; the native side re-checks shapes.
import { promises as fs } from 'fs';
import * as path from 'path';

import { ARCHITECTURES, ModelType, architectureOf, fromBertNames, toBertNames } from './architectures';

/** transformers' config.problem_type values: the one list every check of a problem type uses. */
export const PROBLEM_TYPES = ['single_label_classification', 'multi_label_classification', 'regression'] as const;
export type ProblemType = (typeof PROBLEM_TYPES)[number];

/** The fields of transformers' BertConfig, under their names in config.json (every architecture's, under BERT's names). */
export interface BertConfig {
  /** config.json's model_type: which architecture (architectures.ts). */
  model_type: ModelType;
  /** ELECTRA's embedding width (projected to hidden_size when it differs); null for the other architectures. */
  embedding_size: number | null;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  position_embedding_type: string;
  use_cache: boolean;
  classifier_dropout: number | null;
  num_labels: number;
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  problem_type: ProblemType | null;
  /** Fields we do not interpret, kept so that saving writes them back. */
  extra: Record<string, unknown>;
}

/** transformers' BertConfig defaults (bert-base-uncased's architecture). */
export const BERT_CONFIG_DEFAULTS = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  use_cache: true,
  classifier_dropout: null as number | null,
} as const;

export const SUPPORTED_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish', 'tanh'];
const INTEGER_FIELDS = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
  'max_position_embeddings',
  'type_vocab_size',
] as const;
const PROBABILITY_FIELDS = ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const;
// Fields written by transformers that say nothing about the weights; not kept in `extra`.
const DROPPED_ON_SAVE = new Set(['transformers_version', 'architectures', 'model_type', 'torch_dtype', 'dtype']);

export interface LabelOptions {
  /** Number of labels; overrides config.json's, as transformers' from_pretrained(num_labels=...) does. */
  numLabels?: number;
  /** Label names in id order; sets id2label/label2id (and numLabels). */
  labels?: string[];
  problemType?: ProblemType;
}

function fail(source: string, message: string): never {
  throw new Error(`${source}: ${message}`);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function defaultLabels(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `LABEL_${i}`);
}

/** Builds a full BertConfig from config.json's object: defaults filled, every field checked. */
export function resolveConfig(raw: Record<string, unknown>, source: string, options: LabelOptions = {}): BertConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(source, 'expected a JSON object');
  const architecture = architectureOf(raw.model_type, source);
  raw = toBertNames(raw, architecture, source);
  const defaults: Record<string, unknown> = { ...BERT_CONFIG_DEFAULTS, ...architecture.defaults };
  const field = (key: keyof typeof BERT_CONFIG_DEFAULTS): unknown => (raw[key] === undefined ? defaults[key] : raw[key]);

  const ints = {} as Record<(typeof INTEGER_FIELDS)[number], number>;
  for (const key of INTEGER_FIELDS) {
    const value = field(key);
    // A safe integer: 12345678901234567890 parses as a neighbouring integer, not the number written.
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      fail(source, `"${key}" must be a positive integer, got ${describe(value)}`);
    }
    ints[key] = value;
  }
  if (ints.hidden_size % ints.num_attention_heads !== 0) {
    fail(source, `"hidden_size" (${ints.hidden_size}) is not a multiple of "num_attention_heads" (${ints.num_attention_heads})`);
  }
  const probs = {} as Record<(typeof PROBABILITY_FIELDS)[number], number>;
  for (const key of PROBABILITY_FIELDS) {
    const value = field(key);
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) fail(source, `"${key}" must be a number in [0, 1), got ${describe(value)}`);
    probs[key] = value;
  }
  const classifierDropout = field('classifier_dropout');
  if (classifierDropout !== null && (typeof classifierDropout !== 'number' || !(classifierDropout >= 0 && classifierDropout < 1))) {
    fail(source, `"classifier_dropout" must be null or a number in [0, 1), got ${describe(classifierDropout)}`);
  }
  const hiddenAct = field('hidden_act');
  if (typeof hiddenAct !== 'string' || !SUPPORTED_ACTIVATIONS.includes(hiddenAct)) {
    fail(source, `"hidden_act" ${describe(hiddenAct)} is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, tanh)`);
  }
  const positionType = field('position_embedding_type');
  if (positionType !== 'absolute') {
    fail(source, `"position_embedding_type" ${describe(positionType)} is not supported (only "absolute")`);
  }
  const eps = field('layer_norm_eps');
  if (typeof eps !== 'number' || !(eps > 0)) fail(source, `"layer_norm_eps" must be a positive number, got ${describe(eps)}`);
  const initRange = field('initializer_range');
  if (typeof initRange !== 'number' || !(initRange >= 0)) fail(source, `"initializer_range" must be a non-negative number, got ${describe(initRange)}`);
  const padId = field('pad_token_id') ?? 0;
  if (typeof padId !== 'number' || !Number.isInteger(padId) || padId < 0 || padId >= ints.vocab_size) {
    fail(source, `"pad_token_id" must be an integer in [0, vocab_size=${ints.vocab_size}), got ${describe(padId)}`);
  }

  let embeddingSize: number | null = null;
  if (architecture.modelType === 'electra') {
    const value = raw.embedding_size ?? defaults.embedding_size;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
      fail(source, `"embedding_size" must be a positive integer, got ${describe(value)}`);
    embeddingSize = value;
  }

  const labels = resolveLabels(raw, source, options);
  const problemType = options.problemType ?? raw.problem_type ?? null;
  if (problemType !== null && !(PROBLEM_TYPES as readonly string[]).includes(problemType as string)) {
    fail(source, `"problem_type" ${describe(problemType)} is not one of ${PROBLEM_TYPES.join(', ')}`);
  }

  const known = new Set<string>([...Object.keys(BERT_CONFIG_DEFAULTS), 'num_labels', 'id2label', 'label2id', 'problem_type', 'embedding_size']);
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) if (!known.has(key) && !DROPPED_ON_SAVE.has(key)) extra[key] = value;

  return {
    model_type: architecture.modelType,
    embedding_size: embeddingSize,
    ...ints,
    ...probs,
    hidden_act: hiddenAct,
    initializer_range: initRange,
    layer_norm_eps: eps,
    pad_token_id: padId,
    position_embedding_type: positionType,
    use_cache: field('use_cache') !== false,
    classifier_dropout: classifierDropout as number | null,
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((name, id) => [String(id), name])),
    label2id: Object.fromEntries(labels.map((name, id) => [name, id])),
    problem_type: problemType as ProblemType | null,
    extra,
  };
}

// Label names in id order, from the options, else id2label, else num_labels, else transformers' default of 2.
function resolveLabels(raw: Record<string, unknown>, source: string, options: LabelOptions): string[] {
  if (options.labels !== undefined) {
    if (!Array.isArray(options.labels) || options.labels.length === 0 || options.labels.some((l) => typeof l !== 'string')) {
      throw new TypeError('labels must be a non-empty array of strings');
    }
    if (new Set(options.labels).size !== options.labels.length) throw new RangeError('labels must not repeat a name');
    if (options.numLabels !== undefined && options.numLabels !== options.labels.length) {
      throw new RangeError(`numLabels (${options.numLabels}) differs from labels.length (${options.labels.length})`);
    }
    return [...options.labels];
  }
  let fromFile: string[] | undefined;
  if (raw.id2label !== undefined && raw.id2label !== null) {
    if (typeof raw.id2label !== 'object' || Array.isArray(raw.id2label)) fail(source, '"id2label" must be an object of id -> name');
    const entries = Object.entries(raw.id2label as Record<string, unknown>);
    fromFile = entries.map(() => '');
    for (const [id, name] of entries) {
      const index = Number(id);
      if (!Number.isInteger(index) || index < 0 || index >= entries.length || typeof name !== 'string') {
        fail(source, `"id2label" must map the ids 0..${entries.length - 1} to names, got ${JSON.stringify(id)}: ${describe(name)}`);
      }
      fromFile[index] = name;
    }
  }
  if (options.numLabels !== undefined) {
    if (!Number.isInteger(options.numLabels) || options.numLabels < 1) {
      throw new RangeError(`numLabels must be a positive integer, got ${describe(options.numLabels)}`);
    }
    return fromFile && fromFile.length === options.numLabels ? fromFile : defaultLabels(options.numLabels);
  }
  if (fromFile && fromFile.length > 0) return fromFile;
  if (raw.num_labels !== undefined) {
    const n = raw.num_labels;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) fail(source, `"num_labels" must be a positive integer, got ${describe(n)}`);
    return defaultLabels(n);
  }
  return defaultLabels(2);
}

/** Reads and resolves `<dir>/config.json`; errors name the file. */
export async function readConfig(dir: string, options: LabelOptions = {}): Promise<BertConfig> {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${file}: no config.json in ${dir} (expected a Hugging Face model directory)`);
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: malformed JSON (${(err as Error).message})`);
  }
  return resolveConfig(raw as Record<string, unknown>, file, options);
}

/** The config.json transformers writes for the architecture's sequence classifier (BertForSequenceClassification, ...). */
export function configToJson(config: BertConfig): Record<string, unknown> {
  const { extra, model_type: modelType, embedding_size: embeddingSize, ...fields } = config;
  const architecture = ARCHITECTURES[modelType];
  const out: Record<string, unknown> = {
    architectures: [architecture.classifierClass],
    model_type: modelType,
    ...extra,
    ...fromBertNames(fields, architecture),
    torch_dtype: 'float32',
  };
  if (embeddingSize !== null) out.embedding_size = embeddingSize;
  if (out.problem_type === null) delete out.problem_type;
  return out;
}

/** The longest sequence the position embeddings cover (RoBERTa's positions start after pad_token_id). */
export function maxSequenceLength(config: BertConfig): number {
  const offset = ARCHITECTURES[config.model_type].positionsAfterPadding ? config.pad_token_id + 1 : 0;
  return config.max_position_embeddings - offset;
}

/** The numeric fields the native model is built from. */
export function nativeConfig(config: BertConfig): Record<string, number | string | boolean | null> {
  return {
    model_type: config.model_type,
    // DistilBERT's position table starts as sinusoids where the checkpoint lacks it (transformers' _init_weights).
    sinusoidal_pos_embds: config.model_type === 'distilbert' && config.extra.sinusoidal_pos_embds === true,
    embedding_size: config.embedding_size,
    vocab_size: config.vocab_size,
    hidden_size: config.hidden_size,
    num_hidden_layers: config.num_hidden_layers,
    num_attention_heads: config.num_attention_heads,
    intermediate_size: config.intermediate_size,
    hidden_act: config.hidden_act,
    hidden_dropout_prob: config.hidden_dropout_prob,
    attention_probs_dropout_prob: config.attention_probs_dropout_prob,
    classifier_dropout: config.classifier_dropout,
    max_position_embeddings: config.max_position_embeddings,
    type_vocab_size: config.type_vocab_size,
    initializer_range: config.initializer_range,
    layer_norm_eps: config.layer_norm_eps,
    pad_token_id: config.pad_token_id,
    position_embedding_type: config.position_embedding_type,
    num_labels: config.num_labels,
  };
}
