/**
 * The transport: the pooled keep-alive agent each middleware owns, `pool` options, a user's
 * own `agent`, and `close()` destroying pooled sockets. Connection counts are read on the
 * upstream side (real TCP accepts), never from the agent's internals alone.
 */
import http from 'node:http';
import { Agent as UndiciAgent, buildConnector } from 'undici';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ProxyConfig, ProxyMiddleware } from '../../src/index.js';
import { sendText } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';
import { closed } from '../helpers/streams.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track, defer, proxyFor } = useCleanup({ parallel: true });

/** One GET over a fresh client connection; resolves with status and body. */
async function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  const { status, body } = await sendText(url, { headers });
  return { status, body };
}

async function serve(config: ProxyConfig): Promise<{ mw: ProxyMiddleware; url: string }> {
  const mw = proxyFor(config);
  const server = track(await listen((req, res) => mw(req, res)));
  return { mw, url: server.url };
}

async function echoUpstream(): Promise<Upstream> {
  const up = track(await startUpstream());
  return up;
}

/** Server-side sockets of `up` from now on, to await their `close` events. */
function watchSockets(up: Upstream): Socket[] {
  const sockets: Socket[] = [];
  up.server.on('connection', (socket: Socket) => sockets.push(socket));
  return sockets;
}

/** An upstream that holds each response until `release()`; `arrived(n)` resolves once n requests are waiting. */
async function gatedUpstream(): Promise<{ up: Upstream; arrived(n: number): Promise<void>; release(): void }> {
  const waiting: Array<() => void> = [];
  const watchers: Array<{ n: number; resolve: () => void }> = [];
  const up = await startUpstream(
    (_req, res) =>
      new Promise<void>((resolve) => {
        waiting.push(() => {
          res.end('released');
          resolve();
        });
        for (const w of watchers.splice(0)) {
          if (waiting.length >= w.n) w.resolve();
          else watchers.push(w);
        }
      }),
  );
  track(up);
  return {
    up,
    arrived: (n) =>
      waiting.length >= n ? Promise.resolve() : new Promise<void>((resolve) => watchers.push({ n, resolve })),
    release: () => {
      for (const fn of waiting.splice(0)) fn();
    },
  };
}

describe('pooled keep-alive agent (default)', () => {
  it('reuses upstream connections: 200 sequential requests arrive on at most 2 sockets', async () => {
    const up = await echoUpstream();
    const { url, mw } = await serve({ targets: up.url });
    for (let i = 0; i < 200; i++) {
      const res = await get(`${url}/r${i}`);
      expect(res.status).toBe(200);
    }
    expect(up.requests).toHaveLength(200);
    expect(up.connections).toBeLessThanOrEqual(2);
    expect(new Set(up.requests.map((r) => r.remotePort)).size).toBeLessThanOrEqual(2);
    expect(mw.stats()[0]).toMatchObject({ requests: 200, active: 0, statuses: { 200: 200 } });
  });

  it('never sends Connection: close upstream, even when the client asks for it', async () => {
    const up = await echoUpstream();
    const { url } = await serve({ targets: up.url });
    await get(`${url}/a`);
    await get(`${url}/b`, { connection: 'close' });
    await get(`${url}/c`, { connection: 'close' });
    expect(up.requests).toHaveLength(3);
    for (const r of up.requests) {
      expect(r.headers.connection).not.toMatch(/close/i);
      expect(r.headers.connection).toBe('keep-alive');
    }
    // The client's Connection: close is hop-by-hop: the upstream connection stayed pooled.
    expect(up.connections).toBe(1);
    expect(up.openSockets()).toBe(1);
  });

  it('pool.maxSockets limits concurrent connections to a target', async () => {
    const gate = await gatedUpstream();
    const { url } = await serve({ targets: gate.up.url, pool: { maxSockets: 1 } });
    const pending = Array.from({ length: 4 }, (_, i) => get(`${url}/p${i}`));
    await gate.arrived(1);
    // Only one request can be upstream at a time: release them one by one.
    for (let released = 0; released < 4; released++) {
      await gate.arrived(1);
      expect(gate.up.requests).toHaveLength(released + 1);
      gate.release();
    }
    const replies = await Promise.all(pending);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(gate.up.connections).toBe(1);
  });

  it('without pool limits, concurrent requests open concurrent connections', async () => {
    const gate = await gatedUpstream();
    const { url } = await serve({ targets: gate.up.url });
    const pending = Array.from({ length: 4 }, (_, i) => get(`${url}/p${i}`));
    await gate.arrived(4);
    expect(gate.up.connections).toBe(4);
    gate.release();
    expect((await Promise.all(pending)).every((r) => r.status === 200)).toBe(true);
  });
});

describe('pool: { keepAlive: false }', () => {
  it('opens a new upstream connection for every request', async () => {
    const up = await echoUpstream();
    const sockets = watchSockets(up);
    const { url } = await serve({ targets: up.url, pool: { keepAlive: false } });
    for (let i = 0; i < 20; i++) {
      expect((await get(`${url}/n${i}`)).status).toBe(200);
    }
    expect(up.requests).toHaveLength(20);
    expect(up.connections).toBe(20);
    // Nothing is kept open afterwards.
    await Promise.all(sockets.map(closed));
    expect(up.openSockets()).toBe(0);
  });
});

describe('a user-supplied dispatcher', () => {
  /** An undici Agent that counts the connections it opens. */
  function countingDispatcher(options: UndiciAgent.Options = {}): { dispatcher: UndiciAgent; created: () => number } {
    let created = 0;
    const connect = buildConnector({});
    const dispatcher = new UndiciAgent({
      ...options,
      connect: (opts, callback) => {
        created += 1;
        connect(opts, callback);
      },
    });
    defer(() => dispatcher.close());
    return { dispatcher, created: () => created };
  }

  it('is used for upstream connections instead of the pool', async () => {
    const gate = await gatedUpstream();
    const { dispatcher, created } = countingDispatcher({ connections: 1 });
    // pool would allow many connections; the user's dispatcher allows one.
    const { url } = await serve({ targets: gate.up.url, dispatcher, pool: { maxSockets: 10 } });
    const pending = Array.from({ length: 3 }, (_, i) => get(`${url}/u${i}`));
    for (let released = 0; released < 3; released++) {
      await gate.arrived(1);
      gate.release();
    }
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(created()).toBe(1);
    expect(gate.up.connections).toBe(1);
  });

  it('is left open by close(): its pooled connection is reused by the next user', async () => {
    const up = await echoUpstream();
    const { dispatcher, created } = countingDispatcher();
    const { url, mw } = await serve({ targets: up.url, dispatcher });
    expect((await get(`${url}/a`)).status).toBe(200);
    await mw.close();
    expect(dispatcher.destroyed).toBe(false);

    const second = await serve({ targets: up.url, dispatcher });
    expect((await get(`${second.url}/b`)).status).toBe(200);
    expect(created()).toBe(1);
    expect(up.connections).toBe(1);
  });
});

describe('close()', () => {
  it('destroys pooled sockets: the upstream sees every connection closed', async () => {
    const up = await echoUpstream();
    const sockets = watchSockets(up);
    const gate = await gatedUpstream();
    const gateSockets = watchSockets(gate.up);
    const { url, mw } = await serve({ targets: [up.url, gate.up.url] });

    // Two idle pooled sockets to `up` (opened concurrently), one to the gated upstream.
    const warm = [get(`${url}/1`), get(`${url}/2`), get(`${url}/3`)];
    await gate.arrived(1);
    gate.release();
    expect((await Promise.all(warm)).every((r) => r.status === 200)).toBe(true);
    expect(up.openSockets()).toBeGreaterThan(0);
    expect(gate.up.openSockets()).toBe(1);

    await mw.close();
    await Promise.all([...sockets, ...gateSockets].map(closed));
    expect(up.openSockets()).toBe(0);
    expect(gate.up.openSockets()).toBe(0);
  });

  it('is idempotent', async () => {
    const up = await echoUpstream();
    const sockets = watchSockets(up);
    const { url, mw } = await serve({ targets: up.url });
    expect((await get(`${url}/x`)).status).toBe(200);

    const first = mw.close();
    const second = mw.close();
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    await expect(mw.close()).resolves.toBeUndefined();
    await Promise.all(sockets.map(closed));
    expect(up.openSockets()).toBe(0);
  });
});
