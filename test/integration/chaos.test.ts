/**
 * Chaos tests (bounded, loopback only): 2,000 requests, 20 in flight, through an Express app
 * while upstreams die, refuse connections, come back, and are added to and removed from the
 * live balancer. Every event fires at a request-count milestone, never at a wall-clock time;
 * every wait is bounded, so a stuck run fails instead of hanging.
 *
 * GETs survive a hard kill: whatever was cut off is retried. A POST that reached a dying
 * upstream may have been processed and is never retried, so the POST run takes its upstream
 * down gracefully, and relies on refused connections (retried with the replayed body) instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { proxy, type BalancerOption, type ProxyConfig, type ProxyMiddleware, type ProxyTarget } from '../../src/index.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { listen } from '../helpers/listen.js';

const TOTAL = 2_000;
const CONCURRENCY = 20;
const BODY_SIZE = 64 * 1024;
/** Bound on one whole run of requests; the test itself times out at 60 s. */
const RUN_LIMIT_MS = 45_000;
/** Bound on any single wait for a state change. */
const WAIT_MS = 15_000;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Polls `cond` on every turn of the event loop until it holds; fails after a generous bound. */
async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

// ---------------------------------------------------------------------------------------------
// Upstreams that can be killed, stopped and restarted on the same port
// ---------------------------------------------------------------------------------------------

/** What the upstream answers to a proxied request. */
interface Answer {
  name: string;
  /** sha256 of the body received (POST only). */
  sha?: string;
}

interface ChaosUpstream {
  readonly name: string;
  readonly url: string;
  /** Proxied requests (not `/health`) answered 200, per life: index 0 is the first start. */
  readonly answered: number[];
  /** sha256 of every POST body that arrived whole and intact. */
  readonly bodies: string[];
  /** POST bodies that arrived damaged (answered 500). */
  damaged(): number;
  /** TCP connections open right now (all lives). */
  openSockets(): number;
  /**
   * Hard kill as the next proxied request arrives (left unanswered): stops listening and
   * destroys every open connection, requests in flight included.
   */
  killOnNextRequest(): void;
  /** Whether the kill armed by {@link killOnNextRequest} has completed. */
  killed(): boolean;
  /**
   * Graceful stop, the way an upstream behind a proxy should go down: it stops listening (new
   * connections are refused) and answers every further request, on the connections it still
   * has, with `Connection: close`, so no connection is closed while the proxy may be reusing it.
   */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The low end of the OS's ephemeral port range (Linux), so a port below it is never auto-assigned. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 20_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function listenOn(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/**
 * Listens on a port below the ephemeral range: while the upstream is down, its port must not
 * be handed to some outgoing connection on this (busy, shared) machine, or the restart on the
 * same port would fail with EADDRINUSE. Bounded: 50 random ports, then any port.
 */
async function listenRestartable(server: http.Server): Promise<number> {
  const low = ephemeralLow();
  for (let i = 0; i < 50; i++) {
    const port = 15_000 + Math.floor(Math.random() * (low - 15_000));
    try {
      return await listenOn(server, port);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
    }
  }
  return listenOn(server, 0);
}

function reply(res: ServerResponse, status: number, answer: Answer | string, close: boolean): void {
  const body = typeof answer === 'string' ? answer : JSON.stringify(answer);
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(body);
}

async function chaosUpstream(name: string): Promise<ChaosUpstream> {
  const answered: number[] = [];
  const bodies: string[] = [];
  let damaged = 0;
  let killArmed = false;
  let killDone = false;

  /** One life of the upstream: its server, and whether it is going down gracefully. */
  interface Life {
    readonly index: number;
    readonly server: http.Server;
    readonly sockets: Set<Socket>;
    stopping: boolean;
    down: Promise<void> | undefined;
  }

  function handle(life: Life, req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/health') return reply(res, 200, 'ok', life.stopping);
    if (killArmed) {
      killArmed = false;
      void kill(life).then(() => (killDone = true));
      return;
    }
    const counted = (): void => {
      answered[life.index] = (answered[life.index] ?? 0) + 1;
    };
    if (req.method !== 'POST') {
      counted();
      return reply(res, 200, { name }, life.stopping);
    }
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on('end', () => {
      const sha = hash.digest('hex');
      if (length !== BODY_SIZE || sha !== req.headers['x-body-sha256']) {
        damaged++;
        return reply(res, 500, `damaged body: ${length} bytes`, life.stopping);
      }
      bodies.push(sha);
      counted();
      reply(res, 200, { name, sha }, life.stopping);
    });
  }

  function createLife(): Life {
    const server = http.createServer((req, res) => handle(life, req, res));
    const life: Life = { index: answered.length, server, sockets: new Set(), stopping: false, down: undefined };
    answered.push(0);
    server.on('connection', (socket: Socket) => {
      life.sockets.add(socket);
      socket.once('close', () => life.sockets.delete(socket));
    });
    return life;
  }

  /** Destroys the life's open sockets and closes its server; resolves once all are closed. */
  function kill(life: Life): Promise<void> {
    return (life.down ??= (() => {
      const serverClosed = new Promise<void>((resolve) => life.server.close(() => resolve()));
      const socketsClosed = [...life.sockets].map((socket) => {
        const done = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        socket.destroy();
        return done;
      });
      return Promise.all([serverClosed, ...socketsClosed]).then(() => undefined);
    })());
  }

  /**
   * Stops listening but leaves open connections alone: `http.Server#close()` (Node >= 19) would
   * also cut idle keep-alive connections, which races the proxy reusing them. The listener is
   * closed at once; the promise resolves once every connection has closed (each closes after
   * its next answer, which carries `Connection: close`).
   */
  function drain(life: Life): Promise<void> {
    life.stopping = true;
    return (life.down ??= new Promise<void>((resolve) => net.Server.prototype.close.call(life.server, () => resolve())));
  }

  const lives = [createLife()];
  const current = (): Life => lives[lives.length - 1] as Life;
  const port = await listenRestartable(current().server);

  return {
    name,
    url: `http://127.0.0.1:${port}`,
    answered,
    bodies,
    damaged: () => damaged,
    openSockets: () => lives.reduce((n, life) => n + life.sockets.size, 0),
    killOnNextRequest() {
      killArmed = true;
    },
    killed: () => killDone,
    stop: () => drain(current()),
    async restart() {
      if (current().down === undefined) throw new Error(`${name} is not down`);
      // Both kill() and stop() close the listener at once: the port is free again.
      const life = createLife();
      lives.push(life);
      await listenOn(life.server, port);
    },
    async close() {
      const downs = lives.map((life) => kill(life));
      // A drained life's promise waits on its connections: cut them too.
      for (const life of lives) for (const socket of life.sockets) socket.destroy();
      await Promise.all(downs);
    },
  };
}

async function chaosUpstreams(n: number): Promise<ChaosUpstream[]> {
  const ups = await Promise.all(Array.from({ length: n }, (_, i) => chaosUpstream(`u${i}`)));
  for (const up of ups) cleanups.push(() => up.close());
  return ups;
}

// ---------------------------------------------------------------------------------------------
// Load: a bounded pool of node:http requests through an Express app
// ---------------------------------------------------------------------------------------------

interface Outcome {
  status: number;
  /** Parsed answer of a 200, else undefined. */
  answer: Answer | undefined;
  /** Body text of a failed reply, or the client error. */
  problem: string | undefined;
}

interface Progress {
  issued: number;
  completed: number;
}

interface Milestone {
  /** Fires once this many requests have completed. */
  readonly at: number;
  /** New requests wait while it runs (requests in flight go on). */
  run(progress: Readonly<Progress>): unknown;
}

/**
 * Sends `total` requests, `CONCURRENCY` at a time; `send(i)` never rejects. Milestones run in
 * order as the completed count reaches them. Rejects when a milestone throws or the run
 * outlasts `RUN_LIMIT_MS`.
 */
async function drive(
  send: (i: number) => Promise<Outcome>,
  milestones: readonly Milestone[],
  total = TOTAL,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array<Outcome>(total);
  const progress: Progress = { issued: 0, completed: 0 };
  const due = [...milestones].sort((a, b) => a.at - b.at);
  const deadline = Date.now() + RUN_LIMIT_MS;
  let gate: Promise<unknown> = Promise.resolve();

  async function worker(): Promise<void> {
    for (;;) {
      await gate;
      if (progress.issued >= total) return;
      if (Date.now() > deadline) throw new Error(`run not finished after ${RUN_LIMIT_MS} ms (${progress.completed} done)`);
      const i = progress.issued++;
      outcomes[i] = await send(i);
      progress.completed++;
      while (due.length > 0 && (due[0] as Milestone).at <= progress.completed) {
        const m = due.shift() as Milestone;
        gate = gate.then(() => m.run(progress));
      }
    }
  }

  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await gate;
  if (due.length > 0) throw new Error(`milestones never reached: ${due.map((m) => m.at).join(', ')}`);
  return outcomes;
}

interface Front {
  readonly mw: ProxyMiddleware;
  send(i: number, method: 'GET' | 'POST', headers?: http.OutgoingHttpHeaders, body?: Buffer): Promise<Outcome>;
}

/** Mounts `proxy(config)` at `/api` on an Express app and returns a keep-alive client for it. */
async function front(config: ProxyConfig): Promise<Front> {
  const mw = proxy(config);
  const app = express();
  app.use('/api', mw);
  const server = await listen(app);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  cleanups.push(() => mw.close(), () => server.close(), () => agent.destroy());

  function send(i: number, method: 'GET' | 'POST', headers: http.OutgoingHttpHeaders = {}, body?: Buffer): Promise<Outcome> {
    return new Promise((resolve) => {
      const done = (status: number, text: string | undefined, problem?: string): void => {
        let answer: Answer | undefined;
        if (status === 200 && text !== undefined) {
          try {
            answer = JSON.parse(text) as Answer;
          } catch {
            problem = `unparseable body ${JSON.stringify(text.slice(0, 100))}`;
          }
        }
        resolve({ status, answer, problem: problem ?? (status === 200 ? undefined : text) });
      };
      const req = http.request(`${server.url}/api/item/${i}`, { method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
        res.on('error', (err) => done(0, undefined, `response error: ${err.message}`));
      });
      req.setTimeout(WAIT_MS, () => req.destroy(new Error('client timeout')));
      req.on('error', (err) => done(0, undefined, `request error: ${err.message}`));
      req.end(body);
    });
  }
  return { mw, send };
}

/** Every outcome that is not a 200, summarised (empty when the run was clean). */
function failures(outcomes: readonly Outcome[]): string[] {
  return outcomes.flatMap((o, i) => (o.status === 200 && o.problem === undefined ? [] : [`#${i}: ${o.status} ${o.problem ?? ''}`]));
}

function statsOf(mw: ProxyMiddleware, url: string): ReturnType<ProxyMiddleware['stats']>[number] {
  const s = mw.stats().find((t) => t.url === `${url}/`);
  if (s === undefined) throw new Error(`no target ${url} in stats()`);
  return s;
}

/** The closing checks of every run: nothing in flight, and close() releases every upstream socket. */
async function expectReleased(mw: ProxyMiddleware, targets: readonly ProxyTarget[], ups: readonly ChaosUpstream[]): Promise<void> {
  // `active` drops when the proxy's response has finished, which may be a moment after the client read it.
  await until(() => targets.every((t) => t.active === 0), 'active 0 on every target');
  expect(mw.stats().map((s) => s.active)).toEqual(mw.stats().map(() => 0));
  await mw.close();
  await until(() => ups.every((u) => u.openSockets() === 0), 'every upstream socket closed after close()');
  expect(ups.map((u) => u.openSockets())).toEqual(ups.map(() => 0));
}

function count(outcomes: readonly Outcome[], from: number, name: string): number {
  return outcomes.slice(from).filter((o) => o.answer?.name === name).length;
}

// ---------------------------------------------------------------------------------------------

describe('chaos: an upstream goes down mid-run and comes back on the same port', () => {
  it('GET, upstream killed: zero failures; once restarted, it gets traffic when its active check passes', { timeout: 60_000 }, async () => {
    const ups = await chaosUpstreams(3);
    const victim = ups[2] as ChaosUpstream;
    const { mw, send } = await front({
      targets: ups.map((u) => u.url),
      retries: 2,
      passive: { maxFails: 1, failTimeout: 250 },
      healthCheck: { path: '/health', interval: 100 },
    });
    const targets = [...mw.balancer.targets];
    let backFrom = -1;

    const outcomes = await drive((i) => send(i, 'GET'), [
      // The victim dies as its next request arrives, so at least one GET in flight is cut off.
      { at: 500, run: () => victim.killOnNextRequest() },
      { at: 700, run: () => until(() => !statsOf(mw, victim.url).healthy, 'the killed upstream marked unhealthy') },
      {
        at: 1_000,
        run: async () => {
          await until(() => victim.killed(), 'the kill');
          await victim.restart();
        },
      },
      {
        at: 1_500,
        run: async (p) => {
          await until(() => statsOf(mw, victim.url).healthy, 'the restarted upstream healthy again');
          backFrom = p.issued;
        },
      },
    ]);

    expect(failures(outcomes)).toEqual([]);
    const victimStats = statsOf(mw, victim.url);
    // The request cut off by the kill (and any refused connection) failed on the victim and was retried.
    expect(victimStats.failures).toBeGreaterThanOrEqual(1);
    const attempts = mw.stats().reduce((n, s) => n + s.requests, 0);
    expect(attempts).toBeGreaterThan(TOTAL);
    // Back in rotation: round robin over three healthy targets gives it about a third.
    expect(victim.answered[1]).toBeGreaterThan(0);
    expect(count(outcomes, backFrom, victim.name)).toBeGreaterThan((TOTAL - backFrom) / 10);
    await expectReleased(mw, targets, ups);
  });

  it('POST 64 KiB, upstream stopped and a refusing one: zero failures, every body arrives intact once', { timeout: 60_000 }, async () => {
    const ups = await chaosUpstreams(3);
    const victim = ups[2] as ChaosUpstream;
    const refusing = await deadTargetUrl();
    // No active check here: it would take the refusing target out before any POST reached it.
    // With passive health alone it is tried again every failTimeout, so refused attempts (and
    // their replayed 64 KiB bodies) happen throughout the run.
    const { mw, send } = await front({
      targets: [...ups.map((u) => u.url), refusing],
      retries: 2,
      passive: { maxFails: 1, failTimeout: 100 },
    });
    const targets = [...mw.balancer.targets];
    const sent: string[] = [];
    let backFrom = -1;

    const outcomes = await drive(
      async (i) => {
        const body = randomBytes(BODY_SIZE);
        const sha = createHash('sha256').update(body).digest('hex');
        sent[i] = sha;
        const o = await send(i, 'POST', { 'content-type': 'application/octet-stream', 'x-body-sha256': sha }, body);
        if (o.status === 200 && o.answer?.sha !== sha) return { ...o, problem: `answered sha ${o.answer?.sha} for ${sha}` };
        return o;
      },
      [
        // A POST cut off after it was sent may have been processed, so it is never retried
        // (RFC 9112 §9.3.1): the victim goes down gracefully instead (see stop()). From here
        // on it refuses new connections until it listens again on the same port.
        { at: 500, run: () => void victim.stop() },
        { at: 1_000, run: () => victim.restart() },
        {
          at: 1_500,
          run: async (p) => {
            await until(() => statsOf(mw, victim.url).healthy, 'the restarted upstream healthy again');
            backFrom = p.issued;
          },
        },
      ],
    );

    expect(failures(outcomes)).toEqual([]);
    // The upstreams saw exactly the bodies sent: each whole, intact, once.
    expect(ups.map((u) => u.damaged())).toEqual([0, 0, 0]);
    const received = ups.flatMap((u) => u.bodies);
    expect(received.length).toBe(TOTAL);
    expect(received.sort()).toEqual([...sent].sort());
    // The refusing target was tried (its bodies replayed elsewhere) and never answered.
    const refused = statsOf(mw, refusing);
    expect(refused.failures).toBeGreaterThanOrEqual(1);
    expect(refused.failures).toBe(refused.requests);
    expect(victim.answered[1]).toBeGreaterThan(0);
    expect(count(outcomes, backFrom, victim.name)).toBeGreaterThan((TOTAL - backFrom) / 10);
    await expectReleased(mw, targets, ups);
  });
});

describe('chaos: targets added and removed while traffic flows', () => {
  // [policy, requests, whether every target in the balancer is sure to get traffic]. Round robin
  // runs the full 2,000; the other policies a shorter run each, to keep the file quick.
  const policies: Array<[string, BalancerOption, number, boolean]> = [
    ['round_robin', 'round_robin', TOTAL, true],
    ['least_conn', 'least_conn', 480, false],
    ['random', 'random', 480, false],
    ['first', 'first', 480, false],
    ['ip_hash', 'ip_hash', 480, false],
    ['uri_hash', 'uri_hash', 480, false],
    ['header', { header: 'x-user' }, 480, false],
    ['cookie', { cookie: 'sticky' }, 480, false],
  ];

  it.each(policies)('%s: no request fails', { timeout: 60_000 }, async (_label, balancer, total, spreads) => {
    const ups = await chaosUpstreams(4);
    const [a, b, c, d] = ups as [ChaosUpstream, ChaosUpstream, ChaosUpstream, ChaosUpstream];
    // No retries and no health checks: a request that add() or remove() breaks shows as a failure.
    const { mw, send } = await front({ targets: [a.url, b.url], balancer });
    const targets = [...mw.balancer.targets];
    /** Answers each upstream had given when it was removed; request index each was added at. */
    const answeredAtRemoval = new Map<ChaosUpstream, number>();
    const addedAt = new Map<ChaosUpstream, number>();
    const add = (u: ChaosUpstream) => (p: Readonly<Progress>) => {
      targets.push(mw.balancer.add(u.url));
      addedAt.set(u, p.issued);
    };
    const remove = (u: ChaosUpstream) => () => {
      expect(mw.balancer.remove(u.url)).toBe(true);
      answeredAtRemoval.set(u, u.answered[0] as number);
    };
    const step = Math.floor(total / 8);

    const outcomes = await drive(
      (i) => send(i, 'GET', { 'x-user': `user-${i % 50}` }),
      [
        { at: step, run: add(c) }, // a b c
        { at: 2 * step, run: remove(a) }, // b c
        { at: 3 * step, run: add(d) }, // b c d
        { at: 4 * step, run: remove(b) }, // c d
        { at: 5 * step, run: remove(c) }, // d
        { at: 6 * step, run: add(a) }, // d a
        { at: 7 * step, run: remove(d) }, // a
      ],
      total,
    );

    expect(failures(outcomes)).toEqual([]);
    expect(mw.balancer.targets.map((t) => t.url.href)).toEqual([`${a.url}/`]);
    // A removed target gets nothing new: at most the requests in flight when it went
    // (for a, not counting what it served after it was added back).
    for (const [u, answeredThen] of answeredAtRemoval) {
      const sinceReadded = u === a ? count(outcomes, addedAt.get(a) as number, a.name) : 0;
      expect((u.answered[0] as number) - answeredThen - sinceReadded).toBeLessThanOrEqual(CONCURRENCY);
    }
    // The last target left serves the whole tail.
    const tail = Math.floor(step / 2);
    expect(count(outcomes, total - tail, a.name)).toBe(tail);
    if (spreads) {
      for (const u of ups) expect(u.answered[0]).toBeGreaterThan(total / 20);
    }
    await expectReleased(mw, targets, ups);
  });
});
