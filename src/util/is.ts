// The one place options are checked, like sharp's `is` module: each reader takes the value, the option's name and
// its default (undefined means "use the default"), and throws a TypeError (wrong type) or RangeError (wrong value)
// that names the option and shows what it got. Whatever passes here is trusted by the native side.

/** How messages show an option's value: short, never the whole of a long text. */
export function show(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

export function positiveInteger(value: unknown, name: string, fallback: number): number;
export function positiveInteger(value: unknown, name: string, fallback?: number): number | undefined;
export function positiveInteger(value: unknown, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a positive integer, got ${show(value)}`);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${show(value)}`);
  return value;
}

export function nonNegativeInteger(value: unknown, name: string, fallback: number): number;
export function nonNegativeInteger(value: unknown, name: string, fallback?: number): number | undefined;
export function nonNegativeInteger(value: unknown, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a non-negative integer, got ${show(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${show(value)}`);
  return value;
}

/** A positive integer argument that has no default (undefined is rejected too). */
export function requiredPositiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new (typeof value === 'number' ? RangeError : TypeError)(`${name} must be a positive integer, got ${show(value)}`);
  }
  return value;
}

/** A non-negative integer argument that has no default (undefined is rejected too). */
export function requiredNonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new (typeof value === 'number' ? RangeError : TypeError)(`${name} must be a non-negative integer, got ${show(value)}`);
  }
  return value;
}

/** A required integer in [min, max]. */
export function integerIn(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be an integer in [${min}, ${max}], got ${show(value)}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${show(value)}`);
  return value;
}

export function stringArray(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of strings, got ${show(value)}`);
  value.forEach((v: unknown, i) => {
    if (typeof v !== 'string') throw new TypeError(`${name}[${i}] must be a string, got ${show(v)}`);
  });
  return value as string[];
}

/** A finite number in [min, max] (or [min, max) when maxOpen). */
export function numberIn(value: unknown, name: string, fallback: number, min: number, max: number, maxOpen = false): number {
  if (value === undefined) return fallback;
  const range = `in [${min}, ${max === Infinity ? '∞' : max}${maxOpen ? ')' : ']'}`;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number ${range}, got ${show(value)}`);
  if (!Number.isFinite(value) || value < min || value > max || (maxOpen && value === max)) {
    throw new RangeError(`${name} must be a finite number ${range}, got ${show(value)}`);
  }
  return value;
}

export function boolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${show(value)}`);
  return value;
}

/** One of `allowed` (an enumerated list defined once, where the concept lives). */
export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T;
export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback?: T): T | undefined;
export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback?: T): T | undefined {
  if (value === undefined) return fallback;
  const list = allowed.map((a) => `'${a}'`).join(', ');
  if (typeof value !== 'string') throw new TypeError(`${name} must be one of ${list}, got ${show(value)}`);
  if (!allowed.includes(value as T)) throw new RangeError(`${name} must be one of ${list}, got ${show(value)}`);
  return value as T;
}

export function nonEmptyString(value: unknown, name: string, fallback: string): string;
export function nonEmptyString(value: unknown, name: string, fallback?: string): string | undefined;
export function nonEmptyString(value: unknown, name: string, fallback?: string): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${show(value)}`);
  if (value === '') throw new RangeError(`${name} must not be empty`);
  return value;
}

export function plainObject(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${name} must be an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}

/** An options object, {} when undefined. */
export function optionalObject(value: unknown, name: string): Record<string, unknown> {
  return value === undefined ? {} : plainObject(value, name);
}

/** An options object (undefined: no options): its keys must be among `known`. */
export function optionsObject(value: unknown, name: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  const object = plainObject(value, name);
  rejectUnknownKeys(object, known, name);
  return object;
}

export function rejectUnknownKeys(object: Record<string, unknown>, known: readonly string[], name?: string): void {
  for (const key of Object.keys(object)) {
    if (object[key] !== undefined && !known.includes(key)) {
      throw new TypeError(`${name ? `${name}: ` : ''}unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`);
    }
  }
}
