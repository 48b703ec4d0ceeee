import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { STATUS_BY_CODE, type ProxyError } from './proxy-error.js';
import type { ProxyErrorCode } from '../types.js';

/** One prepared answer: the bodies and their lengths, built once. */
interface ErrorAnswer {
  readonly status: number;
  readonly json: Buffer;
  readonly text: Buffer;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/**
 * Headers describing a body the client will not get; dropped if something set them before the
 * failure. Other headers (CORS set by earlier middleware, say) are kept so a browser can still
 * read the error.
 */
const STALE_HEADERS = [
  'content-encoding',
  'content-range',
  'content-disposition',
  'content-language',
  'content-location',
  'etag',
  'last-modified',
  'transfer-encoding',
] as const;

function buildAnswer(status: number, code: string): ErrorAnswer {
  const message = STATUS_CODES[status] ?? 'Error';
  return {
    status,
    json: Buffer.from(JSON.stringify({ error: { status, code, message } })),
    text: Buffer.from(message),
  };
}

/** The answer for each code, built when the module loads: no serialising per request. */
const ANSWERS: ReadonlyMap<string, ErrorAnswer> = new Map(
  (Object.entries(STATUS_BY_CODE) as Array<[ProxyErrorCode, number]>).map(([code, status]) => [
    code,
    buildAnswer(status, code),
  ]),
);

function answerFor(err: ProxyError): ErrorAnswer {
  const known = ANSWERS.get(err.code);
  if (known !== undefined && known.status === err.status) return known;
  // Only reachable for a subclass or a foreign object: the code is never echoed unless it
  // looks like one of ours, and the status must be an error status.
  const status = Number.isInteger(err.status) && err.status >= 400 && err.status <= 599 ? err.status : 502;
  const code = typeof err.code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(err.code) ? err.code : 'PROXY_ERROR';
  return buildAnswer(status, code);
}

/**
 * True when the `Accept` header explicitly asks for JSON: `application/json` or any
 * `application/…+json` (RFC 6839) with a non-zero q. Wildcard ranges (`application/*` or the
 * match-anything range every browser sends) are not enough: a browser should get readable text.
 */
export function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const value = accept.toLowerCase();
  if (!value.includes('json')) return false;
  for (const range of value.split(',')) {
    const [type = '', ...params] = range.split(';');
    const mediaType = type.trim();
    if (mediaType !== 'application/json' && !(mediaType.startsWith('application/') && mediaType.endsWith('+json'))) {
      continue;
    }
    const q = params.find((p) => p.trim().startsWith('q='));
    if (q === undefined || Number(q.trim().slice(2)) > 0) return true;
  }
  return false;
}

/**
 * The built-in `errorHandler`. Answers `err.status` with a short body naming only the status
 * and code — JSON `{"error":{"status":502,"code":"UPSTREAM_UNAVAILABLE","message":"Bad Gateway"}}`
 * when `Accept` explicitly asks for JSON, else the status text as plain text. It never echoes
 * request data or the error's message or cause (they may carry upstream addresses or
 * internals). The answer is `Cache-Control: no-store` so a cache never keeps an outage.
 *
 * When headers were already sent, a second status cannot be written: the connection is
 * destroyed so the client sees a failed response, never a silently truncated one (the same
 * rule as Express's finalhandler).
 */
export function defaultErrorHandler(err: ProxyError, req: IncomingMessage, res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const answer = answerFor(err);
  const json = acceptsJson(req.headers.accept);
  const body = json ? answer.json : answer.text;

  for (const name of STALE_HEADERS) res.removeHeader(name);
  res.statusCode = answer.status;
  res.setHeader('Content-Type', json ? JSON_TYPE : TEXT_TYPE);
  res.setHeader('Content-Length', body.length);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Vary', appendVary(res.getHeader('Vary'), 'Accept'));
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/** Adds `field` to an existing `Vary` value unless it (or `*`) is already there. */
function appendVary(current: ReturnType<ServerResponse['getHeader']>, field: string): string {
  if (current === undefined) return field;
  const value = Array.isArray(current) ? current.join(', ') : String(current);
  const fields = value.split(',').map((f) => f.trim().toLowerCase());
  if (fields.includes('*') || fields.includes(field.toLowerCase())) return value;
  return value.trim() === '' ? field : `${value}, ${field}`;
}
