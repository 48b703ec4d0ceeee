/** Small validators used by normalize-config: each throws a TypeError naming the option. */

export function configError(option: string, problem: string, example?: string): TypeError {
  return new TypeError(`switchyard: ${option} ${problem}${example === undefined ? '' : `, e.g. ${example}`}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
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

/** Rejects keys not in `known`, suggesting the closest known key (typos like `target` for `targets`). */
export function rejectUnknownKeys(option: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const hint = known.find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 4)));
    const where = option === '' ? `unknown option "${key}"` : `${option} has an unknown key "${key}"`;
    throw new TypeError(`switchyard: ${where}${hint === undefined ? '' : `; did you mean "${hint}"?`}`);
  }
}

export { describe as describeValue };
