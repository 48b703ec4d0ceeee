/**
 * `skip` (Echo's Skipper) and `except` (Caddy): requests the middleware hands straight to
 * `next()`. The `except` prefixes become one regex at set-up, so a request costs one test.
 */
import type { IncomingMessage } from 'node:http';
import { configError } from '../config/validate.js';
import { escapeRegExp } from './escape-regexp.js';

/** True when the request is not proxied. `path` is the mount-relative path (`req.url` without query). */
export type SkipCheck = (req: IncomingMessage, path: string) => boolean;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

/**
 * Whole-segment prefix match, case-insensitive like Express's mount paths and Caddy's path
 * matcher: `/static` matches `/static`, `/STATIC/a`, `/static?x`, never `/statics`.
 */
function compileExcept(except: unknown): RegExp | undefined {
  const valid = Array.isArray(except) && except.every((p) => typeof p === 'string' && p.startsWith('/'));
  if (!valid) {
    const got = Array.isArray(except) ? describe(except.find((p) => typeof p !== 'string' || !p.startsWith('/'))) : describe(except);
    throw configError('except', `must be an array of path prefixes starting with "/", got ${got}`, "['/static', '/health']");
  }
  if (except.length === 0) return undefined;
  // `/static/` means the same as `/static`; `/` (normalised to '') matches every path.
  const prefixes = (except as string[]).map((p) => escapeRegExp(p.replace(/\/+$/, '')));
  if (prefixes.includes('')) return /^/;
  return new RegExp(`^(?:${prefixes.join('|')})(?:[/?]|$)`, 'i');
}

/**
 * Compiles `skip` and `except` into one check, or `undefined` when neither is set. `except`
 * is tried first so excluded paths never reach user code. A throwing `skip` propagates: the
 * caller hands it to `next(err)`.
 *
 * @throws ConfigError (`switchyard: skip …` / `switchyard: except …`) on invalid options.
 */
export function compileSkip(
  skip: ((req: IncomingMessage) => boolean) | undefined,
  except: string[] | undefined,
): SkipCheck | undefined {
  if (skip !== undefined && typeof skip !== 'function') {
    throw configError('skip', `must be a function (req) => boolean, got ${describe(skip)}`, "skip: (req) => req.method === 'OPTIONS'");
  }
  const excepted = except === undefined ? undefined : compileExcept(except);
  if (skip === undefined) return excepted === undefined ? undefined : (_req, path) => excepted.test(path);
  if (excepted === undefined) return (req) => Boolean(skip(req));
  return (req, path) => excepted.test(path) || Boolean(skip(req));
}
