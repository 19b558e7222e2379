/** fit() was stopped through its AbortSignal (at a step boundary, after saving a checkpoint when outputDir is set). */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  /** The checkpoint written on the way out, if any. */
  readonly checkpoint: string | undefined;

  constructor(message: string, options: { cause?: unknown; checkpoint?: string } = {}) {
    super(message, { cause: options.cause });
    this.checkpoint = options.checkpoint;
  }
}
