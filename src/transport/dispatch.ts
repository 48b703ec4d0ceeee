/**
 * Sends one attempt, an HTTP request or a WebSocket upgrade, to one target through undici, and
 * reports how it went to a sink: the response head, body chunks and end (or the upgraded
 * socket), or a failure with its kind and whether the connection was established. It knows
 * nothing of retries, balancing or how the response is written. The only user of undici's
 * dispatch API besides the pools (health checks use the pools' `request()`).
 *
 * It implements undici's original handler interface (`onConnect`, `onHeaders`, `onData`, …):
 * undici's core calls exactly these, so no adapter object or parsed header object is made
 * per request, and `onHeaders` gives the raw header list with the upstream's letter case.
 *
 * Timers (one design for both kinds, see deadline-clock.ts), by phase:
 * - queued / connecting: `connectTimeout` from dispatch → `connect-timeout`;
 * - sending the body: `idleTimeout` without progress → `idle-timeout` when the upstream
 *   stopped accepting bytes, `client-timeout` when the client stopped sending them (nginx's
 *   `client_body_timeout`: 408, and not the upstream's failure);
 * - waiting for headers: `timeout` from the moment the whole request was sent → `timeout`
 *   (Envoy's rule: a long upload that keeps flowing never times out by this clock);
 * - receiving the body: `idleTimeout` without a byte from the upstream → `idle-timeout`
 *   (paused for a slow client is not idle).
 */
import type { Dispatcher } from 'undici';
import type { Duplex, Readable } from 'node:stream';
import type { FailureKind } from '../errors/classify-error.js';
import type { DeadlineClock, Timed } from './deadline-clock.js';

/** The attempt's timeouts in ms. */
export interface AttemptTimeouts {
  readonly connect: number;
  readonly response: number;
  readonly idle: number;
}

/** What the dispatcher needs to send an attempt (built by the caller per attempt). */
export interface AttemptRequest {
  readonly origin: string;
  readonly method: string;
  /** Full upstream path and query, target prefix included, sent as is. */
  readonly path: string;
  /** Flat `[name, value, …]` list, `host` included. */
  readonly headers: string[];
  readonly body: Buffer | BodyStream | null;
  /** `'websocket'` for an upgrade. */
  readonly upgrade: string | null;
  /** Close the connection after this request (`pool.keepAlive: false`). */
  readonly reset: boolean;
  /** The SNI name to keep undici from deriving one from the Host header (see pools.ts). */
  readonly servername: string | null;
}

/** A request body stream as the dispatcher reads it, which tells whether the client is the slow side. */
export interface BodyStream extends Readable {
  /** True while the stream waits for bytes from the client (the upstream is not to blame). */
  readonly waitingForClient: boolean;
}

/** Receives what happens to one attempt. Exactly one of `end`, `upgraded` or `failed` ends it. */
export interface AttemptSink {
  /** Final response headers (1xx are skipped). Call `call.pause()` to hold the body. */
  head(call: UpstreamCall, status: number, rawHeaders: Buffer[], statusText: string): void;
  /** A body chunk. Return false to pause until `call.resume()`. */
  data(call: UpstreamCall, chunk: Buffer): boolean;
  end(call: UpstreamCall): void;
  upgraded(call: UpstreamCall, rawHeaders: Buffer[], socket: Duplex): void;
  /** `afterHead`: the response head was already reported (the body broke). */
  failed(call: UpstreamCall, kind: FailureKind, cause: unknown, afterHead: boolean): void;
}

const QUEUED = 0;
const SENDING = 1;
const WAITING = 2;
const RECEIVING = 3;
const DONE = 4;

// One shared reason: undici only passes it to the socket it tears down.
const CANCELLED = Object.assign(new Error('attempt cancelled'), { code: 'SWITCHYARD_CANCELLED' });

/** What a passed deadline means in each phase; while sending, it depends on who stalled. */
function deadlineKind(phase: number, clientStalled: boolean): FailureKind {
  if (phase === QUEUED) return 'connect-timeout';
  if (phase === RECEIVING) return 'idle-timeout';
  if (phase === SENDING) return clientStalled ? 'client-timeout' : 'idle-timeout';
  return 'timeout';
}

/**
 * One attempt in flight: undici's handler, the attempt's deadline, and the controls the
 * caller needs (pause, resume, abort). A class because undici calls its methods for every
 * event; the instance is the only object made per attempt.
 */
export class UpstreamCall implements Timed {
  deadline: number;
  prevTimed: Timed | null = null;
  nextTimed: Timed | null = null;
  /** Whether a connection was established and the request written to it. */
  connected = false;
  private phase = QUEUED;
  private paused = false;
  private abortFn: ((err: Error) => void) | undefined = undefined;
  private resumeFn: (() => void) | undefined = undefined;

  constructor(
    private readonly sink: AttemptSink,
    private readonly clock: DeadlineClock,
    private readonly timeouts: AttemptTimeouts,
    private readonly body: BodyStream | null,
  ) {
    this.deadline = Date.now() + timeouts.connect;
  }

  /** Holds the response body (backpressure); the idle clock does not run while held. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.deadline = Date.now() + this.timeouts.idle;
    this.resumeFn?.();
  }

  /** Ends the attempt from our side (client gone, answer not wanted): no more sink calls. */
  abort(): void {
    if (this.phase === DONE) return;
    this.finish();
    this.abortFn?.(CANCELLED);
  }

  /** Whether the attempt still runs. */
  get done(): boolean {
    return this.phase === DONE;
  }

  private finish(): void {
    this.phase = DONE;
    this.clock.unwatch(this);
  }

  onDeadline(now: number): void {
    const phase = this.phase;
    if (phase === DONE) return;
    // A client slow to read is the client's doing, not the upstream's (Node's server timeouts govern it).
    if (phase === RECEIVING && this.paused) {
      this.deadline = now + this.timeouts.idle;
      return;
    }
    const kind = deadlineKind(phase, this.body?.waitingForClient === true);
    this.finish();
    this.abortFn?.(CANCELLED);
    this.sink.failed(this, kind, new Error(`upstream ${kind}`), phase === RECEIVING);
  }

  // undici's handler interface (see the file header).

  onConnect(abort: (err?: Error) => void): void {
    if (this.phase === DONE) {
      abort(CANCELLED);
      return;
    }
    this.abortFn = abort;
    this.connected = true;
    this.phase = SENDING;
    this.deadline = Date.now() + this.timeouts.idle;
  }

  onBodySent(): void {
    if (this.phase === SENDING) this.deadline = Date.now() + this.timeouts.idle;
  }

  onRequestSent(): void {
    if (this.phase !== SENDING) return;
    this.phase = WAITING;
    this.deadline = Date.now() + this.timeouts.response;
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.phase === DONE) return false;
    // 1xx informational answers (103 Early Hints) are not relayed; the final answer follows.
    if (status < 200) return true;
    this.resumeFn = resume;
    this.phase = RECEIVING;
    this.deadline = Date.now() + this.timeouts.idle;
    this.sink.head(this, status, rawHeaders, statusText);
    return !this.paused;
  }

  onData(chunk: Buffer): boolean {
    if (this.phase === DONE) return false;
    this.deadline = Date.now() + this.timeouts.idle;
    if (!this.sink.data(this, chunk)) this.paused = true;
    return !this.paused;
  }

  onComplete(): void {
    if (this.phase === DONE) return;
    this.finish();
    this.sink.end(this);
  }

  onUpgrade(_status: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    if (this.phase === DONE) {
      socket.destroy();
      return;
    }
    this.finish();
    this.sink.upgraded(this, (rawHeaders ?? []) as Buffer[], socket);
  }

  onError(err: Error): void {
    if (this.phase === DONE) return;
    const afterHead = this.phase === RECEIVING;
    this.finish();
    this.sink.failed(this, 'error', err, afterHead);
  }
}

/**
 * Dispatches `request` on `dispatcher` and returns the call. Failures, even synchronous
 * ones (undici refusing a header), reach `sink.failed`, never a throw.
 */
export function dispatchAttempt(
  dispatcher: Dispatcher,
  clock: DeadlineClock,
  timeouts: AttemptTimeouts,
  request: AttemptRequest,
  sink: AttemptSink,
): UpstreamCall {
  const body = request.body;
  const call = new UpstreamCall(sink, clock, timeouts, body === null || Buffer.isBuffer(body) ? null : body);
  clock.watch(call);
  const options = {
    origin: request.origin,
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: body as Dispatcher.DispatchOptions['body'],
    upgrade: request.upgrade,
    reset: request.reset,
    servername: request.servername,
    // Our clock rules; undici's own timers would count queueing and uploads.
    headersTimeout: 0,
    bodyTimeout: 0,
  } as Dispatcher.DispatchOptions;
  try {
    dispatcher.dispatch(options, call as unknown as Dispatcher.DispatchHandler);
  } catch (err) {
    call.onError(err as Error);
  }
  return call;
}
