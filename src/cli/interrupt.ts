// Ctrl-C during training. The first SIGINT aborts fit() through its AbortSignal: the Trainer stops at the next step
// boundary and saves a checkpoint (when there is an output directory), so nothing is lost. A second SIGINT means
// "now": the process exits at once with 130, as it would without a handler, after `beforeExit` (which restores
// the terminal: the progress bar hides the cursor).
import { EXIT_INTERRUPTED } from './errors';

export interface Interrupt {
  signal: AbortSignal;
  /** Removes the handler (Ctrl-C exits the usual way again). */
  dispose(): void;
}

export function onInterrupt(announce: () => void, beforeExit: () => void): Interrupt {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) {
      beforeExit();
      process.exit(EXIT_INTERRUPTED);
    }
    controller.abort(new Error('interrupted (SIGINT)'));
    announce();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', handler) };
}
