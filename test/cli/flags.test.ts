// The flags that map onto proxy() options, through the real bin: header rules, preserve host,
// WebSockets and TLS to an https upstream on 127.0.0.1.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCerts, type TestCerts } from '../helpers/certs.js';
import { socketDir } from '../helpers/socket-dir.js';
import { startUpstream, type EchoResponse } from '../helpers/upstream.js';
import { get, getJson } from './http-get.js';
import { useCli } from './spawn-cli.js';
import { openWs, startWsUpstream } from './ws-upstream.js';

const LISTEN = ['--listen', '127.0.0.1:0'];
const { cli, track } = useCli();


describe('header and host flags', () => {
  it('--header-up sets (with placeholders) and removes request headers, --header-down response headers', async () => {
    const up = await startUpstream((req, res) => {
      res.setHeader('server', 'upstream/1.0');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ headers: req.headers }));
    });
    track(up);
    const proc = await cli([
      ...LISTEN, '-t', up.url,
      '--header-up', 'X-Real-Ip: {addr}', '--header-up', '-Cookie', '--header-up', 'X-Method: {method}',
      '--header-down', '-Server', '--header-down', 'X-Proxy: switchyard',
    ]);
    const reply = await get(`${proc.url}/h`, { headers: { cookie: 'a=1', host: 'client.example' } });
    expect(reply.status).toBe(200);
    const { headers } = JSON.parse(reply.body) as { headers: Record<string, string> };
    expect(headers['x-real-ip']).toBe('127.0.0.1');
    expect(headers['x-method']).toBe('GET');
    expect(headers.cookie).toBeUndefined();
    // Without --preserve-host the upstream sees its own host.
    expect(headers.host).toBe(`127.0.0.1:${up.port}`);
    expect(reply.headers.server).toBeUndefined();
    expect(reply.headers['x-proxy']).toBe('switchyard');
  });

  it('--preserve-host keeps the client\'s Host', async () => {
    const up = await startUpstream();
    track(up);
    const proc = await cli([...LISTEN, '-t', up.url, '--preserve-host']);
    const { json } = await getJson<EchoResponse>(`${proc.url}/p`, { headers: { host: 'client.example' } });
    expect(json.headers.host).toBe('client.example');
  });
});

describe('--keep-alive-timeout', () => {
  it('keeps idle client connections as long as told, and says so in Keep-Alive', async () => {
    const up = await startUpstream();
    track(up);
    const keepAlive = { headers: { connection: 'keep-alive' } };
    const byDefault = await cli([...LISTEN, '-t', up.url]);
    expect((await get(`${byDefault.url}/a`, keepAlive)).headers['keep-alive']).toBe('timeout=5');
    const longer = await cli([...LISTEN, '-t', up.url, '--keep-alive-timeout', '65000']);
    const reply = await get(`${longer.url}/a`, keepAlive);
    expect(reply.status).toBe(200);
    expect(reply.headers['keep-alive']).toBe('timeout=65');
  });
});

describe('--ws', () => {
  it('proxies WebSocket upgrades without a config file', async () => {
    const ws = await startWsUpstream((text, path) => `${path} ${text}`);
    track(ws);
    const proc = await cli([...LISTEN, '-t', ws.url, '--ws']);
    const client = await openWs(`${proc.url}/chat`);
    expect(await client.ask('hi')).toBe('/chat hi');
    await client.close();
  });
});

describe('TLS to the upstream', () => {
  let certs: TestCerts;
  let dir: string;
  let server: https.Server;
  let selfSigned: https.Server;
  const urlOf = (s: https.Server): string => `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
  beforeAll(async () => {
    certs = await generateCerts();
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cli-tls-'));
    await writeFile(path.join(dir, 'ca.pem'), certs.ca);
    const answer = (_req: unknown, res: import('node:http').ServerResponse): void => void res.end('over tls');
    server = https.createServer({ cert: certs.server.cert, key: certs.server.key }, answer);
    selfSigned = https.createServer({ cert: certs.selfSigned.cert, key: certs.selfSigned.key }, answer);
    for (const s of [server, selfSigned]) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const s of [server, selfSigned]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await rm(dir, { recursive: true, force: true });
    await certs.cleanup();
  });

  it('--tls-ca trusts a private CA; without it the upstream is refused', async () => {
    const trusted = await cli([...LISTEN, '-t', urlOf(server), '--tls-ca', 'ca.pem'], { cwd: dir });
    expect((await get(`${trusted.url}/`)).body).toBe('over tls');
    const untrusted = await cli([...LISTEN, '-t', urlOf(server)], { cwd: dir });
    expect((await get(`${untrusted.url}/`)).status).toBe(502);
    const [line] = await untrusted.waitForErrCount(/ 502 /, 1);
    expect(line).toMatch(/ UPSTREAM_UNAVAILABLE attempts=1 cause=UNABLE_TO_VERIFY_LEAF_SIGNATURE unable to verify the first certificate$/);
  });

  it('--http2 speaks HTTP/2 to an h2-only upstream, negotiated by ALPN', async () => {
    const h2 = http2.createSecureServer({ cert: certs.server.cert, key: certs.server.key }, (req, res) => res.end(`HTTP/${req.httpVersion}`));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    track({ close: () => new Promise((resolve) => h2.close(resolve)) });
    const target = `https://127.0.0.1:${(h2.address() as AddressInfo).port}`;
    const proc = await cli([...LISTEN, '-t', target, '--tls-ca', 'ca.pem', '--http2'], { cwd: dir });
    expect((await get(`${proc.url}/`)).body).toBe('HTTP/2.0');
  });

  it('--insecure accepts a self-signed upstream', async () => {
    const proc = await cli([...LISTEN, '-t', urlOf(selfSigned), '--insecure']);
    expect((await get(`${proc.url}/`)).body).toBe('over tls');
  });
});

describe('Unix-socket targets', () => {
  it('--target unix:/path balances over sockets, health-checked over the socket', async () => {
    const dir = await socketDir();
    track(dir);
    const a = await startUpstream({ name: 'a', socketPath: dir.path('a') });
    const b = await startUpstream((req, res) => void res.writeHead(req.url === '/health' ? 503 : 200).end('b'), { socketPath: dir.path('b') });
    track(a, b);
    const proc = await cli([...LISTEN, '-t', a.url, '-t', b.url, '--health-path', '/health', '--health-interval', '600000']);
    expect(proc.stdout()).toContain(`  targets   ${a.url}\n            ${b.url}\n`);
    await proc.waitForErrCount(new RegExp(`health ${dir.path('b').replace(/[.]/g, '\\.')} down \\(active\\)$`), 1);
    for (let i = 0; i < 3; i++) expect((await getJson<EchoResponse>(`${proc.url}/s`)).json.name).toBe('a');
    expect(b.requests.map((r) => r.url)).toEqual(['/health']);
  });
});
