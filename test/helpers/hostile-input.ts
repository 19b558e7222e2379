// The hostile-input harness (scripts/bench/hostile-harness.js, shared with `npm run bench:hostile`) bound to the
// library's sources, as the tests run them.
import { Dataset } from '../../src/data/dataset';
import { encodeExamples } from '../../src/data/encode';
import { readCheckpoint } from '../../src/checkpoint/read-checkpoint';
import { readConfig } from '../../src/model/config';
import { trainingLabels } from '../../src/cli/labels';
import { BertTokenizer, learnWordPieceTokens } from '../../src/tokenizer/tokenizer';
import { learnWordPieceVocabulary } from '../../src/tokenizer/wordpiece-trainer';
import { PYTHON } from './paths';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require('../../scripts/bench/hostile-harness.js') as HostileHarness;

export interface StageRow {
  size: number;
  bytes: number;
  seconds: number;
  keptBytes: number;
  error?: Error;
}

export interface StageResult {
  stage: string;
  bound: 'linear' | 'n log n';
  rows: StageRow[];
  exponent: number;
  keptPerByte: number;
  withinBound: boolean;
}

export interface Stage {
  name: string;
  bound: 'linear' | 'n log n';
  base: number;
  bytesPerByte: number;
  expectError?: boolean;
}

interface HostileHarness {
  STAGES: Stage[];
  MAX_GROWTH_EXPONENT: number;
  harnessContext(lib: object, dir: string, python: string): object;
  measureStage(stage: Stage, sizes: number[], ctx: object, repeats?: number): Promise<StageResult>;
}

export const { STAGES, MAX_GROWTH_EXPONENT } = harness;

const LIBRARY = { Dataset, BertTokenizer, learnWordPieceTokens, learnWordPieceVocabulary, trainingLabels, encodeExamples, readConfig, readCheckpoint };

/** Measures a stage at `sizes` on the sources, with scratch files in `dir`. */
export function measureStage(stage: Stage, sizes: number[], dir: string, repeats = 3): Promise<StageResult> {
  return harness.measureStage(stage, sizes, harness.harnessContext(LIBRARY, dir, PYTHON), repeats);
}

/** "65.5 kB 12.3 ms, 262 kB 40.1 ms, …": a stage's curve for a failure message. */
export function describeCurve(result: StageResult): string {
  return result.rows.map((r) => `${r.bytes} B ${(r.seconds * 1000).toFixed(1)} ms kept ${(r.keptBytes / 1e6).toFixed(1)} MB`).join(', ');
}
