/**
 * `skip` (Echo's Skipper) and `except` (Caddy): requests the middleware hands straight to
 * `next()`. The `except` prefixes become one regex at set-up, so a request costs one test.
 */
import type { IncomingMessage } from 'node:http';
import { configError } from '../config/validate.js';
import { isThenable } from '../errors/sync-callback.js';
import { escapeRegExp } from './escape-regexp.js';

/**
 * True when the request is not proxied; a Promise only when the user's `skip` returned one.
 * `path` is the mount-relative path (`req.url` without query).
 */
export type SkipCheck = (req: IncomingMessage, path: string) => boolean | Promise<boolean>;

/** The user's answer as a boolean, awaited when it is a promise (an `async` skip, issue 12). */
function callSkip(skip: (req: IncomingMessage) => unknown, req: IncomingMessage): boolean | Promise<boolean> {
  const result = skip(req);
  return isThenable(result) ? Promise.resolve(result).then(Boolean) : Boolean(result);
}

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
 * is tried first so excluded paths never reach user code. A synchronous `skip` gives a
 * boolean (no promise is made); one that returns a promise gives a promise of a boolean. A
 * throwing `skip` propagates and a rejecting one rejects: the caller hands either to `next(err)`.
 *
 * @throws ConfigError (`switchyard: skip …` / `switchyard: except …`) on invalid options.
 */
export function compileSkip(
  skip: ((req: IncomingMessage) => boolean | Promise<boolean>) | undefined,
  except: string[] | undefined,
): SkipCheck | undefined {
  if (skip !== undefined && typeof skip !== 'function') {
    throw configError('skip', `must be a function (req) => boolean, got ${describe(skip)}`, "skip: (req) => req.method === 'OPTIONS'");
  }
  const excepted = except === undefined ? undefined : compileExcept(except);
  if (skip === undefined) return excepted === undefined ? undefined : (_req, path) => excepted.test(path);
  if (excepted === undefined) return (req) => callSkip(skip, req);
  return (req, path) => excepted.test(path) || callSkip(skip, req);
}
