/** Runs the user's `modifyResponse` hook and normalises what it returns. */
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ProxyError } from '../errors/proxy-error.js';
import type { BodyLike, ModifyResponse, ProxyTarget, UpstreamResponse } from '../types.js';

/** What to send after the hook: the upstream body (undefined), new bytes, or a new stream. */
export type ReplacementBody = Buffer | Readable | undefined;

function toReplacement(body: void | BodyLike): ReplacementBody {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Readable) return body;
  throw new TypeError('modifyResponse must return nothing, a string, a Buffer, a Uint8Array or a Readable');
}

/**
 * Watches `headers['content-encoding']` while the hook runs, so a hook that assigns it — even
 * the upstream's own value, after re-compressing the body — is told apart from one that left it
 * alone (comparing values cannot). The returned function restores a plain data property and
 * tells whether the hook assigned the header (deleting and re-adding it counts).
 */
function watchEncoding(headers: IncomingHttpHeaders): () => boolean {
  let value = headers['content-encoding'];
  let assigned = false;
  const get = (): string | undefined => value;
  Object.defineProperty(headers, 'content-encoding', {
    configurable: true,
    enumerable: true,
    get,
    set: (v: string | undefined) => {
      value = v;
      assigned = true;
    },
  });
  return () => {
    if (Object.getOwnPropertyDescriptor(headers, 'content-encoding')?.get !== get) return true;
    delete headers['content-encoding'];
    if (value !== undefined) headers['content-encoding'] = value;
    return assigned;
  };
}

/**
 * Calls the hook. With a replacement body the framing headers are fixed on `proxyRes.headers`:
 * Content-Length set for bytes (removed for a stream), Content-Encoding dropped unless the hook
 * set it. A throw or rejection becomes `RESPONSE_HOOK_FAILED`.
 */
export async function runModifyResponse(
  hook: ModifyResponse,
  proxyRes: UpstreamResponse,
  req: IncomingMessage,
  res: ServerResponse,
  info: { target: ProxyTarget; attempts: number },
): Promise<ReplacementBody> {
  const watched = proxyRes.headers;
  const encoding = watched['content-encoding'];
  const stopWatching = encoding === undefined ? undefined : watchEncoding(watched);
  let encodingAssigned = false;
  const { statusCode, statusMessage } = proxyRes;
  let body: ReplacementBody;
  try {
    body = toReplacement(await hook(proxyRes, req, res));
    // A new status without a new phrase gets its standard phrase, never `201 OK`.
    if (proxyRes.statusCode !== statusCode && proxyRes.statusMessage === statusMessage) {
      proxyRes.statusMessage = STATUS_CODES[proxyRes.statusCode] ?? '';
    }
  } catch (cause) {
    throw new ProxyError('RESPONSE_HOOK_FAILED', 'modifyResponse failed', { ...info, connected: true, cause });
  } finally {
    encodingAssigned = stopWatching?.() ?? false;
  }
  if (body === undefined) return undefined;
  const headers = proxyRes.headers;
  // A hook that replaced the headers object: only a value change shows it set the header.
  const keepEncoding = headers === watched ? encodingAssigned : headers['content-encoding'] !== encoding;
  if (!keepEncoding) delete headers['content-encoding'];
  delete headers['transfer-encoding'];
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
  else delete headers['content-length'];
  return body;
}
