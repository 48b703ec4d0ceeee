// The bin's process lifecycle, spawned for real: graceful shutdown that drains requests in
// flight, the drain timeout, a second signal, a port in use, and --workers on node:cluster.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { closeAll, startUpstream, type Upstream } from '../helpers/upstream.js';
import { get } from './http-get.js';
import { spawnCli, startCli, type CliProcess } from './spawn-cli.js';

const LISTEN = ['--listen', '127.0.0.1:0'];

const running: CliProcess[] = [];
const upstreams: Upstream[] = [];
afterEach(async () => {
  for (const cli of running.splice(0)) cli.kill();
  await closeAll(upstreams.splice(0));
});

async function cli(args: string[]) {
  const started = await startCli(args);
  running.push(started);
  return started;
}

/** An upstream that holds each request until `release()`; `arrived` resolves on the first. */
async function heldUpstream(opts: { headersFirst?: boolean } = {}) {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const up = await startUpstream(async (_req, res) => {
    if (opts.headersFirst) res.writeHead(200, { 'content-type': 'text/plain' }).write('part 1, ');
    await held;
    res.end(opts.headersFirst ? 'part 2' : 'done');
  }, { name: 'held' });
  upstreams.push(up);
  return { up, release, arrived: once(up.server, 'request') };
}

function connectRefused(url: string): Promise<boolean> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('graceful shutdown', () => {
  it('SIGTERM stops accepting, lets the request in flight finish, then exits 0', async () => {
    const { up, release, arrived } = await heldUpstream();
    const proc = await cli([...LISTEN, '-t', up.url]);
    const reply = get(`${proc.url}/slow`);
    await arrived;

    proc.child.kill('SIGTERM');
    await proc.waitFor(/SIGTERM: stopped accepting connections; draining 1 request\(s\) in flight/);
    expect(await connectRefused(proc.url)).toBe(true);
    expect(proc.child.exitCode).toBeNull();

    release();
    const r = await reply;
    expect(r.status).toBe(200);
    expect(r.body).toBe('done');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.lines().at(-1)).toBe('stopped');
    expect(proc.stderr()).toBe('');
  });

  it('the bin executed directly, as a systemd unit or an exec-form CMD runs it, drains on SIGTERM', async () => {
    const { up, release, arrived } = await heldUpstream();
    const proc = await startCli([...LISTEN, '-t', up.url], { direct: true });
    running.push(proc);
    const reply = get(`${proc.url}/slow`);
    await arrived;
    // The pid signalled is the server itself (env execs node), so the signal reaches it.
    proc.child.kill('SIGTERM');
    await proc.waitFor(/SIGTERM: stopped accepting connections; draining 1 request\(s\) in flight/);
    release();
    expect(await reply).toMatchObject({ status: 200, body: 'done' });
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  });

  it('SIGINT drains a response that is already streaming on a keep-alive connection', async () => {
    const { up, release, arrived } = await heldUpstream({ headersFirst: true });
    const proc = await cli([...LISTEN, '-t', up.url]);
    const agent = new http.Agent({ keepAlive: true });
    const reply = new Promise<{ body: string; connection: string | undefined }>((resolve, reject) => {
      http
        .get(`${proc.url}/stream`, { agent }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ body, connection: res.headers.connection }));
        })
        .on('error', reject);
    });
    await arrived;
    proc.child.kill('SIGINT');
    await proc.waitFor(/SIGINT: stopped accepting connections; draining 1 request\(s\) in flight/);
    release();
    expect((await reply).body).toBe('part 1, part 2');
    // The connection is idle now; the server ends it itself (see serve.ts) and exits.
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    agent.destroy();
  });

  it('past --drain-timeout it closes the remaining connections and exits 1', async () => {
    const { up, release, arrived } = await heldUpstream();
    const proc = await cli([...LISTEN, '-t', up.url, '--drain-timeout', '200']);
    const reply = get(`${proc.url}/never`).then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await arrived;
    proc.child.kill('SIGTERM');
    expect(await reply).toBe('ECONNRESET');
    expect(await proc.exited).toEqual({ code: 1, signal: null });
    expect(proc.lines().at(-1)).toBe('closed connections of requests still in flight');
    release();
  });

  it('a second signal closes everything at once', async () => {
    const { up, release, arrived } = await heldUpstream();
    const proc = await cli([...LISTEN, '-t', up.url, '--drain-timeout', '600000']);
    const reply = get(`${proc.url}/never`).then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await arrived;
    proc.child.kill('SIGTERM');
    await proc.waitFor(/draining 1 request/);
    proc.child.kill('SIGTERM');
    expect(await reply).toBe('ECONNRESET');
    expect(await proc.exited).toEqual({ code: 1, signal: null });
    expect(proc.stdout()).toContain('closing all connections now');
    release();
  });
});

describe('graceful shutdown with WebSockets (ws: true)', () => {
  it('an open WebSocket keeps the drain going until the drain timeout, then is closed', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(String(data))));
    const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cli-'));
    try {
      const { port } = wss.address() as { port: number };
      await writeFile(path.join(dir, 'ws.json'), JSON.stringify({ targets: [`http://127.0.0.1:${port}`], ws: true }));
      const proc = await startCli(['-c', 'ws.json', ...LISTEN, '--drain-timeout', '300'], { cwd: dir });
      running.push(proc);
      const client = new WebSocket(`${proc.url.replace('http:', 'ws:')}/live`);
      await once(client, 'open');
      const closed = once(client, 'close');
      proc.child.kill('SIGTERM');
      await proc.waitFor(/SIGTERM: stopped accepting connections/);
      // Still open while draining.
      client.send('ping');
      expect(String(((await once(client, 'message')) as [Buffer])[0])).toBe('ping');
      await closed;
      expect(await proc.exited).toEqual({ code: 1, signal: null });
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('start-up failures', () => {
  it('a port in use is reported with exit code 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const proc = spawnCli(['--listen', `127.0.0.1:${port}`, '-t', 'http://127.0.0.1:1']);
      running.push(proc);
      expect(await proc.exited).toEqual({ code: 1, signal: null });
      expect(proc.stderr().trim()).toBe(`switchyard: cannot listen on http://127.0.0.1:${port}: address already in use`);
      expect(proc.stdout()).toBe('');
    } finally {
      blocker.close();
    }
  });

  it('with --workers, a port in use stops the whole cluster with exit code 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const proc = spawnCli(['--listen', `127.0.0.1:${port}`, '-t', 'http://127.0.0.1:1', '--workers', '2']);
      running.push(proc);
      expect((await proc.exited).code).toBe(1);
      expect(proc.stderr()).toContain('address already in use');
      expect(proc.stderr()).toContain('exited during start-up');
    } finally {
      blocker.close();
    }
  });
});

describe('--workers', () => {
  it('runs N processes on one port, replaces a crashed one, and drains them all on SIGTERM', async () => {
    const echo = await startUpstream({ name: 'echo' });
    upstreams.push(echo);
    const proc = await cli([...LISTEN, '-t', echo.url, '--workers', '2']);
    expect(proc.stdout()).toMatch(/ {2}workers {3}2 \(primary pid \d+\); active health checks in the primary, passive per worker/);
    const workerPids = () => [...proc.stdout().matchAll(/^(w\d+) listening \(pid (\d+)\)$/gm)].map((m) => ({ id: m[1]!, pid: Number(m[2]) }));
    // Each worker logs this after it listens; the primary's summary may come first.
    await proc.waitForCount(/^w\d+ listening \(pid \d+\)$/, 2);
    expect(workerPids().map((w) => w.id).sort()).toEqual(['w1', 'w2']);

    // Fresh connections are spread over the workers; each logs its own request lines.
    for (let i = 0; i < 8; i++) expect((await get(`${proc.url}/c${i}`)).status).toBe(200);
    const served = await proc.waitForCount(/ GET \/c\d /, 8);
    expect(new Set(served.map((l) => /Z (w\d+) GET/.exec(l)?.[1]))).toEqual(new Set(['w1', 'w2']));

    // A worker that dies is replaced; the port keeps answering.
    const [first] = workerPids();
    process.kill(first!.pid, 'SIGKILL');
    await proc.waitFor(/w3 listening \(pid \d+\)/);
    expect(proc.stderr()).toContain(`switchyard: worker ${first!.id.slice(1)} (pid ${first!.pid}) exited (SIGKILL); starting a new one`);
    for (let i = 0; i < 4; i++) expect((await get(`${proc.url}/after`)).status).toBe(200);

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.stdout()).toMatch(/^SIGTERM: stopping 2 worker\(s\)$/m);
    const survivors = ['w1', 'w2', 'w3'].filter((id) => id !== first!.id);
    expect(proc.lines().filter((l) => /^w\d+ stopped$/.test(l)).sort()).toEqual(survivors.map((id) => `${id} stopped`));
    expect(proc.lines().at(-1)).toBe('stopped');
    for (const { pid } of workerPids()) expect(isRunning(pid)).toBe(false);
  });

  it('a worker drains its request in flight before the cluster exits', async () => {
    const { up, release, arrived } = await heldUpstream();
    const proc = await cli([...LISTEN, '-t', up.url, '--workers', '2']);
    const reply = get(`${proc.url}/slow`);
    await arrived;
    proc.child.kill('SIGTERM');
    await proc.waitFor(/shutdown requested by the primary: stopped accepting connections; draining 1 request/);
    release();
    expect((await reply).body).toBe('done');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  });
});
