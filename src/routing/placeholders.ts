import { configError } from '../config/validate.js';
import type { RequestContext } from '../request-context.js';

/** A compiled text with placeholders: render it per request with no parsing. */
export type RenderPlaceholders = (ctx: RequestContext) => string;

/** Escapes a value taken from the request before it is inserted. */
export type EscapeValue = (value: string) => string;

type Part = string | ((ctx: RequestContext, escape: EscapeValue) => string);

const PLACEHOLDER = /\{([a-zA-Z]+)(?:\.([^{}]+))?\}/g;


function headerValue(ctx: RequestContext, name: string): string {
  const value = ctx.req.headers[name];
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : value;
}

function compilePart(kind: string, arg: string | undefined, option: string, rawUrl: boolean): Part {
  const esc = (get: (ctx: RequestContext) => string): Part => (ctx, escape) => escape(get(ctx));
  const keep = (get: (ctx: RequestContext) => string): Part => (rawUrl ? (ctx) => get(ctx) : esc(get));
  if (arg !== undefined) {
    const name = arg.toLowerCase();
    if (kind === 'header') return esc((ctx) => headerValue(ctx, name));
    if (kind === 'param') return esc((ctx) => ctx.params?.[arg] ?? '');
  } else {
    switch (kind) {
      case 'path': return keep((ctx) => ctx.path);
      case 'query': return keep((ctx) => ctx.query);
      case 'method': return esc((ctx) => ctx.method);
      case 'host': return esc((ctx) => ctx.host);
      case 'scheme': return esc((ctx) => ctx.scheme);
      case 'addr': return esc((ctx) => ctx.addr);
    }
  }
  throw configError(
    option,
    `has an unknown placeholder {${arg === undefined ? kind : `${kind}.${arg}`}}; ` +
      'use {path}, {query}, {method}, {host}, {scheme}, {addr}, {header.NAME} or {param.NAME}',
  );
}

/** Splits `text` into literal and placeholder parts once; throws naming `option` on an unknown placeholder. */
export function compilePlaceholders(
  text: string,
  option: string,
  escape: EscapeValue,
  opts: { rawUrlParts?: boolean } = {},
): RenderPlaceholders {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(compilePart(m[1] as string, m[2], option, opts.rawUrlParts === true));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  if (parts.length === 1 && typeof parts[0] === 'string') {
    const constant = parts[0];
    return () => constant;
  }
  return (ctx) => {
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : part(ctx, escape);
    return out;
  };
}

/** True when `text` holds at least one `{…}` placeholder. */
export function hasPlaceholder(text: string): boolean {
  // `matchAll` starts from the shared regex's lastIndex, so a true `test` must not leave it set.
  PLACEHOLDER.lastIndex = 0;
  const found = PLACEHOLDER.test(text);
  PLACEHOLDER.lastIndex = 0;
  return found;
}
