// Exit codes and the one error class the CLI adds. Usage mistakes (a bad flag value, a missing or conflicting
// option) exit with 2, like commander's own parse errors and most Unix tools; everything that goes wrong while
// doing the work (a missing file, a bad column, a failed step) exits with 1; Ctrl-C exits with 130 (128 + SIGINT).

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A mistake in how a command was called; printed with a pointer to the command's --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
