/** Runs the user's `modifyResponse` hook and normalises what it returns. */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
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
 * Calls the hook. With a replacement body the framing headers are fixed on `proxyRes.headers`:
 * Content-Length set for bytes (removed for a stream), Transfer-Encoding removed, and
 * Content-Encoding by one rule read from the headers after the hook (issue 12): still the
 * value the upstream sent → dropped (it described the old body); a different value, or one
 * where the upstream sent none → kept (the hook encoded its body); removed → stays removed.
 * A throw or rejection becomes `RESPONSE_HOOK_FAILED`.
 */
export async function runModifyResponse(
  hook: ModifyResponse,
  proxyRes: UpstreamResponse,
  req: IncomingMessage,
  res: ServerResponse,
  info: { target: ProxyTarget; attempts: number },
): Promise<ReplacementBody> {
  const upstreamEncoding = proxyRes.headers['content-encoding'];
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
  }
  if (body === undefined) return undefined;
  const headers = proxyRes.headers;
  if (headers['content-encoding'] === upstreamEncoding) delete headers['content-encoding'];
  delete headers['transfer-encoding'];
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
  else delete headers['content-length'];
  return body;
}
