/**
 * Request targets that name somewhere else: absolute form (`GET http://evil/ HTTP/1.1`),
 * authority form and CONNECT, the asterisk form (`OPTIONS *`), a `//host` path and a hostile
 * `Host` header, in every mount mode and with a lenient parser. Only configured targets are
 * ever contacted: a second raw server stands in for "evil" and must see no connection at all.
 */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { proxy, type ProxyConfig } from '../../src/index.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { mount, mountModes, type MountMode } from '../helpers/mount-matrix.js';
import { exchangeRaw, headerValues, serveFront, startRawUpstream, statuses, type RawUpstream } from './support.js';

let up: RawUpstream;
let evil: RawUpstream;

beforeEach(async () => {
  up = await startRawUpstream();
  evil = await startRawUpstream();
});

afterEach(async () => {
  await Promise.all([up.close(), evil.close()]);
});

// Registered after the afterEach above, so it runs first: proxies and fronts close before the upstreams.
const { track, proxyFor } = useCleanup();

async function front(mode: MountMode, config: Partial<ProxyConfig> = {}, options: http.ServerOptions = {}): Promise<{ port: number; prefix: string }> {
  const m = mount(mode, proxyFor({ targets: up.url, ...config }));
  const f = track(await serveFront(m.handler, options));
  return { port: f.port, prefix: m.prefix };
}

function send(port: number, requestLine: string, headers = 'Host: evil.example\r\n'): Promise<string> {
  return exchangeRaw(port, `${requestLine}\r\n${headers}Connection: close\r\n\r\n`, { responses: 1 });
}

const PARSERS = [
  ['strict parser', {}],
  ['insecureHTTPParser', { insecureHTTPParser: true }],
] as const;

describe.each(PARSERS)('request targets not in origin form (%s)', (_label, options) => {
  describe.each(mountModes)('%s', (mode) => {
    it('absolute form naming another server → 400, nothing contacted', async () => {
      const f = await front(mode, {}, options);
      for (const url of [
        `http://127.0.0.1:${evil.port}${f.prefix}/x`,
        `http://evil.example${f.prefix}/x`,
        `https://evil.example${f.prefix}/x`,
        `HTTP://127.0.0.1:${evil.port}${f.prefix}/x`,
        `${up.url}${f.prefix}/x`,
      ]) {
        const reply = await send(f.port, `GET ${url} HTTP/1.1`, `Host: 127.0.0.1:${evil.port}\r\n`);
        expect(statuses(reply)[0], `${url}: ${reply}`).toBe(400);
      }
      expect(evil.connections()).toBe(0);
      expect(up.connections()).toBe(0);
    });

    it('OPTIONS * → 400 (or not routed), nothing contacted', async () => {
      const f = await front(mode, {}, options);
      const reply = await send(f.port, 'OPTIONS * HTTP/1.1');
      expect([400, 404]).toContain(statuses(reply)[0]);
      expect(up.connections()).toBe(0);
    });

    it('CONNECT and authority-form GET never open a tunnel or reach anyone', async () => {
      const f = await front(mode, {}, options);
      const connect = await send(f.port, `CONNECT 127.0.0.1:${evil.port} HTTP/1.1`, `Host: 127.0.0.1:${evil.port}\r\n`);
      expect(connect).not.toMatch(/^HTTP\/1\.1 2/);
      const authority = await send(f.port, `GET 127.0.0.1:${evil.port} HTTP/1.1`);
      expect(statuses(authority)[0]).toBe(400);
      expect(evil.connections()).toBe(0);
      expect(up.connections()).toBe(0);
    });

    it('a //host path and a hostile Host header are forwarded to the configured target only', async () => {
      const f = await front(mode, {}, options);
      const reply = await send(
        f.port,
        `GET ${f.prefix}//127.0.0.1:${evil.port}/x HTTP/1.1`,
        `Host: 127.0.0.1:${evil.port}\r\nX-Forwarded-Host: 127.0.0.1:${evil.port}\r\n`,
      );
      expect(statuses(reply)[0]).toBe(200);
      expect(evil.connections()).toBe(0);
      expect(up.requests).toHaveLength(1);
      const seen = up.requests[0]!;
      // As a path on the configured target, never as another host. Express 4's router folds the
      // two slashes left after stripping a mount path into one; Express 5 and Connect keep them.
      const slashes = mode === 'express4-use' || mode === 'express4-router' ? '/' : '//';
      expect(seen.target).toMatch(new RegExp(`${slashes}127\\.0\\.0\\.1:${evil.port}/x$`));
      expect(headerValues(seen.headers, 'host')).toEqual([`127.0.0.1:${up.port}`]);
    });
  });
});

describe('preserveHost', () => {
  it('keeps the client Host as a header, but the connection still goes to the target', async () => {
    const f = await front('express-use', { preserveHost: true });
    const reply = await send(f.port, 'GET /api/x HTTP/1.1', `Host: 127.0.0.1:${evil.port}\r\n`);
    expect(statuses(reply)[0]).toBe(200);
    expect(evil.connections()).toBe(0);
    expect(headerValues(up.requests[0]!.headers, 'host')).toEqual([`127.0.0.1:${evil.port}`]);
  });
});

describe('the to template cannot choose the origin', () => {
  it('{header.X} and {host} after the origin stay in the path', async () => {
    const mw = proxyFor({ to: `${up.url}/{header.x-where}{path}` });
    const f = track(await serveFront((req, res) => mw(req, res)));
    for (const where of [`@127.0.0.1:${evil.port}`, `:${evil.port}`, `/127.0.0.1:${evil.port}`, `\\\\127.0.0.1:${evil.port}`]) {
      const reply = await send(f.port, 'GET /x HTTP/1.1', `Host: h\r\nX-Where: ${where}\r\n`);
      expect([200, 400]).toContain(statuses(reply)[0]);
    }
    expect(evil.connections()).toBe(0);
    for (const r of up.requests) expect(r.target).toMatch(/^\//);
  });

  it('a placeholder in the origin is refused when proxy() is called', () => {
    expect(() => proxy({ to: 'http://{header.x-host}/x' })).toThrow(/^switchyard: to /);
    expect(() => proxy({ to: 'http://127.0.0.1:{header.x-port}/x' })).toThrow(/^switchyard: to /);
  });
});
