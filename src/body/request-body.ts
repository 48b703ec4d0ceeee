/** Decides where each attempt's request body comes from: the live stream or kept bytes. */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { hasParsedBody, serializeParsedBody, utf8ContentType } from './parsed-body.js';
import { createReplayBody } from './replay-buffer.js';

/** Where the body of each attempt comes from. */
export interface BodySource {
  /** Whether a later attempt can send the body again (false once a live body was streamed). */
  readonly replayable: boolean;
  /** A fresh stream for the next attempt, or undefined to stream `req` itself. */
  fresh(): Readable | undefined;
}

const NO_BODY: BodySource = Object.freeze({ replayable: true, fresh: () => undefined });

/** A request with neither Content-Length (above 0) nor Transfer-Encoding has no body to lose. */
export function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

function bufferSource(bytes: Buffer): BodySource {
  return { replayable: true, fresh: () => Readable.from([bytes]) };
}

/**
 * Chooses the body source for `req` and fixes the framing headers in `headers` to match.
 * A body consumed by a parser is re-sent from `req.body` with a correct Content-Length; a
 * streamed body is kept up to `replayLimit` bytes for retries (0 when no retry can happen,
 * so nothing is recorded).
 */
export function resolveBodySource(req: IncomingMessage, headers: OutgoingHttpHeaders, replayLimit: number): BodySource {
  if (hasParsedBody(req)) {
    const bytes = serializeParsedBody(req);
    headers['content-length'] = String(bytes.length);
    // Parsers inflate compressed bodies and re-chunking is the agent's job.
    delete headers['content-encoding'];
    delete headers['transfer-encoding'];
    const type = headers['content-type'];
    if (typeof type === 'string') headers['content-type'] = utf8ContentType(req, type);
    return bufferSource(bytes);
  }
  if (hasNoBody(req)) return NO_BODY;
  if (req.readableEnded) {
    // Someone before us read the stream without leaving req.body: send an honest empty body
    // rather than promise bytes that will never come.
    headers['content-length'] = '0';
    delete headers['transfer-encoding'];
    return NO_BODY;
  }
  // A chunked body (its Transfer-Encoding, hop-by-hop, was dropped) is re-chunked upstream.
  // Say so explicitly: for DELETE, OPTIONS and GET Node would send it with no framing at all.
  if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
  return createReplayBody(req, replayLimit);
}
