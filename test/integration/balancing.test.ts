/**
 * Targets and balancers through real requests: target forms, policy names and factories, a
 * user's own Balancer, weights, failover, run-time add/remove, NO_UPSTREAM, stats() and the
 * `res.locals` context, and `localhost` targets over IPv4 and IPv6.
 */
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  first,
  proxy,
  ProxyError,
  random,
  roundRobin,
  type Balancer,
  type ProxyConfig,
  type ProxyMiddleware,
  type ProxyTarget,
  type TargetInput,
} from '../../src/index.js';
import { countBy } from '../helpers/balancer.js';
import { sendText, type TextReply } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { closeServer, listen, trackSockets } from '../helpers/listen.js';
import { closeAll, startUpstream, startUpstreams, type EchoResponse, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor, keepAliveAgent } = useCleanup({ parallel: true });

type Reply = TextReply;

/** Keep-alive client so long request runs stay cheap; destroyed with the proxy server. */
function send(url: string, headers: http.OutgoingHttpHeaders = {}, agent?: http.Agent): Promise<Reply> {
  return sendText(url, { headers, agent });
}

/** Serves `mw` mounted at `/api` on Express; returns a function sending `n` sequential GETs. */
async function serve(config: ProxyConfig): Promise<{ mw: ProxyMiddleware; url: string; get: (path?: string, headers?: http.OutgoingHttpHeaders) => Promise<Reply> }> {
  const mw = proxyFor(config);
  const app = express();
  app.use('/api', mw);
  const server = track(await listen(app));
  const agent = keepAliveAgent();
  return { mw, url: server.url, get: (path = '/x', headers = {}) => send(`${server.url}/api${path}`, headers, agent) };
}

/** Name of the echo upstream that answered. */
function nameOf(reply: Reply): string {
  expect(reply.status).toBe(200);
  return (JSON.parse(reply.body) as EchoResponse).name;
}

async function names(get: () => Promise<Reply>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(nameOf(await get()));
  return out;
}

let ups: Upstream[];
beforeAll(async () => {
  ups = await startUpstreams(3);
});
afterAll(async () => {
  await closeAll(ups);
});

describe('target forms', () => {
  it('accepts a string, a URL and { url, name, weight, meta } in one list', async () => {
    const meta = { zone: 'c', rack: 3 };
    const { mw, get } = await serve({
      targets: [ups[0]!.url, new URL(ups[1]!.url), { url: ups[2]!.url, name: 'third', weight: 1, meta }],
    });
    expect(await names(() => get(), 3)).toEqual(['u0', 'u1', 'u2']);
    const targets = mw.balancer.targets;
    expect(targets.map((t) => t.name)).toEqual([new URL(ups[0]!.url).host, new URL(ups[1]!.url).host, 'third']);
    expect(targets.every((t) => t.url instanceof URL)).toBe(true);
    expect(targets[2]!.meta).toBe(meta);
    expect(mw.stats().map((s) => s.name)).toEqual(targets.map((t) => t.name));
  });

  it('accepts a single string target and a URL object with a path prefix', async () => {
    const single = await serve({ targets: ups[0]!.url });
    expect(nameOf(await single.get('/a?b=1'))).toBe('u0');

    const prefixed = await serve({ targets: new URL(`${ups[1]!.url}/prefix`) });
    const reply = await prefixed.get('/a?b=1');
    expect(JSON.parse(reply.body)).toMatchObject({ name: 'u1', url: '/prefix/a?b=1' });
  });

  it('accepts { url: URL } objects', async () => {
    const { get } = await serve({ targets: [{ url: new URL(ups[2]!.url), name: 'x' }] });
    expect(nameOf(await get())).toBe('u2');
  });
});

describe('policies', () => {
  const urls = (): string[] => ups.map((u) => u.url);

  it("'round_robin' (the default) rotates in list order", async () => {
    for (const balancer of ['round_robin', undefined] as const) {
      const { get } = await serve({ targets: urls(), ...(balancer === undefined ? {} : { balancer }) });
      expect(await names(() => get(), 7)).toEqual(['u0', 'u1', 'u2', 'u0', 'u1', 'u2', 'u0']);
    }
  });

  it("'first' sends everything to the first target", async () => {
    const { get } = await serve({ targets: urls(), balancer: 'first' });
    expect(await names(() => get(), 6)).toEqual(Array(6).fill('u0'));
  });

  it("'random' reaches every target with weight and never a zero-weight one", async () => {
    const { get } = await serve({
      targets: [ups[0]!.url, ups[1]!.url, { url: ups[2]!.url, weight: 0 }],
      balancer: 'random',
    });
    const counts = countBy(await names(() => get(), 60));
    // Missing one of two equal targets in 60 draws has probability 2 * 2^-60.
    expect(counts['u0']).toBeGreaterThan(0);
    expect(counts['u1']).toBeGreaterThan(0);
    expect(counts['u2']).toBeUndefined();
  });

  it.each([
    ['roundRobin', roundRobin, ['u0', 'u1', 'u2', 'u0', 'u1', 'u2']],
    ['first', first, ['u0', 'u0', 'u0', 'u0', 'u0', 'u0']],
  ] as const)('the %s() factory is used as the balancer', async (_name, factory, expected) => {
    const balancer = factory(urls());
    const { mw, get } = await serve({ balancer });
    expect(mw.balancer).toBe(balancer);
    expect(await names(() => get(), 6)).toEqual(expected);
  });

  it('the random() factory is used as the balancer', async () => {
    const balancer = random([ups[0]!.url, { url: ups[1]!.url, weight: 0 }]);
    const { mw, get } = await serve({ balancer });
    expect(mw.balancer).toBe(balancer);
    expect(await names(() => get(), 10)).toEqual(Array(10).fill('u0'));
  });

  it('round robin honours weights exactly: 2:1 over 30 requests is 20/10', async () => {
    const { get } = await serve({ targets: [{ url: ups[0]!.url, weight: 2 }, { url: ups[1]!.url, weight: 1 }] });
    const seq = await names(() => get(), 30);
    expect(countBy(seq)).toEqual({ u0: 20, u1: 10 });
    // Smooth: never three of the heavier one in a row.
    expect(seq.join(',')).not.toContain('u0,u0,u0');
  });

  it('random honours weights in proportion (3:1 over 400 requests)', async () => {
    const { get } = await serve({
      targets: [{ url: ups[0]!.url, weight: 3 }, { url: ups[1]!.url, weight: 1 }],
      balancer: 'random',
    });
    const counts = countBy(await names(() => get(), 400));
    // Expected 300 / 100, standard deviation ~8.7: these bounds are more than 8 deviations away.
    expect(counts['u0']).toBeGreaterThan(225);
    expect(counts['u0']).toBeLessThan(375);
    expect((counts['u0'] ?? 0) + (counts['u1'] ?? 0)).toBe(400);
  });
});

describe('a custom Balancer implementation', () => {
  /** The user's own balancer: picks by the `x-pick` header, otherwise the last target. */
  class PickByHeader implements Balancer {
    readonly list: ProxyTarget[] = [];
    readonly calls: Array<{ req: IncomingMessage; exclude: ReadonlySet<ProxyTarget> | undefined }> = [];
    get targets(): readonly ProxyTarget[] {
      return this.list;
    }
    add(input: TargetInput): ProxyTarget {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const target: ProxyTarget = { url, name: `mine-${this.list.length}`, weight: 1, meta: { own: true }, healthy: true, active: 0 };
      this.list.push(target);
      return target;
    }
    remove(nameOrUrl: string): boolean {
      const i = this.list.findIndex((t) => t.name === nameOrUrl);
      if (i === -1) return false;
      this.list.splice(i, 1);
      return true;
    }
    next(req: IncomingMessage, exclude?: ReadonlySet<ProxyTarget>): ProxyTarget | undefined {
      this.calls.push({ req, exclude });
      const pick = req.headers['x-pick'];
      if (typeof pick === 'string') return this.list.find((t) => t.name === pick);
      return this.list.at(-1);
    }
  }

  it('is used as is: its next() decides, stats() reports its targets', async () => {
    const mine = new PickByHeader();
    mine.add(ups[0]!.url);
    mine.add(ups[1]!.url);
    const seen: unknown[] = [];
    const { mw, get } = await serve({
      balancer: mine,
      modifyResponse: (_proxyRes, _req, res) => {
        seen.push((res as unknown as { locals: Record<string, unknown> }).locals['target']);
      },
    });
    expect(mw.balancer).toBe(mine);

    expect(nameOf(await get('/x', { 'x-pick': 'mine-0' }))).toBe('u0');
    expect(nameOf(await get('/x', { 'x-pick': 'mine-1' }))).toBe('u1');
    expect(nameOf(await get('/x'))).toBe('u1');
    expect(mine.calls).toHaveLength(3);
    expect(mine.calls[0]!.req.headers['x-pick']).toBe('mine-0');
    expect(seen).toEqual([mine.list[0], mine.list[1], mine.list[1]]);
    expect(seen[0]).toBe(mine.list[0]); // the user's own object, not a copy

    // Its targets are never written to; switchyard counts on the side.
    expect(mine.list.map((t) => t.active)).toEqual([0, 0]);
    expect(mw.stats()).toEqual([
      { name: 'mine-0', url: mine.list[0]!.url.href, healthy: true, active: 0, requests: 1, failures: 0, statuses: { 200: 1 } },
      { name: 'mine-1', url: mine.list[1]!.url.href, healthy: true, active: 0, requests: 2, failures: 0, statuses: { 200: 2 } },
    ]);
  });

  it('returning undefined from next() answers 503 NO_UPSTREAM', async () => {
    const mine = new PickByHeader();
    mine.add(ups[0]!.url);
    const { get } = await serve({ balancer: mine });
    const reply = await get('/x', { 'x-pick': 'nobody', accept: 'application/json' });
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'NO_UPSTREAM', status: 503 } });
    expect(ups[0]!.requests.some((r) => r.url === '/x' && r.headers['x-pick'] === 'nobody')).toBe(false);
  });

  it('an async balancer.next fails clearly naming balancer.next (handed to next(err)), nothing is sent', async () => {
    class AsyncPick extends PickByHeader {
      override next(req: IncomingMessage): ProxyTarget | undefined {
        // What `async next()` does in plain JavaScript; the rejection must not go unhandled.
        const answer = req.headers['x-reject'] === '1' ? Promise.reject(new Error('late')) : Promise.resolve(this.list[0]);
        return answer as unknown as ProxyTarget;
      }
    }
    const mine = new AsyncPick();
    mine.add(ups[0]!.url);
    const before = ups[0]!.requests.length;
    const errors: unknown[] = [];
    const app = express();
    app.use('/api', proxyFor({ balancer: mine }));
    app.use(((err, _req, res, _next) => {
      errors.push(err);
      res.status(500).end();
    }) as express.ErrorRequestHandler);
    const server = track(await listen(app));
    for (const reject of ['0', '1']) {
      expect((await send(`${server.url}/api/async-next`, { 'x-reject': reject })).status).toBe(500);
    }
    expect(errors).toHaveLength(2);
    for (const err of errors) {
      expect(err).toBeInstanceOf(TypeError);
      expect(err).not.toBeInstanceOf(ProxyError);
      expect((err as Error).message).toMatch(/^switchyard: balancer\.next returned a Promise/);
    }
    expect(ups[0]!.requests.length).toBe(before);
  });
});

describe('failover and run-time changes', () => {
  it("'first' fails over to the second target when the first is removed", async () => {
    const { mw, get } = await serve({ targets: [ups[0]!.url, ups[1]!.url, ups[2]!.url], balancer: 'first' });
    expect(await names(() => get(), 3)).toEqual(['u0', 'u0', 'u0']);
    expect(mw.balancer.remove(ups[0]!.url)).toBe(true);
    expect(await names(() => get(), 3)).toEqual(['u1', 'u1', 'u1']);
  });

  it('add() and remove() (with or without a trailing slash, or by name) change where requests go', async () => {
    const { mw, get } = await serve({ targets: [ups[0]!.url] });
    expect(await names(() => get(), 2)).toEqual(['u0', 'u0']);

    const added = mw.balancer.add({ url: ups[1]!.url, name: 'second' });
    expect(added.name).toBe('second');
    expect(mw.balancer.targets).toContain(added);
    expect(countBy(await names(() => get(), 4))).toEqual({ u0: 2, u1: 2 });

    // The URL with a trailing slash matches a target given without one.
    expect(mw.balancer.remove(`${ups[0]!.url}/`)).toBe(true);
    expect(await names(() => get(), 3)).toEqual(['u1', 'u1', 'u1']);

    mw.balancer.add(`${ups[2]!.url}/`);
    // ...and the URL without one matches a target given with one.
    expect(mw.balancer.remove(ups[2]!.url)).toBe(true);
    expect(mw.balancer.remove(ups[2]!.url)).toBe(false);
    expect(await names(() => get(), 2)).toEqual(['u1', 'u1']);

    expect(mw.balancer.remove('second')).toBe(true);
    expect(mw.balancer.targets).toHaveLength(0);
    expect((await get('/x', { accept: 'application/json' })).status).toBe(503);
    expect(mw.stats()).toEqual([]);
  });

  it('add() with a name already present throws and changes nothing', async () => {
    const { mw, get } = await serve({ targets: [{ url: ups[0]!.url, name: 'a' }] });
    expect(() => mw.balancer.add({ url: ups[1]!.url, name: 'a' })).toThrow(TypeError);
    expect(mw.balancer.targets.map((t) => t.name)).toEqual(['a']);
    expect(await names(() => get(), 2)).toEqual(['u0', 'u0']);
  });

  it('an empty targets list answers 503 NO_UPSTREAM until a target is added', async () => {
    const { mw, get } = await serve({ targets: [] });
    const reply = await get('/x', { accept: 'application/json' });
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ error: { status: 503, code: 'NO_UPSTREAM', message: 'Service Unavailable' } });

    mw.balancer.add(ups[2]!.url);
    expect(nameOf(await get())).toBe('u2');
  });
});

describe('stats()', () => {
  it('counts requests and failures, ends with active 0 and counts final statuses by code', async () => {
    const statusUp = await startUpstream((req, res) => {
      const code = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
      res.writeHead(code, { 'content-length': 2 }).end('ok');
    });
    track(statusUp);
    const dead = await deadTargetUrl();
    const { mw, get } = await serve({ targets: [{ url: statusUp.url, name: 'live' }, { url: dead, name: 'dead' }], balancer: 'first' });

    for (const status of [200, 200, 404, 500, 201]) {
      expect((await get(`/s?status=${status}`)).status).toBe(status);
    }
    expect(mw.stats()).toEqual([
      { name: 'live', url: `${statusUp.url}/`, healthy: true, active: 0, requests: 5, failures: 0, statuses: { 200: 2, 201: 1, 404: 1, 500: 1 } },
      { name: 'dead', url: `${dead}/`, healthy: true, active: 0, requests: 0, failures: 0, statuses: {} },
    ]);

    mw.balancer.remove('live');
    expect((await get('/s')).status).toBe(502);
    expect(mw.stats()).toEqual([
      { name: 'dead', url: `${dead}/`, healthy: true, active: 0, requests: 1, failures: 1, statuses: { 502: 1 } },
    ]);
  });

  it('returns a copy: changing it changes nothing', async () => {
    const { mw, get } = await serve({ targets: ups[0]!.url });
    await get();
    const snapshot = mw.stats();
    // The fields are readonly to TypeScript; a JavaScript caller can still write to its copy.
    (snapshot[0]!.statuses as Record<number, number>)[200] = 99;
    (snapshot[0] as { requests: number }).requests = 99;
    expect(mw.stats()[0]).toMatchObject({ requests: 1, statuses: { 200: 1 } });
  });
});

describe('res.locals context', () => {
  it('holds the chosen ProxyTarget before the upstream request starts', async () => {
    // The upstream reads the proxy-side response while its request is in flight.
    let proxySideRes: (http.ServerResponse & { locals?: Record<string, unknown> }) | undefined;
    let seenByUpstream: unknown = 'not set';
    const up = await startUpstream((_req, res) => {
      seenByUpstream = proxySideRes?.locals?.['target'];
      res.end('ok');
    });
    track(up);
    const meta = { zone: 'z1' };
    const mw = proxyFor({ targets: [{ url: up.url, name: 'with-meta', meta }] });
    const app = express();
    app.use((_req, res, next) => {
      proxySideRes = res;
      next();
    });
    app.use(mw);
    const server = track(await listen(app));

    expect((await send(`${server.url}/x`)).status).toBe(200);
    const chosen = mw.balancer.targets[0]!;
    expect(seenByUpstream).toBe(chosen);
    expect(chosen).toMatchObject({ name: 'with-meta', weight: 1 });
    expect(chosen.meta).toBe(meta);
  });

  it('is readable in modifyResponse, under the default key and a custom contextKey', async () => {
    for (const contextKey of [undefined, 'upstream']) {
      const seen: Array<Record<string, unknown>> = [];
      const { mw, get } = await serve({
        targets: [ups[0]!.url, ups[1]!.url],
        ...(contextKey === undefined ? {} : { contextKey }),
        modifyResponse: (_proxyRes, _req, res) => {
          seen.push({ ...(res as unknown as { locals: Record<string, unknown> }).locals });
        },
      });
      await get();
      await get();
      const key = contextKey ?? 'target';
      expect(seen.map((locals) => locals[key])).toEqual([mw.balancer.targets[0], mw.balancer.targets[1]]);
      expect(seen[1]![key]).toBe(mw.balancer.targets[1]);
      if (contextKey !== undefined) expect(seen.every((locals) => !('target' in locals))).toBe(true);
    }
  });

  it('is readable by a later middleware after a failed attempt (errorHandler → next(err))', async () => {
    const dead = await deadTargetUrl();
    const mw = proxyFor({ targets: { url: dead, name: 'down' }, errorHandler: (err, _req, _res, next) => next(err) });
    const app = express();
    app.use(mw);
    app.use(((err, _req, res, _next) => {
      const target = res.locals['target'] as ProxyTarget | undefined;
      res.status(599).json({ code: (err as ProxyError).code, target: target?.name, same: target === (err as ProxyError).target });
    }) as express.ErrorRequestHandler);
    const server = track(await listen(app));

    const reply = await send(`${server.url}/x`);
    expect(reply.status).toBe(599);
    expect(JSON.parse(reply.body)).toEqual({ code: 'UPSTREAM_UNAVAILABLE', target: 'down', same: true });
  });

  it('works on bare http, where res.locals does not exist beforehand', async () => {
    let locals: Record<string, unknown> | undefined;
    const mw = proxy({
      targets: ups[1]!.url,
      contextKey: 'picked',
      modifyResponse: (_p, _req, res) => {
        locals = (res as unknown as { locals?: Record<string, unknown> }).locals;
      },
    });
    track(mw);
    const server = track(await listen((req, res) => mw(req, res)));
    expect((await send(`${server.url}/x`)).status).toBe(200);
    expect(locals?.['picked']).toBe(mw.balancer.targets[0]);
  });
});

describe('targets named localhost', () => {
  /** Starts an echo server on `host` port 0; undefined when the address is not available here. */
  async function listenOn(host: string, name: string): Promise<{ port: number; close(): Promise<void> } | undefined> {
    const server = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, url: req.url, headers: req.headers }));
    });
    const { sockets } = trackSockets(server);
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, host, () => resolve(true));
    });
    if (!ok) return undefined;
    return { port: (server.address() as AddressInfo).port, close: () => closeServer(server, sockets) };
  }

  it('reach an upstream listening on 127.0.0.1', async () => {
    const v4 = await listenOn('127.0.0.1', 'v4');
    expect(v4).toBeDefined();
    track(v4!);
    const { get } = await serve({ targets: `http://localhost:${v4!.port}` });
    const reply = await get('/hello');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ name: 'v4', url: '/hello', headers: { host: `localhost:${v4!.port}` } });
  });

  it('reach an upstream listening on ::1 only (when this machine has IPv6 loopback)', async () => {
    const v6 = await listenOn('::1', 'v6');
    if (v6 === undefined) {
      // No IPv6 loopback on this machine: the IPv6 case cannot be exercised; the IPv4 case
      // above still runs. Assert the detection was right rather than passing silently.
      await expect(listenOn('::1', 'probe')).resolves.toBeUndefined();
      return;
    }
    track(v6);
    const { get, mw } = await serve({ targets: `http://localhost:${v6.port}` });
    const reply = await get('/hello?six=1');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ name: 'v6', url: '/hello?six=1', headers: { host: `localhost:${v6.port}` } });
    expect(mw.stats()[0]).toMatchObject({ requests: 1, failures: 0, statuses: { 200: 1 } });
  });

  it('answer 502 (not a hang or a crash) when nothing listens on either loopback address', async () => {
    const dead = new URL(await deadTargetUrl());
    const { get } = await serve({ targets: `http://localhost:${dead.port}` });
    const reply = await get('/x', { accept: 'application/json' });
    expect(reply.status).toBe(502);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'UPSTREAM_UNAVAILABLE' } });
  });
});
