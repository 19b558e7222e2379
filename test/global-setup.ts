// Generates the PyTorch parity fixtures once per test run when they are missing or older than their generator.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { PYTHON, FIXTURES_DIR } from './helpers/paths';

function newestMtime(dir: string): number {
  return Math.max(
    ...fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.py'))
      .map((f) => fs.statSync(path.join(dir, f)).mtimeMs),
  );
}

export default function globalSetup(): void {
  const manifest = path.join(FIXTURES_DIR, 'manifest.json');
  const sources = Math.max(newestMtime(path.join(__dirname, 'fixtures')), newestMtime(path.join(__dirname, 'reference')));
  const fresh = (file: string): boolean => fs.existsSync(file) && fs.statSync(file).mtimeMs >= sources;
  if (!fresh(manifest)) execFileSync(PYTHON, [path.join(__dirname, 'fixtures', 'generate.py'), '--out', FIXTURES_DIR], { stdio: 'inherit' });
  // RoBERTa, XLM-RoBERTa, DistilBERT and ELECTRA (test/bert-family.test.ts)
  const family = path.join(FIXTURES_DIR, 'family');
  if (!fresh(path.join(family, 'manifest.json'))) {
    execFileSync(PYTHON, [path.join(__dirname, 'fixtures', 'bert_family.py'), '--out', family], { stdio: 'inherit' });
  }
}
