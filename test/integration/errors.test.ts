/**
 * Errors: the ProxyError each failure produces, the built-in error handler, a custom
 * `errorHandler` (called once; its throw, rejection or `next(err)` reach Express), NO_UPSTREAM,
 * and user functions that throw. Retries over dead targets: integration/retries/.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ProxyError, type Balancer } from '../../src/index.js';
import { closingUpstream, deadTargetUrl } from '../helpers/dead-target.js';
import { appRecordingErrors as appWith, recordingHandler } from '../helpers/error-recording.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** Everything a test opened; closed after each test. */
const { track, proxyFor: makeProxy } = useCleanup();

async function upstream(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  return track(handler === undefined ? await startUpstream() : await startUpstream(handler));
}

/**
 * A loopback port whose connects hang: a listener with backlog 1 in a worker thread whose event
 * loop is blocked (Atomics.wait), so nothing ever calls accept(). Once the kernel's accept queue
 * is full, further SYNs are dropped and a connect neither succeeds nor fails. Only 127.0.0.1 is
 * contacted.
 */
async function hangingConnectPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const net = require('node:net');
    const server = net.createServer();
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      Atomics.wait(workerData, 0, 0);
      server.close();
    });
    `,
    { eval: true, workerData: flag },
  );
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const fillers: Socket[] = [];
  // Fill the accept queue: connect until one connection does not complete. On loopback an
  // accepted-by-the-kernel connect completes in microseconds; 1 s is a very generous margin.
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) break;
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await exited;
    },
  };
}

describe('ProxyError as a custom errorHandler sees it', () => {
  it('connection refused: 502 UPSTREAM_UNAVAILABLE, connected false, with target, attempts and cause', async () => {
    const dead = await deadTargetUrl();
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({ targets: { url: dead, name: 'dead-one' }, errorHandler: handler });
    const { app } = appWith(mw);
    const res = await request(app).get('/api/x').expect(502);
    expect(res.text).toBe('custom:UPSTREAM_UNAVAILABLE');
    expect(calls).toHaveLength(1);
    const err = calls[0]!;
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(ProxyError);
    expect(err.name).toBe('ProxyError');
    expect(err.status).toBe(502);
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.target?.name).toBe('dead-one');
    expect(err.target?.url.href).toBe(`${dead}/`);
    expect(err.attempts).toBe(1);
    expect(err.connected).toBe(false);
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(err.message).toContain('dead-one');
    const [stat] = mw.stats();
    expect(stat).toMatchObject({ requests: 1, failures: 1, active: 0 });
    expect(stat?.statuses[502]).toBe(1);
  });

  it('an upstream that accepts then closes before response headers: 502 with connected true', async () => {
    const closing = track(await closingUpstream());
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({ targets: closing.url, errorHandler: handler });
    const { app } = appWith(mw);
    await request(app).get('/api/x').expect(502);
    expect(closing.received()).toBe(1);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 502, connected: true, attempts: 1 });
    expect(calls[0]!.cause).toBeInstanceOf(Error);
  });

  it('timeout: an upstream that never answers gives 504 UPSTREAM_TIMEOUT and its socket is closed', async () => {
    let upstreamSocketClosed: Promise<void> | undefined;
    const up = await upstream(() => {
      // never answers
    });
    up.server.once('connection', (socket: Socket) => {
      upstreamSocketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    });
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({ targets: up.url, timeout: 300, errorHandler: handler });
    const { app } = appWith(mw);
    await request(app).get('/api/slow').expect(504);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ code: 'UPSTREAM_TIMEOUT', status: 504, connected: true, attempts: 1 });
    expect(up.requests).toHaveLength(1);
    // No leak: the proxy destroyed its upstream request, so the upstream sees the socket close.
    expect(upstreamSocketClosed).toBeDefined();
    await upstreamSocketClosed;
    expect(up.openSockets()).toBe(0);
    expect(mw.stats()[0]).toMatchObject({ active: 0, failures: 1 });
  });

  it('timeout with the default handler answers 504 JSON', async () => {
    const up = await upstream(() => {});
    const mw = makeProxy({ targets: up.url, timeout: 300 });
    const { app } = appWith(mw);
    const res = await request(app).get('/api/slow').set('accept', 'application/json').expect(504);
    expect(res.text).toBe('{"error":{"status":504,"code":"UPSTREAM_TIMEOUT","message":"Gateway Timeout"}}');
  });

  it('connectTimeout: a connect that hangs gives UPSTREAM_UNAVAILABLE with connected false', async () => {
    const hanging = track(await hangingConnectPort());
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({ targets: `http://127.0.0.1:${hanging.port}`, connectTimeout: 300, errorHandler: handler });
    const { app } = appWith(mw);
    await request(app).get('/api/x').expect(502);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 502, connected: false, attempts: 1 });
    expect(calls[0]!.message).toMatch(/in time/);
  });
});

describe('the built-in error handler', () => {
  const secrets = ['XYZZY-path', 'QQQ-query', 'PLUGH-header', 'FROB-cookie'];

  async function failingRequest(accept: string): Promise<request.Response> {
    const dead = await deadTargetUrl();
    const mw = makeProxy({ targets: dead });
    const { app } = appWith(mw);
    const res = await request(app)
      .get('/api/XYZZY-path/a?token=QQQ-query')
      .set('accept', accept)
      .set('x-secret', 'PLUGH-header')
      .set('cookie', 'session=FROB-cookie')
      .expect(502);
    for (const s of [...secrets, 'ECONNREFUSED', '127.0.0.1', new URL(dead).port, 'refused']) {
      expect(res.text).not.toContain(s);
      expect(JSON.stringify(res.headers)).not.toContain(s);
    }
    return res;
  }

  it('answers JSON when the client accepts JSON', async () => {
    const res = await failingRequest('application/json');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.text).toBe('{"error":{"status":502,"code":"UPSTREAM_UNAVAILABLE","message":"Bad Gateway"}}');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
  });

  it('answers the status text otherwise', async () => {
    const res = await failingRequest('text/html,application/xhtml+xml,*/*;q=0.8');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe('Bad Gateway');
  });

  it('answers a bare http server (no next) the same way', async () => {
    const mw = makeProxy({ targets: await deadTargetUrl() });
    const server = track(await listen((req, res) => mw(req, res)));
    const res = await fetch(`${server.url}/XYZZY-path`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('{"error":{"status":502,"code":"UPSTREAM_UNAVAILABLE","message":"Bad Gateway"}}');
  });

  it("never puts the error's cause or message into the body", async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('fine');
    });
    const mw = makeProxy({
      targets: up.url,
      modifyResponse: () => {
        throw new Error('internal-detail-SHOULD-NOT-LEAK');
      },
    });
    const { app } = appWith(mw);
    for (const accept of ['application/json', 'text/plain']) {
      const res = await request(app).get('/api/x').set('accept', accept).expect(502);
      expect(res.text).not.toContain('SHOULD-NOT-LEAK');
      expect(res.text).not.toContain('modifyResponse');
      expect(res.text).toMatch(/RESPONSE_HOOK_FAILED|^Bad Gateway$/);
    }
  });
});

describe('a custom errorHandler', () => {
  it('is called exactly once after retries are exhausted', async () => {
    const [a, b] = [await deadTargetUrl(), await deadTargetUrl()];
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({ targets: [a, b], retries: 1, errorHandler: handler });
    const { app, expressErrors } = appWith(mw);
    await request(app).get('/api/x').expect(502);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 2, connected: false });
    expect(expressErrors).toHaveLength(0);
    expect(mw.stats().map((s) => s.requests)).toEqual([1, 1]);
  });

  it('an async handler that rejects hands the rejection to next(err)', async () => {
    const broke = new Error('handler-broke');
    let calls = 0;
    const mw = makeProxy({
      targets: await deadTargetUrl(),
      errorHandler: async () => {
        calls++;
        await Promise.resolve();
        throw broke;
      },
    });
    const { app, expressErrors } = appWith(mw);
    const res = await request(app).get('/api/x').expect(500);
    expect(res.text).toBe('express-error-middleware');
    expect(calls).toBe(1);
    expect(expressErrors).toEqual([broke]);
  });

  it('a handler that throws synchronously hands the throw to next(err)', async () => {
    const broke = new Error('sync-broke');
    const mw = makeProxy({
      targets: await deadTargetUrl(),
      errorHandler: () => {
        throw broke;
      },
    });
    const { app, expressErrors } = appWith(mw);
    await request(app).get('/api/x').expect(500);
    expect(expressErrors).toEqual([broke]);
  });

  it('calling next(err) hands the ProxyError to Express error middleware', async () => {
    let calls = 0;
    const mw = makeProxy({
      targets: await deadTargetUrl(),
      errorHandler: (err, _req, _res, next) => {
        calls++;
        next(err);
      },
    });
    const { app, expressErrors } = appWith(mw);
    const res = await request(app).get('/api/x').expect(500);
    expect(res.text).toBe('express-error-middleware');
    expect(calls).toBe(1);
    expect(expressErrors).toHaveLength(1);
    expect(expressErrors[0]).toBeInstanceOf(ProxyError);
    expect(expressErrors[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 502 });
  });
});

describe('NO_UPSTREAM', () => {
  it('answers 503 NO_UPSTREAM once every target was removed, contacting nothing', async () => {
    const up = await upstream();
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({ targets: [up.url], errorHandler: handler });
    const { app } = appWith(mw);
    await request(app).get('/api/x').expect(200);
    expect(mw.balancer.remove(up.url)).toBe(true);
    expect(mw.balancer.targets).toHaveLength(0);
    await request(app).get('/api/x').expect(503);
    expect(up.requests).toHaveLength(1);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ code: 'NO_UPSTREAM', status: 503, attempts: 0, connected: false });
    expect(calls[0]!.target).toBeUndefined();
  });

  it('the built-in handler answers NO_UPSTREAM as 503 JSON', async () => {
    const mw = makeProxy({ targets: [] });
    const { app } = appWith(mw);
    const res = await request(app).get('/api/x').set('accept', 'application/json').expect(503);
    expect(res.text).toBe('{"error":{"status":503,"code":"NO_UPSTREAM","message":"Service Unavailable"}}');
    const text = await request(app).get('/api/x').expect(503);
    expect(text.text).toBe('Service Unavailable');
  });
});

describe('user functions that throw go to next(err)', () => {
  it('a throwing skip', async () => {
    const up = await upstream();
    const broke = new Error('skip-broke');
    const mw = makeProxy({
      targets: up.url,
      skip: (req) => {
        if (req.url?.startsWith('/boom')) throw broke;
        return false;
      },
    });
    const { app, expressErrors } = appWith(mw);
    const res = await request(app).get('/api/boom').expect(500);
    expect(res.text).toBe('express-error-middleware');
    expect(expressErrors).toEqual([broke]);
    expect(up.requests).toHaveLength(0);
    // Nothing crashed: the next request is proxied.
    await request(app).get('/api/fine').expect(200);
    expect(up.requests).toHaveLength(1);
  });

  it('a throwing skip on a bare http server answers 500 without the message', async () => {
    const mw = makeProxy({
      targets: 'http://127.0.0.1:1',
      skip: () => {
        throw new Error('skip-broke-SECRET');
      },
    });
    const server = track(await listen((req, res) => mw(req, res)));
    const res = await fetch(`${server.url}/x`);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain('SECRET');
  });

  it('a throwing custom balancer.next', async () => {
    const broke = new Error('picker-broke');
    let nextCalls = 0;
    const balancer: Balancer = {
      targets: [],
      add: () => {
        throw new Error('not used');
      },
      remove: () => false,
      next: () => {
        nextCalls++;
        throw broke;
      },
    };
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({ balancer, errorHandler: handler });
    const { app, expressErrors } = appWith(mw);
    const res = await request(app).get('/api/x').expect(500);
    expect(res.text).toBe('express-error-middleware');
    expect(nextCalls).toBe(1);
    expect(expressErrors).toEqual([broke]);
    expect(calls).toHaveLength(0);
    await request(app).get('/api/again').expect(500);
    expect(expressErrors).toEqual([broke, broke]);
  });

  it('a throwing header function', async () => {
    const up = await upstream();
    const broke = new Error('header-broke');
    const mw = makeProxy({
      targets: up.url,
      headers: {
        'X-Computed': () => {
          throw broke;
        },
      },
    });
    const { app, expressErrors } = appWith(mw);
    await request(app).get('/api/x').expect(500);
    expect(expressErrors).toEqual([broke]);
    expect(up.requests).toHaveLength(0);
  });
});

describe('headers already sent', () => {
  it('the built-in handler destroys the connection when the hook already sent headers', async () => {
    // The response hook writes headers itself then fails: the built-in handler must not send a second status.
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('fine');
    });
    const mw = makeProxy({
      targets: up.url,
      modifyResponse: (_proxyRes, _req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        throw new Error('late failure');
      },
    });
    const server = track(await listen((req, res) => mw(req, res)));
    const outcome = await new Promise<string>((resolve) => {
      const req = http.get(`${server.url}/x`, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(`ended ${res.statusCode}`));
        res.on('error', () => resolve('aborted'));
        res.on('aborted', () => resolve('aborted'));
      });
      req.on('error', () => resolve('aborted'));
    });
    expect(outcome).toBe('aborted');
  });
});
