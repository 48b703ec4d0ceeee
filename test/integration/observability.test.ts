/**
 * The diagnostics channels (one test per channel, asserting its payload) and NODE_DEBUG lines.
 */
import { execFile } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { AttemptEndMessage, AttemptStartMessage, HealthChangeMessage, ProxyMiddleware, RequestEndMessage, RequestStartMessage } from '../../src/index.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { until } from '../helpers/poll.js';
import { startUpstream } from '../helpers/upstream.js';

const { defer, track, proxyFor } = useCleanup();

/** `mw` as a bare node:http handler. */
function bare(mw: ProxyMiddleware): http.RequestListener {
  return (req, res) => mw(req, res);
}

/** Collects what `name` publishes for the rest of the test. */
function listen<T>(name: string): T[] {
  const seen: T[] = [];
  const onMessage = (message: unknown): void => void seen.push(message as T);
  diagnosticsChannel.subscribe(name, onMessage);
  defer(() => diagnosticsChannel.unsubscribe(name, onMessage));
  return seen;
}

describe('diagnostics channels', () => {
  it('switchyard:request:start carries the request, its kind, method and upstream path', async () => {
    const starts = listen<RequestStartMessage>('switchyard:request:start');
    const up = track(await startUpstream());
    const mw = proxyFor({ targets: up.url, rewrite: { '/old/*': '/new/$1' } });
    await request(bare(mw)).get('/old/x?q=1').expect(200);
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ kind: 'http', method: 'GET', path: '/new/x?q=1' });
    expect(starts[0]!.req.url).toBe('/old/x?q=1');
  });

  it('switchyard:attempt:start and :end follow each attempt, a retry included', async () => {
    const startsSeen = listen<AttemptStartMessage>('switchyard:attempt:start');
    const ends = listen<AttemptEndMessage>('switchyard:attempt:end');
    const up = track(await startUpstream());
    const dead = await deadTargetUrl();
    const mw = proxyFor({ targets: [dead, up.url], balancer: 'first', retries: 1 });
    await request(bare(mw)).get('/x').expect(200);
    expect(startsSeen.map((s) => [s.target.url.origin, s.attempt])).toEqual([
      [new URL(dead).origin, 1],
      [up.url, 2],
    ]);
    expect(ends.map((e) => [e.attempt, e.outcome, e.status, e.error?.code])).toEqual([
      [1, 'failed', 0, 'UPSTREAM_UNAVAILABLE'],
      [2, 'answered', 200, undefined],
    ]);
    expect(ends[1]!.req).toBe(startsSeen[1]!.req);
  });

  it('switchyard:request:end reports the status, whether the answer was complete, and the duration', async () => {
    const endsSeen = listen<RequestEndMessage>('switchyard:request:end');
    const up = track(await startUpstream());
    const mw = proxyFor({ targets: up.url });
    await request(bare(mw)).get('/done').expect(200);
    await until(() => endsSeen.length === 1, 'request:end');
    expect(endsSeen[0]).toMatchObject({ status: 200, complete: true });
    expect(endsSeen[0]!.duration).toBeGreaterThanOrEqual(0);
  });

  it('switchyard:health:change reports a target marked down by passive health', async () => {
    const changes = listen<HealthChangeMessage>('switchyard:health:change');
    const up = track(await startUpstream());
    const dead = await deadTargetUrl();
    const mw = proxyFor({ targets: [dead, up.url], balancer: 'first', retries: 1, passive: { maxFails: 1, failTimeout: 60_000 } });
    await request(bare(mw)).get('/x').expect(200);
    expect(changes.map((c) => [c.target.url.origin, c.healthy, c.source])).toEqual([[new URL(dead).origin, false, 'passive']]);
  });

  it('nothing is published to a channel nobody subscribes to (and requests work as usual)', async () => {
    const up = track(await startUpstream());
    const mw = proxyFor({ targets: up.url });
    expect(diagnosticsChannel.channel('switchyard:request:start').hasSubscribers).toBe(false);
    await request(bare(mw)).get('/x').expect(200);
  });
});

describe('NODE_DEBUG=switchyard', () => {
  it('prints the request, each attempt and health changes to stderr', async () => {
    const script = fileURLToPath(new URL('./fixtures/debug-run.mjs', import.meta.url));
    const { stderr } = await promisify(execFile)(process.execPath, [script], {
      env: { ...process.env, NODE_DEBUG: 'switchyard' },
      timeout: 20_000,
    });
    expect(stderr).toMatch(/^SWITCHYARD \d+: request GET \/hello$/m);
    expect(stderr).toMatch(/^SWITCHYARD \d+: attempt 1 to 127\.0\.0\.1:\d+: failed 0 UPSTREAM_UNAVAILABLE$/m);
    expect(stderr).toMatch(/^SWITCHYARD \d+: health 127\.0\.0\.1:\d+: down \(passive\)$/m);
    expect(stderr).toMatch(/^SWITCHYARD \d+: attempt 2 to 127\.0\.0\.1:\d+: answered 200$/m);
  });
});
