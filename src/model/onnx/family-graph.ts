// What each architecture of the BERT family puts around the shared encoder layer in its ONNX graph: its embeddings
// (RoBERTa's positions counted after padding_idx, DistilBERT's without token types, ELECTRA's projected), its layers'
// state-dict names (DistilBERT's q_lin ... output_layer_norm) and its classification head. Shapes: B batch,
// S sequence, H hidden, E ELECTRA's embedding size, L labels.
import type { ModelType } from '../architectures';
import { TensorType, int } from './graph-builder';
import { ACTIVATIONS, Context, constant, dense, layerNorm, pooler, positionIds, bertEmbeddings } from './graph-ops';

/** The state-dict names of one encoder layer's modules. */
export interface LayerNames {
  attention: string;
  query: string;
  key: string;
  value: string;
  attentionOutput: string;
  attentionNorm: string;
  intermediate: string;
  output: string;
  outputNorm: string;
}

export interface ArchitectureGraph {
  /** The graph's name: transformers' class. */
  name: string;
  /** Whether the graph takes token_type_ids (transformers' tokenizer gives them to BERT and ELECTRA only). */
  tokenTypes: boolean;
  /** [B, S] ids (and token types) → [B, S, H] */
  embeddings(ctx: Context, inputIds: string, tokenTypeIds: string | null): string;
  layer(index: number): LayerNames;
  /** The last hidden state [B, S, H] → logits [B, L] */
  head(ctx: Context, hidden: string): string;
}

function bertLayer(base: string): (index: number) => LayerNames {
  return (index) => {
    const p = `${base}.encoder.layer.${index}`;
    return {
      attention: `${p}.attention.self`,
      query: `${p}.attention.self.query`,
      key: `${p}.attention.self.key`,
      value: `${p}.attention.self.value`,
      attentionOutput: `${p}.attention.output.dense`,
      attentionNorm: `${p}.attention.output.LayerNorm`,
      intermediate: `${p}.intermediate.dense`,
      output: `${p}.output.dense`,
      outputNorm: `${p}.output.LayerNorm`,
    };
  };
}

function distilbertLayer(index: number): LayerNames {
  const p = `distilbert.transformer.layer.${index}`;
  return {
    attention: `${p}.attention`,
    query: `${p}.attention.q_lin`,
    key: `${p}.attention.k_lin`,
    value: `${p}.attention.v_lin`,
    attentionOutput: `${p}.attention.out_lin`,
    attentionNorm: `${p}.sa_layer_norm`,
    intermediate: `${p}.ffn.lin1`,
    output: `${p}.ffn.lin2`,
    outputNorm: `${p}.output_layer_norm`,
  };
}

/** The first token's hidden state: [B, S, H] → [B, H]. */
function firstToken(ctx: Context, hidden: string, scope: string): string {
  return ctx.graph.op('Gather', [hidden, ctx.graph.int64Constant('first_position', [0])], `${scope}/first_token`, { axis: int(1) });
}

/** RobertaClassificationHead (tanh) and ElectraClassificationHead (gelu): dense, activation, out_proj on the first token. */
function firstTokenHead(activation: 'tanh' | 'gelu'): (ctx: Context, hidden: string) => string {
  return (ctx, hidden) => {
    const x = dense(ctx, firstToken(ctx, hidden, 'classifier'), 'classifier.dense'); // [B, H]
    return dense(ctx, ACTIVATIONS[activation](ctx.graph, x, `classifier.${activation}`), 'classifier.out_proj'); // [B, L]
  };
}

/**
 * RoBERTa's position ids (transformers' create_position_ids_from_input_ids): padding_idx + the running count of
 * non-padding tokens, padding_idx at padding: [B, S] → [B, S] int64.
 */
function robertaPositionIds(ctx: Context, inputIds: string, p: string): string {
  const { graph } = ctx;
  const pad = graph.int64Constant('padding_idx', [ctx.config.pad_token_id]);
  const isToken = graph.op('Not', [graph.op('Equal', [inputIds, pad], `${p}/is_padding`)], `${p}/is_token`);
  const mask = graph.op('Cast', [isToken], `${p}/mask`, { to: int(TensorType.INT64) }); // [B, S]
  const counted = graph.op('CumSum', [mask, graph.int64Constant('sequence_axis', [1])], `${p}/CumSum`); // [B, S]
  return graph.op('Add', [graph.op('Mul', [counted, mask], `${p}/tokens_only`), pad], `${p}/position_ids`);
}

/** RobertaEmbeddings: (word + token type 0) + position from padding_idx + 1, LayerNorm. */
function robertaEmbeddings(ctx: Context, inputIds: string): string {
  const { graph } = ctx;
  const p = 'roberta.embeddings';
  const words = graph.op('Gather', [constant(ctx, `${p}.word_embeddings.weight`), inputIds], `${p}/word_embeddings`); // [B, S, H]
  // transformers' tokenizer gives RoBERTa no token types: every token has type 0.
  const type0 = graph.op('Gather', [constant(ctx, `${p}.token_type_embeddings.weight`), graph.int64Constant('first_position', [0])], `${p}/token_type_0`); // [H]
  const positions = graph.op('Gather', [constant(ctx, `${p}.position_embeddings.weight`), robertaPositionIds(ctx, inputIds, p)], `${p}/position_embeddings`); // [B, S, H]
  const sum = graph.op('Add', [graph.op('Add', [words, type0], `${p}/add_token_types`), positions], `${p}/add_positions`);
  return layerNorm(ctx, sum, `${p}.LayerNorm`);
}

/** DistilBERT's Embeddings: word + position, LayerNorm. */
function distilbertEmbeddings(ctx: Context, inputIds: string): string {
  const { graph } = ctx;
  const p = 'distilbert.embeddings';
  const words = graph.op('Gather', [constant(ctx, `${p}.word_embeddings.weight`), inputIds], `${p}/word_embeddings`); // [B, S, H]
  const positions = graph.op('Gather', [constant(ctx, `${p}.position_embeddings.weight`), positionIds(ctx, inputIds, p)], `${p}/position_embeddings`); // [S, H]
  return layerNorm(ctx, graph.op('Add', [words, positions], `${p}/add_positions`), `${p}.LayerNorm`);
}

/** ElectraEmbeddings ([B, S, E]), then embeddings_project to [B, S, H] when the checkpoint has it. */
function electraEmbeddings(ctx: Context, inputIds: string, tokenTypeIds: string): string {
  const embedded = bertEmbeddings(ctx, inputIds, tokenTypeIds, 'electra.embeddings');
  return ctx.weights.has('electra.embeddings_project.weight') ? dense(ctx, embedded, 'electra.embeddings_project') : embedded;
}

const ARCHITECTURE_GRAPHS: Record<ModelType, ArchitectureGraph> = {
  bert: {
    name: 'BertForSequenceClassification',
    tokenTypes: true,
    embeddings: (ctx, ids, types) => bertEmbeddings(ctx, ids, types!, 'bert.embeddings'),
    layer: bertLayer('bert'),
    head: (ctx, hidden) => dense(ctx, pooler(ctx, hidden), 'classifier'),
  },
  roberta: {
    name: 'RobertaForSequenceClassification',
    tokenTypes: false,
    embeddings: (ctx, ids) => robertaEmbeddings(ctx, ids),
    layer: bertLayer('roberta'),
    head: firstTokenHead('tanh'),
  },
  'xlm-roberta': {
    name: 'XLMRobertaForSequenceClassification',
    tokenTypes: false,
    embeddings: (ctx, ids) => robertaEmbeddings(ctx, ids),
    layer: bertLayer('roberta'),
    head: firstTokenHead('tanh'),
  },
  distilbert: {
    name: 'DistilBertForSequenceClassification',
    tokenTypes: false,
    embeddings: (ctx, ids) => distilbertEmbeddings(ctx, ids),
    layer: distilbertLayer,
    head: (ctx, hidden) => {
      const pre = dense(ctx, firstToken(ctx, hidden, 'pre_classifier'), 'pre_classifier'); // [B, H]
      return dense(ctx, ctx.graph.op('Relu', [pre], 'pre_classifier/Relu'), 'classifier'); // [B, L]
    },
  },
  electra: {
    name: 'ElectraForSequenceClassification',
    tokenTypes: true,
    embeddings: (ctx, ids, types) => electraEmbeddings(ctx, ids, types!),
    layer: bertLayer('electra'),
    head: firstTokenHead('gelu'),
  },
};

export function architectureGraph(modelType: ModelType): ArchitectureGraph {
  return ARCHITECTURE_GRAPHS[modelType];
}
