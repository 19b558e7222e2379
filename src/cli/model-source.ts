// What --model names, and how it becomes a BertClassifier. Three kinds of value:
//  - a built-in size (tiny, mini, small, base): a BERT trained FROM SCRATCH, with a WordPiece vocabulary learned
//    from the training texts and the labels of the training data;
//  - a model directory (config.json + weights, e.g. an earlier run's --output or a checkpoint folder);
//  - a Hugging Face hub id ('bert-base-uncased', 'org/name'), resolved through the cache Python's
//    huggingface_hub uses (downloaded into it when missing and the network allows).
// A size keyword always means the size; write './tiny' for a directory of that name.
import { promises as fs } from 'fs';
import type { DeviceOption } from '../engine/device';

import { BertClassifier, FromPretrainedOptions } from '../model/classifier';
import { readConfig } from '../model/config';
import { isHubId, resolveModel } from '../hub/resolve-model';
import { UsageError } from './errors';
import { formatCount } from './format';
import type { TrainingLabels } from './labels';
import { learnVocabulary } from './vocab';

export interface ModelSize {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  /** Default --vocab-size. */
  vocabSize: number;
}

/** The built-in architectures (Google's BERT-Tiny/Mini/Small/Base shapes). */
export const MODEL_SIZES = {
  tiny: { layers: 2, hidden: 128, heads: 2, intermediate: 512, vocabSize: 8000 },
  mini: { layers: 4, hidden: 256, heads: 4, intermediate: 1024, vocabSize: 8000 },
  small: { layers: 4, hidden: 512, heads: 8, intermediate: 2048, vocabSize: 30522 },
  base: { layers: 12, hidden: 768, heads: 12, intermediate: 3072, vocabSize: 30522 },
} as const satisfies Record<string, ModelSize>;

export type SizeName = keyof typeof MODEL_SIZES;
export const SIZE_NAMES = Object.keys(MODEL_SIZES) as SizeName[];

/** max_position_embeddings of a model trained from scratch: BERT's 512, or more when --max-length asks for it. */
export const DEFAULT_MAX_POSITIONS = 512;

export type ModelSource = { kind: 'size'; size: SizeName } | { kind: 'pretrained'; ref: string };

export function parseModelSource(value: string): ModelSource {
  return (SIZE_NAMES as string[]).includes(value) ? { kind: 'size', size: value as SizeName } : { kind: 'pretrained', ref: value };
}

/** For commands that need trained weights (eval, predict, export): a built-in size is a usage error. */
export function requireTrainedModel(value: string): void {
  if (parseModelSource(value).kind === 'size') {
    throw new UsageError(`--model ${value} is a built-in size with untrained weights; give a trained model directory (a train run's --output)`);
  }
}

/** The help text's table of sizes. */
export function describeSizes(): string {
  return SIZE_NAMES.map((name) => {
    const s = MODEL_SIZES[name];
    return `  ${name.padEnd(6)} ${String(s.layers).padStart(2)} layers, hidden ${String(s.hidden).padStart(3)}, ${String(s.heads).padStart(2)} heads, intermediate ${String(s.intermediate).padStart(4)}, vocab ${s.vocabSize}`;
  }).join('\n');
}

/** config.json fields of a built-in size. */
export function sizeConfig(size: SizeName, vocabSize: number, maxPositionEmbeddings: number): Record<string, unknown> {
  const s = MODEL_SIZES[size];
  return {
    vocab_size: vocabSize,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.intermediate,
    max_position_embeddings: maxPositionEmbeddings,
  };
}

/** Parameters of a model, counted from its weights' shapes. */
export function parameterCount(model: BertClassifier): number {
  return model.parameters().reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** "12 layers, hidden 768, 12 heads, 110M parameters": for logs and the report. */
export function describeArchitecture(model: BertClassifier): string {
  const c = model.config;
  return `${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads} heads, intermediate ${c.intermediate_size}, vocab ${c.vocab_size}, ${formatCount(parameterCount(model))} parameters`;
}

export interface TrainingModelOptions {
  labels: TrainingLabels;
  /** The training texts (and text pairs), for a built-in size's vocabulary. */
  texts: () => Iterable<string>;
  vocabSize?: number;
  /** The training length (--max-length). */
  maxLength: number;
  seed: number;
  /** --device. */
  device?: DeviceOption;
  log: (line: string) => void;
}

export interface LoadedModel {
  model: BertClassifier;
  /** One line for logs and the report, e.g. "tiny, trained from scratch (2 layers, hidden 128, ...)". */
  description: string;
}

/** A local directory for a directory or hub id, downloading into the hub cache when needed (with a line per file). */
export async function modelDirectory(ref: string, log: (line: string) => void): Promise<string> {
  const announced = new Set<string>();
  const local = await fs.stat(ref).then(
    () => true,
    () => false,
  );
  try {
    return await resolveModel(ref, {
      onProgress: (e) => {
        if (announced.has(e.file)) return;
        announced.add(e.file);
        log(`downloading ${ref}: ${e.file}${e.total !== undefined ? ` (${formatCount(e.total)}B)` : ''}`);
      },
    });
  } catch (err) {
    // "runs/tiny" is both a path and a hub id: when it is no directory, say so before the hub's own message.
    if (!local && isHubId(ref)) throw new Error(`--model ${ref}: no such directory, and as a Hugging Face hub id: ${(err as Error).message}`, { cause: err });
    throw err;
  }
}

/** A new model of a built-in size: vocabulary from the texts, fresh weights (seeded), the data's labels. */
async function fromScratch(size: SizeName, o: TrainingModelOptions): Promise<LoadedModel> {
  const vocabSize = o.vocabSize ?? MODEL_SIZES[size].vocabSize;
  const maxPositions = Math.max(DEFAULT_MAX_POSITIONS, o.maxLength);
  o.log(`learning a WordPiece vocabulary (up to ${vocabSize} tokens) from the training texts`);
  const tokenizer = await learnVocabulary(o.texts(), { vocabSize, maxPositionEmbeddings: maxPositions, maxLength: o.maxLength, log: o.log });
  const labelOptions = o.labels.names !== undefined ? { labels: o.labels.names } : { numLabels: o.labels.numLabels };
  const model = await BertClassifier.fromConfig(sizeConfig(size, tokenizer.vocabSize, maxPositions), {
    ...labelOptions,
    tokenizer,
    seed: o.seed,
    device: o.device,
  });
  return { model, description: `${size}, trained from scratch (${describeArchitecture(model)})` };
}

/**
 * A pretrained model with a head for the data's labels. When the checkpoint already has exactly these label names
 * (e.g. an earlier run's output) its head and label order are kept; otherwise the head gets the data's labels and
 * is re-initialised where its shape differs, as transformers' from_pretrained(num_labels=...,
 * ignore_mismatched_sizes=True) does.
 */
async function pretrained(ref: string, o: TrainingModelOptions): Promise<LoadedModel> {
  const dir = await modelDirectory(ref, o.log);
  const config = await readConfig(dir);
  const current = Object.keys(config.label2id);
  let options: FromPretrainedOptions = { seed: o.seed, device: o.device };
  const { names, numLabels } = o.labels;
  if (names !== undefined) {
    const same = current.length === names.length && names.every((n) => Object.prototype.hasOwnProperty.call(config.label2id, n));
    if (!same) options = { ...options, labels: names, ignoreMismatchedSizes: true };
  } else if (numLabels > config.num_labels) {
    options = { ...options, numLabels, ignoreMismatchedSizes: true };
  }
  const model = await BertClassifier.fromPretrained(dir, options);
  if (!model.tokenizer) {
    model.dispose();
    throw new Error(`${dir} has no tokenizer (tokenizer.json or vocab.txt); the CLI trains on texts and needs one`);
  }
  const fresh = model.loadReport.initialized.filter((name) => name.startsWith('classifier.'));
  if (fresh.length > 0) o.log(`new classification head for ${model.numLabels} labels (${model.labels.join(', ')})`);
  return { model, description: `${ref}, pretrained (${describeArchitecture(model)})` };
}

export async function modelForTraining(source: ModelSource, options: TrainingModelOptions): Promise<LoadedModel> {
  return source.kind === 'size' ? fromScratch(source.size, options) : pretrained(source.ref, options);
}

/** A trained model for eval and predict: a directory or hub id (a size name has no weights to evaluate). */
export async function modelForInference(
  ref: string,
  options: { maxLength?: number; device?: DeviceOption; log: (line: string) => void },
): Promise<BertClassifier> {
  const dir = await modelDirectory(ref, options.log);
  const model = await BertClassifier.fromPretrained(dir, { maxLength: options.maxLength, device: options.device });
  if (!model.tokenizer) {
    model.dispose();
    throw new Error(`${dir} has no tokenizer (tokenizer.json or vocab.txt); eval and predict read texts and need one`);
  }
  return model;
}
