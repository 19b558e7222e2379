// 8-bit dynamic quantization of the weight matrix products, in the form onnxruntime's quantize_dynamic emits:
// each activation is quantized at run time to uint8 (DynamicQuantizeLinear: its own scale and zero point per
// call), each weight is stored as 8-bit integers at export time, MatMulInteger multiplies them into int32, and one
// float multiply by (activation scale × weight scale) brings the product back (onnxruntime fuses this into
// MatMulIntegerToFloat). Weights are quantized symmetrically per output column (scale max|w| / 127, values in
// [-127, 127]), which keeps more precision than one scale per tensor at no run-time cost, and stored as uint8 with
// zero point 128 (quantize_dynamic's QUInt8): onnxruntime's uint8 × int8 kernels on x86 CPUs without VNNI add
// pairs of products in saturating int16 (vpmaddubsw), which measured here (AVX2) cost 8-14% relative error on
// 32-wide products against 0.8% for uint8 × uint8. Biases, LayerNorms, embeddings and the attention products
// between activations stay float32.
import { GraphBuilder, TensorType, int } from './graph-builder';
import type { Float32Tensor } from './safetensors-weights';
import { WeightMatMul, transposed } from './weight-matmul';

const LEVELS = 127;
/** The stored zero point: uint8 128 stands for 0. */
export const WEIGHT_ZERO_POINT = 128;

export interface PerColumnUint8 {
  /** round(value / scale) + 128, in [1, 255]. */
  values: Uint8Array;
  /** One scale per column: value ≈ (stored - 128) × scale. */
  scales: Float32Array;
}

/** Symmetric 8-bit quantization of a [rows, columns] matrix, one scale per column, stored as uint8 around 128. */
export function quantizePerColumn(matrix: Float32Tensor): PerColumnUint8 {
  const [rows, columns] = matrix.shape;
  const scales = new Float32Array(columns);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < columns; c += 1) scales[c] = Math.max(scales[c], Math.abs(matrix.data[r * columns + c]));
  }
  for (let c = 0; c < columns; c += 1) scales[c] = scales[c] > 0 ? scales[c] / LEVELS : 1;
  const values = new Uint8Array(rows * columns);
  for (let i = 0; i < values.length; i += 1) {
    values[i] = WEIGHT_ZERO_POINT + Math.max(-LEVELS, Math.min(LEVELS, Math.round(matrix.data[i] / scales[i % columns])));
  }
  return { values, scales };
}

/**
 * An 8-bit WeightMatMul for one graph. An activation read by several products (the query, key and value
 * projections read the same hidden states) is quantized once.
 */
export function int8MatMul(): WeightMatMul {
  const quantized = new Map<string, string[]>();
  return (graph: GraphBuilder, x: string, weight: Float32Tensor, name: string): string => {
    let xQuantized = quantized.get(x);
    if (!xQuantized) {
      // [x_uint8 (same shape as x), x_scale (scalar), x_zero_point (scalar uint8)]
      xQuantized = graph.opWithOutputs('DynamicQuantizeLinear', [x], `${x}/DynamicQuantizeLinear`, 3);
      quantized.set(x, xQuantized);
    }
    const [xUint8, xScale, xZeroPoint] = xQuantized;
    const t = transposed(weight); // [in, out]
    const { values, scales } = quantizePerColumn(t);
    const w = graph.initializer(`${name}.transposed.quantized`, TensorType.UINT8, t.shape, values);
    const wScale = graph.initializer(`${name}.transposed.scale`, TensorType.FLOAT, [scales.length], scales);
    const wZeroPoint = graph.uint8Constant('weight_zero_point', [WEIGHT_ZERO_POINT]);
    const product = graph.op('MatMulInteger', [xUint8, w, xZeroPoint, wZeroPoint], `${name}/MatMulInteger`); // [..., out] int32
    const asFloat = graph.op('Cast', [product], `${name}/Cast`, { to: int(TensorType.FLOAT) });
    const scale = graph.op('Mul', [xScale, wScale], `${name}/scale`); // [out]
    return graph.op('Mul', [asFloat, scale], `${name}/dequantized`);
  };
}
