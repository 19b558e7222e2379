// The pieces every architecture's ONNX graph is made of: weights under their state-dict names, nn.Linear, nn.LayerNorm,
// BERT's embeddings and pooler, the activations of transformers' ACT2FN. Shapes: B batch, S sequence, H hidden.
import type { BertConfig } from '../config';
import { GraphBuilder, TensorType, float, int } from './graph-builder';
import type { Float32Tensor } from './safetensors-weights';
import type { WeightMatMul } from './weight-matmul';

export interface Context {
  graph: GraphBuilder;
  config: BertConfig;
  weights: Map<string, Float32Tensor>;
  matMul: WeightMatMul;
}

export function weight(ctx: Context, name: string): Float32Tensor {
  const tensor = ctx.weights.get(name);
  if (!tensor) throw new Error(`the model's weights have no tensor ${name}`);
  return tensor;
}

/** A float32 weight stored in the graph as it is, under its state-dict name. */
export function constant(ctx: Context, name: string): string {
  const tensor = weight(ctx, name);
  return ctx.graph.initializer(name, TensorType.FLOAT, tensor.shape, tensor.data);
}

/** nn.Linear `prefix`: x [..., in] → x · Wᵀ + b [..., out]. */
export function dense(ctx: Context, x: string, prefix: string): string {
  const product = ctx.matMul(ctx.graph, x, weight(ctx, `${prefix}.weight`), prefix);
  return ctx.graph.op('Add', [product, constant(ctx, `${prefix}.bias`)], `${prefix}/Add`);
}

/** nn.LayerNorm `prefix` over the last axis: [..., H] → [..., H]. */
export function layerNorm(ctx: Context, x: string, prefix: string): string {
  const { graph, config } = ctx;
  return graph.op('LayerNormalization', [x, constant(ctx, `${prefix}.weight`), constant(ctx, `${prefix}.bias`)], `${prefix}/LayerNormalization`, {
    axis: int(-1),
    epsilon: float(config.layer_norm_eps),
  });
}

/** Positions 0..S-1 from the input's own shape: input_ids [B, S] → [S] int64. */
export function positionIds(ctx: Context, inputIds: string, p: string): string {
  const { graph } = ctx;
  const shape = graph.op('Shape', [inputIds], `${p}/Shape`); // [2]: (B, S)
  const length = graph.op('Gather', [shape, graph.int64Constant('sequence_axis', [1])], `${p}/sequence_length`); // scalar S
  return graph.op('Range', [graph.int64Constant('zero', [0]), length, graph.int64Constant('one', [1])], `${p}/position_ids`);
}

/** BertEmbeddings (also ELECTRA's, under `p`): (word + token type) + position, then LayerNorm: [B, S] ids → [B, S, H]. */
export function bertEmbeddings(ctx: Context, inputIds: string, tokenTypeIds: string, p: string): string {
  const { graph } = ctx;
  const words = graph.op('Gather', [constant(ctx, `${p}.word_embeddings.weight`), inputIds], `${p}/word_embeddings`); // [B, S, H]
  const types = graph.op('Gather', [constant(ctx, `${p}.token_type_embeddings.weight`), tokenTypeIds], `${p}/token_type_embeddings`); // [B, S, H]
  const positions = graph.op('Gather', [constant(ctx, `${p}.position_embeddings.weight`), positionIds(ctx, inputIds, p)], `${p}/position_embeddings`); // [S, H]
  const sum = graph.op('Add', [graph.op('Add', [words, types], `${p}/add_token_types`), positions], `${p}/add_positions`); // [B, S, H]
  return layerNorm(ctx, sum, `${p}.LayerNorm`);
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
export const ACTIVATIONS: Record<string, (graph: GraphBuilder, x: string, name: string) => string> = {
  gelu: geluErf,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  relu: (graph, x, name) => graph.op('Relu', [x], `${name}/Relu`),
  silu: (graph, x, name) => graph.op('Mul', [x, graph.op('Sigmoid', [x], `${name}/Sigmoid`)], `${name}/Mul`),
  swish: (graph, x, name) => graph.op('Mul', [x, graph.op('Sigmoid', [x], `${name}/Sigmoid`)], `${name}/Mul`),
  tanh: (graph, x, name) => graph.op('Tanh', [x], `${name}/Tanh`),
};

/** The pooler: the first token's hidden state through dense + tanh: [B, S, H] → [B, H]. */
export function pooler(ctx: Context, hidden: string): string {
  const first = ctx.graph.op('Gather', [hidden, ctx.graph.int64Constant('first_position', [0])], 'bert.pooler/first_token', { axis: int(1) });
  return ctx.graph.op('Tanh', [dense(ctx, first, 'bert.pooler.dense')], 'bert.pooler/Tanh');
}
