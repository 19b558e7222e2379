/** fit() was stopped through its AbortSignal (at a step boundary, after saving a checkpoint when outputDir is set). */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  /** The checkpoint written on the way out, if any. */
  readonly checkpoint: string | undefined;
  /** The optimizer step training stopped at (undefined: stopped before it started). */
  readonly step: number | undefined;

  constructor(message: string, options: { cause?: unknown; checkpoint?: string; step?: number } = {}) {
    super(message, { cause: options.cause });
    this.checkpoint = options.checkpoint;
    this.step = options.step;
  }
}
