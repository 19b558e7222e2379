// The order an epoch visits an in-memory dataset, and its cut into batches: the same in every process.
import { requiredNonNegativeInteger, show } from '../util/is';
import { epochRandom } from '../util/random';

/**
 * The order in which an epoch visits the dataset: a Fisher–Yates permutation of 0..length-1 from
 * epochRandom(seed, epoch); 0..length-1 when shuffle is false.
 */
export function epochOrder(length: number, seed: number, epoch: number, shuffle: boolean): number[] {
  requiredNonNegativeInteger(length, 'length');
  requiredNonNegativeInteger(seed, 'seed');
  requiredNonNegativeInteger(epoch, 'epoch');
  if (typeof shuffle !== 'boolean') throw new TypeError(`shuffle must be a boolean, got ${show(shuffle)}`);
  const order = Array.from({ length }, (_, i) => i);
  if (!shuffle) return order;
  const random = epochRandom(seed, epoch);
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Consecutive batches of `order`; the last one may be smaller. */
export function batchesOf(order: readonly number[], batchSize: number): number[][] {
  if (!Array.isArray(order)) throw new TypeError(`order must be an array of indices, got ${show(order)}`);
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${show(batchSize)}`);
  }
  const out: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) out.push(order.slice(start, start + batchSize));
  return out;
}
