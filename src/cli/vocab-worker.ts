// Child process of vocab.ts: learns a WordPiece vocabulary from texts (one JSON string per line of a file) and saves
// the tokenizer into a folder. It runs apart because the tokenizers binding's trainer writes to file descriptor 1
// itself (blank lines, or progress bars on a terminal), which a Node process cannot redirect for its own native
// code; the parent starts this one with stdout ignored, so the CLI's own output (and --json) stays clean.
import { createReadStream } from 'fs';
import * as readline from 'readline';

import { BertTokenizer } from '../tokenizer';

async function* textsOf(file: string): AsyncGenerator<string> {
  const lines = readline.createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) if (line !== '') yield JSON.parse(line) as string;
}

async function main(): Promise<void> {
  const [textsFile, vocabSize, outDir] = process.argv.slice(2);
  const tokenizer = await BertTokenizer.trainWordPiece(textsOf(textsFile), { vocabSize: Number(vocabSize) });
  await tokenizer.save(outDir);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
