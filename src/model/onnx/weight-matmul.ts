// How the graph multiplies activations by a constant weight: the one step that differs between the fp32 export
// and the int8 one (quantize.ts). A weight arrives as torch's nn.Linear stores it, [out, in]; ONNX's MatMul wants
// [in, out], so both transpose it once at export time.
import type { GraphBuilder } from './graph-builder';
import { TensorType } from './graph-builder';
import type { Float32Tensor } from './safetensors-weights';

/** Emits x · Wᵀ for x [..., in] and W [out, in] (named `name`), returning the [..., out] value. */
export type WeightMatMul = (graph: GraphBuilder, x: string, weight: Float32Tensor, name: string) => string;

/** W [out, in] as [in, out], row-major. */
export function transposed(weight: Float32Tensor): Float32Tensor {
  const [rows, columns] = weight.shape;
  const data = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < columns; c += 1) data[c * rows + r] = weight.data[r * columns + c];
  }
  return { shape: [columns, rows], data };
}

/** fp32: MatMul(x, Wᵀ) with Wᵀ stored as float32. */
export const float32MatMul: WeightMatMul = (graph, x, weight, name) => {
  const t = transposed(weight);
  const w = graph.initializer(`${name}.transposed`, TensorType.FLOAT, t.shape, t.data);
  return graph.op('MatMul', [x, w], `${name}/MatMul`);
};
