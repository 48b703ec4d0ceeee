// SIGHUP reloads --config through the real bin: requests in flight and open WebSockets finish
// on the old proxy, new requests go to the new targets, a broken file keeps the old config.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { startUpstream, type EchoResponse } from '../helpers/upstream.js';
import { get, getJson } from './http-get.js';
import { useCli } from './spawn-cli.js';
import { openWs, startWsUpstream } from './ws-upstream.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cli-reload-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
const { cli: startTracked, track } = useCli();
const cli = (args: string[]) => startTracked(args, { cwd: dir });

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
    track(old, fresh);
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
    track(a);
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
    const ws = await startWsUpstream((text) => `echo ${text}`);
    const other = await startUpstream({ name: 'other' });
    track(ws, other);
    await config('ws.json', { listen: '127.0.0.1:0', targets: [ws.url], ws: true });
    const proc = await cli(['-c', 'ws.json']);
    const client = await openWs(`${proc.url}/live`);

    await config('ws.json', { listen: '127.0.0.1:0', targets: [other.url], ws: true });
    proc.child.kill('SIGHUP');
    await proc.waitFor(/SIGHUP: reloaded/);
    expect((await getJson<EchoResponse>(`${proc.url}/x`)).json.name).toBe('other');

    expect(await client.ask('still there')).toBe('echo still there');
    await client.close();
  });

  it('with --workers, the primary forwards SIGHUP and every worker reloads', async () => {
    const a = await startUpstream({ name: 'a' });
    const b = await startUpstream({ name: 'b' });
    track(a, b);
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
    track(a);
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
