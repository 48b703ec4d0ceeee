/** Small validators used by normalize-config: each throws a {@link ConfigError} naming the option. */
import { ConfigError } from '../errors/config-error.js';
import { describeValue as describe } from './describe-value.js';

export { describeValue } from './describe-value.js';

/** `new ConfigError(option, problem, example)`: `switchyard: <option> <problem>[, e.g. <example>]`. */
export function configError(option: string, problem: string, example?: string): ConfigError {
  return new ConfigError(option, problem, example);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A finite number >= min (Infinity allowed when `allowInfinity`), or the fallback when undefined. */
export function numberOption(
  option: string,
  value: unknown,
  fallback: number,
  opts: { min?: number; integer?: boolean; allowInfinity?: boolean; example: string },
): number {
  if (value === undefined) return fallback;
  const min = opts.min ?? 0;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    value >= min &&
    (Number.isFinite(value) ? !opts.integer || Number.isInteger(value) : opts.allowInfinity === true);
  if (!ok) {
    const kind = opts.integer ? 'an integer' : 'a number';
    throw configError(option, `must be ${kind} >= ${min}, got ${describe(value)}`, opts.example);
  }
  return value;
}

export function booleanOption(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw configError(option, `must be true or false, got ${describe(value)}`);
  return value;
}

export function functionOption<F>(option: string, value: unknown, example: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw configError(option, `must be a function, got ${describe(value)}`, example);
  }
  return value as F;
}

export function statusListOption(option: string, value: unknown, example: string): ReadonlySet<number> | undefined {
  if (value === undefined) return undefined;
  const valid =
    Array.isArray(value) && value.every((s) => typeof s === 'number' && Number.isInteger(s) && s >= 100 && s <= 599);
  if (!valid) throw configError(option, `must be an array of HTTP status codes (100-599), got ${describe(value)}`, example);
  return new Set(value as number[]);
}

export function objectOption(option: string, value: unknown, example: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw configError(option, `must be an object, got ${describe(value)}`, example);
  return value;
}

/** Levenshtein distance, case-insensitive; only used on short option names when a config is rejected. */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[y.length]!;
}

/** The known key a typo most likely meant: same first 4 letters (`target`), else at most 2 edits away (`timout`). */
function closestKey(key: string, known: readonly string[]): string | undefined {
  const byPrefix = known.find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 4)));
  if (byPrefix !== undefined) return byPrefix;
  let best: string | undefined;
  // Short keys get no edit-distance hint: 'x' is 2 edits from 'to' and 'ws' but means neither.
  let bestDistance = Math.min(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Up to this many known keys are listed when a typo has no close match; longer lists point to the docs. */
const LISTED_KEYS = 8;

/**
 * The error for `key`, unknown in the object at `option` (`''` for the config itself): the
 * option path of the key, and the closest known key (typos like `target` for `targets`).
 */
export function unknownKeyError(option: string, key: string, known: readonly string[]): ConfigError {
  const path = (k: string): string => (option === '' ? k : `${option}.${k}`);
  const hint = closestKey(key, known);
  if (hint !== undefined) return configError(path(key), `is not an option; did you mean "${path(hint)}"?`);
  if (known.length <= LISTED_KEYS) return configError(path(key), `is not an option; use ${known.join(', ')}`);
  return configError(path(key), 'is not an option; docs/options.md lists them all');
}

/**
 * Rejects keys not in `known`. `explain` may give a better error for a key it recognises
 * (an option of another proxy library); it is called only once a key is found unknown.
 */
export function rejectUnknownKeys(
  option: string,
  value: Record<string, unknown>,
  known: readonly string[],
  explain?: (key: string) => ConfigError | undefined,
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    throw explain?.(key) ?? unknownKeyError(option, key, known);
  }
}
