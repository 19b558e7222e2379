// transformers' sequence classifiers of the BERT family (eval mode) as an ONNX graph at opset 17, from their weights
// under their state-dict names: BertForSequenceClassification, and RoBERTa's, XLM-RoBERTa's, DistilBERT's and
// ELECTRA's (family-graph.ts: their embeddings, layer names and heads). Shapes in the comments: B batch, S sequence,
// H hidden, N heads, D head size (H / N), I intermediate, L labels. Dropout is the identity in eval mode and is left out.
import type { BertConfig } from '../config';
import { LayerNames, architectureGraph } from './family-graph';
import { GraphBuilder, TensorType, int, ints } from './graph-builder';
import { ACTIVATIONS, Context, dense, layerNorm } from './graph-ops';
import type { Float32Tensor } from './safetensors-weights';
import type { WeightMatMul } from './weight-matmul';

/** The opset the graph is written for: LayerNormalization is a single op from 17 on. */
export const BERT_GRAPH_OPSET = 17;

/** What transformers adds to the attention scores of padded positions: torch.finfo(float32).min. */
const FLOAT32_MIN = -3.4028234663852886e38;

/** The extended attention mask: 0 where attention_mask is 1, float32's min where it is 0: [B, S] → [B, 1, 1, S]. */
function attentionBias(ctx: Context, attentionMask: string): string {
  const { graph } = ctx;
  const mask = graph.op('Cast', [attentionMask], 'attention_mask/Cast', { to: int(TensorType.FLOAT) });
  const inverted = graph.op('Sub', [graph.floatConstant('one_float', [1]), mask], 'attention_mask/invert');
  const bias = graph.op('Mul', [inverted, graph.floatConstant('float32_min', [FLOAT32_MIN])], 'attention_mask/bias');
  return graph.op('Unsqueeze', [bias, graph.int64Constant('head_and_query_axes', [1, 2])], 'attention_mask/unsqueeze');
}

/** [B, S, H] → [B, N, S, D] (perm [0, 2, 1, 3]) or, for keys, [B, N, D, S] (perm [0, 2, 3, 1]). */
function splitHeads(ctx: Context, x: string, name: string, perm: number[]): string {
  const { graph, config } = ctx;
  const headSize = config.hidden_size / config.num_attention_heads;
  const heads = graph.op('Reshape', [x, graph.int64Constant('heads_shape', [0, 0, config.num_attention_heads, headSize])], `${name}/Reshape`); // [B, S, N, D]
  return graph.op('Transpose', [heads], `${name}/Transpose`, { perm: ints(perm) });
}

/** Scaled dot-product self-attention with the additive mask: [B, S, H] → [B, S, H] (before the output dense). */
function selfAttention(ctx: Context, x: string, bias: string, names: LayerNames): string {
  const { graph, config } = ctx;
  const prefix = names.attention;
  const headSize = config.hidden_size / config.num_attention_heads;
  const query = splitHeads(ctx, dense(ctx, x, names.query), names.query, [0, 2, 1, 3]); // [B, N, S, D]
  const keyT = splitHeads(ctx, dense(ctx, x, names.key), names.key, [0, 2, 3, 1]); // [B, N, D, S]
  const value = splitHeads(ctx, dense(ctx, x, names.value), names.value, [0, 2, 1, 3]); // [B, N, S, D]
  const scores = graph.op('MatMul', [query, keyT], `${prefix}/scores`); // [B, N, S, S]
  const scaled = graph.op('Mul', [scores, graph.floatConstant('attention_scaling', [1 / Math.sqrt(headSize)])], `${prefix}/scaled`);
  const masked = graph.op('Add', [scaled, bias], `${prefix}/masked`); // + [B, 1, 1, S]
  const probabilities = graph.op('Softmax', [masked], `${prefix}/Softmax`, { axis: int(-1) });
  const context = graph.op('MatMul', [probabilities, value], `${prefix}/context`); // [B, N, S, D]
  const merged = graph.op('Transpose', [context], `${prefix}/merge_heads`, { perm: ints([0, 2, 1, 3]) }); // [B, S, N, D]
  return graph.op('Reshape', [merged, graph.int64Constant('hidden_shape', [0, 0, config.hidden_size])], `${prefix}/Reshape`); // [B, S, H]
}

/** The activations the export writes (every one config.ts accepts). */
export const EXPORTABLE_ACTIVATIONS = Object.keys(ACTIVATIONS);

/** One BertLayer (or DistilBERT's TransformerBlock, under its names): attention + residual + LayerNorm, feed-forward + residual + LayerNorm: [B, S, H] → [B, S, H]. */
function encoderLayer(ctx: Context, x: string, bias: string, names: LayerNames): string {
  const attended = dense(ctx, selfAttention(ctx, x, bias, names), names.attentionOutput);
  const attentionOut = layerNorm(ctx, ctx.graph.op('Add', [attended, x], `${names.attentionOutput}/residual`), names.attentionNorm);
  const intermediate = dense(ctx, attentionOut, names.intermediate); // [B, S, I]
  const activated = ACTIVATIONS[ctx.config.hidden_act](ctx.graph, intermediate, `${names.intermediate}.${ctx.config.hidden_act}`);
  const output = dense(ctx, activated, names.output); // [B, S, H]
  return layerNorm(ctx, ctx.graph.op('Add', [output, attentionOut], `${names.output}/residual`), names.outputNorm);
}

/**
 * The whole model: input_ids, attention_mask and, for the architectures with token types (BERT, ELECTRA),
 * token_type_ids (int64 [batch_size, sequence_length]) → logits (float32 [batch_size, num_labels]), as transformers'
 * ONNX exports name them. `matMul` multiplies by the weight matrices (float32 or int8).
 */
export function buildBertGraph(config: BertConfig, weights: Map<string, Float32Tensor>, matMul: WeightMatMul): GraphBuilder {
  const architecture = architectureGraph(config.model_type);
  const graph = new GraphBuilder(architecture.name);
  const ctx: Context = { graph, config, weights, matMul };
  const axes = ['batch_size', 'sequence_length'];
  const inputIds = graph.input('input_ids', TensorType.INT64, axes);
  const attentionMask = graph.input('attention_mask', TensorType.INT64, axes);
  const tokenTypeIds = architecture.tokenTypes ? graph.input('token_type_ids', TensorType.INT64, axes) : null;

  let hidden = architecture.embeddings(ctx, inputIds, tokenTypeIds);
  const bias = attentionBias(ctx, attentionMask);
  for (let layer = 0; layer < config.num_hidden_layers; layer += 1) hidden = encoderLayer(ctx, hidden, bias, architecture.layer(layer));
  const logits = architecture.head(ctx, hidden); // [B, L]
  graph.output(logits, 'logits', TensorType.FLOAT, ['batch_size', config.num_labels]);
  return graph;
}
