import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { configError } from '../config/validate.js';
import { isThenable, syncCallbackError } from '../errors/sync-callback.js';
import type { RequestContext } from '../request-context.js';
import { compilePlaceholders, hasPlaceholder, type RenderPlaceholders } from '../routing/placeholders.js';
import type { HeaderRules } from '../types.js';
import { TOKEN } from './token.js';

/** A header set from a constant string. */
export interface ConstantHeaderRule {
  /** Lowercase name. */
  readonly name: string;
  /** The name as the user wrote it (response headers are sent in this letter case). */
  readonly spelled: string;
  readonly value: string;
}

/** A header set from a string with placeholders, rendered per request. */
export interface TemplateHeaderRule {
  readonly name: string;
  readonly spelled: string;
  readonly render: RenderPlaceholders;
}

/** A header set by a user function of the request. */
export interface FunctionHeaderRule {
  readonly name: string;
  readonly spelled: string;
  /** `headers['X-Name']`, for the error thrown when the function returns a non-string. */
  readonly label: string;
  readonly fn: (req: IncomingMessage) => unknown;
}

/** `headers` or `responseHeaders` compiled once: each rule sorted by kind, names validated. */
export interface CompiledHeaderRules {
  /** Lowercase names of `null` rules. */
  readonly remove: readonly string[];
  readonly constants: readonly ConstantHeaderRule[];
  readonly templates: readonly TemplateHeaderRule[];
  readonly functions: readonly FunctionHeaderRule[];
}

// What Node's header validation rejects (ERR_INVALID_CHAR): controls except tab, DEL, > U+00FF.
// CR/LF/NUL would split or truncate the header block, so they must never reach the wire.
const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
const BAD_VALUE_CHARS = /[^\t\x20-\x7e\x80-\xff]/g;

/**
 * Request headers a `headers` rule may not set (removing them is fine): they frame or upgrade
 * one connection, so the transport owns them. undici refuses the first three outright (every
 * request would fail), and Node's HTTP/2 client throws on all of them (`te` but `trailers`),
 * which with `http2` would fail every request too. `connection` stays settable: undici reads
 * `close` from it and never forwards it.
 */
const TRANSPORT_HEADERS: ReadonlySet<string> = new Set(['transfer-encoding', 'keep-alive', 'upgrade', 'proxy-connection', 'http2-settings', 'te']);

/**
 * Removes every character Node refuses in a header value (CR, LF, NUL and other control
 * characters except tab, DEL, and anything above U+00FF), so a value taken from the request
 * (`{header.X}`, `{param.X}`, a function's result) can neither inject a header nor make the
 * upstream request throw. Returns `value` itself when it is already clean.
 */
export function escapeHeaderValue(value: string): string {
  return BAD_VALUE_CHAR.test(value) ? value.replace(BAD_VALUE_CHARS, '') : value;
}

/**
 * Validates and compiles `headers` / `responseHeaders` once. Names are case-insensitive
 * (listing one twice is an error); strings take the `to` placeholders, with request values
 * escaped by {@link escapeHeaderValue}; `null` removes; functions are kept for per-request calls.
 * @returns `undefined` when there are no rules.
 * @throws ConfigError naming the option and the offending header.
 */
export function compileHeaderRules(
  rules: HeaderRules | undefined,
  option: 'headers' | 'responseHeaders',
): CompiledHeaderRules | undefined {
  if (rules === undefined) return undefined;
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) {
    throw configError(option, 'must be an object of header name → string, null or function', "{ 'X-Api-Key': 'secret', 'X-Client-Ip': '{addr}' }");
  }
  const remove: string[] = [];
  const constants: ConstantHeaderRule[] = [];
  const templates: TemplateHeaderRule[] = [];
  const functions: FunctionHeaderRule[] = [];
  const seen = new Map<string, string>();
  for (const [spelled, value] of Object.entries(rules)) {
    const label = `${option}['${spelled}']`;
    if (!TOKEN.test(spelled)) {
      throw configError(option, `has an invalid header name '${spelled}'; names are RFC 9110 tokens such as 'X-Request-Id'`);
    }
    const name = spelled.toLowerCase();
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw configError(option, `lists '${earlier}' and '${spelled}'; header names are case-insensitive, keep one`);
    }
    seen.set(name, spelled);
    if (option === 'headers' && value !== null && TRANSPORT_HEADERS.has(name) && !(name === 'te' && value === 'trailers')) {
      throw configError(label, 'is a hop-by-hop header the transport manages per connection; it cannot be set on upstream requests (null removes it)');
    }
    if (value === null) {
      remove.push(name);
    } else if (typeof value === 'function') {
      functions.push({ name, spelled, label, fn: value });
    } else if (typeof value === 'string') {
      if (BAD_VALUE_CHAR.test(value)) {
        throw configError(
          label,
          'contains a character not allowed in a header value (a control character such as CR or LF, or one above U+00FF)',
        );
      }
      if (hasPlaceholder(value)) templates.push({ name, spelled, render: compilePlaceholders(value, label, escapeHeaderValue) });
      else constants.push({ name, spelled, value });
    } else {
      throw configError(label, `must be a string, null or a function of the request, got ${typeof value}`, `{ '${spelled}': 'value' }`);
    }
  }
  if (seen.size === 0) return undefined;
  return { remove, constants, templates, functions };
}

/**
 * Calls a function rule: `undefined` keeps the header, `null` removes it, a string is
 * escaped, an array of strings sets the header once per value (`Set-Cookie`). Anything else,
 * a Promise included, is a TypeError naming the rule.
 */
function callRule(rule: FunctionHeaderRule, req: IncomingMessage): string | string[] | null | undefined {
  const value: unknown = rule.fn(req);
  if (value === undefined || value === null) return value;
  if (typeof value === 'string') return escapeHeaderValue(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return (value as string[]).map(escapeHeaderValue);
  if (isThenable(value)) {
    throw syncCallbackError(rule.label, value, 'return a string (compute async values in a middleware before the proxy)');
  }
  throw new TypeError(
    `switchyard: ${rule.label} returned ${typeof value}; return a string (or an array of strings), or undefined to leave the header as it is`,
  );
}

/**
 * Applies compiled request rules to the outgoing header object (lowercase keys). Runs after
 * hop-by-hop removal and forwarded headers, so the user has the last word. A function rule
 * that throws propagates (the caller hands it to `next(err)`).
 */
export function applyRequestHeaderRules(rules: CompiledHeaderRules, out: OutgoingHttpHeaders, ctx: RequestContext): void {
  for (const name of rules.remove) delete out[name];
  for (const rule of rules.constants) out[rule.name] = rule.value;
  for (const rule of rules.templates) out[rule.name] = rule.render(ctx);
  for (const rule of rules.functions) {
    const value = callRule(rule, ctx.req);
    if (value === null) delete out[rule.name];
    else if (value !== undefined) out[rule.name] = value;
  }
}

/**
 * Applies compiled response rules to `res` in the user's letter case. Call it after the
 * upstream's headers are on `res` and just before the status line is written; `writeHead`
 * must then get no header list, or its entries would override these. A function rule that
 * throws propagates.
 */
export function applyResponseHeaderRules(rules: CompiledHeaderRules, res: ServerResponse, ctx: RequestContext): void {
  for (const name of rules.remove) res.removeHeader(name);
  for (const rule of rules.constants) res.setHeader(rule.spelled, rule.value);
  for (const rule of rules.templates) res.setHeader(rule.spelled, rule.render(ctx));
  for (const rule of rules.functions) {
    const value = callRule(rule, ctx.req);
    if (value === null) res.removeHeader(rule.name);
    else if (value !== undefined) res.setHeader(rule.spelled, value);
  }
}
