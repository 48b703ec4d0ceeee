/**
 * TLS upstreams: `https:` targets and the `tls` option (verify, ca, servername / SNI, client
 * certificates), keep-alive reuse over TLS, and that per-request TLS options share nothing.
 * Certificates are generated per run with the openssl CLI (test/helpers/certs.ts).
 */
import https from 'node:https';
import http from 'node:http';
import http2 from 'node:http2';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { Agent as UndiciAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxy, ProxyError, type ProxyConfig, type ProxyMiddleware } from '../../src/index.js';
import type { TlsOptions } from '../../src/types.js';
import { generateCerts, type TestCerts } from '../helpers/certs.js';
import { sendText } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, serveOnLoopback } from '../helpers/listen.js';

let certs: TestCerts;
beforeAll(async () => {
  certs = await generateCerts();
});
afterAll(async () => {
  await certs.cleanup();
});

const { track, defer } = useCleanup({ parallel: true });

/** What an HTTPS upstream saw of one request. */
interface SeenRequest {
  readonly url: string;
  readonly host: string | undefined;
  /** The SNI name the proxy sent, or false when it sent none. */
  readonly servername: string | false;
  /** Common name of the client certificate the proxy presented, if any. */
  readonly clientCn: string | undefined;
}

interface HttpsUpstream {
  readonly port: number;
  readonly requests: SeenRequest[];
  /** SNI names of every completed TLS handshake, in order (false: none sent). */
  readonly handshakes: Array<string | false>;
  close(): Promise<void>;
}

/**
 * An HTTPS upstream on 127.0.0.1 answering 200 JSON {@link SeenRequest}; a path starting
 * with `/die` destroys the connection instead of answering.
 */
async function httpsUpstream(options: https.ServerOptions): Promise<HttpsUpstream> {
  const requests: SeenRequest[] = [];
  const handshakes: Array<string | false> = [];
  const server = https.createServer(options, (req, res) => {
    const socket = req.socket as TLSSocket;
    const cn: string | string[] | undefined = socket.getPeerCertificate()?.subject?.CN;
    const seen: SeenRequest = {
      url: req.url ?? '',
      host: req.headers.host ?? undefined,
      servername: socket.servername ?? false,
      clientCn: Array.isArray(cn) ? cn[0] : cn,
    };
    requests.push(seen);
    if (seen.url.startsWith('/die')) {
      socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    });
  });
  server.on('secureConnection', (socket: TLSSocket) => handshakes.push(socket.servername ?? false));
  // A failed handshake is expected in several tests; without a listener it is only logged.
  server.on('tlsClientError', () => {});
  const { port, close } = await serveOnLoopback(server);
  return track({ port, requests, handshakes, close });
}

interface Served {
  readonly mw: ProxyMiddleware;
  readonly url: string;
  readonly port: number;
  /** Errors passed to the error handler, in order. */
  readonly errors: ProxyError[];
}

/** Serves `proxy(config)` over plain HTTP; errors are recorded, then answered by the built-in handler's rules. */
async function serve(config: ProxyConfig): Promise<Served> {
  const errors: ProxyError[] = [];
  const mw = proxy({
    errorHandler: (err, _req, res) => {
      errors.push(err);
      res.statusCode = err.status;
      res.end(err.code);
    },
    ...config,
  });
  track(mw);
  const server = track(await listen((req, res) => mw(req, res)));
  return { mw, url: server.url, port: server.port, errors };
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** One GET over a fresh client connection; the path is sent as written (a lone trailing `?` included). */
async function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  const { hostname, port, origin } = new URL(url);
  const { status, body } = await sendText({ hostname, port, path: url.slice(origin.length) }, { headers });
  return { status, body };
}

function seen(reply: Reply): SeenRequest {
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body) as SeenRequest;
}

describe('certificate verification', () => {
  it('refuses a self-signed upstream by default: 502 UPSTREAM_UNAVAILABLE, never connected', async () => {
    const up = await httpsUpstream(certs.selfSigned);
    const { url, errors } = await serve({ targets: `https://127.0.0.1:${up.port}` });
    const reply = await get(`${url}/x`);
    expect(reply).toEqual({ status: 502, body: 'UPSTREAM_UNAVAILABLE' });
    expect(errors).toHaveLength(1);
    const [err] = errors as [ProxyError];
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.connected).toBe(false);
    expect(err.message).toMatch(/^TLS failure \(DEPTH_ZERO_SELF_SIGNED_CERT\): upstream 127\.0\.0\.1:\d+$/);
    expect((err.cause as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(up.requests).toHaveLength(0);
  });
});

describe('certificate verification (continued)', () => {
  it('tls.verify: false accepts a self-signed upstream', async () => {
    const up = await httpsUpstream(certs.selfSigned);
    const { url, errors } = await serve({ targets: `https://127.0.0.1:${up.port}`, tls: { verify: false } });
    expect(seen(await get(`${url}/ok?a=1`)).url).toBe('/ok?a=1');
    expect(errors).toHaveLength(0);
  });

  it('refuses an upstream signed by an unknown CA, and accepts it once tls.ca trusts that CA', async () => {
    const up = await httpsUpstream(certs.server);
    const target = `https://127.0.0.1:${up.port}`;
    const refused = await serve({ targets: target });
    expect((await get(`${refused.url}/x`)).status).toBe(502);
    expect(refused.errors[0]?.message).toMatch(/^TLS failure \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect(refused.errors[0]?.connected).toBe(false);

    const trusted = await serve({ targets: target, tls: { ca: certs.ca } });
    expect(seen(await get(`${trusted.url}/x`)).url).toBe('/x');
    const asList = await serve({ targets: target, tls: { ca: [Buffer.from(certs.ca)] } });
    expect(seen(await get(`${asList.url}/y`)).url).toBe('/y');
  });

  it('tls.ca replaces the bundled roots; spread tls.rootCertificates to keep them (docs/tls.md)', async () => {
    const up = await httpsUpstream(certs.server);
    const target = `https://localhost:${up.port}`;
    const onlyOther = await serve({ targets: target, tls: { ca: certs.clientCa } });
    expect((await get(`${onlyOther.url}/a`)).status).toBe(502);
    const both = await serve({ targets: target, tls: { ca: [...rootCertificates, certs.ca] } });
    expect(seen(await get(`${both.url}/a`)).url).toBe('/a');
  });

  it('a trusted CA does not make a self-signed upstream acceptable', async () => {
    const up = await httpsUpstream(certs.selfSigned);
    const { url, errors } = await serve({ targets: `https://127.0.0.1:${up.port}`, tls: { ca: certs.ca } });
    expect((await get(`${url}/x`)).status).toBe(502);
    expect(errors[0]?.message).toMatch(/^TLS failure \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  });

  it('retries a TLS failure on the next target (connection never established)', async () => {
    const bad = await httpsUpstream(certs.selfSigned);
    const good = await httpsUpstream(certs.server);
    const { url, mw } = await serve({
      targets: [`https://127.0.0.1:${bad.port}`, `https://localhost:${good.port}`],
      balancer: 'first',
      retries: 1,
      tls: { ca: certs.ca },
    });
    const reply = await get(`${url}/post`);
    expect(seen(reply).servername).toBe('localhost');
    expect(mw.stats().map((s) => s.failures)).toEqual([1, 0]);
  });
});

describe('SNI', () => {
  it('sends the target host name by default, and verifies the certificate against it', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://localhost:${up.port}`, tls: { ca: certs.ca } });
    const s = seen(await get(`${url}/a`));
    expect(s.servername).toBe('localhost');
    expect(s.host).toBe(`localhost:${up.port}`);
  });

  it('sends no SNI for an IP-address target (RFC 6066) and verifies the IP SAN', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://127.0.0.1:${up.port}`, tls: { ca: certs.ca } });
    expect(seen(await get(`${url}/a`)).servername).toBe(false);
  });

  it('preserveHost: true keeps the client Host header but not as SNI: SNI stays the target host', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://localhost:${up.port}`, preserveHost: true, tls: { ca: certs.ca } });
    const s = seen(await get(`${url}/a`, { host: 'client.example:8080' }));
    expect(s.host).toBe('client.example:8080');
    expect(s.servername).toBe('localhost');
    expect(up.handshakes).toEqual(['localhost']);
  });

  it('preserveHost: true with an IP-address target sends no SNI and still verifies', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://127.0.0.1:${up.port}`, preserveHost: true, tls: { ca: certs.ca } });
    const s = seen(await get(`${url}/a`, { host: 'client.example' }));
    expect(s.host).toBe('client.example');
    expect(s.servername).toBe(false);
  });

  it('a Host set through `headers` does not change SNI either', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://localhost:${up.port}`, headers: { host: 'api.internal' }, tls: { ca: certs.ca } });
    const s = seen(await get(`${url}/a`));
    expect(s.host).toBe('api.internal');
    expect(s.servername).toBe('localhost');
  });

  it("tls.servername overrides SNI (and is the name the certificate is checked against)", async () => {
    const up = await httpsUpstream(certs.server);
    const target = `https://127.0.0.1:${up.port}`;
    const unverified = await serve({ targets: target, preserveHost: true, tls: { servername: 'other.example', verify: false } });
    expect(seen(await get(`${unverified.url}/a`, { host: 'client.example' })).servername).toBe('other.example');

    // The server certificate names 127.0.0.1 and localhost only.
    const verified = await serve({ targets: target, tls: { servername: 'other.example', ca: certs.ca } });
    expect((await get(`${verified.url}/a`)).status).toBe(502);
    expect(verified.errors[0]?.message).toMatch(/^TLS failure \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    expect(verified.errors[0]?.connected).toBe(false);
    const matching = await serve({ targets: target, tls: { servername: 'localhost', ca: certs.ca } });
    expect(seen(await get(`${matching.url}/a`)).servername).toBe('localhost');
  });

  it('tls.servername: false sends no SNI; the certificate is still checked against the target host', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://localhost:${up.port}`, preserveHost: true, tls: { servername: false, ca: certs.ca } });
    const s = seen(await get(`${url}/a`, { host: 'client.example' }));
    expect(s.servername).toBe(false);
    expect(up.handshakes).toEqual([false]);
  });

  it('each target gets its own SNI when requests to several https targets interleave', async () => {
    const up = await httpsUpstream(certs.server);
    const { url, mw } = await serve({
      targets: [`https://localhost:${up.port}`, `https://127.0.0.1:${up.port}`],
      preserveHost: true,
      tls: { ca: certs.ca },
    });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`${url}/r${i}${i % 3 === 0 ? '?' : ''}`, { host: 'client.example' })));
    const names = replies.map((r) => seen(r).servername);
    expect(names.filter((n) => n === 'localhost')).toHaveLength(5);
    expect(names.filter((n) => n === false)).toHaveLength(5);
    expect(up.handshakes.every((n) => n === 'localhost' || n === false)).toBe(true);
    // A lone trailing '?' is still sent byte for byte over TLS.
    expect(up.requests.filter((r) => r.url.endsWith('?')).map((r) => r.url).sort()).toEqual(['/r0?', '/r3?', '/r6?', '/r9?']);
    expect(mw.stats().map((s) => s.statuses)).toEqual([{ 200: 5 }, { 200: 5 }]);
  });
});

describe('mutual TLS', () => {
  async function mtlsUpstream(): Promise<HttpsUpstream> {
    return httpsUpstream({ ...certs.server, ca: certs.clientCa, requestCert: true, rejectUnauthorized: true });
  }

  it('an upstream that requires a client certificate refuses the proxy without one: 502', async () => {
    const up = await mtlsUpstream();
    const { url, errors } = await serve({ targets: `https://localhost:${up.port}`, tls: { ca: certs.ca } });
    expect((await get(`${url}/a`)).status).toBe(502);
    expect(errors[0]?.code).toBe('UPSTREAM_UNAVAILABLE');
    // TLS 1.3 refuses a missing client certificate with an alert after the proxy's side of the
    // handshake is done; on a loaded machine the close can overtake the alert.
    expect(errors[0]?.message).toMatch(
      /^(TLS failure \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)|connection reset|connection closed by upstream|connection closed while sending): upstream localhost:\d+$/,
    );
    expect(up.requests).toHaveLength(0);
  });

  it('tls.cert and tls.key present the client certificate', async () => {
    const up = await mtlsUpstream();
    const { url } = await serve({
      targets: `https://localhost:${up.port}`,
      tls: { ca: certs.ca, cert: certs.client.cert, key: Buffer.from(certs.client.key) },
    });
    const s = seen(await get(`${url}/a`));
    expect(s.clientCn).toBe('switchyard-client');
    expect(s.servername).toBe('localhost');
  });

  it('a client certificate signed by a CA the upstream does not trust is refused', async () => {
    const up = await mtlsUpstream();
    const { url, errors } = await serve({
      targets: `https://localhost:${up.port}`,
      tls: { ca: certs.ca, cert: certs.server.cert, key: certs.server.key },
    });
    expect((await get(`${url}/a`)).status).toBe(502);
    expect(errors[0]?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(up.requests).toHaveLength(0);
  });
});

describe('pooling over TLS', () => {
  it('reuses TLS connections: 50 sequential requests need at most 2 handshakes', async () => {
    const up = await httpsUpstream(certs.server);
    const { url, mw } = await serve({ targets: `https://localhost:${up.port}`, tls: { ca: certs.ca } });
    for (let i = 0; i < 50; i++) expect(seen(await get(`${url}/r${i}`)).servername).toBe('localhost');
    expect(up.requests).toHaveLength(50);
    expect(up.handshakes.length).toBeGreaterThanOrEqual(1);
    expect(up.handshakes.length).toBeLessThanOrEqual(2);
    expect(mw.stats()[0]).toMatchObject({ requests: 50, failures: 0 });
  });

  it('reuses TLS connections with preserveHost and varying client Host headers', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://localhost:${up.port}`, preserveHost: true, tls: { ca: certs.ca } });
    for (let i = 0; i < 20; i++) expect(seen(await get(`${url}/r${i}`, { host: `tenant${i}.example` })).host).toBe(`tenant${i}.example`);
    expect(up.handshakes.length).toBeLessThanOrEqual(2);
  });

  it('an upstream that drops a fresh TLS connection after the handshake: connected is true', async () => {
    const up = await httpsUpstream(certs.server);
    const { url, errors } = await serve({ targets: `https://localhost:${up.port}`, tls: { ca: certs.ca } });
    expect((await get(`${url}/die`)).status).toBe(502);
    expect(up.handshakes).toEqual(['localhost']);
    expect(errors[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', connected: true });
  });

  it('an upstream that drops a reused TLS connection: connected is true', async () => {
    const up = await httpsUpstream(certs.server);
    const { url, errors } = await serve({ targets: `https://localhost:${up.port}`, tls: { ca: certs.ca } });
    seen(await get(`${url}/a`));
    expect((await get(`${url}/die`)).status).toBe(502);
    expect(up.handshakes).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', connected: true });
  });

  it('close() destroys pooled TLS connections', async () => {
    const up = await httpsUpstream(certs.server);
    const { url, mw } = await serve({ targets: `https://localhost:${up.port}`, tls: { ca: certs.ca } });
    seen(await get(`${url}/a`));
    await mw.close();
    await mw.close();
    expect((await get(`${url}/b`)).status).toBe(503);
  });
});

describe('per-request TLS options share nothing', () => {
  it('leaves a frozen tls config untouched across requests, trailing "?" paths included', async () => {
    const up = await httpsUpstream(certs.server);
    const tls: TlsOptions = Object.freeze({ ca: Object.freeze([certs.ca]) as string[], cert: certs.client.cert, key: certs.client.key, verify: true });
    const snapshot = JSON.stringify(tls);
    const { url } = await serve({ targets: `https://localhost:${up.port}/base`, preserveHost: true, tls });
    for (const path of ['/a', '/b?', '/c?x=1', '/d?']) {
      const s = seen(await get(`${url}${path}`, { host: 'client.example' }));
      expect(s.url).toBe(`/base${path}`);
      expect(s.servername).toBe('localhost');
    }
    expect(JSON.stringify(tls)).toBe(snapshot);
    expect(Object.keys(tls)).toEqual(['ca', 'cert', 'key', 'verify']);
  });
});

describe('your own dispatcher', () => {
  function userDispatcher(connect: UndiciAgent.Options['connect'] = {}): UndiciAgent {
    const dispatcher = new UndiciAgent({ connect });
    defer(() => dispatcher.close());
    return dispatcher;
  }

  it('is used for https targets; SNI is still the target host, never the preserved Host', async () => {
    const up = await httpsUpstream(certs.server);
    const { url } = await serve({ targets: `https://localhost:${up.port}`, dispatcher: userDispatcher({ ca: certs.ca }), preserveHost: true });
    const s = seen(await get(`${url}/a`, { host: 'client.example' }));
    expect(s.servername).toBe('localhost');
  });

  it('brings its own TLS settings: tls.ca does not apply to it', async () => {
    const up = await httpsUpstream(certs.server);
    const strict = await serve({ targets: `https://localhost:${up.port}`, dispatcher: userDispatcher(), tls: { ca: certs.ca } });
    expect((await get(`${strict.url}/a`)).status).toBe(502);
    expect(strict.errors[0]?.message).toMatch(/^TLS failure \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    const lax = await serve({ targets: `https://localhost:${up.port}`, dispatcher: userDispatcher({ rejectUnauthorized: false }) });
    expect((await get(`${lax.url}/a`)).status).toBe(200);
  });
});

describe('bad TLS material', () => {
  it('an unparsable client certificate or key is refused by proxy(), not at the first request', () => {
    const tls = (cert: string, key: string): ProxyConfig => ({ targets: 'https://127.0.0.1:1', tls: { ca: certs.ca, cert, key } });
    expect(() => proxy(tls('not a cert', certs.client.key))).toThrow(/^switchyard: tls\.cert must be a PEM certificate or chain, got /);
    expect(() => proxy(tls(certs.client.cert, 'not a key'))).toThrow(/^switchyard: tls\.key must be a PEM private key, got /);
    expect(() => proxy(tls(certs.client.cert, certs.server.key))).toThrow(/^switchyard: tls cert and key do not match/);
  });

  it.each([
    ['an empty servername', { servername: '' }, /^switchyard: tls\.servername must be a host name or false, got /],
    ['an IPv4 servername', { servername: '10.0.0.1' }, /^switchyard: tls\.servername must be a host name, not an IP address .*got 10\.0\.0\.1, e\.g\. false$/],
    ['an IPv6 servername', { servername: '::1' }, /^switchyard: tls\.servername must be a host name, not an IP address/],
    ['a numeric servername', { servername: 1 }, /^switchyard: tls\.servername must be a host name or false/],
  ])('proxy() refuses %s', (_name, tls, message) => {
    expect(() => proxy({ targets: 'https://127.0.0.1:1', tls: tls as TlsOptions })).toThrow(TypeError);
    expect(() => proxy({ targets: 'https://127.0.0.1:1', tls: tls as TlsOptions })).toThrow(message);
  });

  it('proxy() accepts a host-name servername and servername: false', async () => {
    for (const servername of ['api.internal', false] as const) {
      const mw = proxy({ targets: 'https://127.0.0.1:1', tls: { servername } });
      expect(mw.stats()).toHaveLength(1);
      await mw.close();
    }
  });
});

describe('http2: true', () => {
  /** An HTTP/2-only TLS upstream (no HTTP/1.1 fallback) that reports the version it saw. */
  async function h2Upstream(): Promise<{ port: number }> {
    const server = http2.createSecureServer({ key: certs.server.key, cert: certs.server.cert, allowHTTP1: false }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        // `connection` would be illegal on an HTTP/2 answer: the proxy must not need it.
        res.end(JSON.stringify({ httpVersion: req.httpVersion, method: req.method, url: req.url, body: Buffer.concat(chunks).toString() }));
      });
    });
    const { port, close } = await serveOnLoopback(server);
    track({ close });
    return { port };
  }

  it('negotiates HTTP/2 with an https: target by ALPN; bodies stream both ways', async () => {
    const up = await h2Upstream();
    const { url, mw } = await serve({ targets: `https://localhost:${up.port}`, http2: true, tls: { ca: certs.ca } });
    const got = await sendText(`${url}/h2?x=1`, { method: 'POST', body: 'hello over h2' });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toEqual({ httpVersion: '2.0', method: 'POST', url: '/h2?x=1', body: 'hello over h2' });
    expect(mw.stats()[0]).toMatchObject({ requests: 1, failures: 0, statuses: { 200: 1 } });
  });

  it('without http2 the same target is refused (it speaks HTTP/2 only): 502', async () => {
    const up = await h2Upstream();
    const { url, errors } = await serve({ targets: `https://localhost:${up.port}`, tls: { ca: certs.ca } });
    expect((await get(`${url}/h1`)).status).toBe(502);
    expect(errors[0]?.code).toBe('UPSTREAM_UNAVAILABLE');
  });
});
