// Checkpoint folders of the Trainer: outputDir/checkpoint-<step>/ holds an HF model directory (config, weights,
// tokenizer) plus optimizer.safetensors, scheduler.json, rng_state.bin and trainer_state.json, and for an fp16 run
// scaler.json (the loss scaler's state, as transformers keeps it in scaler.pt).
//
// Crash safety: a checkpoint is written into a temporary folder beside its final place
// (outputDir/.checkpoint-<step>.tmp-<pid>-<random>), every file and the folder are fsynced, and only then is the
// folder renamed to checkpoint-<step>. A folder under a final name is therefore always complete; a process killed
// mid-save leaves only a temporary folder, which the next fit() on that outputDir removes.
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';

import type { GradScalerState } from '../engine/native';
import { findWeightsFiles } from './model-files';
import type { SchedulerState, TrainerStateJson } from './trainer-state';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const SCHEDULER_FILE = 'scheduler.json';
export const RNG_STATE_FILE = 'rng_state.bin';
/** Data-parallel runs: rank r's generator state (r >= 1) beside rank 0's rng_state.bin, as transformers writes rng_state_{r}.pth. */
export function rankRngStateFile(rank: number): string {
  return rank === 0 ? RNG_STATE_FILE : `rng_state_${rank}.bin`;
}
export const TRAINER_STATE_FILE = 'trainer_state.json';
/** fp16 runs: torch.amp.GradScaler.state_dict() as JSON (transformers saves it as scaler.pt), torch's keys. */
export const SCALER_FILE = 'scaler.json';

const FINAL_NAME = /^checkpoint-(\d+)$/;
// .checkpoint-<step>.tmp-<pid>-<hex> (being written) and .checkpoint-<step>.old-<pid>-<hex> (being replaced).
const TEMPORARY_NAME = /^\.checkpoint-(\d+)\.(tmp|old|del)-(\d+)-[0-9a-f]+$/;

export interface CheckpointContents {
  /** Writes the model directory (config, weights, tokenizer) into the given folder. */
  saveModel(dir: string): Promise<unknown>;
  /** Writes the optimizer state to the given file. */
  saveOptimizer(file: string): Promise<void>;
  rngState: Uint8Array;
  /** Data-parallel runs: the generator states of ranks 1, 2, ... (rank 0's is rngState). */
  rankRngStates?: Uint8Array[];
  scheduler: SchedulerState;
  /** fp16 runs: the loss scaler's state (null: none, no scaler.json). */
  gradScaler: GradScalerState | null;
  trainerState: TrainerStateJson;
}

export type CheckpointStage = 'model' | 'optimizer' | 'state' | 'synced';

let writeHook: ((stage: CheckpointStage, tmpDir: string) => unknown) | undefined;

/**
 * @internal For tests: called after each stage of a checkpoint write, inside the temporary folder. A hook that
 * throws simulates a failed write; one that waits widens the window in which a crash lands mid-save.
 */
export function setCheckpointWriteHookForTesting(hook: ((stage: CheckpointStage, tmpDir: string) => unknown) | undefined): void {
  writeHook = hook;
}

function randomSuffix(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function statOrNull(p: string): Promise<import('fs').Stats | null> {
  try {
    return await fs.stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function fsyncPath(p: string): Promise<void> {
  const handle = await fs.open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a directory entry; some platforms (Windows) cannot open directories, which is fine to ignore. */
async function fsyncDirectory(dir: string): Promise<void> {
  try {
    await fsyncPath(dir);
  } catch {
    /* directory fsync unsupported */
  }
}

/** Every regular file under dir (recursively), then dir itself: the native writers do not all fsync. */
async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await fsyncTree(p);
    else if (entry.isFile()) await fsyncPath(p);
  }
  await fsyncDirectory(dir);
}

async function writeFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await fs.open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** JSON with non-finite numbers as null (JSON.stringify does that too; this makes it explicit and typed). */
function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

export function checkpointName(step: number): string {
  return `${CHECKPOINT_PREFIX}${step}`;
}

/**
 * Writes outputDir/checkpoint-<step> atomically (see the file comment) and returns its path. An existing
 * checkpoint folder of the same step is replaced; anything else in the way is an error. On failure the
 * temporary folder is removed, earlier checkpoints are untouched, and the Error names the checkpoint path.
 */
export async function writeCheckpoint(outputDir: string, step: number, contents: CheckpointContents): Promise<string> {
  const finalDir = path.join(outputDir, checkpointName(step));
  const tmpDir = path.join(outputDir, `.${checkpointName(step)}.tmp-${randomSuffix()}`);
  let created = false;
  try {
    await fs.mkdir(outputDir, { recursive: true });
    const existing = await statOrNull(finalDir);
    if (existing && !existing.isDirectory()) throw new Error(`${finalDir} exists and is not a checkpoint folder`);
    await fs.mkdir(tmpDir);
    created = true;

    await contents.saveModel(tmpDir);
    await writeHook?.('model', tmpDir);
    await contents.saveOptimizer(path.join(tmpDir, OPTIMIZER_FILE));
    await writeHook?.('optimizer', tmpDir);
    await writeFileSynced(path.join(tmpDir, SCHEDULER_FILE), toJson(contents.scheduler));
    if (contents.gradScaler !== null) await writeFileSynced(path.join(tmpDir, SCALER_FILE), toJson(contents.gradScaler));
    await writeFileSynced(path.join(tmpDir, RNG_STATE_FILE), contents.rngState);
    for (const [i, state] of (contents.rankRngStates ?? []).entries()) await writeFileSynced(path.join(tmpDir, rankRngStateFile(i + 1)), state);
    // Last, so that a folder with trainer_state.json has everything else.
    await writeFileSynced(path.join(tmpDir, TRAINER_STATE_FILE), toJson(contents.trainerState));
    await writeHook?.('state', tmpDir);
    await fsyncTree(tmpDir);
    await writeHook?.('synced', tmpDir);

    if (existing) {
      // rename() cannot replace a non-empty folder: move the old one aside, put the new one in place, delete the old.
      const oldDir = path.join(outputDir, `.${checkpointName(step)}.old-${randomSuffix()}`);
      await fs.rename(finalDir, oldDir);
      try {
        await fs.rename(tmpDir, finalDir);
      } catch (err) {
        await fs.rename(oldDir, finalDir).catch(() => undefined);
        throw err;
      }
      created = false;
      await fsyncDirectory(outputDir);
      await fs.rm(oldDir, { recursive: true, force: true });
    } else {
      await fs.rename(tmpDir, finalDir);
      created = false;
      await fsyncDirectory(outputDir);
    }
    return finalDir;
  } catch (err) {
    if (created) await fs.rm(tmpDir, { recursive: true, force: true }).catch(() => undefined);
    const message = (err as Error).message ?? String(err);
    throw new Error(`failed to write checkpoint ${finalDir}: ${message}`, { cause: err });
  }
}

/** The final-named checkpoint folders of outputDir, oldest step first. */
export async function listCheckpoints(outputDir: string): Promise<{ step: number; path: string }[]> {
  let names: string[];
  try {
    names = await fs.readdir(outputDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: { step: number; path: string }[] = [];
  for (const name of names) {
    const match = FINAL_NAME.exec(name);
    if (!match) continue;
    const p = path.join(outputDir, name);
    if ((await statOrNull(p))?.isDirectory()) found.push({ step: Number(match[1]), path: p });
  }
  return found.sort((a, b) => a.step - b.step);
}

function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Tidies what a killed process left in outputDir: temporary folders are deleted, and a checkpoint that was moved
 * aside to be replaced is put back if its replacement never arrived. Folders of live processes are left alone.
 */
export async function recoverInterruptedWrites(outputDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(outputDir);
  } catch {
    return;
  }
  for (const name of names) {
    const match = TEMPORARY_NAME.exec(name);
    if (!match || processIsAlive(Number(match[3]))) continue;
    const p = path.join(outputDir, name);
    const finalDir = path.join(outputDir, checkpointName(Number(match[1])));
    if (match[2] === 'old' && !(await statOrNull(finalDir))) {
      await fs.rename(p, finalDir);
    } else {
      await fs.rm(p, { recursive: true, force: true });
    }
  }
}

/**
 * transformers' _rotate_checkpoints: deletes the oldest checkpoints beyond `limit`. The best checkpoint (when given)
 * is never deleted: it is moved just before the newest in the deletion order, and a limit of 1 keeps 2 then.
 * A folder is renamed to a temporary name before it is deleted, so no half-deleted folder keeps a final name.
 */
export async function rotateCheckpoints(outputDir: string, limit: number, bestName: string | null): Promise<string[]> {
  const sorted = (await listCheckpoints(outputDir)).map((c) => c.path);
  let effectiveLimit = limit;
  if (bestName !== null) {
    const best = path.join(outputDir, bestName);
    const index = sorted.indexOf(best);
    if (index >= 0) {
      sorted.splice(index, 1);
      sorted.splice(Math.max(0, sorted.length - 1), 0, best);
      if (limit === 1 && sorted[sorted.length - 1] !== best) effectiveLimit = 2;
    }
  }
  const doomed = sorted.slice(0, Math.max(0, sorted.length - effectiveLimit));
  for (const dir of doomed) {
    const trash = path.join(outputDir, `.${path.basename(dir)}.del-${randomSuffix()}`);
    await fs.rename(dir, trash);
    await fs.rm(trash, { recursive: true, force: true });
  }
  return doomed;
}

export interface LoadedCheckpoint {
  dir: string;
  weightsFiles: string[];
  optimizerFile: string;
  rngState: Uint8Array;
  /** Data-parallel runs: the generator states of ranks 1, 2, ... (rank 0's is rngState). */
  rankRngStates?: Uint8Array[];
  scheduler: SchedulerState;
  /** scaler.json of an fp16 run, checked; null when the checkpoint has none. */
  gradScaler: GradScalerState | null;
  trainerState: TrainerStateJson;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: malformed JSON (${(err as Error).message})`);
  }
}

function requireInteger(object: Record<string, unknown>, key: string, file: string, min = 0): number {
  const v = object[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new Error(`${file}: "${key}" must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * scaler.json, when the folder has one, with the values torch.amp.GradScaler accepts: scale > 0, growth_factor > 1,
 * 0 < backoff_factor < 1, an integer growth_interval >= 1 and _growth_tracker in [0, growth_interval).
 */
async function readGradScalerState(dir: string): Promise<GradScalerState | null> {
  const file = path.join(dir, SCALER_FILE);
  if ((await statOrNull(file)) === null) return null;
  const json = await readJson(file);
  const number = (key: keyof GradScalerState, expected: string, ok: (v: number) => boolean): number => {
    const v = json[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new Error(`${file}: "${key}" must be ${expected}, got ${JSON.stringify(v)}`);
    return v;
  };
  const growthInterval = number('growth_interval', 'an integer >= 1', (v) => Number.isSafeInteger(v) && v >= 1);
  return {
    scale: number('scale', 'a number > 0', (v) => v > 0),
    growth_factor: number('growth_factor', 'a number > 1', (v) => v > 1),
    backoff_factor: number('backoff_factor', 'a number in (0, 1)', (v) => v > 0 && v < 1),
    growth_interval: growthInterval,
    _growth_tracker: number(
      '_growth_tracker',
      `an integer in [0, ${growthInterval - 1}] (below growth_interval)`,
      (v) => Number.isSafeInteger(v) && v >= 0 && v < growthInterval,
    ),
  };
}

/** Reads a checkpoint folder for resuming; errors name the folder or file that is missing or malformed. */
export async function readCheckpointFolder(dir: string): Promise<LoadedCheckpoint> {
  const stat = await statOrNull(dir);
  if (!stat?.isDirectory()) throw new Error(`resumeFrom: ${dir} is not a checkpoint folder (no such directory)`);
  const stateFile = path.join(dir, TRAINER_STATE_FILE);
  const trainerState = (await readJson(stateFile)) as unknown as TrainerStateJson;
  requireInteger(trainerState as unknown as Record<string, unknown>, 'global_step', stateFile);
  const own = trainerState.bert_trainer as unknown as Record<string, unknown> | undefined;
  if (!own || typeof own !== 'object') throw new Error(`${stateFile}: no "bert_trainer" section (not written by bert-trainer's Trainer)`);
  const position = own.dataPosition as Record<string, unknown> | undefined;
  if (!position || typeof position !== 'object') throw new Error(`${stateFile}: "bert_trainer.dataPosition" is missing`);
  requireInteger(position, 'epoch', stateFile);
  requireInteger(position, 'batch', stateFile);
  requireInteger(position, 'seed', stateFile);
  if (typeof position.shuffle !== 'boolean') throw new Error(`${stateFile}: "bert_trainer.dataPosition.shuffle" must be a boolean`);
  if (position.groupByLength !== undefined && typeof position.groupByLength !== 'boolean') {
    throw new Error(`${stateFile}: "bert_trainer.dataPosition.groupByLength" must be a boolean`);
  }
  if (position.examples !== undefined) requireInteger(position, 'examples', stateFile);
  if (position.shuffleBuffer !== undefined) requireInteger(position, 'shuffleBuffer', stateFile, 1);
  if (position.startExample !== undefined) requireInteger(position, 'startExample', stateFile);
  if (own.worldSize !== undefined) requireInteger(own, 'worldSize', stateFile, 1);
  for (const key of ['numExamples', 'batchSize', 'gradientAccumulationSteps']) requireInteger(own, key, stateFile, 1);
  if (!Array.isArray(own.history)) throw new Error(`${stateFile}: "bert_trainer.history" must be an array`);

  const schedulerFile = path.join(dir, SCHEDULER_FILE);
  const scheduler = (await readJson(schedulerFile)) as unknown as SchedulerState;
  requireInteger(scheduler as unknown as Record<string, unknown>, 'step', schedulerFile);

  const optimizerFile = path.join(dir, OPTIMIZER_FILE);
  if (!(await statOrNull(optimizerFile))?.isFile()) throw new Error(`${dir}: no ${OPTIMIZER_FILE} (incomplete checkpoint)`);
  const rngFile = path.join(dir, RNG_STATE_FILE);
  let rngState: Uint8Array;
  try {
    rngState = new Uint8Array(await fs.readFile(rngFile));
  } catch (err) {
    throw new Error(`${rngFile}: cannot read (${(err as Error).message})`);
  }
  const gradScaler = await readGradScalerState(dir);
  const weightsFiles = await findWeightsFiles(dir);
  return { dir, weightsFiles, optimizerFile, rngState, scheduler, gradScaler, trainerState };
}

/** Rank `rank`'s generator state from a data-parallel checkpoint (rank 0: rng_state.bin). */
export async function readRankRngState(dir: string, rank: number): Promise<Uint8Array> {
  const file = path.join(dir, rankRngStateFile(rank));
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
}

/** The newest complete checkpoint of outputDir (for resumeFrom: true). */
export async function latestCheckpoint(outputDir: string): Promise<string> {
  const all = await listCheckpoints(outputDir);
  for (let i = all.length - 1; i >= 0; i--) {
    if ((await statOrNull(path.join(all[i].path, TRAINER_STATE_FILE)))?.isFile()) return all[i].path;
  }
  throw new Error(`resumeFrom: true, but ${outputDir} has no checkpoint-<step> folder to resume from`);
}
