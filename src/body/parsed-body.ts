/**
 * Re-serialises a body that a body parser (`express.json()`, `urlencoded()`, `text()`,
 * `raw()`) already consumed, so the upstream still receives it.
 */
import type { IncomingMessage } from 'node:http';

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

/**
 * The bytes to send for a parsed body: a Buffer (raw) as is, a string (text) as UTF-8, an
 * object as form encoding when the request was a form, else JSON.
 */
export function serializeParsedBody(req: IncomingMessage): Buffer {
  const body = (req as { body?: unknown }).body;
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  const type = req.headers['content-type'] ?? '';
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
