// How many threads the native work uses, for programs (the CLI's --threads): LibTorch's intra-op pool and, where
// the process has OpenBLAS, its own pool, which LibTorch's setting does not reach.
import { native } from './native';

/** Sets the intra-op thread count of training, evaluation and prediction (default: one per core). */
export function setNumThreads(threads: number): void {
  if (typeof threads !== 'number') throw new TypeError(`threads must be a number, got ${typeof threads}`);
  if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  native().setNumThreads(threads);
}

/** The intra-op thread count in use. */
export function numThreads(): number {
  return native().numThreads();
}
