// The manifest that test/fixtures/generate.py writes: each fixture's directory, inputs and the outputs transformers
// (5.18, torch 2.13) computes from that directory, with eager attention (`expected`) and with sdpa (`expectedSdpa`).
import * as fs from 'fs';
import * as path from 'path';

import { FIXTURES_DIR } from './paths';

export interface Expected {
  logits?: number[][];
  loss?: number;
  pooledOutput?: number[][];
  lastHiddenState?: number[][][];
}

export interface Fixture {
  name: string;
  dir: string;
  description: string;
  config: Record<string, unknown> & { num_labels: number; hidden_size: number };
  weightsFormat: string;
  weightFiles: string[];
  storedDtype: 'F32' | 'F16' | 'BF16';
  keyTransform: 'none' | 'layernorm-gamma-beta' | 'add-bert-prefix';
  missingKeys: string[];
  unexpectedKeys: string[];
  inputs: { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds: number[][] };
  labels: unknown;
  expected: Expected;
  expectedSdpa: Expected;
  stateDictKeys: [string, number[]][];
}

export interface Manifest {
  version: number;
  torchVersion: string;
  transformersVersion: string;
  fixtures: Fixture[];
  tokenizerVocab: { dir: string; vocabSize: number };
}

let cached: Manifest | undefined;

export function manifest(): Manifest {
  cached ??= JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, 'manifest.json'), 'utf8')) as Manifest;
  return cached;
}

export function fixture(name: string): Fixture & { path: string } {
  const found = manifest().fixtures.find((f) => f.name === name);
  if (!found) throw new Error(`no fixture named ${name}`);
  return { ...found, path: path.join(FIXTURES_DIR, found.dir) };
}

export function fixturePath(name: string): string {
  return fixture(name).path;
}

/** Largest |a - b| over two equally shaped nested arrays / typed arrays. */
export function maxAbsDiff(actual: ArrayLike<number>, expected: number[] | number[][] | number[][][]): number {
  const flat = (expected as unknown[]).flat(3) as number[];
  if (flat.length !== actual.length) throw new Error(`length ${actual.length} != expected ${flat.length}`);
  let worst = 0;
  for (let i = 0; i < flat.length; i += 1) worst = Math.max(worst, Math.abs(actual[i] - flat[i]));
  return worst;
}
