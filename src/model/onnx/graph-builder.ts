// A small builder for ONNX graphs over onnx-proto's generated protobuf classes: nodes with unique output names,
// typed attributes, initializers stored as little-endian raw bytes, graph inputs and outputs with symbolic axes, and
// the encoded ModelProto. It knows the file format, nothing about BERT.
import * as os from 'os';

import { onnx } from 'onnx-proto';

export const TensorType = onnx.TensorProto.DataType;

/** An attribute value with its ONNX type made explicit (a JS number alone does not say INT or FLOAT). */
export type Attribute = { int: number } | { float: number } | { ints: number[] };

export const int = (value: number): Attribute => ({ int: value });
export const float = (value: number): Attribute => ({ float: value });
export const ints = (values: number[]): Attribute => ({ ints: values });

/** A dimension of a graph input or output: a fixed size, or a symbolic name such as 'batch_size'. */
export type Dimension = number | string;

export interface ModelInfo {
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
}

/** ONNX stores tensor data little-endian; the typed arrays here are written as the host lays them out. */
function requireLittleEndian(): void {
  if (os.endianness() !== 'LE') throw new Error('the ONNX export needs a little-endian machine (ONNX raw tensor data is little-endian)');
}

function bytesOf(data: Float32Array | Uint8Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function attributeProto(name: string, value: Attribute): onnx.IAttributeProto {
  const type = onnx.AttributeProto.AttributeType;
  if ('int' in value) return { name, type: type.INT, i: value.int };
  if ('float' in value) return { name, type: type.FLOAT, f: value.float };
  return { name, type: type.INTS, ints: value.ints };
}

function valueInfo(name: string, elemType: number, shape: Dimension[]): onnx.IValueInfoProto {
  const dim = shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly initializerNames = new Set<string>();
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Map<string, number>();
  /** Small constants by type and value: one initializer however often a value is asked for. */
  private readonly constants = new Map<string, string>();

  constructor(private readonly name: string) {
    requireLittleEndian();
  }

  /** `base`, or `base_2`, `base_3`, ... when it is taken: every node and value name in the graph is unique. */
  private uniqueName(base: string): string {
    const seen = this.usedNames.get(base) ?? 0;
    this.usedNames.set(base, seen + 1);
    return seen === 0 ? base : `${base}_${seen + 1}`;
  }

  /** Adds a node and returns its (single) output's name, `<name>` made unique. */
  op(opType: string, inputs: string[], name: string, attributes: Record<string, Attribute> = {}): string {
    return this.opWithOutputs(opType, inputs, name, 1, attributes)[0];
  }

  /** Adds a node with several outputs, named `<name>/0`, `<name>/1`, ... */
  opWithOutputs(opType: string, inputs: string[], name: string, outputCount: number, attributes: Record<string, Attribute> = {}): string[] {
    const nodeName = this.uniqueName(name);
    const output = outputCount === 1 ? [nodeName] : Array.from({ length: outputCount }, (_, i) => `${nodeName}/${i}`);
    this.nodes.push({
      name: nodeName,
      opType,
      input: inputs,
      output,
      attribute: Object.entries(attributes).map(([key, value]) => attributeProto(key, value)),
    });
    return output;
  }

  /** A constant tensor stored in the graph, under `name` (unique). */
  initializer(name: string, dataType: number, dims: number[], data: Float32Array | Uint8Array | BigInt64Array): string {
    if (this.initializerNames.has(name)) throw new Error(`ONNX graph ${this.name}: initializer ${name} is defined twice`);
    this.initializerNames.add(name);
    this.usedNames.set(name, (this.usedNames.get(name) ?? 0) + 1);
    this.initializers.push({ name, dataType, dims, rawData: bytesOf(data) });
    return name;
  }

  /** A float32 constant: a scalar when `dims` is [] (the default for one value). The same value is stored once. */
  floatConstant(name: string, values: number[], dims: number[] = values.length === 1 ? [] : [values.length]): string {
    return this.constant(name, TensorType.FLOAT, dims, values, () => Float32Array.from(values));
  }

  /** An int64 constant: a scalar when `dims` is [] (the default for one value). The same value is stored once. */
  int64Constant(name: string, values: number[], dims: number[] = values.length === 1 ? [] : [values.length]): string {
    return this.constant(name, TensorType.INT64, dims, values, () => BigInt64Array.from(values, BigInt));
  }

  /** A uint8 constant (a zero point): a scalar when `dims` is [] (the default for one value). The same value is stored once. */
  uint8Constant(name: string, values: number[], dims: number[] = values.length === 1 ? [] : [values.length]): string {
    return this.constant(name, TensorType.UINT8, dims, values, () => Uint8Array.from(values));
  }

  private constant(name: string, dataType: number, dims: number[], values: number[], data: () => Float32Array | BigInt64Array | Uint8Array): string {
    const key = JSON.stringify([dataType, dims, values]);
    let stored = this.constants.get(key);
    if (stored === undefined) {
      stored = this.initializer(this.uniqueName(name), dataType, dims, data());
      this.constants.set(key, stored);
    }
    return stored;
  }

  input(name: string, elemType: number, shape: Dimension[]): string {
    this.usedNames.set(name, (this.usedNames.get(name) ?? 0) + 1);
    this.inputs.push(valueInfo(name, elemType, shape));
    return name;
  }

  /** Declares `value` as a graph output under `name` (through an Identity when the names differ). */
  output(value: string, name: string, elemType: number, shape: Dimension[]): void {
    if (value !== name) this.nodes.push({ name: `${name}/Identity`, opType: 'Identity', input: [value], output: [name] });
    this.outputs.push(valueInfo(name, elemType, shape));
  }

  /** The serialized ModelProto (IR version 8, the default ONNX domain at `opsetVersion`). */
  encode(info: ModelInfo): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: onnx.Version.IR_VERSION,
      opsetImport: [{ domain: '', version: info.opsetVersion }],
      producerName: info.producerName,
      producerVersion: info.producerVersion,
      docString: info.docString ?? '',
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
