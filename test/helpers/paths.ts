import * as path from 'path';

/** Debian's interpreter with torch 1.13: the PyTorch reference (the python3 first on PATH may lack torch). */
export const PYTHON = process.env.BERT_TRAINER_PYTHON ?? '/usr/bin/python3';
export const FIXTURES_DIR = path.resolve(__dirname, '..', 'fixtures', 'generated');
export const REFERENCE_DIR = path.resolve(__dirname, '..', 'reference');
