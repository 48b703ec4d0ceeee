/**
 * Size and time limits under attack: oversized request headers (Node's 431, before the
 * middleware), an upstream answering with oversized headers (502, the process survives),
 * and upstreams or clients that stall (504 within `timeout`, the upstream socket closed,
 * nothing left in flight).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../src/index.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { until } from '../helpers/poll.js';
import { exchangeRaw, OK_RESPONSE, startRawChain, statuses, type RawChain, type RawResponder } from './support.js';

const { track } = useCleanup();

interface Setup extends RawChain {
  /** How many requests reached the middleware. */
  readonly calls: () => number;
}

async function setup(respond: RawResponder, config: Partial<ProxyConfig> = {}): Promise<Setup> {
  let calls = 0;
  const chain = await startRawChain(
    (url) => ({ targets: url, ...config }),
    (mw) => (req: IncomingMessage, res: ServerResponse) => {
      calls++;
      mw(req, res);
    },
    {},
    respond,
  );
  return { ...track(chain), calls: () => calls };
}

const GET = 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';

describe('oversized request headers', () => {
  const pad = 'a'.repeat(1024);
  it.each([
    ['100 headers of 1 KB', '/x', Array.from({ length: 100 }, (_, i) => `X-Pad-${i}: ${pad}\r\n`).join('')],
    ['one 100 KB header', '/x', `X-Pad: ${'a'.repeat(100 * 1024)}\r\n`],
    ['a 100 KB request target', `/x?${'q'.repeat(100 * 1024)}`, ''],
  ])('%s → 431 from Node, the middleware and upstream never see it', async (_name, target, lines) => {
    const s = await setup(() => OK_RESPONSE);
    const reply = await exchangeRaw(s.port, `GET ${target} HTTP/1.1\r\nHost: h\r\n${lines}Connection: close\r\n\r\n`, {
      responses: 1,
    });
    // Node's maxHeaderSize (16 KB by default) counts the request line and every header.
    expect(statuses(reply)).toEqual([431]);
    expect(s.calls()).toBe(0);
    expect(s.up.connections()).toBe(0);
  });
});

describe('an upstream answering with oversized headers', () => {
  it('→ 502 for the client, the proxy keeps serving, nothing stays in flight', async () => {
    let huge = true;
    const s = await setup(() =>
      huge ? `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(100 * 1024)}\r\nContent-Length: 2\r\n\r\nok` : OK_RESPONSE,
    );
    const reply = await exchangeRaw(s.port, GET, { responses: 1 });
    expect(statuses(reply)).toEqual([502]);
    expect(reply).not.toContain('bbbb');
    await until(() => s.mw.stats()[0]!.active === 0);
    expect(s.mw.stats()[0]!.failures).toBe(1);

    huge = false;
    const next = await exchangeRaw(s.port, GET, { responses: 1 });
    expect(statuses(next)).toEqual([200]);
    expect(next.endsWith('\r\n\r\nok')).toBe(true);
  });

  it('3000 small headers (past 16 KB in all) → 502 as well', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const s = await setup(() => `HTTP/1.1 200 OK\r\n${lines}Content-Length: 2\r\n\r\nok`);
    const reply = await exchangeRaw(s.port, GET, { responses: 1 });
    expect(statuses(reply)).toEqual([502]);
    expect(reply).not.toContain('X-H1:');
    await until(() => s.mw.stats()[0]!.active === 0);
  });
});

describe('a slow upstream', () => {
  it('that never answers → 504 after `timeout`, its socket closed, nothing in flight', async () => {
    const s = await setup(() => undefined, { timeout: 200 });
    const reply = await exchangeRaw(s.port, GET, { responses: 1, idleMs: 10_000 });
    expect(statuses(reply)).toEqual([504]);
    expect(s.up.requests).toHaveLength(1);
    // Closed by the proxy itself (before close() could destroy the pool): no leaked socket.
    await until(() => s.up.openSockets() === 0);
    expect(s.mw.stats()[0]!.active).toBe(0);
  });

  it('that sends half a status line and stalls → 504, socket closed', async () => {
    const s = await setup(() => 'HTTP/1.1 200 OK\r\nContent-Ty', { timeout: 200 });
    const reply = await exchangeRaw(s.port, GET, { responses: 1, idleMs: 10_000 });
    expect(statuses(reply)).toEqual([504]);
    await until(() => s.up.openSockets() === 0);
    expect(s.mw.stats()[0]!.active).toBe(0);
  });

  it('a client that stalls mid-body: 408 CLIENT_TIMEOUT once `idleTimeout` passes, the upstream socket closed', async () => {
    // The raw upstream never frames the request (the body never completes), so it never answers.
    const s = await setup(() => OK_RESPONSE, { idleTimeout: 200 });
    const reply = await exchangeRaw(s.port, 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab', {
      responses: 1,
      idleMs: 10_000,
    });
    expect(statuses(reply)).toEqual([408]);
    await until(() => s.up.openSockets() === 0);
    expect(s.up.requests).toHaveLength(0);
    expect(s.mw.stats()[0]!.active).toBe(0);
  });

  it('many slow requests at once all end in 504 and leave nothing behind', async () => {
    const s = await setup(() => undefined, { timeout: 200 });
    const replies = await Promise.all(Array.from({ length: 20 }, () => exchangeRaw(s.port, GET, { responses: 1, idleMs: 10_000 })));
    for (const reply of replies) expect(statuses(reply)).toEqual([504]);
    await until(() => s.up.openSockets() === 0);
    expect(s.mw.stats()[0]!.active).toBe(0);
  });
});
