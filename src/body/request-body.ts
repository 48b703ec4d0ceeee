/**
 * Where each attempt's request body comes from: nothing, bytes (a body a parser already read,
 * re-serialised), or the client's stream, read only once an upstream connection asks for it.
 *
 * Reading lazily is what lets a request whose attempts all failed before connecting be handed
 * on whole (`next()` to another handler, a second proxy): not a byte of it was read. Bytes that
 * were read are kept up to `limit` (`maxReplayBody`, when a retry can happen at all) so a later
 * attempt resends the body from byte 0; a body that outgrew the limit is never sent again, so no
 * attempt ever receives a partial body.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { BodyStream } from '../transport/dispatch.js';
import { hasParsedBody, serializeParsedBody, utf8ContentType } from './parsed-body.js';

/** The request body across attempts. */
export interface RequestBody {
  /** Whether another attempt can send the body whole. */
  readonly replayable: boolean;
  /** The body for the next attempt: none, bytes, or a stream that reads the client lazily. */
  forAttempt(): Buffer | BodyStream | null;
  /**
   * The attempts are over: stop reading the client. With `handOn` (they all failed, and the
   * error handler may pass the request on), bytes read from an unfinished body and kept are
   * put back in front of the rest, so whoever handles the request next still reads it whole.
   */
  release(handOn: boolean): void;
}

/** No body to send (also the body of every WebSocket handshake). */
export const NO_BODY: RequestBody = Object.freeze({ replayable: true, forAttempt: () => null, release: () => {} });

/** A request with neither Content-Length (above 0) nor Transfer-Encoding has no body to lose. */
export function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

function bytesBody(bytes: Buffer): RequestBody {
  const body = bytes.length === 0 ? null : bytes;
  return { replayable: true, forAttempt: () => body, release: () => {} };
}

/** State of one streamed request body, shared by its attempts' streams. */
interface ClientBody {
  readonly req: IncomingMessage;
  readonly limit: number;
  /** Bytes read so far, while they fit in `limit`; undefined once they did not. */
  kept: Buffer[] | undefined;
  size: number;
  /** Whether we started reading the client. */
  reading: boolean;
  ended: boolean;
  error: Error | undefined;
  /** The stream of the attempt in flight. */
  current: AttemptBody | undefined;
  /** Our listeners on `req`, kept so `release()` removes exactly these. */
  listeners: { data(chunk: Buffer): void; end(): void } | undefined;
}

/** One attempt's body stream: the kept bytes, then the client's as they arrive. */
class AttemptBody extends Readable implements BodyStream {
  waitingForClient = false;

  constructor(private readonly source: ClientBody) {
    // As much as one read from a client socket (64 KiB): a full chunk never pauses the client by itself.
    super({ highWaterMark: 64 * 1024 });
  }

  override _read(): void {
    const s = this.source;
    if (s.current !== this) return;
    if (!s.reading) startReading(s);
    if (!s.ended) {
      this.waitingForClient = true;
      s.req.resume();
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // undici destroys the stream when its attempt ends; the client is not paused forever.
    if (this.source.current === this) this.source.current = undefined;
    cb(err);
  }
}

function onData(this: ClientBody, chunk: Buffer): void {
  if (this.kept !== undefined) {
    this.size += chunk.length;
    if (this.size > this.limit) this.kept = undefined;
    else this.kept.push(chunk);
  }
  const current = this.current;
  if (current === undefined) {
    this.req.pause();
    return;
  }
  current.waitingForClient = false;
  // Backpressure: hold the client while the upstream is slow to accept.
  if (!current.push(chunk)) this.req.pause();
}

function onEnd(this: ClientBody): void {
  this.ended = true;
  this.current?.push(null);
}

function onError(this: ClientBody, err: Error): void {
  this.error = err;
  this.current?.destroy(err);
}

function startReading(s: ClientBody): void {
  s.reading = true;
  s.listeners = { data: onData.bind(s), end: onEnd.bind(s) };
  s.req.on('data', s.listeners.data);
  s.req.once('end', s.listeners.end);
  // An aborted upload destroys `req` with an error: the attempt's stream fails with it. Kept
  // after release(), so a late client error never goes unheard.
  s.req.on('error', onError.bind(s));
}

function nextStream(s: ClientBody): BodyStream {
  s.current?.destroy();
  const stream = new AttemptBody(s);
  s.current = stream;
  if (s.reading) {
    for (const chunk of s.kept ?? []) stream.push(chunk);
    if (s.ended) stream.push(null);
    if (s.error !== undefined) stream.destroy(s.error);
  }
  return stream;
}

/**
 * Pauses `req` until someone listens for its data again. A paused stream does not resume on
 * a new 'data' listener by itself, and readers such as body parsers only add one, so the
 * first such listener resumes it.
 */
function holdForNextReader(req: IncomingMessage): void {
  req.pause();
  const onNewListener = (event: string | symbol): void => {
    if (event !== 'data') return;
    req.off('newListener', onNewListener);
    process.nextTick(() => req.resume());
  };
  req.on('newListener', onNewListener);
}

function release(s: ClientBody, handOn: boolean): void {
  s.current = undefined;
  if (s.listeners === undefined) return;
  s.req.off('data', s.listeners.data);
  s.req.off('end', s.listeners.end);
  s.listeners = undefined;
  if (!handOn || s.ended) return;
  // Hold the stream for its next reader: flowing with no listener would drop the bytes.
  holdForNextReader(s.req);
  if (s.kept === undefined || s.kept.length === 0) return;
  // Put back what was read, in order, so the next reader gets the body whole.
  for (let i = s.kept.length - 1; i >= 0; i--) s.req.unshift(s.kept[i] as Buffer);
  s.kept = [];
}

/** The {@link RequestBody} of a streamed body: one object per request, its methods shared. */
class StreamedBody implements RequestBody {
  constructor(private readonly s: ClientBody) {}

  get replayable(): boolean {
    const s = this.s;
    // Nothing read yet: the client still has the whole body, whatever the limit.
    return !s.reading || (s.kept !== undefined && s.error === undefined);
  }

  forAttempt(): BodyStream {
    return nextStream(this.s);
  }

  release(handOn: boolean): void {
    release(this.s, handOn);
  }
}

function clientBody(req: IncomingMessage, limit: number): RequestBody {
  return new StreamedBody({ req, limit, kept: [], size: 0, reading: false, ended: false, error: undefined, current: undefined, listeners: undefined });
}

/**
 * Chooses the body for `req` and fixes the framing headers in `headers` to match. A body
 * consumed by a parser is re-sent from `req.body` with a correct Content-Length; a streamed
 * body is read lazily and kept up to `replayLimit` bytes for retries.
 */
export function resolveRequestBody(req: IncomingMessage, headers: OutgoingHttpHeaders, replayLimit: number): RequestBody {
  if (hasParsedBody(req)) {
    const bytes = serializeParsedBody(req);
    headers['content-length'] = String(bytes.length);
    // Parsers inflate compressed bodies; re-chunking is the client library's job.
    delete headers['content-encoding'];
    delete headers['transfer-encoding'];
    const type = headers['content-type'];
    if (typeof type === 'string') headers['content-type'] = utf8ContentType(req, type);
    return bytesBody(bytes);
  }
  if (hasNoBody(req)) return NO_BODY;
  if (req.readableEnded) {
    // Someone before us read the stream without leaving req.body: send an honest empty body
    // rather than promise bytes that will never come.
    headers['content-length'] = '0';
    return NO_BODY;
  }
  // A chunked body (its Transfer-Encoding, hop-by-hop, was dropped) is re-chunked by undici,
  // which frames any stream of unknown length with `Transfer-Encoding: chunked`.
  return clientBody(req, replayLimit);
}
