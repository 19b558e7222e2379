// BertClassifier.exportOnnx: writes the folder transformers.js and onnxruntime load — config.json and the tokenizer
// files as save() writes them, onnx/model.onnx (float32) and, with quantize: 'int8', onnx/model_quantized.onnx
// (transformers.js's file for dtype 'q8'). The graph is built here in TypeScript from the model's own weights (saved
// as safetensors into a temporary folder inside the output, read back): no Python, no torch.onnx.
import { promises as fs } from 'fs';
import * as path from 'path';

import { versions } from '../../engine/versions';
import { writeFileAtomic } from '../../util/atomic-write';
import { nonEmptyString, oneOf, optionsObject } from '../../util/is';
import type { BertConfig } from '../config';
import { BERT_GRAPH_OPSET, EXPORTABLE_ACTIVATIONS, buildBertGraph } from './bert-graph';
import { int8MatMul } from './quantize';
import { Float32Tensor, readFloat32Safetensors } from './safetensors-weights';
import { WeightMatMul, float32MatMul } from './weight-matmul';

/** The quantized variants the export can add next to the float32 model. */
export const ONNX_QUANTIZATIONS = ['int8'] as const;
export type OnnxQuantization = (typeof ONNX_QUANTIZATIONS)[number];

export interface ExportOnnxOptions {
  /** Also write onnx/model_quantized.onnx with int8 weight matrices (dynamic quantization). */
  quantize?: OnnxQuantization;
}

/** The ONNX opset of the exported graphs. */
export const ONNX_OPSET = BERT_GRAPH_OPSET;

/** What the export needs of a BertClassifier (structural, so that this module does not import the class). */
export interface ExportableModel {
  readonly config: BertConfig;
  save(dir: string, options: { format: 'safetensors' }): Promise<string[]>;
}

const WEIGHTS_FILE = 'model.safetensors';

/** Config fields the graph cannot express are refused before anything is written. */
function checkExportable(config: BertConfig): void {
  if (config.position_embedding_type !== 'absolute') {
    throw new Error(`position_embedding_type ${JSON.stringify(config.position_embedding_type)} cannot be exported to ONNX (only "absolute")`);
  }
  if (!EXPORTABLE_ACTIVATIONS.includes(config.hidden_act)) {
    throw new Error(`hidden_act ${JSON.stringify(config.hidden_act)} cannot be exported to ONNX (supported: ${EXPORTABLE_ACTIVATIONS.join(', ')})`);
  }
}

/** Creates `dir/onnx`; a folder that cannot be created or written is an Error naming it. */
async function prepareOutput(dir: string): Promise<string> {
  const onnxDir = path.join(dir, 'onnx');
  try {
    await fs.mkdir(onnxDir, { recursive: true });
    await fs.access(onnxDir, fs.constants.W_OK);
  } catch (err) {
    throw new Error(`${dir}: cannot write the ONNX export there (${(err as Error).message})`);
  }
  return onnxDir;
}

function encodeGraph(config: BertConfig, weights: Map<string, Float32Tensor>, matMul: WeightMatMul, description: string): Uint8Array {
  return buildBertGraph(config, weights, matMul).encode({
    opsetVersion: ONNX_OPSET,
    producerName: 'bert-trainer',
    producerVersion: versions.bertTrainer,
    docString: description,
  });
}

/**
 * Writes the export of `model` into `dir` and returns the files written (absolute paths). Files are written under
 * temporary names and renamed into place.
 */
export async function exportOnnx(model: ExportableModel, dir: string, options: ExportOnnxOptions = {}): Promise<string[]> {
  nonEmptyString(dir, 'dir');
  const quantize = oneOf(optionsObject(options, 'options', ['quantize']).quantize, 'quantize', ONNX_QUANTIZATIONS);
  checkExportable(model.config);
  const onnxDir = await prepareOutput(dir);
  const staging = await fs.mkdtemp(path.join(dir, '.onnx-export-'));
  try {
    await model.save(staging, { format: 'safetensors' });
    const weights = await readFloat32Safetensors(path.join(staging, WEIGHTS_FILE));
    const written: string[] = [];
    const modelFile = path.join(onnxDir, 'model.onnx');
    await writeFileAtomic(modelFile, encodeGraph(model.config, weights, float32MatMul, 'BertForSequenceClassification, float32'));
    written.push(path.resolve(modelFile));
    if (quantize === 'int8') {
      const quantizedFile = path.join(onnxDir, 'model_quantized.onnx');
      await writeFileAtomic(quantizedFile, encodeGraph(model.config, weights, int8MatMul(), 'BertForSequenceClassification, int8 weight matrices'));
      written.push(path.resolve(quantizedFile));
    }
    // config.json and the tokenizer files, as save() wrote them (renamed: the staging folder is inside `dir`).
    for (const file of await fs.readdir(staging)) {
      if (file === WEIGHTS_FILE || !(await isFile(path.join(staging, file)))) continue;
      await fs.rename(path.join(staging, file), path.join(dir, file));
      written.push(path.resolve(dir, file));
    }
    return written;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
