// `bert-trainer launch`: torchrun for bert-trainer. Starts --nproc-per-node worker processes on this machine, each
// with torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT),
// running a bert-trainer command (`launch ... train --model ...`) or a JavaScript file of the user's. The Trainer
// reads that environment and joins the job (see src/engine/distributed.ts). Across machines, one launch per machine with
// the same --nnodes, --master-addr and --master-port and its own --node-rank.
//
// Like torchrun: when one worker fails, the others are stopped and launch exits with the failure's code; SIGINT and
// SIGTERM are passed on to every worker (the workers run in their own process group, so a Ctrl-C in the terminal
// reaches them once, through launch, and the Trainers agree on the step to stop at and checkpoint).
import { ChildProcess, spawn } from 'child_process';
import * as os from 'os';
import * as path from 'path';

import { Command, Option } from 'commander';

import { DEFAULT_MASTER_PORT } from '../engine/distributed';
import { EXIT_RUNTIME, UsageError } from './errors';
import { choice, integer, number } from './option-parsers';

/** bert-trainer commands that run data-parallel under launch. */
const LAUNCHABLE = ['train'];
/** After a worker failed (or a signal came): how long the others get to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 10_000;

export interface LaunchFlags {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  timeout?: number;
  backend?: 'gloo' | 'nccl';
}

export function launchCommand(done: (code: number) => void): Command {
  const command = new Command('launch')
    .summary('run a command as data-parallel processes on one or more machines (like torchrun)')
    .description(
      'Starts --nproc-per-node processes on this machine, each running <command> with the environment torchrun sets ' +
        '(RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). <command> is a bert-trainer command ' +
        `(${LAUNCHABLE.join(', ')}) with its options, or a .js file whose Trainer then trains data-parallel. ` +
        'batchSize / --batch-size is per process. Rank 0 writes the checkpoints, the model and the report.',
    )
    .usage('[options] <command> [its options...]')
    .argument('<command...>', 'the bert-trainer command (or .js file) and its arguments')
    .passThroughOptions()
    .addOption(new Option('--nproc-per-node <n>', 'worker processes on this machine').argParser(integer(1, 1024)).default(1))
    .addOption(new Option('--nnodes <n>', 'machines in the job').argParser(integer(1, 65536)).default(1))
    .addOption(new Option('--node-rank <n>', "this machine's index in [0, nnodes)").argParser(integer(0)).default(0))
    .addOption(new Option('--master-addr <host>', "rank 0's machine: where the rendezvous store listens").default('127.0.0.1'))
    .addOption(new Option('--master-port <port>', 'TCP port of the rendezvous store').argParser(integer(1, 65535)).default(DEFAULT_MASTER_PORT))
    .addOption(
      new Option('--timeout <seconds>', 'how long the rendezvous and each collective may take before failing (default 1800)').argParser(
        number(0, Infinity, 'min'),
      ),
    )
    .addOption(
      new Option('--backend <name>', "'gloo' (CPU tensors, the default); 'nccl' is for CUDA tensors, which bert-trainer does not train on yet").argParser(
        choice(['gloo', 'nccl'] as const),
      ),
    );
  command.addHelpText(
    'after',
    `
Examples:
  bert-trainer launch --nproc-per-node 2 train --model tiny --train data.csv --output runs/ddp
  # two machines, 4 processes each (run on each machine, with its own --node-rank):
  bert-trainer launch --nnodes 2 --node-rank 0 --nproc-per-node 4 --master-addr 10.0.0.1 --master-port 29500 train ...
  bert-trainer launch --nproc-per-node 2 my-training-script.js

Exit codes: 0 when every worker succeeded; otherwise the first failing worker's (130 after Ctrl-C).`,
  );
  command.action(async (args: string[], flags: LaunchFlags) => done(await runLaunch(args, flags)));
  return command;
}

/** The program and arguments of one worker: a bert-trainer command through this CLI's main, or a user's .js file. */
function workerCommand(args: string[]): string[] {
  const [first, ...rest] = args;
  if (/\.(c|m)?js$/.test(first)) return [path.resolve(first), ...rest];
  if (!LAUNCHABLE.includes(first)) {
    throw new UsageError(`launch runs the bert-trainer command ${LAUNCHABLE.map((c) => `'${c}'`).join(', ')} or a .js file, not '${first}'`);
  }
  return [path.join(__dirname, 'main.js'), first, ...rest];
}

/** torchrun's environment for local worker `localRank`. */
export function workerEnvironment(flags: LaunchFlags, localRank: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const worldSize = flags.nnodes * flags.nprocPerNode;
  const env: NodeJS.ProcessEnv = {
    ...base,
    RANK: String(flags.nodeRank * flags.nprocPerNode + localRank),
    WORLD_SIZE: String(worldSize),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(flags.nprocPerNode),
    GROUP_RANK: String(flags.nodeRank),
    MASTER_ADDR: flags.masterAddr,
    MASTER_PORT: String(flags.masterPort),
    BERT_TRAINER_LAUNCHER_PID: String(process.pid),
  };
  if (flags.timeout !== undefined) env.BERT_TRAINER_DIST_TIMEOUT_MS = String(Math.max(1, Math.round(flags.timeout * 1000)));
  if (flags.backend !== undefined) env.BERT_TRAINER_DIST_BACKEND = flags.backend;
  return env;
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? os.constants.signals[signal] : undefined;
  return number !== undefined ? 128 + number : EXIT_RUNTIME;
}

export async function runLaunch(args: string[], flags: LaunchFlags): Promise<number> {
  if (args.length === 0) throw new UsageError('launch needs a command to run (e.g. train ...)');
  if (flags.nodeRank >= flags.nnodes) throw new UsageError(`--node-rank ${flags.nodeRank} must be less than --nnodes ${flags.nnodes}`);
  if (flags.masterAddr === '') throw new UsageError('--master-addr must be a host name or address');
  const command = workerCommand(args);
  const workers: ChildProcess[] = [];
  let firstFailure: { rank: number; code: number } | undefined;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;

  const stopOthers = (signal: NodeJS.Signals): void => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill(signal);
    killTimer ??= setTimeout(() => {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    }, KILL_GRACE_MS);
    killTimer.unref();
  };
  const forward = (signal: NodeJS.Signals): void => {
    stopping = true;
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill(signal);
  };
  const onSigint = (): void => forward('SIGINT');
  const onSigterm = (): void => forward('SIGTERM');
  const onSighup = (): void => forward('SIGHUP');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);

  try {
    const exits = Array.from({ length: flags.nprocPerNode }, (_, localRank) => {
      const env = workerEnvironment(flags, localRank);
      // Their own process group: a terminal's Ctrl-C reaches them once, forwarded by launch.
      const worker = spawn(process.execPath, command, { env, stdio: 'inherit', detached: true });
      workers.push(worker);
      const rank = Number(env.RANK);
      return new Promise<number>((resolve) => {
        worker.on('error', (err) => {
          process.stderr.write(`launch: rank ${rank} could not start: ${err.message}\n`);
          resolve(EXIT_RUNTIME);
        });
        worker.on('exit', (code, signal) => {
          const exitCode = exitCodeOf(code, signal);
          if (exitCode !== 0 && firstFailure === undefined) {
            firstFailure = { rank, code: exitCode };
            if (!stopping) {
              const others = workers.filter((w) => w !== worker && w.exitCode === null && w.signalCode === null).length;
              process.stderr.write(
                `launch: rank ${rank} exited with ${signal ? `signal ${signal}` : `code ${code}`}${others > 0 ? `; stopping the other ${others} worker${others === 1 ? '' : 's'}` : ''}\n`,
              );
              stopOthers('SIGTERM');
            }
          }
          resolve(exitCode);
        });
      });
    });
    const codes = await Promise.all(exits);
    return firstFailure?.code ?? codes.find((c) => c !== 0) ?? 0;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGHUP', onSighup);
  }
}
