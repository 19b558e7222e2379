// Entry point of the `bert-trainer` command (bin/bert-trainer.js requires this file): runs the CLI on the process's
// arguments. The exit code is set rather than forced with process.exit(), so buffered output is flushed first.
import { run } from './program';

void run(process.argv).then((code) => {
  process.exitCode = code;
});
