// --workers with active health checks: the checks run once, in the primary, and every worker
// routes on its verdict; --admin answers for the whole cluster from the primary.
import { describe, expect, it } from 'vitest';
import { parseScrape } from '../helpers/prometheus.js';
import { startUpstream, type EchoResponse } from '../helpers/upstream.js';
import { get } from './http-get.js';
import { type CliProcess, useCli } from './spawn-cli.js';

const LISTEN = ['--listen', '127.0.0.1:0'];
const { cli, track } = useCli();

async function cluster(args: string[]) {
  const proc = await cli([...LISTEN, '--workers', '2', ...args]);
  await proc.waitForCount(/^w\d+ listening/, 2);
  const admin = /^ {2}admin {5}(http:\/\/127\.0\.0\.1:\d+) /m.exec(proc.stdout())?.[1];
  return { ...proc, admin };
}

/** An upstream whose /health answers 503 while `state.sick`. */
async function flaky(state: { sick: boolean }) {
  const up = await startUpstream((req, res) => {
    if (req.url === '/health') res.writeHead(state.sick ? 503 : 200).end();
    else res.end('flaky');
  }, { name: 'flaky' });
  track(up);
  return up;
}

/** Who answered `n` requests, each on a fresh connection (so both workers serve some). */
async function answers(url: string, n: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await get(`${url}/p`);
    seen.push(r.body === 'flaky' ? 'flaky' : (JSON.parse(r.body) as EchoResponse).name);
  }
  return seen;
}

/** The workers (w1, w2…) that logged a request line for `path`. */
const servedBy = (proc: CliProcess, path: string): Set<string> =>
  new Set(proc.lines().filter((l) => l.includes(` GET ${path} `)).map((l) => /Z (w\d+) /.exec(l)?.[1] ?? '?'));

describe('--workers with --health-path', () => {
  it('checks each target once per round, in the primary, and every worker routes on the verdict', async () => {
    const state = { sick: true };
    const sick = await flaky(state);
    const ok = await startUpstream({ name: 'ok' });
    track(ok);
    // One round only (the first, at start-up): the count of checks is exact.
    const proc = await cluster(['-t', sick.url, '-t', ok.url, '--health-path', '/health', '--health-interval', '600000', '--admin', '127.0.0.1:0']);
    // Logged once, by the primary (no worker prefix), not once per worker.
    await proc.waitForErrCount(new RegExp(`^\\S+Z health 127\\.0\\.0\\.1:${sick.port} down \\(active\\)$`), 1);

    expect(await answers(proc.url, 8)).toEqual(Array(8).fill('ok'));
    expect(servedBy(proc, '/p')).toEqual(new Set(['w1', 'w2']));
    expect(sick.requests.filter((r) => r.url === '/health')).toHaveLength(1);
    expect(ok.requests.filter((r) => r.url === '/health')).toHaveLength(1);
    expect(proc.errLines().filter((l) => / health /.test(l))).toHaveLength(1);

    // The admin listener is the primary's: one answer for the whole cluster.
    const stats = JSON.parse((await get(`${proc.admin}/stats`)).body) as Array<{ name: string; healthy: boolean; requests: number }>;
    expect(stats.map((t) => [t.name, t.healthy, t.requests])).toEqual([
      [`127.0.0.1:${sick.port}`, false, 0],
      [`127.0.0.1:${ok.port}`, true, 8],
    ]);
    expect((await get(`${proc.admin}/healthz`)).status).toBe(200);

    // One /metrics for the cluster: every worker's series, labelled with its worker, read by a real parser.
    const scrape = parseScrape((await get(`${proc.admin}/metrics`)).body);
    const target = `127.0.0.1:${ok.port}`;
    const perWorker = ['1', '2'].map((worker) => scrape.value('switchyard_upstream_requests_total', { target, worker }));
    expect(perWorker[0]! + perWorker[1]!).toBe(8);
    expect(perWorker.every((n) => n > 0)).toBe(true);
    const family = scrape.family('switchyard_upstream_requests_total');
    expect(family.help).toMatch(/^Requests sent to each target/);
  });

  it('a target whose health flips goes down and comes back in every worker', async () => {
    const state = { sick: true };
    const up = await flaky(state);
    const ok = await startUpstream({ name: 'ok' });
    track(ok);
    const proc = await cluster(['-t', up.url, '-t', ok.url, '--health-path', '/health', '--health-interval', '100']);
    await proc.waitForErrCount(/ health \S+ down \(active\)$/, 1);
    expect(await answers(proc.url, 6)).toEqual(Array(6).fill('ok'));

    state.sick = false;
    await proc.waitFor(new RegExp(`^\\S+Z health 127\\.0\\.0\\.1:${up.port} up \\(active\\)$`, 'm'));
    // Round robin over two healthy targets: each worker sends some requests to the recovered one.
    const seen = await answers(proc.url, 8);
    expect(seen.filter((n) => n === 'flaky').length).toBeGreaterThanOrEqual(2);
    const flakyLines = proc.lines().filter((l) => / GET \/p 200 /.test(l) && l.includes(`127.0.0.1:${up.port}`));
    expect(new Set(flakyLines.map((l) => /Z (w\d+) /.exec(l)?.[1]))).toEqual(new Set(['w1', 'w2']));
  });
});
