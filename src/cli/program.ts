// The command-line program: commander's setup shared by every command (usage errors exit with 2 and point at --help)
// and the mapping from what a command throws to an exit code and a one-line message.
import { readFileSync } from 'fs';
import * as path from 'path';

import { Command, CommanderError } from 'commander';

import { benchCommand } from './bench';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, UsageError } from './errors';
import { evalCommand } from './eval';
import { exportCommand } from './export';
import { launchCommand } from './launch';
import { predictCommand } from './predict';
import { trainCommand } from './train';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Commander settings every command needs (they are not inherited by addCommand). */
function configure(command: Command): Command {
  return command
    .exitOverride()
    .showHelpAfterError(`(run '${command.name() === 'bert-trainer' ? 'bert-trainer' : `bert-trainer ${command.name()}`} --help' for the options)`)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false, helpWidth: 110 });
}

export function buildProgram(done: (code: number) => void): Command {
  const program = configure(
    new Command('bert-trainer')
      .description('Fine-tune, evaluate and run BERT text classifiers (LibTorch, Hugging Face compatible).')
      .version(packageVersion(), '-V, --version')
      // launch passes everything after its command on to the workers untouched.
      .enablePositionalOptions(),
  );
  for (const command of [trainCommand(done), evalCommand(done), predictCommand(done), exportCommand(done), benchCommand(done), launchCommand(done)]) {
    program.addCommand(configure(command));
  }
  program.addHelpText('after', `\nRun 'bert-trainer <command> --help' for a command's options.`);
  return program;
}

function message(err: unknown): string {
  if (err instanceof Error) return process.env.BERT_TRAINER_DEBUG ? (err.stack ?? err.message) : err.message;
  return String(err);
}

/** Runs the CLI on `argv` (process.argv's shape) and resolves with the exit code; output goes to stdout and stderr. */
export async function run(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help) already. Help and --version exit 0; a missing command 2.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const commandName = program.commands.find((c) => c.name() === argv[2])?.name();
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n(run 'bert-trainer${commandName ? ` ${commandName}` : ''} --help' for the options)\n`);
      return EXIT_USAGE;
    }
    // A worker of `bert-trainer launch` says which rank failed.
    const rank = process.env.WORLD_SIZE && process.env.RANK ? ` (rank ${process.env.RANK})` : '';
    process.stderr.write(`error${rank}: ${message(err)}\n`);
    return EXIT_RUNTIME;
  }
}
