/**
 * Support for the hostile-input suite. A raw upstream over node:net that records exactly the bytes
 * it receives and frames them itself with a strict HTTP/1.1 parser (RFC 9112), so a test can
 * count how many requests the proxy really sent — the number a smuggling attack tries to change
 * — and see every framing header, trailer and raw request target as they travelled.
 * `startRawChain` puts a proxy and a front server in front of it; `exchangeRaw` talks raw bytes
 * to the front.
 */
import http, { type RequestListener } from 'node:http';
import net, { type Socket } from 'node:net';
import { proxy, type ProxyConfig, type ProxyMiddleware } from '../../src/index.js';
import { serveOnLoopback } from '../helpers/listen.js';

/** One request as the strict parser framed it. */
export interface FramedRequest {
  /** Index of the connection it arrived on (0-based, in accept order). */
  readonly connection: number;
  readonly method: string;
  /** The request target exactly as received. */
  readonly target: string;
  /** `[name, value]` in wire order and letter case; values trimmed of optional whitespace. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The decoded body (chunked framing removed). */
  readonly body: string;
  /** Trailer fields after a chunked body. */
  readonly trailers: ReadonlyArray<readonly [string, string]>;
  /** Framing problems found in an otherwise parseable message (must stay empty). */
  readonly problems: readonly string[];
}

/** What the upstream answers to a framed request: raw response bytes, or `undefined` to stay silent. */
export type RawResponder = (req: FramedRequest) => string | undefined;

export interface RawUpstream {
  readonly url: string;
  readonly port: number;
  /** Bytes received, one latin1 string per connection. */
  readonly received: readonly string[];
  /** Every request framed, across all connections, in arrival order. */
  readonly requests: readonly FramedRequest[];
  /** Bytes the strict parser could not frame (one entry per connection that sent them). */
  readonly unframed: readonly string[];
  /** TCP connections accepted in total. */
  connections(): number;
  /** TCP connections open right now. */
  openSockets(): number;
  /** Destroys every socket and closes the server. Idempotent. */
  close(): Promise<void>;
}

export const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.[01]$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,15})(?:;[^\r\n]*)?$/;

/** Named header values, case-insensitive. */
export function headerValues(headers: ReadonlyArray<readonly [string, string]>, name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

interface HeadResult {
  readonly method: string;
  readonly target: string;
  readonly headers: Array<[string, string]>;
  readonly problems: string[];
}

/** Parses a header block (no final blank line). Returns a string describing the error when it cannot. */
function parseFields(lines: string[], problems: string[]): Array<[string, string]> | string {
  const fields: Array<[string, string]> = [];
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      problems.push(`obs-fold line ${JSON.stringify(line)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return `header line without a name: ${JSON.stringify(line)}`;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) problems.push(`control character in ${name}`);
    fields.push([name, value]);
  }
  return fields;
}

function parseHead(head: string): HeadResult | string {
  if (/\r(?!\n)|(?<!\r)\n/.test(head)) return 'bare CR or LF in the head';
  const [line = '', ...lines] = head.split('\r\n');
  const m = REQUEST_LINE.exec(line);
  if (m === null) return `bad request line ${JSON.stringify(line)}`;
  const problems: string[] = [];
  const headers = parseFields(lines, problems);
  if (typeof headers === 'string') return headers;
  const te = headerValues(headers, 'transfer-encoding');
  const cl = headerValues(headers, 'content-length');
  if (te.length > 0 && cl.length > 0) problems.push('both Transfer-Encoding and Content-Length');
  if (cl.length > 1) problems.push('more than one Content-Length');
  if (te.length > 1) problems.push('more than one Transfer-Encoding');
  if (te.length > 0 && te.join(',').trim().toLowerCase() !== 'chunked') problems.push(`Transfer-Encoding ${JSON.stringify(te.join(','))}`);
  if (cl.some((v) => !/^\d+$/.test(v))) problems.push(`Content-Length ${JSON.stringify(cl.join(','))}`);
  return { method: m[1] as string, target: m[2] as string, headers, problems };
}

type Framed = { readonly body: string; readonly trailers: Array<[string, string]>; readonly used: number };

/** Decodes a chunked body from `data` at `start`: the result, `undefined` (need more bytes) or an error string. */
function decodeChunked(data: string, start: number, problems: string[]): Framed | undefined | string {
  let at = start;
  let body = '';
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol === -1) return data.length - at > 1024 ? 'chunk-size line too long' : undefined;
    const m = CHUNK_SIZE.exec(data.slice(at, eol));
    if (m === null) return `bad chunk-size line ${JSON.stringify(data.slice(at, eol))}`;
    const size = parseInt(m[1] as string, 16);
    at = eol + 2;
    if (size === 0) break;
    if (data.length < at + size + 2) return undefined;
    body += data.slice(at, at + size);
    if (data.slice(at + size, at + size + 2) !== '\r\n') return 'chunk data not followed by CRLF';
    at += size + 2;
  }
  const end = data.indexOf('\r\n\r\n', at - 2);
  if (end === -1) return undefined;
  const block = data.slice(at, end);
  const trailers = block === '' ? [] : parseFields(block.split('\r\n'), problems);
  if (typeof trailers === 'string') return trailers;
  return { body, trailers, used: end + 4 };
}

/** Frames one request from `data`: the request and bytes used, `undefined` (need more) or an error string. */
function frame(data: string, connection: number): { req: FramedRequest; used: number } | undefined | string {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd === -1) return data.length > 256 * 1024 ? 'head too long' : undefined;
  const head = parseHead(data.slice(0, headEnd));
  if (typeof head === 'string') return head;
  const start = headEnd + 4;
  const chunked = headerValues(head.headers, 'transfer-encoding').length > 0;
  let framed: Framed;
  if (chunked) {
    const decoded = decodeChunked(data, start, head.problems);
    if (decoded === undefined || typeof decoded === 'string') return decoded;
    framed = decoded;
  } else {
    const length = Number(headerValues(head.headers, 'content-length')[0] ?? '0');
    if (!Number.isSafeInteger(length)) return 'unusable Content-Length';
    if (data.length < start + length) return undefined;
    framed = { body: data.slice(start, start + length), trailers: [], used: start + length };
  }
  const req: FramedRequest = { connection, ...head, body: framed.body, trailers: framed.trailers };
  return { req, used: framed.used };
}

/**
 * Starts a raw upstream on 127.0.0.1. Each request it frames is recorded and answered with
 * `respond(req)` (default: 200 `ok`, keep-alive); bytes it cannot frame are recorded in
 * `unframed` and the connection is closed.
 */
export async function startRawUpstream(respond: RawResponder = () => OK_RESPONSE): Promise<RawUpstream> {
  const received: string[] = [];
  const requests: FramedRequest[] = [];
  const unframed: string[] = [];
  const server = net.createServer((socket: Socket) => {
    const index = received.push('') - 1;
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      received[index] += text;
      pending += text;
      for (;;) {
        const result = frame(pending, index);
        if (result === undefined) return;
        if (typeof result === 'string') {
          unframed.push(`${result}: ${JSON.stringify(pending.slice(0, 200))}`);
          socket.destroy();
          return;
        }
        pending = pending.slice(result.used);
        requests.push(result.req);
        const answer = respond(result.req);
        if (answer !== undefined) socket.write(Buffer.from(answer, 'latin1'));
      }
    });
    socket.on('error', () => {});
  });
  const { url, port, connections, openSockets, close } = await serveOnLoopback(server);
  return { url, port, received, requests, unframed, connections, openSockets, close };
}

export interface RawChain {
  readonly up: RawUpstream;
  readonly mw: ProxyMiddleware;
  /** The front server's port: send client bytes here. */
  readonly port: number;
  /** Closes the front server, the middleware and the upstream, in that order. */
  close(): Promise<void>;
}

/**
 * Raw upstream ← `proxy(config(up.url))` ← a front server (with `serverOptions`) running
 * `app(mw)`, by default the middleware alone. The upstream answers with `respond`
 * (see {@link startRawUpstream}).
 */
export async function startRawChain(
  config: (upUrl: string) => ProxyConfig,
  app: (mw: ProxyMiddleware) => RequestListener = (mw) => (req, res) => mw(req, res),
  serverOptions: http.ServerOptions = {},
  respond?: RawResponder,
): Promise<RawChain> {
  const up = await startRawUpstream(respond);
  const mw = proxy(config(up.url));
  const front = await serveFront(app(mw), serverOptions);
  return {
    up,
    mw,
    port: front.port,
    async close() {
      await front.close();
      await mw.close();
      await up.close();
    },
  };
}

export interface Front {
  readonly port: number;
  /** Client connections open right now. */
  openSockets(): number;
  close(): Promise<void>;
}

/** Serves `handler` (an app, or `(req, res) => mw(req, res)`) on 127.0.0.1 with the given server options. */
export async function serveFront(handler: RequestListener, options: http.ServerOptions = {}): Promise<Front> {
  const { port, openSockets, close } = await serveOnLoopback(http.createServer(options, handler));
  return { port, openSockets, close };
}

export interface RawExchangeOptions {
  /** Half-close (send FIN) after writing, for bodies delimited by the end of the connection. @default false */
  halfClose?: boolean;
  /** Resolve once the reply holds this many complete responses (counted by status lines with a full head). */
  responses?: number;
  /** Resolve after this many ms without data (a bound for a server that keeps the connection open). @default 2000 */
  idleMs?: number;
}

/** Writes `text` (latin1) on a new connection; resolves with every byte received until the server closes it. */
export function exchangeRaw(port: number, text: string, opts: RawExchangeOptions = {}): Promise<string> {
  const { halfClose = false, idleMs = 2000, responses } = opts;
  return new Promise((resolve, reject) => {
    let data = '';
    let connected = false;
    const socket = net.connect({ port, host: '127.0.0.1' }, () => {
      connected = true;
      socket.write(Buffer.from(text, 'latin1'));
      if (halfClose) socket.end();
    });
    const done = (): void => {
      socket.destroy();
      resolve(data);
    };
    socket.setTimeout(idleMs, done);
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (responses !== undefined && completeResponses(data) >= responses) done();
    });
    socket.on('close', done);
    socket.on('error', (err) => (connected ? done() : reject(err)));
  });
}

/** Counts complete Content-Length-framed responses at the start of `data`. */
function completeResponses(data: string): number {
  let count = 0;
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end === -1) return count;
    const length = /\r\ncontent-length: *(\d+)/i.exec(data.slice(at, end));
    const next = end + 4 + Number(length?.[1] ?? 0);
    if (data.length < next) return count;
    count++;
    at = next;
  }
}

/** Status codes of every response in a raw reply, in order. */
export function statuses(reply: string): number[] {
  return Array.from(reply.matchAll(/(?:^|\r\n)HTTP\/1\.1 (\d{3}) /g), (m) => Number(m[1]));
}
