/**
 * The `to` option (Itsi's URL template). Placeholders are confined to the path and query so a
 * request can never choose the host: only configured origins are ever contacted.
 */
import { configError } from '../config/validate.js';
import type { ConfigError } from '../errors/config-error.js';
import type { RequestContext } from '../request-context.js';
import { compilePlaceholders, hasPlaceholder } from './placeholders.js';

/** A compiled `to` template. */
export interface CompiledTemplate {
  /** The template's origin (`http://127.0.0.1:3001`, as `URL#origin` gives it), or `undefined` for a path template. */
  readonly origin: string | undefined;
  /**
   * The upstream path and query for this request, e.g. `/v2/users?a=1`. A value that is
   * exactly `.` or `..` (`{param.p}`) still forms a dot segment: check the result's path
   * with `resolveSafePath` again.
   */
  render(ctx: RequestContext): string;
}

const EXAMPLE = "'/v2{path}{query}' or 'http://127.0.0.1:3001/v2{path}{query}'";
const SCHEMES = /^(?:https?|wss?)$/i;
// `\` ends the authority too: WHATWG URL reads it as `/` for http(s) and ws(s).
const AUTHORITY_END = /[/\\?#{]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function invalidTo(problem: string): ConfigError {
  return configError('to', problem, EXAMPLE);
}

function hasUnsafeChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * Values from the request are encoded whole, so `../x` or `a\r\nb` in a header stays inside one
 * segment and adds no control characters. Lone surrogates (which make `encodeURIComponent`
 * throw) become U+FFFD rather than failing the request.
 */
function escapeForUrl(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'));
  }
}

/** Splits an absolute template into its origin and its path-and-query part. */
function splitAbsolute(to: string): { origin: string; pathAndQuery: string } {
  const sep = to.indexOf('://');
  if (sep === -1) throw invalidTo('must be a path starting with "/" or "{path}", or an absolute http(s) or ws(s) URL');
  const scheme = to.slice(0, sep);
  const rest = to.slice(sep + 3);
  const end = rest.search(AUTHORITY_END);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const pathAndQuery = end === -1 ? '' : rest.slice(end);
  const hostPlaceholder =
    pathAndQuery.startsWith('{') && !pathAndQuery.startsWith('{path}') && !pathAndQuery.startsWith('{query}');
  if (hasPlaceholder(scheme) || hostPlaceholder) {
    throw invalidTo(`has a placeholder in its scheme, host or port (${JSON.stringify(to)}); placeholders are allowed only in the path and query`);
  }
  if (!SCHEMES.test(scheme)) throw invalidTo(`must use http, https, ws or wss, got ${JSON.stringify(`${scheme}:`)}`);
  // Credentials would be silently lost: render() returns only the path and query.
  if (authority.includes('@')) throw invalidTo('must not contain credentials; set an Authorization header with `headers` instead');
  const invalid = invalidTo(`has an invalid host or port (${JSON.stringify(authority)})`);
  if (authority === '') throw invalid;
  try {
    return { origin: new URL(`${scheme}://${authority}/`).origin, pathAndQuery };
  } catch {
    throw invalid;
  }
}

/**
 * Compiles the `to` option once. `to` is a path template (`'/v2{path}{query}'`) or an absolute
 * URL template (`'http://127.0.0.1:3001/v2{path}{query}'`, `'http://h:3001{path}{query}'`;
 * http, https, ws or wss). `{path}` and `{query}` are inserted as they are (already encoded);
 * every other placeholder value is percent-encoded with `encodeURIComponent`.
 *
 * @throws ConfigError (`switchyard: to …`) when `to` is not a string, has a placeholder in its
 * scheme, host or port, an unknown placeholder, a path not starting with `/` or `{path}`, a
 * fragment, credentials, or a raw space or control character.
 */
export function compileTemplate(to: string): CompiledTemplate {
  if (typeof to !== 'string') throw invalidTo(`must be a string, got ${typeof to}`);
  if (hasUnsafeChars(to)) throw invalidTo('must not contain spaces or control characters; percent-encode them');
  // A fragment is never sent upstream, so one in the template is a mistake.
  if (to.includes('#')) throw invalidTo('must not contain a fragment ("#")');
  const isPath = to.startsWith('/') || to.startsWith('{path}');
  const { origin, pathAndQuery } = isPath ? { origin: undefined, pathAndQuery: to } : splitAbsolute(to);
  if (!(pathAndQuery.startsWith('/') || pathAndQuery.startsWith('{path}'))) {
    throw invalidTo(`path must start with "/" or "{path}", got ${JSON.stringify(pathAndQuery)}`);
  }
  const render = compilePlaceholders(pathAndQuery, 'to', escapeForUrl, { rawUrlParts: true });
  return Object.freeze({ origin, render });
}
