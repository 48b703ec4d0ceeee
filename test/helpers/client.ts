/**
 * A minimal HTTP client for tests: one request over node:http, the whole reply collected.
 *
 * ```ts
 * const reply = await sendText(`${front.url}/api/x`, { headers: { accept: 'application/json' } });
 * expect(reply.status).toBe(200);
 * // The request target exactly as written (a URL string is normalised by Node first):
 * await sendText({ host: '127.0.0.1', port, path: '/api/../x' });
 * ```
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Names and values in the order and letter case they arrived. */
  readonly rawHeaders: string[];
  /** The body exactly as received (never decompressed). */
  readonly body: Buffer;
}

/** A {@link Reply} with the body decoded as UTF-8. */
export interface TextReply extends Omit<Reply, 'body'> {
  readonly body: string;
}

export interface SendInit extends Omit<http.RequestOptions, 'agent'> {
  /** `false` (the default): a fresh connection, nothing pooled. */
  agent?: http.Agent | false;
  /**
   * A string or Buffer is sent with `req.end(body)` (Node adds a Content-Length unless a
   * framing header is given); an array is written part by part and so goes out chunked.
   */
  body?: string | Buffer | ReadonlyArray<string | Buffer>;
}

/** Collects `res` whole. */
export function readReply(res: IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }),
    );
    res.on('error', reject);
  });
}

/**
 * Sends one request (GET unless `init.method`) and resolves with the whole reply. `target` is
 * handed to node:http as is: a URL string is parsed (dot segments resolved), while options
 * `{ host, port, path }` send `path` byte for byte.
 */
export function sendRequest(target: string | http.RequestOptions, init: SendInit = {}): Promise<Reply> {
  const { body, agent = false, ...rest } = init;
  const options: http.RequestOptions = { ...rest, agent };
  return new Promise((resolve, reject) => {
    const req = typeof target === 'string' ? http.request(target, options) : http.request({ ...target, ...options });
    req.on('response', (res: IncomingMessage) => readReply(res).then(resolve, reject));
    req.on('error', reject);
    if (typeof body === 'string' || Buffer.isBuffer(body) || body === undefined) {
      req.end(body);
      return;
    }
    for (const part of body) req.write(part);
    req.end();
  });
}

/** {@link sendRequest} with the body decoded as UTF-8. */
export async function sendText(target: string | http.RequestOptions, init: SendInit = {}): Promise<TextReply> {
  const reply = await sendRequest(target, init);
  return { ...reply, body: reply.body.toString('utf8') };
}
