import * as fs from 'fs';
import * as path from 'path';

const VENV_PYTHON = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python');

/**
 * The reference interpreter: PyTorch 2.13 and transformers 5.18 in the project's .venv (scripts/install-deps.sh),
 * or BERT_TRAINER_PYTHON (the GPU machine's own Python, for instance).
 */
export const PYTHON = process.env.BERT_TRAINER_PYTHON ?? (fs.existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3');
export const FIXTURES_DIR = path.resolve(__dirname, '..', 'fixtures', 'generated');
export const REFERENCE_DIR = path.resolve(__dirname, '..', 'reference');
