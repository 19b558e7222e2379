// `bert-trainer export`: a trained model as the folder transformers.js and onnxruntime load (config.json, the
// tokenizer files, onnx/model.onnx and, with --quantize int8, onnx/model_quantized.onnx), one line per file written.
import { promises as fs } from 'fs';
import * as path from 'path';

import { Command, Option } from 'commander';

import { BertClassifier } from '../model/classifier';
import { ONNX_OPSET, ONNX_QUANTIZATIONS, OnnxQuantization } from '../model/onnx/export-onnx';
import { EXIT_OK } from './errors';
import { formatCount } from './format';
import { modelDirectory, requireTrainedModel } from './model-source';
import { choice } from './option-parsers';

export interface ExportFlags {
  model: string;
  output: string;
  quantize?: OnnxQuantization;
}

export function exportCommand(done: (code: number) => void): Command {
  const command = new Command('export')
    .summary('export a trained model to ONNX (the folder transformers.js loads)')
    .description(
      `Writes config.json, the tokenizer files and onnx/model.onnx (float32, opset ${ONNX_OPSET}; inputs input_ids, attention_mask, token_type_ids, output logits), the folder transformers.js and onnxruntime load.`,
    )
    .requiredOption('--model <model>', "a trained model directory (e.g. a train run's --output) or a hub id")
    .requiredOption('--output <dir>', 'the folder to write')
    .addOption(
      new Option('--quantize <type>', "also write onnx/model_quantized.onnx with 8-bit weight matrices (transformers.js's dtype 'q8')").argParser(
        choice(ONNX_QUANTIZATIONS),
      ),
    );
  command.addHelpText('after', '\nExample:\n  bert-trainer export --model runs/tiny --output runs/tiny-onnx --quantize int8');
  command.action(async (flags: ExportFlags) => done(await runExport(flags)));
  return command;
}

export async function runExport(f: ExportFlags): Promise<number> {
  requireTrainedModel(f.model);
  const log = (line: string): boolean => process.stderr.write(`${line}\n`);
  const model = await BertClassifier.fromPretrained(await modelDirectory(f.model, log));
  try {
    if (!model.tokenizer) log(`${f.model} has no tokenizer (tokenizer.json or vocab.txt): onnxruntime runs the export, transformers.js' pipelines need one`);
    const written = await model.exportOnnx(f.output, { quantize: f.quantize });
    for (const file of written) {
      const { size } = await fs.stat(file);
      process.stdout.write(`${path.join(f.output, path.relative(path.resolve(f.output), file))}\t${formatCount(size)}B\n`);
    }
    return EXIT_OK;
  } finally {
    model.dispose();
  }
}
