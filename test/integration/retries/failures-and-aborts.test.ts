/**
 * Retries over dead targets, a throwing retryFilter, and clients that leave while a retry is
 * under way (waiting for tryInterval, or streaming the replayed body). The retry policy itself
 * (filter, retryOn, tryDuration, body replay): retries.test.ts beside this file.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { deadTargetUrl } from '../../helpers/dead-target.js';
import { appRecordingErrors as appWith, recordingHandler } from '../../helpers/error-recording.js';
import { useCleanup } from '../../helpers/lifecycle.js';
import { listen } from '../../helpers/listen.js';
import { until } from '../../helpers/poll.js';
import { deferred } from '../../helpers/streams.js';
import { startUpstream, type Upstream } from '../../helpers/upstream.js';

const { defer, track, proxyFor: makeProxy } = useCleanup();

async function upstream(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  return track(handler === undefined ? await startUpstream() : await startUpstream(handler));
}

describe('retries over dead targets', () => {
  it('retries: 1 with the first target dead succeeds on the second (2 attempts)', async () => {
    const dead = await deadTargetUrl();
    const up = await upstream();
    const { calls, handler } = recordingHandler();
    const mw = makeProxy({
      targets: [{ url: dead, name: 'dead' }, { url: up.url, name: 'live' }],
      balancer: 'first',
      retries: 1,
      errorHandler: handler,
    });
    const { app } = appWith(mw);
    const res = await request(app).get('/api/things?x=1').expect(200);
    expect(res.body).toMatchObject({ name: 'upstream', method: 'GET', url: '/things?x=1' });
    expect(calls).toHaveLength(0);
    const stats = mw.stats();
    expect(stats.find((s) => s.name === 'dead')).toMatchObject({ requests: 1, failures: 1, active: 0 });
    expect(stats.find((s) => s.name === 'live')).toMatchObject({ requests: 1, failures: 0, active: 0 });
    // One attempt per target: two attempts in all.
    expect(stats.reduce((n, s) => n + s.requests, 0)).toBe(2);
    expect(res.headers['content-type']).toMatch(/json/);
  });

  it('without retries the dead target fails the request', async () => {
    const dead = await deadTargetUrl();
    const up = await upstream();
    const mw = makeProxy({ targets: [dead, up.url], balancer: 'first' });
    const { app } = appWith(mw);
    await request(app).get('/api/x').expect(502);
    expect(up.requests).toHaveLength(0);
  });

  it('a throwing retryFilter hands the throw to next(err)', async () => {
    const broke = new Error('filter-broke');
    const mw = makeProxy({
      targets: [await deadTargetUrl(), await deadTargetUrl()],
      retries: 1,
      retryFilter: () => {
        throw broke;
      },
    });
    const { app, expressErrors } = appWith(mw);
    await request(app).get('/api/x').expect(500);
    expect(expressErrors).toEqual([broke]);
  });
});

describe('a client leaving while a retry is under way', () => {
  it('a client leaving while a retry waits for tryInterval is recorded as 499', async () => {
    const mw = makeProxy({ targets: await deadTargetUrl(), tryDuration: 60_000, tryInterval: 30_000 });
    const server = http.createServer(appWith(mw).app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    const req = http.get({ host: '127.0.0.1', port, path: '/api/x', agent: false });
    req.on('error', () => {});
    await until(() => (mw.stats()[0]?.failures ?? 0) >= 1);
    req.destroy();
    await until(() => (mw.stats()[0]?.statuses[499] ?? 0) === 1);
    expect(mw.stats()[0]?.active).toBe(0);
  });
  it("a client leaving mid-upload while a retry replays its body no longer crashes the process (unheard 'error' on the replay stream)", async () => {
    const firstChunk = deferred<void>();
    const up = track(
      await startUpstream((req) => {
        // Reads the body; never answers.
        req.once('data', () => firstChunk.resolve());
        req.on('error', () => {});
      }),
    );
    // The refused first attempt makes the second one stream the replay, fed live from the client.
    const mw = makeProxy({ targets: [await deadTargetUrl(), up.url], balancer: 'first', retries: 1 });
    const front = track(await listen(appWith(mw).app));
    const client = http.request(`${front.url}/api/upload`, { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
    client.on('error', () => {});
    client.write(Buffer.alloc(10_000, 'b'));
    await firstChunk.promise;

    client.destroy();
    await until(() => mw.stats()[1]?.statuses[499] === 1, 'the abort to be recorded');
    expect(mw.stats().map((s) => s.active)).toEqual([0, 0]);
    await until(() => up.openSockets() === 0, 'the upstream request to be destroyed');
  });
});
