/**
 * Request smuggling: ambiguous framing sent over raw sockets to a proxy in front of a raw
 * upstream that frames what it receives with its own strict parser. Whatever Node's parser
 * makes of a message, the upstream must never see a request the proxy did not handle as one
 * (the smuggled `GET /smuggled` is outside the `/api` mount, so it can only reach the upstream
 * hidden in another request's bytes), never a message with two framings, and never a
 * complete request carrying a body the client did not finish sending.
 *
 * Each case runs against a strict front server and one with `insecureHTTPParser: true`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import type { ProxyMiddleware } from '../../src/index.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { until } from '../helpers/poll.js';
import { exchangeRaw, headerValues, startRawChain, statuses, type RawUpstream } from './support.js';

const { track } = useCleanup();

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

interface Harness {
  readonly port: number;
  readonly up: RawUpstream;
  readonly mw: ProxyMiddleware;
  /** `req.url` of every request the middleware was handed. */
  readonly handled: string[];
}

/** Raw upstream ← proxy at `/api` in Express ← front server (strict or lenient parser). */
async function harness(insecureHTTPParser: boolean): Promise<Harness> {
  const handled: string[] = [];
  const frontApp = (mw: ProxyMiddleware): express.Express => {
    const app = express();
    app.use('/api', (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
      handled.push(req.url ?? '');
      mw(req, res, next);
    });
    app.use((_req: IncomingMessage, res: ServerResponse) => res.writeHead(404, { 'content-length': '9' }).end('not-found'));
    return app;
  };
  const { port, up, mw } = track(await startRawChain((url) => ({ targets: url, timeout: 5000 }), frontApp, { insecureHTTPParser }));
  return { port, up, mw, handled };
}

/**
 * What every case must satisfy once the exchange is over: the upstream framed only messages
 * the proxy handled, each with one framing and a body the client really sent.
 */
async function expectNoDesync(h: Harness, reply: string, bodies: readonly string[], halfClosed: boolean): Promise<void> {
  // Let in-flight upstream requests finish, then release pooled sockets so all bytes are in.
  await until(() => h.mw.stats().every((s) => s.active === 0));
  await h.mw.close();
  await until(() => h.up.openSockets() === 0);

  const { up } = h;
  // A client's malformed message is never counted against the target (passive health).
  expect(h.mw.stats()[0]!.failures).toBe(0);
  expect(up.unframed).toEqual([]);
  // The smuggled bytes may travel inside a body (as data), never as a request of their own.
  expect(up.requests.map((r) => r.target)).not.toContain('/smuggled');
  // One upstream request per request the middleware handled, at most one per client request here.
  expect(up.requests.length).toBeLessThanOrEqual(h.handled.length);
  expect(up.requests.length).toBeLessThanOrEqual(1);
  for (const r of up.requests) {
    expect(r.problems).toEqual([]);
    expect(r.target).toBe('/s');
    const framing = [...headerValues(r.headers, 'content-length'), ...headerValues(r.headers, 'transfer-encoding')];
    expect(framing.length).toBeLessThanOrEqual(1);
    expect(bodies).toContain(r.body);
  }
  if (up.requests.length === 0) {
    // Refused: by Node's parser (400 before the middleware ran), or the body broke mid-way.
    const first = statuses(reply)[0];
    if (h.handled.length === 0) {
      expect(first).toBe(400);
      expect(up.connections()).toBe(0);
    }
  } else if (!halfClosed) {
    expect(statuses(reply)[0]).toBe(200);
  }
  // (A client that half-closed may get no reply: Node ends such a connection on the FIN.)
}

interface SmuggleCase {
  readonly name: string;
  /** The whole client request, head and body, as raw bytes. */
  readonly raw: string;
  /** Bodies the upstream may receive if the message is forwarded. */
  readonly bodies: readonly string[];
  /** Send FIN after the request (for bodies read until the connection ends). */
  readonly halfClose?: boolean;
  /** What Node 20's strict parser does, asserted so a change in Node is noticed. */
  readonly strict: 'rejected' | 'forwarded' | 'body-error';
  /**
   * `proxy-400`: a lenient parser accepts the message but the middleware must refuse it
   * (a header name that is not a token), contacting no upstream.
   */
  readonly lenient?: 'proxy-400';
}

const head = (lines: string): string => `POST /api/s HTTP/1.1\r\nHost: x\r\n${lines}\r\n`;
const chunk = (text: string): string => `${text.length.toString(16)}\r\n${text}\r\n`;

const CASES: readonly SmuggleCase[] = [
  {
    name: 'CL.TE: Content-Length covering a smuggled request after the last chunk',
    raw: head(`Content-Length: ${`0\r\n\r\n${SMUGGLED}`.length}\r\nTransfer-Encoding: chunked\r\n`) + `0\r\n\r\n${SMUGGLED}`,
    bodies: [''],
    strict: 'rejected',
  },
  {
    name: 'TE.CL: a short Content-Length after Transfer-Encoding, smuggled request inside a chunk',
    raw: head('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n') + chunk(SMUGGLED) + '0\r\n\r\n',
    bodies: [SMUGGLED],
    strict: 'rejected',
  },
  {
    name: 'duplicate Content-Length, equal values',
    raw: head('Content-Length: 5\r\nContent-Length: 5\r\n') + 'hello',
    bodies: ['hello'],
    strict: 'rejected',
  },
  {
    name: 'duplicate Content-Length, different values',
    raw: head(`Content-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n`) + SMUGGLED,
    bodies: ['', SMUGGLED],
    strict: 'rejected',
  },
  {
    name: 'Content-Length as a list (5, 5)',
    raw: head('Content-Length: 5, 5\r\n') + 'hello',
    bodies: ['hello'],
    strict: 'rejected',
  },
  {
    name: 'Content-Length with a sign (+5)',
    raw: head('Content-Length: +5\r\n') + 'hello',
    bodies: ['hello'],
    strict: 'rejected',
  },
  {
    name: 'Transfer-Encoding: chunked, identity (chunked not last)',
    raw: head('Transfer-Encoding: chunked, identity\r\n') + `0\r\n\r\n${SMUGGLED}`,
    bodies: [`0\r\n\r\n${SMUGGLED}`],
    halfClose: true,
    strict: 'rejected',
  },
  {
    name: 'two Transfer-Encoding headers (chunked, then identity)',
    raw: head('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n') + `0\r\n\r\n${SMUGGLED}`,
    bodies: [`0\r\n\r\n${SMUGGLED}`],
    halfClose: true,
    strict: 'rejected',
  },
  {
    name: 'Transfer-Encoding: identity, chunked (chunked last is valid)',
    raw: head('Transfer-Encoding: identity, chunked\r\n') + chunk('hello') + '0\r\n\r\n',
    bodies: ['hello'],
    strict: 'forwarded',
  },
  {
    name: 'Transfer-Encoding in mixed case',
    raw: head('Transfer-Encoding: ChUnKeD\r\n') + chunk('hello') + `0\r\n\r\n`,
    bodies: ['hello'],
    strict: 'forwarded',
  },
  {
    name: 'Transfer-Encoding: xchunked',
    raw: head('Transfer-Encoding: xchunked\r\n') + chunk('hello') + '0\r\n\r\n',
    bodies: [`${chunk('hello')}0\r\n\r\n`],
    halfClose: true,
    strict: 'body-error',
  },
  {
    name: 'whitespace between Transfer-Encoding and the colon',
    raw: head('Transfer-Encoding : chunked\r\n') + chunk('hello') + '0\r\n\r\n',
    bodies: ['hello', ''],
    strict: 'rejected',
    lenient: 'proxy-400',
  },
  {
    name: 'DELETE with whitespace between Transfer-Encoding and the colon (no default framing for DELETE)',
    raw: 'DELETE /api/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n' + chunk(SMUGGLED) + '0\r\n\r\n',
    bodies: [SMUGGLED],
    strict: 'rejected',
    lenient: 'proxy-400',
  },
  {
    name: 'whitespace between Content-Length and the colon',
    raw: head('Content-Length : 5\r\n') + `hello${SMUGGLED}`,
    bodies: ['hello'],
    strict: 'rejected',
    lenient: 'proxy-400',
  },
  {
    name: 'Connection: Content-Length on a DELETE, so a proxy honouring it would drop the framing',
    raw: `DELETE /api/s HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    bodies: [SMUGGLED],
    strict: 'forwarded',
  },
  {
    name: 'Connection: Transfer-Encoding on a chunked GET',
    raw: 'GET /api/s HTTP/1.1\r\nHost: x\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n' + chunk(SMUGGLED) + '0\r\n\r\n',
    bodies: [SMUGGLED],
    strict: 'forwarded',
  },
  {
    name: 'obs-fold: Transfer-Encoding value on a continuation line',
    raw: head('Transfer-Encoding:\r\n chunked\r\n') + chunk('hello') + '0\r\n\r\n',
    bodies: ['hello'],
    strict: 'rejected',
  },
  {
    name: 'obs-fold: a header line starting with a space hiding Content-Length',
    raw: head(`X-A: a\r\n Content-Length: ${SMUGGLED.length}\r\n`) + SMUGGLED,
    bodies: [''],
    strict: 'rejected',
  },
  {
    name: 'chunk size with a 0x prefix',
    raw: head('Transfer-Encoding: chunked\r\n') + '0x5\r\nhello\r\n0\r\n\r\n',
    bodies: [],
    strict: 'body-error',
  },
  {
    name: 'chunk size with leading whitespace',
    raw: head('Transfer-Encoding: chunked\r\n') + ' 5\r\nhello\r\n0\r\n\r\n',
    bodies: [],
    strict: 'body-error',
  },
  {
    name: 'chunk size with trailing whitespace',
    raw: head('Transfer-Encoding: chunked\r\n') + '5 \r\nhello\r\n0\r\n\r\n',
    bodies: ['hello'],
    strict: 'body-error',
  },
  {
    name: 'negative chunk size',
    raw: head('Transfer-Encoding: chunked\r\n') + '-5\r\nhello\r\n0\r\n\r\n',
    bodies: [],
    strict: 'body-error',
  },
  {
    name: 'chunk size overflowing 64 bits',
    raw: head('Transfer-Encoding: chunked\r\n') + '10000000000000005\r\nhello\r\n0\r\n\r\n',
    bodies: [],
    strict: 'body-error',
  },
  {
    name: 'chunk lines ended by bare LF',
    raw: head('Transfer-Encoding: chunked\r\n') + `5\nhello\n0\n\n${SMUGGLED}`,
    bodies: [],
    strict: 'body-error',
  },
  {
    name: 'chunk data longer than its size (smuggled request after 3 bytes)',
    raw: head('Transfer-Encoding: chunked\r\n') + `3\r\nhel0\r\n\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    bodies: [],
    strict: 'body-error',
  },
  {
    name: 'chunk size larger than the data, connection then closed',
    raw: head('Transfer-Encoding: chunked\r\n') + `ff\r\n0\r\n\r\n${SMUGGLED}`,
    bodies: [],
    halfClose: true,
    strict: 'body-error',
  },
  {
    name: 'chunk extension (valid, ignored)',
    raw: head('Transfer-Encoding: chunked\r\n') + '5;ext="a"\r\nhello\r\n0\r\n\r\n',
    bodies: ['hello'],
    strict: 'forwarded',
  },
  {
    name: 'Content-Length shorter than the data sent (the rest is a pipelined request)',
    raw: head('Content-Length: 5\r\n') + `hello${SMUGGLED}`,
    bodies: ['hello'],
    strict: 'forwarded',
  },
  {
    name: 'a complete chunked body followed by a pipelined request',
    raw: head('Transfer-Encoding: chunked\r\n') + chunk('hello') + `0\r\n\r\n${SMUGGLED}`,
    bodies: ['hello'],
    strict: 'forwarded',
  },
];

describe.each([
  ['strict parser', false],
  ['insecureHTTPParser: true', true],
] as const)('request smuggling (%s)', (_label, insecure) => {
  it.each(CASES)('$name', async (c) => {
    const h = await harness(insecure);
    const reply = await exchangeRaw(h.port, c.raw, { halfClose: c.halfClose ?? false, responses: 1 });
    await expectNoDesync(h, reply, c.bodies, c.halfClose ?? false);
    if (insecure && c.lenient === 'proxy-400') {
      expect(statuses(reply)[0]).toBe(400);
      expect(h.handled).toEqual(['/s']);
      expect(h.up.connections()).toBe(0);
    }
    if (!insecure) {
      if (c.strict === 'rejected') {
        expect(h.handled).toEqual([]);
        expect(h.up.connections()).toBe(0);
      } else if (c.strict === 'forwarded') {
        expect(h.up.requests).toHaveLength(1);
      } else {
        // The head was valid, so the middleware started; the body then failed to parse.
        expect(h.handled).toEqual(['/s']);
        expect(h.up.requests).toHaveLength(0);
      }
    }
  });
});
