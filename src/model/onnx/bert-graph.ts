// transformers' BertForSequenceClassification (eval mode) as an ONNX graph at opset 17, from its weights under their
// state-dict names. Shapes in the comments: B batch, S sequence, H hidden, N heads, D head size (H / N), I
// intermediate, L labels. Dropout is the identity in eval mode and is left out.
import type { BertConfig } from '../config';
import { GraphBuilder, TensorType, float, int, ints } from './graph-builder';
import type { Float32Tensor } from './safetensors-weights';
import type { WeightMatMul } from './weight-matmul';

/** The opset the graph is written for: LayerNormalization is a single op from 17 on. */
export const BERT_GRAPH_OPSET = 17;

/** What transformers adds to the attention scores of padded positions: torch.finfo(float32).min. */
const FLOAT32_MIN = -3.4028234663852886e38;

interface Context {
  graph: GraphBuilder;
  config: BertConfig;
  weights: Map<string, Float32Tensor>;
  matMul: WeightMatMul;
}

function weight(ctx: Context, name: string): Float32Tensor {
  const tensor = ctx.weights.get(name);
  if (!tensor) throw new Error(`the model's weights have no tensor ${name}`);
  return tensor;
}

/** A float32 weight stored in the graph as it is, under its state-dict name. */
function constant(ctx: Context, name: string): string {
  const tensor = weight(ctx, name);
  return ctx.graph.initializer(name, TensorType.FLOAT, tensor.shape, tensor.data);
}

/** nn.Linear `prefix`: x [..., in] → x · Wᵀ + b [..., out]. */
function dense(ctx: Context, x: string, prefix: string): string {
  const product = ctx.matMul(ctx.graph, x, weight(ctx, `${prefix}.weight`), prefix);
  return ctx.graph.op('Add', [product, constant(ctx, `${prefix}.bias`)], `${prefix}/Add`);
}

/** nn.LayerNorm `prefix` over the last axis: [..., H] → [..., H]. */
function layerNorm(ctx: Context, x: string, prefix: string): string {
  const { graph, config } = ctx;
  return graph.op('LayerNormalization', [x, constant(ctx, `${prefix}.weight`), constant(ctx, `${prefix}.bias`)], `${prefix}/LayerNormalization`, {
    axis: int(-1),
    epsilon: float(config.layer_norm_eps),
  });
}

/** Positions 0..S-1 from the input's own shape: input_ids [B, S] → [S] int64. */
function positionIds(ctx: Context, inputIds: string): string {
  const { graph } = ctx;
  const shape = graph.op('Shape', [inputIds], 'bert.embeddings/Shape'); // [2]: (B, S)
  const length = graph.op('Gather', [shape, graph.int64Constant('sequence_axis', [1])], 'bert.embeddings/sequence_length'); // scalar S
  return graph.op('Range', [graph.int64Constant('zero', [0]), length, graph.int64Constant('one', [1])], 'bert.embeddings/position_ids');
}

/** Word + token type + position embeddings, then LayerNorm: [B, S] ids → [B, S, H]. */
function embeddings(ctx: Context, inputIds: string, tokenTypeIds: string): string {
  const { graph } = ctx;
  const p = 'bert.embeddings';
  const words = graph.op('Gather', [constant(ctx, `${p}.word_embeddings.weight`), inputIds], `${p}/word_embeddings`); // [B, S, H]
  const types = graph.op('Gather', [constant(ctx, `${p}.token_type_embeddings.weight`), tokenTypeIds], `${p}/token_type_embeddings`); // [B, S, H]
  const positions = graph.op('Gather', [constant(ctx, `${p}.position_embeddings.weight`), positionIds(ctx, inputIds)], `${p}/position_embeddings`); // [S, H]
  const sum = graph.op('Add', [graph.op('Add', [words, types], `${p}/add_token_types`), positions], `${p}/add_positions`); // [B, S, H]
  return layerNorm(ctx, sum, `${p}.LayerNorm`);
}

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
function selfAttention(ctx: Context, x: string, bias: string, prefix: string): string {
  const { graph, config } = ctx;
  const headSize = config.hidden_size / config.num_attention_heads;
  const query = splitHeads(ctx, dense(ctx, x, `${prefix}.query`), `${prefix}.query`, [0, 2, 1, 3]); // [B, N, S, D]
  const keyT = splitHeads(ctx, dense(ctx, x, `${prefix}.key`), `${prefix}.key`, [0, 2, 3, 1]); // [B, N, D, S]
  const value = splitHeads(ctx, dense(ctx, x, `${prefix}.value`), `${prefix}.value`, [0, 2, 1, 3]); // [B, N, S, D]
  const scores = graph.op('MatMul', [query, keyT], `${prefix}/scores`); // [B, N, S, S]
  const scaled = graph.op('Mul', [scores, graph.floatConstant('attention_scaling', [1 / Math.sqrt(headSize)])], `${prefix}/scaled`);
  const masked = graph.op('Add', [scaled, bias], `${prefix}/masked`); // + [B, 1, 1, S]
  const probabilities = graph.op('Softmax', [masked], `${prefix}/Softmax`, { axis: int(-1) });
  const context = graph.op('MatMul', [probabilities, value], `${prefix}/context`); // [B, N, S, D]
  const merged = graph.op('Transpose', [context], `${prefix}/merge_heads`, { perm: ints([0, 2, 1, 3]) }); // [B, S, N, D]
  return graph.op('Reshape', [merged, graph.int64Constant('hidden_shape', [0, 0, config.hidden_size])], `${prefix}/Reshape`); // [B, S, H]
}

/** GELU with erf: x · ½ · (1 + erf(x / √2)), in the form onnxruntime fuses into its Gelu op. */
function geluErf(graph: GraphBuilder, x: string, name: string): string {
  const scaled = graph.op('Div', [x, graph.floatConstant('sqrt_2', [Math.SQRT2])], `${name}/Div`);
  const plusOne = graph.op('Add', [graph.op('Erf', [scaled], `${name}/Erf`), graph.floatConstant('one_float', [1])], `${name}/Add`);
  return graph.op('Mul', [graph.op('Mul', [x, plusOne], `${name}/Mul`), graph.floatConstant('half', [0.5])], `${name}/half`);
}

/** GELU's tanh approximation: ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), x³ as Pow: onnxruntime fuses it into FastGelu. */
function geluTanh(graph: GraphBuilder, x: string, name: string): string {
  const cube = graph.op('Pow', [x, graph.floatConstant('three', [3])], `${name}/cube`);
  const inner = graph.op('Add', [x, graph.op('Mul', [cube, graph.floatConstant('gelu_cube_coefficient', [0.044715])], `${name}/cubic`)], `${name}/inner`);
  const tanh = graph.op('Tanh', [graph.op('Mul', [inner, graph.floatConstant('sqrt_2_over_pi', [Math.sqrt(2 / Math.PI)])], `${name}/scaled`)], `${name}/Tanh`);
  const plusOne = graph.op('Add', [tanh, graph.floatConstant('one_float', [1])], `${name}/Add`);
  return graph.op('Mul', [graph.op('Mul', [x, graph.floatConstant('half', [0.5])], `${name}/half`), plusOne], `${name}/Mul`);
}

/** config.hidden_act, as transformers' ACT2FN defines it. */
const ACTIVATIONS: Record<string, (graph: GraphBuilder, x: string, name: string) => string> = {
  gelu: geluErf,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  relu: (graph, x, name) => graph.op('Relu', [x], `${name}/Relu`),
  silu: (graph, x, name) => graph.op('Mul', [x, graph.op('Sigmoid', [x], `${name}/Sigmoid`)], `${name}/Mul`),
  swish: (graph, x, name) => graph.op('Mul', [x, graph.op('Sigmoid', [x], `${name}/Sigmoid`)], `${name}/Mul`),
  tanh: (graph, x, name) => graph.op('Tanh', [x], `${name}/Tanh`),
};

/** The activations the export writes (every one config.ts accepts). */
export const EXPORTABLE_ACTIVATIONS = Object.keys(ACTIVATIONS);

/** One BertLayer: attention + residual + LayerNorm, feed-forward + residual + LayerNorm: [B, S, H] → [B, S, H]. */
function encoderLayer(ctx: Context, x: string, bias: string, index: number): string {
  const p = `bert.encoder.layer.${index}`;
  const attended = dense(ctx, selfAttention(ctx, x, bias, `${p}.attention.self`), `${p}.attention.output.dense`);
  const attentionOut = layerNorm(ctx, ctx.graph.op('Add', [attended, x], `${p}.attention.output/residual`), `${p}.attention.output.LayerNorm`);
  const intermediate = dense(ctx, attentionOut, `${p}.intermediate.dense`); // [B, S, I]
  const activated = ACTIVATIONS[ctx.config.hidden_act](ctx.graph, intermediate, `${p}.intermediate.${ctx.config.hidden_act}`);
  const output = dense(ctx, activated, `${p}.output.dense`); // [B, S, H]
  return layerNorm(ctx, ctx.graph.op('Add', [output, attentionOut], `${p}.output/residual`), `${p}.output.LayerNorm`);
}

/** The pooler: the first token's hidden state through dense + tanh: [B, S, H] → [B, H]. */
function pooler(ctx: Context, hidden: string): string {
  const first = ctx.graph.op('Gather', [hidden, ctx.graph.int64Constant('first_position', [0])], 'bert.pooler/first_token', { axis: int(1) });
  return ctx.graph.op('Tanh', [dense(ctx, first, 'bert.pooler.dense')], 'bert.pooler/Tanh');
}

/**
 * The whole model: input_ids, attention_mask, token_type_ids (int64 [batch_size, sequence_length]) → logits
 * (float32 [batch_size, num_labels]). `matMul` multiplies by the weight matrices (float32 or int8).
 */
export function buildBertGraph(config: BertConfig, weights: Map<string, Float32Tensor>, matMul: WeightMatMul): GraphBuilder {
  const graph = new GraphBuilder('BertForSequenceClassification');
  const ctx: Context = { graph, config, weights, matMul };
  const axes = ['batch_size', 'sequence_length'];
  const inputIds = graph.input('input_ids', TensorType.INT64, axes);
  const attentionMask = graph.input('attention_mask', TensorType.INT64, axes);
  const tokenTypeIds = graph.input('token_type_ids', TensorType.INT64, axes);

  let hidden = embeddings(ctx, inputIds, tokenTypeIds);
  const bias = attentionBias(ctx, attentionMask);
  for (let layer = 0; layer < config.num_hidden_layers; layer += 1) hidden = encoderLayer(ctx, hidden, bias, layer);
  const logits = dense(ctx, pooler(ctx, hidden), 'classifier'); // [B, L]
  graph.output(logits, 'logits', TensorType.FLOAT, ['batch_size', config.num_labels]);
  return graph;
}
