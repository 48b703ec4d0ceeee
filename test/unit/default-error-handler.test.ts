import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptsJson, defaultErrorHandler } from '../../src/errors/default-error-handler.js';
import { ProxyError } from '../../src/errors/proxy-error.js';
import type { ProxyErrorCode } from '../../src/types.js';
import { sendText, type TextReply } from '../helpers/client.js';
import { listen, rawRequest, type Listening } from '../helpers/listen.js';

const SECRET = 'connect ECONNREFUSED 10.1.2.3:8080 secret-token';

let server: Listening;

beforeAll(async () => {
  // /<CODE> answers that error; /sent/<CODE> fails after headers and part of the body went out;
  // /stale/<CODE> has response headers set before the failure.
  server = await listen((req, res) => {
    const [, first = '', second] = (req.url ?? '').split('?')[0]!.split('/');
    const code = (second ?? first) as ProxyErrorCode;
    const err = new ProxyError(code, SECRET, { cause: new Error(SECRET) });
    if (first === 'sent') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial body');
      setImmediate(() => defaultErrorHandler(err, req, res));
      return;
    }
    if (first === 'stale') {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('ETag', '"abc"');
      res.setHeader('Vary', 'Origin');
    }
    defaultErrorHandler(err, req, res);
  });
});

afterAll(() => server.close());

function send(path: string, headers: http.OutgoingHttpHeaders = {}, method = 'GET'): Promise<TextReply> {
  return sendText(`${server.url}${path}?leak=${encodeURIComponent(SECRET)}`, { method, headers });
}

const CASES: Array<[ProxyErrorCode, number, string]> = [
  ['UPSTREAM_UNAVAILABLE', 502, 'Bad Gateway'],
  ['UPSTREAM_TIMEOUT', 504, 'Gateway Timeout'],
  ['NO_UPSTREAM', 503, 'Service Unavailable'],
  ['UNEXPECTED_STATUS', 502, 'Bad Gateway'],
  ['RESPONSE_HOOK_FAILED', 502, 'Bad Gateway'],
  ['BAD_REQUEST', 400, 'Bad Request'],
];

describe('defaultErrorHandler', () => {
  it.each(CASES)('answers %s as %i JSON when the client asks for JSON', async (code, status, message) => {
    const res = await send(`/${code}`, { accept: 'application/json' });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    expect(JSON.parse(res.body)).toEqual({ error: { status, code, message } });
  });

  it('matches the contract byte for byte', async () => {
    const res = await send('/UPSTREAM_UNAVAILABLE', { accept: 'application/json' });
    expect(res.body).toBe('{"error":{"status":502,"code":"UPSTREAM_UNAVAILABLE","message":"Bad Gateway"}}');
  });

  it.each(CASES)('answers %s as %i plain text otherwise', async (code, status, message) => {
    const res = await send(`/${code}`, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(message)));
    expect(res.body).toBe(message);
  });

  it.each([
    ['application/json', true],
    ['application/problem+json', true],
    ['text/html, Application/JSON; q=0.5', true],
    ['application/vnd.api+json;charset=utf-8', true],
    ['*/*', false],
    ['application/*', false],
    ['text/plain', false],
    ['application/json;q=0', false],
    ['application/jsonp', false],
    [undefined, false],
  ])('Accept %s → JSON %s', async (accept, json) => {
    expect(acceptsJson(accept)).toBe(json);
    const res = await send('/NO_UPSTREAM', accept === undefined ? {} : { accept });
    expect(res.headers['content-type']).toMatch(json ? /^application\/json/ : /^text\/plain/);
  });

  it('never echoes the request or the error message or cause', async () => {
    for (const accept of ['application/json', 'text/plain']) {
      const res = await send('/UPSTREAM_UNAVAILABLE', { accept, 'x-leak': SECRET });
      expect(res.body).not.toContain('secret');
      expect(res.body).not.toContain('10.1.2.3');
      expect(JSON.stringify(res.headers)).not.toContain('secret');
    }
  });

  it('answers HEAD with headers only', async () => {
    const res = await send('/UPSTREAM_TIMEOUT', { accept: 'application/json' }, 'HEAD');
    expect(res.status).toBe(504);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.body).toBe('');
    // Nothing follows the headers on the wire either.
    const raw = await rawRequest(server.port, 'HEAD /UPSTREAM_TIMEOUT HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(raw.endsWith('\r\n\r\n')).toBe(true);
  });

  it('drops headers describing a body that is not sent, keeps the rest, varies on Accept', async () => {
    const res = await send('/stale/UPSTREAM_UNAVAILABLE');
    expect(res.status).toBe(502);
    expect(res.body).toBe('Bad Gateway');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers.vary).toBe('Origin, Accept');
  });

  it('destroys the connection when headers were already sent, never writing a second status', async () => {
    const outcome = await new Promise<{ complete: boolean; error: string | undefined; body: string }>((resolve, reject) => {
      http
        .get(`${server.url}/sent/UPSTREAM_UNAVAILABLE`, { agent: false }, (res) => {
          let error: string | undefined;
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
          res.on('close', () => resolve({ complete: res.complete, error, body }));
        })
        .on('error', reject);
    });
    expect(outcome.complete).toBe(false);
    expect(outcome.error).toBe('ECONNRESET');
    expect(outcome.body).toBe('partial body');

    const raw = await rawRequest(server.port, 'GET /sent/NO_UPSTREAM HTTP/1.1\r\nHost: t\r\n\r\n');
    expect(raw.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(raw).not.toContain('Service Unavailable');
    // A chunked response cut off: no terminating zero-length chunk.
    expect(raw).not.toMatch(/\r\n0\r\n\r\n$/);
  });
});
