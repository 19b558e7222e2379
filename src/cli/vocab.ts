// Learns the WordPiece vocabulary of a model trained from scratch, from the training texts. The work happens in a
// child process (vocab-worker.ts explains why); the parent only streams the texts to a temporary file and loads the
// tokenizer folder the child writes.
import { spawn } from 'child_process';
import { createWriteStream, existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { once } from 'events';

import { BertTokenizer } from '../tokenizer';

export interface VocabularyOptions {
  vocabSize: number;
  /** The model's max_position_embeddings (caps the tokenizer's length). */
  maxPositionEmbeddings: number;
  /**
   * The length the model is trained at, recorded as the tokenizer's model_max_length: whoever loads the saved model
   * later (eval, predict, transformers) truncates where training did, and never feeds the position embeddings that
   * training left untouched.
   */
  maxLength: number;
}

const WORKER = path.join(__dirname, 'vocab-worker.js');

async function writeTexts(file: string, texts: Iterable<string>): Promise<void> {
  const out = createWriteStream(file, { encoding: 'utf8' });
  for (const text of texts) {
    if (!out.write(`${JSON.stringify(text)}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function runWorker(textsFile: string, vocabSize: number, outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, textsFile, String(vocabSize), outDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`learning the WordPiece vocabulary failed (${signal ?? `exit code ${code}`}): ${stderr.trim() || 'no message'}`));
    });
  });
}

/** Sets tokenizer_config.json's model_max_length in a saved tokenizer folder. */
async function setModelMaxLength(dir: string, maxLength: number): Promise<void> {
  const file = path.join(dir, 'tokenizer_config.json');
  const config = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  config.model_max_length = maxLength;
  await fs.writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** A BERT WordPiece tokenizer ([PAD] [UNK] [CLS] [SEP] [MASK], lowercased) learned from `texts`. */
export async function learnVocabulary(texts: Iterable<string>, options: VocabularyOptions): Promise<BertTokenizer> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bert-trainer-vocab-'));
  try {
    const outDir = path.join(tmp, 'tokenizer');
    if (existsSync(WORKER)) {
      const textsFile = path.join(tmp, 'texts.jsonl');
      await writeTexts(textsFile, texts);
      await runWorker(textsFile, options.vocabSize, outDir);
    } else {
      // Run from the TypeScript sources (ts-jest) there is no compiled worker: learn in-process (the binding's blank
      // lines then reach stdout).
      await (await BertTokenizer.trainWordPiece([...texts], { vocabSize: options.vocabSize })).save(outDir);
    }
    await setModelMaxLength(outDir, options.maxLength);
    return await BertTokenizer.fromDirectory(outDir, { maxPositionEmbeddings: options.maxPositionEmbeddings });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
