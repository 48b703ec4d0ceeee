// SIGHUP reloads --config through the real bin: requests in flight and open WebSockets finish
// on the old proxy, new requests go to the new targets, a broken file keeps the old config.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { closeAll, startUpstream, type EchoResponse, type Upstream } from '../helpers/upstream.js';
import { get, getJson } from './http-get.js';
import { startCli, type CliProcess } from './spawn-cli.js';

const running: CliProcess[] = [];
const upstreams: Upstream[] = [];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cli-reload-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const cli of running.splice(0)) cli.kill();
  await closeAll(upstreams.splice(0));
});

async function cli(args: string[]) {
  const started = await startCli(args, { cwd: dir });
  running.push(started);
  return started;
}

const config = (file: string, body: unknown): Promise<void> => writeFile(path.join(dir, file), JSON.stringify(body));

describe('SIGHUP', () => {
  it('swaps the targets for new requests while a slow request in flight completes with 200', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const old = await startUpstream(async (req, res) => {
      if (req.url === '/slow') await held;
      res.end('old');
    }, { name: 'old' });
    const fresh = await startUpstream({ name: 'new' });
    upstreams.push(old, fresh);
    await config('reload.json', { listen: '127.0.0.1:0', targets: [old.url] });
    const proc = await cli(['-c', 'reload.json']);

    const arrived = once(old.server, 'request');
    const slow = get(`${proc.url}/slow`);
    await arrived;
    await config('reload.json', { listen: '127.0.0.1:0', targets: [fresh.url], headers: { 'x-reloaded': 'yes' } });
    proc.child.kill('SIGHUP');
    await proc.waitFor(new RegExp(`SIGHUP: reloaded .*reload\\.json; targets 127\\.0\\.0\\.1:${fresh.port}`));

    for (let i = 0; i < 3; i++) {
      const { json } = await getJson<EchoResponse>(`${proc.url}/after`);
      expect(json.name).toBe('new');
      expect(json.headers['x-reloaded']).toBe('yes');
    }
    release();
    const r = await slow;
    expect(r.status).toBe(200);
    expect(r.body).toBe('old');
    expect(old.requests.map((q) => q.url)).toEqual(['/slow']);
    // listen 127.0.0.1:0 did not change, so no restart warning.
    expect(proc.stderr()).toBe('');
  });

  it('a broken config is refused with a log line and the running one kept', async () => {
    const a = await startUpstream({ name: 'a' });
    upstreams.push(a);
    await config('broken.json', { listen: '127.0.0.1:0', targets: [a.url] });
    const proc = await cli(['-c', 'broken.json']);

    await writeFile(path.join(dir, 'broken.json'), '{ "targets": [');
    proc.child.kill('SIGHUP');
    const [refused] = await proc.waitForErrCount(/SIGHUP: reload refused/, 1);
    expect(refused).toMatch(/^SIGHUP: reload refused, the running config is kept: switchyard: --config broken\.json is not valid JSON/);
    expect((await getJson<EchoResponse>(`${proc.url}/still`)).json.name).toBe('a');

    // An option proxy() refuses is refused the same way, in proxy()'s words.
    await config('broken.json', { listen: '127.0.0.1:0', targets: [a.url], retries: -1 });
    proc.child.kill('SIGHUP');
    const lines = await proc.waitForErrCount(/SIGHUP: reload refused/, 2);
    expect(lines[1]).toMatch(/the running config is kept: switchyard: retries must be an integer >= 0, got -1/);
    expect((await getJson<EchoResponse>(`${proc.url}/still`)).json.name).toBe('a');
    expect(proc.child.exitCode).toBeNull();
  });

  it('an open WebSocket stays open across a reload', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${String(data)}`)));
    const other = await startUpstream({ name: 'other' });
    upstreams.push(other);
    try {
      const { port } = wss.address() as AddressInfo;
      await config('ws.json', { listen: '127.0.0.1:0', targets: [`http://127.0.0.1:${port}`], ws: true });
      const proc = await cli(['-c', 'ws.json']);
      const client = new WebSocket(`${proc.url.replace('http:', 'ws:')}/live`);
      await once(client, 'open');

      await config('ws.json', { listen: '127.0.0.1:0', targets: [other.url], ws: true });
      proc.child.kill('SIGHUP');
      await proc.waitFor(/SIGHUP: reloaded/);
      expect((await getJson<EchoResponse>(`${proc.url}/x`)).json.name).toBe('other');

      client.send('still there');
      expect(String(((await once(client, 'message')) as [Buffer])[0])).toBe('echo still there');
      client.close();
      await once(client, 'close');
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('with --workers, the primary forwards SIGHUP and every worker reloads', async () => {
    const a = await startUpstream({ name: 'a' });
    const b = await startUpstream({ name: 'b' });
    upstreams.push(a, b);
    await config('workers.json', { listen: '127.0.0.1:0', targets: [a.url] });
    const proc = await cli(['-c', 'workers.json', '--workers', '2']);
    await proc.waitForCount(/^w\d+ listening/, 2);
    await config('workers.json', { listen: '127.0.0.1:0', targets: [b.url] });
    proc.child.kill('SIGHUP');
    const reloaded = await proc.waitForCount(/^w\d+ SIGHUP: reloaded/, 2);
    expect(reloaded.map((l) => l.slice(0, 2)).sort()).toEqual(['w1', 'w2']);
    // Fresh connections reach both workers; all of them now proxy to b.
    for (let i = 0; i < 6; i++) expect((await getJson<EchoResponse>(`${proc.url}/w`)).json.name).toBe('b');
  });

  it('the replaced proxy closing is not logged as its targets coming back up', async () => {
    const dead = await deadTargetUrl();
    const a = await startUpstream({ name: 'a' });
    upstreams.push(a);
    const body = { listen: '127.0.0.1:0', targets: [dead, a.url], healthCheck: { path: '/health', interval: 600000 } };
    await config('health.json', body);
    const proc = await cli(['-c', 'health.json']);
    const down = new RegExp(`health ${new URL(dead).host.replace(/\./g, '\\.')} down \\(active\\)$`);
    await proc.waitForErrCount(down, 1);
    proc.child.kill('SIGHUP');
    // The new proxy checks afresh and finds the dead target down again.
    await proc.waitForErrCount(down, 2);
    await proc.waitFor(/SIGHUP: reloaded/);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(proc.lines().filter((l) => / health .* up /.test(l))).toEqual([]);
  });
});
