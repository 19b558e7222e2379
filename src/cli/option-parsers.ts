// Commander argument parsers for numeric and enumerated flags. Each one rejects anything that is not exactly the
// kind of value the flag takes (Number() would accept '', ' 1', '0x10' and 'Infinity'), and its message says what
// was expected; commander prefixes the flag and the value ("option '--epochs <n>' argument 'abc' is invalid.").
import { InvalidArgumentError } from 'commander';

import { parseShardSize } from '../checkpoint/weight-shards';

const INTEGER = /^\+?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

export type ArgParser<T> = (value: string) => T;

function toNumber(value: string, expected: string): number {
  const trimmed = value.trim();
  if (!DECIMAL.test(trimmed)) throw new InvalidArgumentError(`Expected ${expected}.`);
  const n = Number(trimmed);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`Expected ${expected}.`);
  return n;
}

/** An integer >= min (default 1). */
export function integer(min = 1, max = Number.MAX_SAFE_INTEGER): ArgParser<number> {
  const expected =
    min === 1 && max === Number.MAX_SAFE_INTEGER
      ? 'a positive integer'
      : max === Number.MAX_SAFE_INTEGER
        ? `an integer >= ${min}`
        : `an integer in [${min}, ${max}]`;
  return (value) => {
    const trimmed = value.trim();
    if (!INTEGER.test(trimmed)) throw new InvalidArgumentError(`Expected ${expected}.`);
    const n = Number(trimmed);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Expected ${expected}.`);
    return n;
  };
}

/** A finite number in a range; `open` excludes an end ('min', 'max' or 'both'). */
export function number(min: number, max: number, open: 'none' | 'min' | 'max' | 'both' = 'none'): ArgParser<number> {
  const lo = open === 'min' || open === 'both' ? '(' : '[';
  const hi = open === 'max' || open === 'both' ? ')' : ']';
  const expected = min === 0 && max === Infinity && lo === '(' ? 'a positive number' : `a number in ${lo}${min}, ${max === Infinity ? '∞' : max}${hi}`;
  return (value) => {
    const n = toNumber(value, expected);
    const belowMin = lo === '(' ? n <= min : n < min;
    const aboveMax = hi === ')' ? n >= max : n > max;
    if (belowMin || aboveMax) throw new InvalidArgumentError(`Expected ${expected}.`);
    return n;
  };
}

/** One of a fixed set of words. */
export function choice<T extends string>(allowed: readonly T[]): ArgParser<T> {
  return (value) => {
    if (!(allowed as readonly string[]).includes(value)) throw new InvalidArgumentError(`Expected one of: ${allowed.join(', ')}.`);
    return value as T;
  };
}

/** For repeatable flags (--text a --text b): collects every value in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A size in bytes: "500MB", "5GB", "2GiB" or a plain count (src/checkpoint/weight-shards.ts reads it). */
export function byteSize(value: string): number {
  try {
    return parseShardSize(/^\s*\d+\s*$/.test(value) ? Number(value) : value, 'the size');
  } catch {
    throw new InvalidArgumentError('Expected a size such as 500MB, 5GB or 2GiB (units KB, MB, GB, TB, KiB, MiB, GiB, TiB), or a number of bytes.');
  }
}
