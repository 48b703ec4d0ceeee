/**
 * Re-serialises a body that a body parser (`express.json()`, `urlencoded()`, `text()`,
 * `raw()`) already consumed, so the upstream still receives it.
 */
import type { IncomingMessage } from 'node:http';

const EMPTY = Buffer.alloc(0);

/** True when a parser read the request stream and left the result on `req.body`. */
export function hasParsedBody(req: IncomingMessage): boolean {
  return req.readableEnded && (req as { body?: unknown }).body !== undefined;
}

function encodePair(key: string, value: unknown, out: string[]): void {
  if (value === null || value === undefined) {
    out.push(`${encodeURIComponent(key)}=`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => encodePair(`${key}[${i}]`, v, out));
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) encodePair(`${key}[${k}]`, v, out);
  } else {
    out.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
}

/** `application/x-www-form-urlencoded`, with nested objects in the `a[b]=c` form `qs` parses back. */
function encodeForm(body: Record<string, unknown>): string {
  const out: string[] = [];
  for (const [k, v] of Object.entries(body)) encodePair(k, v, out);
  return out.join('&');
}

const JSON_TYPE = /^\s*application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/**
 * How many bytes `text` takes in `charset`, for the charsets a JSON parser accepts
 * (body-parser refuses every charset but `utf-*` with 415); undefined for any other
 * charset, which only a text parser would have decoded.
 */
function encodedLength(text: string, charset: string): number | undefined {
  const name = charset.toLowerCase();
  if (name === '' || name === 'utf-8' || name === 'utf8') return Buffer.byteLength(text, 'utf8');
  if (name.startsWith('utf-16')) return Buffer.byteLength(text, 'utf16le');
  if (name.startsWith('utf-32')) return Array.from(text).length * 4;
  return undefined;
}

/**
 * Whether a string `req.body` under a JSON Content-Type is the client's JSON text itself
 * (`express.text({ type: 'application/json' })`) rather than a JSON string value that
 * `express.json({ strict: false })` decoded from `"…"` (issue 12). The text parser keeps
 * every byte, so the string re-encoded in the request's charset has the original
 * Content-Length; a decoded JSON string is always shorter than its source (the quotes, and
 * no escape is shorter than the character it stands for). Without a usable length (chunked
 * or compressed upload) a string that is itself valid JSON is taken for the text.
 */
function isRawJsonText(req: IncomingMessage, body: string, type: string): boolean {
  const charset = CHARSET.exec(type)?.[1] ?? '';
  const length = req.headers['content-length'];
  const encoding = req.headers['content-encoding'];
  if (length !== undefined && (encoding === undefined || encoding.toLowerCase() === 'identity')) {
    const expected = encodedLength(body, charset);
    return expected === undefined || expected === Number(length);
  }
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `body` is what a parser makes of an empty request (`{}` from express.json(), `''`
 * from text()), so nothing was sent and nothing should be; a middleware that filled it in
 * after the parser still has its value sent.
 */
function isNothingParsed(body: unknown): boolean {
  if (body === '') return true;
  return typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0;
}

/**
 * The bytes to send for a parsed body, carrying the value the client sent: nothing when
 * the client sent `Content-Length: 0` and `req.body` is still the parser's `{}` or `''`, a Buffer (raw)
 * as is, a string as UTF-8 unless it is a JSON string value (then `"…"` again), an object
 * as form encoding when the request was a form, else JSON.
 */
export function serializeParsedBody(req: IncomingMessage): Buffer {
  const body = (req as { body?: unknown }).body;
  if (req.headers['content-length'] === '0' && isNothingParsed(body)) return EMPTY;
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const type = req.headers['content-type'] ?? '';
  if (typeof body === 'string') {
    const json = JSON_TYPE.test(type) && !isRawJsonText(req, body, type);
    return Buffer.from(json ? JSON.stringify(body) : body, 'utf8');
  }
  if (type.includes('application/x-www-form-urlencoded') && typeof body === 'object' && body !== null) {
    return Buffer.from(encodeForm(body as Record<string, unknown>), 'utf8');
  }
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}

/**
 * A re-serialised text, form or JSON body is UTF-8 whatever charset the client sent (the
 * parser decoded it): a `charset` other than UTF-8 in `contentType` is replaced by `utf-8`,
 * or the upstream would decode the new bytes with the old charset (`café` → `cafÃ©`).
 * A raw (Buffer) body keeps its bytes, so its Content-Type is left alone.
 */
export function utf8ContentType(req: IncomingMessage, contentType: string): string {
  const body = (req as { body?: unknown }).body;
  if (body instanceof Uint8Array) return contentType;
  return contentType.replace(/;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i, (param, quoted?: string, bare?: string) =>
    /^utf-?8$/i.test(quoted ?? bare ?? '') ? param : '; charset=utf-8',
  );
}
