// The library's one seeded generator: mulberry32, floats in [0, 1) from a 32-bit state. Every seeded order
// (epoch permutations, shuffle buffers, splits) and every seeded test input draws from it, so they are identical in
// every process and on every platform.
import { requiredNonNegativeInteger } from './is';

export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One round of a 32-bit integer hash (murmur3's finaliser), folding v into h. */
function mix32(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The random numbers of one epoch: mulberry32 seeded with (seed, epoch), identical in every process and platform.
 * Every seeded order of the library (epoch permutations, streaming shuffle buffers, splits) draws from it.
 */
export function epochRandom(seed: number, epoch: number): () => number {
  requiredNonNegativeInteger(seed, 'seed');
  requiredNonNegativeInteger(epoch, 'epoch');
  const seedLow = seed >>> 0;
  const seedHigh = Math.floor(seed / 4294967296) >>> 0;
  const state = mix32(mix32(mix32(mix32(0x9e3779b9, seedLow), seedHigh), epoch >>> 0), Math.floor(epoch / 4294967296) >>> 0);
  return mulberry32(state);
}
