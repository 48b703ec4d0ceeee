/**
 * Keeps a streamed request body while it flows to the first attempt, up to `maxReplayBody`
 * bytes, so a retry can resend it whole: kept bytes first, then whatever the client is still
 * sending. A body that outgrows the limit is never replayed, and a replay always starts at
 * byte 0, so no attempt ever receives a partial body.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { BodySource } from './request-body.js';

/** Mutable state of one request's recorder (one object per streamed request, no closures per chunk). */
interface Recorder {
  readonly req: IncomingMessage;
  readonly limit: number;
  chunks: Buffer[] | undefined;
  size: number;
  ended: boolean;
  /** The replay stream of the attempt in flight, fed live chunks as they arrive. */
  live: Readable | undefined;
  recording: boolean;
}

function onData(this: Recorder, chunk: Buffer): void {
  // Backpressure for the replay: hold the client while the retried upstream is slow.
  if (this.live !== undefined && !this.live.push(chunk)) this.req.pause();
  if (this.chunks === undefined) return;
  this.size += chunk.length;
  if (this.size > this.limit) this.chunks = undefined;
  else this.chunks.push(chunk);
}

function onEnd(this: Recorder): void {
  this.ended = true;
  this.live?.push(null);
}

function onError(this: Recorder, err: Error): void {
  this.live?.destroy(err);
}

function startRecording(r: Recorder): void {
  r.recording = true;
  r.req.on('data', onData.bind(r));
  r.req.once('end', onEnd.bind(r));
  r.req.once('error', onError.bind(r));
}

/** A stream of the whole body: the kept chunks, then the rest as the client sends it. */
function replayStream(r: Recorder): Readable {
  // The previous replay (if any) belonged to a failed attempt: stop feeding it.
  r.live?.destroy();
  const stream = new Readable({
    read() {
      if (!r.ended) r.req.resume();
    },
  });
  for (const chunk of r.chunks ?? []) stream.push(chunk);
  if (r.ended) stream.push(null);
  else {
    r.live = stream;
    // A paused request (its first consumer went away) must flow again for the replay.
    r.req.resume();
  }
  return stream;
}

/**
 * A body source for a streamed request body. The first attempt streams `req` itself while
 * a recorder keeps a copy; later attempts get a replay stream. `replayable` turns false for
 * good once the body exceeds `limit` bytes.
 */
export function createReplayBody(req: IncomingMessage, limit: number): BodySource {
  const r: Recorder = { req, limit, chunks: limit > 0 ? [] : undefined, size: 0, ended: false, live: undefined, recording: false };
  return {
    get replayable() {
      return r.chunks !== undefined;
    },
    fresh() {
      if (r.recording) return replayStream(r);
      if (r.chunks !== undefined) startRecording(r);
      return undefined;
    },
  };
}
