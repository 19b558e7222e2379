// Deterministic pre-tokenized training examples for the Trainer tests (tiny models, varied lengths).
import { mulberry32 } from '../../src/util/random';
import type { Example } from '../../src/data/example';

/** mulberry32 (the library's generator), so every test run sees the same data. */
export const seededRandom = mulberry32;

export interface ExampleOptions {
  vocabSize: number;
  numLabels: number;
  kind?: 'single' | 'multilabel' | 'regression';
  seed?: number;
  minLength?: number;
  maxLength?: number;
  typeVocabSize?: number;
}

/**
 * `count` examples whose label is learnable from the tokens (single-label: the first token's parity decides,
 * so that a few steps reduce the loss), with token ids in [1, vocabSize) and two segments when types allow.
 */
export function tokenizedExamples(count: number, o: ExampleOptions): Example[] {
  const random = seededRandom(o.seed ?? 1);
  const kind = o.kind ?? 'single';
  const min = o.minLength ?? 3;
  const max = o.maxLength ?? 12;
  const out: Example[] = [];
  for (let i = 0; i < count; i++) {
    const length = min + Math.floor(random() * (max - min + 1));
    const inputIds = Array.from({ length }, () => 1 + Math.floor(random() * (o.vocabSize - 1)));
    const split = Math.max(1, Math.floor(length / 2));
    const tokenTypeIds = (o.typeVocabSize ?? 2) > 1 ? inputIds.map((_, j) => (j < split ? 0 : 1)) : undefined;
    let label: number | number[];
    if (kind === 'single') label = inputIds[0] % o.numLabels;
    else if (kind === 'multilabel') label = Array.from({ length: o.numLabels }, (_, j) => (inputIds[0] >> j) & 1);
    else label = o.numLabels === 1 ? (inputIds[0] % 7) / 3 - 1 : Array.from({ length: o.numLabels }, (_, j) => ((inputIds[j % length] % 5) - 2) / 2);
    out.push(tokenTypeIds ? { inputIds, tokenTypeIds, label } : { inputIds, label });
  }
  return out;
}

/**
 * config.json fields of a tiny BERT (hidden 64, 2 layers, dropout 0.1) whose fp16 gradients overflow at
 * torch.amp.GradScaler's initial scale (2^16) in the first steps and again after clean ones: an initializer_range of
 * 0.5 or more makes its activations and gradients large.
 */
export function overflowingFp16Config(initializerRange: number, numLabels: number): Record<string, number> {
  return {
    vocab_size: 99,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 37,
    max_position_embeddings: 64,
    initializer_range: initializerRange,
    num_labels: numLabels,
  };
}
