/**
 * The same assertions in every mount mode the contract supports: `app.use('/api', mw)`, a
 * route with params, an `express.Router`, Connect, and a bare `http.createServer` handler.
 * What differs between modes (what `next()` and `next(err)` look like to the client) is one
 * row per mode in `OUTCOMES`, so no mode is skipped.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Balancer, ProxyConfig } from '../../src/index.js';
import { sendText, type TextReply } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';
import { startingWith } from '../helpers/match.js';
import { NEXT_CALLED_BODY, NEXT_ERROR_PREFIX, mount, mountModes, type MountMode } from '../helpers/mount-matrix.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup({ parallel: true });

/** One request over a fresh connection. */
function send(
  url: string,
  init: { method?: string; body?: string; headers?: http.OutgoingHttpHeaders } = {},
): Promise<TextReply> {
  return sendText(url, init);
}

/** What a client sees when the middleware calls `next()` / `next(err)`, per mode. */
interface Outcome {
  skipped: { status: number; body?: string };
  thrown: { status: number; bodyPrefix?: string };
}

const FRAMEWORK: Outcome = {
  skipped: { status: 404, body: NEXT_CALLED_BODY },
  thrown: { status: 500, bodyPrefix: NEXT_ERROR_PREFIX },
};

const OUTCOMES: Record<MountMode, Outcome> = {
  'express-use': FRAMEWORK,
  'express-route': FRAMEWORK,
  'express-router': FRAMEWORK,
  'express4-use': FRAMEWORK,
  'express4-route': FRAMEWORK,
  'express4-router': FRAMEWORK,
  connect: FRAMEWORK,
  // No `next`: the contract says a skipped request gets 404, and a user function that throws
  // gets a 500 answered by the middleware itself (there is no host error handler to call).
  'bare-http': { skipped: { status: 404 }, thrown: { status: 500 } },
};

/** An upstream whose answer is recognisable: status 201, a mixed-case header, a JSON body. */
function recognisableUpstream(): Promise<Upstream> {
  return startUpstream(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const json = JSON.stringify({ url: req.url, method: req.method, body });
    res.writeHead(201, 'Made It', {
      'Content-Type': 'application/json',
      'X-Upstream-Says': 'Hello There',
      'Content-Length': Buffer.byteLength(json),
    });
    res.end(json);
  });
}

async function serve(mode: MountMode, config: ProxyConfig) {
  const mw = proxyFor(config);
  const m = mount(mode, mw);
  const server = track(await listen(m.handler));
  return { mw, m, server };
}

/** A user-supplied function that throws, in each place the contract names. */
const THROWERS: Array<[string, (upstreamUrl: string) => ProxyConfig]> = [
  [
    'a header function',
    (url) => ({
      targets: url,
      headers: {
        'x-user': () => {
          throw new Error('header function exploded');
        },
      },
    }),
  ],
  [
    'skip',
    (url) => ({
      targets: url,
      skip: () => {
        throw new Error('skip exploded');
      },
    }),
  ],
  [
    'balancer.next',
    (url) => {
      const target = { url: new URL(url), name: 'only', weight: 1, meta: {}, healthy: true, active: 0 };
      const balancer: Balancer = {
        targets: [target],
        add: () => target,
        remove: () => false,
        next: () => {
          throw new Error('balancer exploded');
        },
      };
      return { balancer };
    },
  ],
];

describe.each(mountModes)('mounted as %s', (mode) => {
  const outcome = OUTCOMES[mode];

  it('sends the mount-relative path and the query upstream', async () => {
    const up = track(await recognisableUpstream());
    const { m, server } = await serve(mode, { targets: up.url });

    const clientPath = m.clientPath('/users/7?x=1&y=a%20b');
    const res = await send(server.url + clientPath);
    expect(res.status).toBe(201);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.url).toBe(m.expectedUpstreamPath(clientPath));
    // Spelled out, so a wrong expectedUpstreamPath cannot hide a wrong proxy.
    expect(up.requests[0]!.url).toBe(m.seesFullPath ? clientPath : '/users/7?x=1&y=a%20b');
  });

  it('keeps a target path prefix in front of the forwarded path', async () => {
    const up = track(await recognisableUpstream());
    const { m, server } = await serve(mode, { targets: `${up.url}/base` });

    const clientPath = m.clientPath('/users?x=1');
    await send(server.url + clientPath);
    expect(up.requests[0]!.url).toBe(`/base${m.expectedUpstreamPath(clientPath)}`);
  });

  it('delivers the upstream status, headers and body to the client', async () => {
    const up = track(await recognisableUpstream());
    const { m, server } = await serve(mode, { targets: up.url });

    const res = await send(server.url + m.clientPath('/echo'), {
      method: 'POST',
      body: 'payload-123',
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(201);
    expect(res.headers['x-upstream-says']).toBe('Hello There');
    expect(res.headers['content-type']).toBe('application/json');
    // Header names keep the upstream's letter case.
    expect(res.rawHeaders).toContain('X-Upstream-Says');
    expect(JSON.parse(res.body)).toEqual({
      url: m.expectedUpstreamPath(m.clientPath('/echo')),
      method: 'POST',
      body: 'payload-123',
    });
  });

  it('calls next() for a skipped request and never contacts the upstream', async () => {
    const up = track(await recognisableUpstream());
    const { m, server } = await serve(mode, {
      targets: up.url,
      skip: (req) => req.url?.includes('skip-me') === true,
    });

    const skipped = await send(server.url + m.clientPath('/skip-me'));
    expect(skipped.status).toBe(outcome.skipped.status);
    if (outcome.skipped.body !== undefined) expect(skipped.body).toBe(outcome.skipped.body);
    expect(up.requests).toHaveLength(0);

    // The same middleware still proxies what is not skipped.
    const proxied = await send(server.url + m.clientPath('/other'));
    expect(proxied.status).toBe(201);
    expect(up.requests).toHaveLength(1);
  });

  it('answers 502 UPSTREAM_UNAVAILABLE for a dead target', async () => {
    const { m, server } = await serve(mode, { targets: await deadTargetUrl() });

    const res = await send(server.url + m.clientPath('/x'), { headers: { accept: 'application/json' } });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toEqual({
      error: { status: 502, code: 'UPSTREAM_UNAVAILABLE', message: 'Bad Gateway' },
    });
  });

  it.each(THROWERS)('hands a throwing %s to next(err) and keeps serving', async (_name, makeConfig) => {
    const up = track(await recognisableUpstream());
    const config = makeConfig(up.url);
    const { m, server } = await serve(mode, config);

    const res = await send(server.url + m.clientPath('/boom'));
    expect(res.status).toBe(outcome.thrown.status);
    if (outcome.thrown.bodyPrefix !== undefined) {
      expect(res.body).toMatch(startingWith(outcome.thrown.bodyPrefix));
      expect(res.body).toMatch(/exploded$/);
    }
    expect(up.requests).toHaveLength(0);

    // The process did not crash and the server still answers (the next throw is handled the same way).
    const again = await send(server.url + m.clientPath('/boom'));
    expect(again.status).toBe(outcome.thrown.status);
  });
});
