/**
 * Validation of the arguments the hash and cookie policies take, shared by the factories
 * (`headerHash(name, …)`, `cookie(name, …, { secret })`) and the policy objects of
 * `config.balancer` (`{ header }`, `{ cookie, secret }`); each caller names its own option.
 */
import { describeValue } from '../config/describe-value.js';
import { configError, isPlainObject, unknownKeyError } from '../config/validate.js';
import { TOKEN } from '../headers/token.js';

/**
 * @param option e.g. `'headerHash() name'` or `'balancer.header'`.
 * @throws ConfigError unless `value` is a valid header name.
 */
export function checkHeaderName(value: unknown, option: string, example: string): string {
  if (typeof value === 'string' && TOKEN.test(value)) return value;
  throw configError(option, `must be a header name such as 'X-User', got ${describeValue(value)}`, example);
}

/** @throws ConfigError unless `value` is a valid cookie name. */
export function checkCookieName(value: unknown, option: string, example: string): string {
  if (typeof value === 'string' && TOKEN.test(value)) return value;
  throw configError(option, `must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${describeValue(value)}`, example);
}

/** @throws ConfigError unless `value` is undefined or a non-empty string. The value is never shown. */
export function checkSecret(value: unknown, option: string, example: string): string | undefined {
  if (value === undefined || (typeof value === 'string' && value !== '')) return value;
  // Only the type is shown: a mistyped secret must not end up in logs.
  const shown = typeof value === 'string' ? 'an empty string' : value === null ? 'null' : typeof value;
  throw configError(option, `must be a non-empty string, got ${shown}`, example);
}

/**
 * @throws ConfigError unless `value` is a plain object whose keys are all in `allowed`.
 */
export function checkKeys(value: unknown, allowed: readonly string[], option: string, example: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw configError(option, `must be an object, got ${describeValue(value)}`, example);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw unknownKeyError(option, key, allowed);
  }
  return value;
}
