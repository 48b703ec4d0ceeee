// Every example in examples/ runs as a user would run it (`node examples/<file>.mjs`, which
// imports 'switchyard' from dist/ by the package's own name) and does what its comments say.
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { get, getJson } from '../cli/http-get.js';
import { spawnScript, type CliProcess } from '../cli/spawn-cli.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

interface Echo {
  upstream: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const running: CliProcess[] = [];
const clients: WebSocket[] = [];
afterEach(() => {
  for (const ws of clients.splice(0)) ws.terminate();
  for (const p of running.splice(0)) p.kill();
});

/** Starts an example; resolves with its base URL once it prints `<name> listening on <url>`. */
async function start(name: string): Promise<{ base: string; proc: CliProcess }> {
  const proc = spawnScript(`${EXAMPLES}${name}.mjs`, [], { env: { ...process.env, PORT: '0' } });
  running.push(proc);
  const match = await proc.waitFor(new RegExp(`^${name} listening on (http://127\\.0\\.0\\.1:\\d+)$`, 'm'));
  return { base: match[1] as string, proc };
}

/** SIGTERM: the example closes its server, proxies and stand-ins, then exits 0. */
async function stop(proc: CliProcess): Promise<void> {
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  expect(proc.stderr()).toBe('');
}

/** What the websocket example's chat upstreams answer to each message. */
interface ChatEcho {
  upstream: string;
  url: string;
  message: string;
}

/** Opens a WebSocket (terminated after the test if still open). */
async function openSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  clients.push(ws);
  await once(ws, 'open');
  return ws;
}

/** Sends `message` and resolves with the upstream's echo. */
async function ask(ws: WebSocket, message: string): Promise<ChatEcho> {
  const reply = once(ws, 'message');
  ws.send(message);
  const [data] = (await reply) as [Buffer];
  return JSON.parse(data.toString('utf8')) as ChatEcho;
}

/** basic-express and outside-express: /api/users?page=2 alternates a, b with /api removed; / is Express's. */
async function expectApiRoundRobin(base: string): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { status, json } = await getJson<Echo>(`${base}/api/users?page=2`);
    expect(status).toBe(200);
    expect(json.url).toBe('/users?page=2');
    seen.push(json.upstream);
  }
  expect(seen).toEqual(['a', 'b', 'a', 'b']);
  expect((await get(`${base}/`)).body).toBe('served by Express itself\n');
}

/** The `requests` count of each target, as the example's /stats route reports them. */
async function expectStats(base: string, requests: number[]): Promise<void> {
  const stats = (await getJson<{ requests: number }[]>(`${base}/stats`)).json;
  expect(stats.map((s) => s.requests)).toEqual(requests);
}

describe('examples/', () => {
  it('basic-express: /api round robin with the mount path stripped', async () => {
    const { base, proc } = await start('basic-express');
    await expectApiRoundRobin(base);
    await expectStats(base, [2, 2]);
    await stop(proc);
  });

  it('outside-express: /api/ dispatched before Express, the prefix rewritten away', async () => {
    const { base, proc } = await start('outside-express');
    await expectApiRoundRobin(base);
    expect((await get(`${base}/nowhere`)).status).toBe(404);
    await expectStats(base, [2, 2]);
    await stop(proc);
  });

  it('route-params: route params fill the upstream path', async () => {
    const { base, proc } = await start('route-params');
    const user = await getJson<Echo>(`${base}/users/42?fields=name`);
    expect([user.json.upstream, user.json.url]).toEqual(['accounts', '/v2/accounts/42?fields=name']);
    const file = await getJson<Echo>(`${base}/teams/red/files/docs/a.txt`);
    expect([file.json.upstream, file.json.url]).toEqual(['files', '/buckets/red/docs/a.txt']);
    expect((await get(`${base}/users/42/extra`)).status).toBe(404);
    await stop(proc);
  });

  it('body-parser: the parsed (and changed) body is re-sent; invalid bodies stop at the app', async () => {
    const { base, proc } = await start('body-parser');
    const ok = await getJson<Echo>(`${base}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'tea', qty: 2 }),
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.json.body)).toEqual({ item: 'tea', qty: 2, channel: 'web' });
    expect(Number(ok.json.headers['content-length'])).toBe(Buffer.byteLength(ok.json.body));
    const bad = await get(`${base}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"qty":2}' });
    expect([bad.status, bad.body]).toEqual([400, '{"error":"item is required"}']);
    await stop(proc);
  });

  it('response-rewriting: JSON bodies decoded and rewritten, other bodies untouched', async () => {
    const { base, proc } = await start('response-rewriting');
    const product = await get(`${base}/api/products/7`, { headers: { 'accept-encoding': 'gzip' } });
    expect(product.status).toBe(200);
    expect(JSON.parse(product.body)).toEqual({ id: '7', name: 'Tea', price: 4.5, currency: 'EUR' });
    expect(product.headers['content-encoding']).toBeUndefined();
    expect(Number(product.headers['content-length'])).toBe(Buffer.byteLength(product.body));
    expect(product.headers['x-served-by']).toMatch(/^127\.0\.0\.1:\d+$/);
    const about = await get(`${base}/api/about`);
    expect(about.body).toBe('plain text, passed through as it is\n');
    expect(about.headers['x-served-by']).toBe(product.headers['x-served-by']);
    await stop(proc);
  });

  it('custom-balancer: x-canary requests go to the canary, the rest round robin to stable', async () => {
    const { base, proc } = await start('custom-balancer');
    const plain: string[] = [];
    const canary: string[] = [];
    for (let i = 0; i < 4; i++) {
      plain.push((await getJson<Echo>(`${base}/api/hello`)).json.upstream);
      canary.push((await getJson<Echo>(`${base}/api/hello`, { headers: { 'x-canary': '1' } })).json.upstream);
    }
    expect(plain).toEqual(['v1-a', 'v1-b', 'v1-a', 'v1-b']);
    expect(canary).toEqual(['v2-canary', 'v2-canary', 'v2-canary', 'v2-canary']);
    const stats = (await getJson<{ name: string; requests: number }[]>(`${base}/stats`)).json;
    expect(stats.map((s) => [s.name, s.requests])).toEqual([
      [expect.stringMatching(/^127\.0\.0\.1:\d+$/), 2],
      [expect.stringMatching(/^127\.0\.0\.1:\d+$/), 2],
      ['canary', 4],
    ]);
    await stop(proc);
  });

  it('dynamic-targets: routes by Host and by path, and follows a registry at run time', async () => {
    const { base, proc } = await start('dynamic-targets');
    const host = new URL(base).host;
    const upstreamOf = async (path: string, headers: Record<string, string> = {}): Promise<[number, string]> => {
      const r = await get(`${base}${path}`, { headers });
      return [r.status, r.status === 200 ? (JSON.parse(r.body) as Echo).upstream : ''];
    };
    expect(await upstreamOf('/api/hello', { host: 'eu.example.test' })).toEqual([200, 'eu']);
    expect(await upstreamOf('/api/hello', { host })).toEqual([200, 'us']);
    expect(await upstreamOf('/api/v2/hello')).toEqual([200, 'v2']);
    // The registry starts empty: 503 NO_UPSTREAM until a target is registered.
    expect((await upstreamOf('/live/hello'))[0]).toBe(503);
    expect((await getJson<string[]>(`${base}/registry/a`, { method: 'POST' })).json).toEqual(['a']);
    expect((await getJson<string[]>(`${base}/registry/b`, { method: 'POST' })).json).toEqual(['a', 'b']);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await upstreamOf('/live/hello'))[1]);
    expect([...seen].sort()).toEqual(['a', 'b']);
    expect((await getJson<string[]>(`${base}/registry/a`, { method: 'DELETE' })).json).toEqual(['b']);
    for (let i = 0; i < 3; i++) expect(await upstreamOf('/live/hello')).toEqual([200, 'b']);
    await stop(proc);
  });

  it('health-checks: a failing upstream leaves the rotation and comes back', async () => {
    const { base, proc } = await start('health-checks');
    type Row = { name: string; healthy: boolean };
    const healthOf = async (name: string): Promise<boolean> =>
      (await getJson<Row[]>(`${base}/stats`)).json.find((r) => r.name === name)!.healthy;
    const upstreamOf = async (): Promise<string> => {
      const r = await get(`${base}/api/hello`);
      expect(r.status).toBe(200); // even while b fails and is not yet marked down: retryOn [503]
      return (JSON.parse(r.body) as Echo).upstream;
    };

    expect(await healthOf('b')).toBe(true);
    await get(`${base}/admin/b/fail`, { method: 'POST' });
    // The next check round (every second) marks b down; until then retries cover for it.
    while (await healthOf('b')) await upstreamOf();
    expect([await upstreamOf(), await upstreamOf(), await upstreamOf(), await upstreamOf()]).toEqual(['a', 'a', 'a', 'a']);

    await get(`${base}/admin/b/recover`, { method: 'POST' });
    while (!(await healthOf('b'))) await upstreamOf();
    const after = [await upstreamOf(), await upstreamOf(), await upstreamOf(), await upstreamOf()];
    expect(after.sort()).toEqual(['a', 'a', 'b', 'b']);
    await stop(proc);
  });

  it('websocket: upgrades under /ws round robin with /ws stripped; shutdown says going away', async () => {
    const { base, proc } = await start('websocket');
    const wsBase = base.replace('http:', 'ws:');
    const first = await openSocket(`${wsBase}/ws/chat?room=7`);
    const second = await openSocket(`${wsBase}/ws/chat?room=7`);
    expect(await ask(first, 'hello')).toEqual({ upstream: 'a', url: '/chat?room=7', message: 'hello' });
    expect(await ask(second, 'hello')).toEqual({ upstream: 'b', url: '/chat?room=7', message: 'hello' });
    expect(await ask(first, 'again')).toEqual({ upstream: 'a', url: '/chat?room=7', message: 'again' });
    await proc.waitForCount(/^[ab]: WebSocket opened for \/chat\?room=7$/, 2);
    expect(proc.lines().filter((l) => l.includes('opened')).sort()).toEqual([
      'a: WebSocket opened for /chat?room=7',
      'b: WebSocket opened for /chat?room=7',
    ]);

    // Plain HTTP under /ws goes through the same proxy and balancer (third pick: a).
    const info = await getJson<{ upstream: string; url: string }>(`${base}/ws/info?x=1`);
    expect([info.status, info.json.upstream, info.json.url]).toEqual([200, 'a', '/info?x=1']);
    const stats = (await getJson<{ requests: number; active: number; statuses: Record<string, number> }[]>(`${base}/stats`)).json;
    expect(stats.map((s) => [s.requests, s.active, s.statuses['101']])).toEqual([
      [2, 1, 1],
      [1, 1, 1],
    ]);

    // Upgrades outside /ws never reach the proxy.
    // (Not in `clients`: it never opens, and the example closes the connection after the 404.)
    const outside = new WebSocket(`${wsBase}/other`);
    const [, refused] = (await once(outside, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(refused.statusCode).toBe(404);
    refused.resume();

    // A clean close from the client passes through the tunnel to upstream a.
    const firstClosed = once(first, 'close');
    first.close(1000, 'bye');
    expect(((await firstClosed) as [number])[0]).toBe(1000);
    await proc.waitFor(/^a: WebSocket closed \(1000\)$/m);

    // SIGTERM with a tunnel still open: the upstream closes it with 1001 and the example exits.
    const secondClosed = once(second, 'close');
    await stop(proc);
    const [code, reason] = (await secondClosed) as [number, Buffer];
    expect([code, reason.toString('utf8')]).toEqual([1001, 'server shutting down']);
  });
});
