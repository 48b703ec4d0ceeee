/**
 * The attempt loop with a fake attempt (as Caddy's retries_test.go does): which targets are
 * tried, when the loop stops, what the leases count. No sockets: the attempt is scripted.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Lease } from '../../src/balancer/lease.js';
import { normalizeConfig } from '../../src/config/normalize-config.js';
import { ProxyError } from '../../src/errors/proxy-error.js';
import { runAttemptLoop, type AttemptResult } from '../../src/retry/attempt-loop.js';
import type { ProxyConfig } from '../../src/types.js';

type Step = 'ok' | 'refused' | 'reset' | 'timeout' | 'status';

function request(method = 'GET'): IncomingMessage {
  return { method, headers: {}, url: '/' } as unknown as IncomingMessage;
}

function client(): EventEmitter & { destroyed: boolean } {
  return Object.assign(new EventEmitter(), { destroyed: false });
}

/** Runs the loop over targets a, b, c with `steps` as the outcome of each successive attempt. */
async function run(steps: Step[], config: Partial<ProxyConfig> = {}, opts: { method?: string; replay?: boolean } = {}) {
  const cfg = normalizeConfig({ targets: ['http://a', 'http://b', 'http://c'].map((url) => ({ url, name: url.slice(7) })), balancer: 'first', ...config });
  const tried: string[] = [];
  let i = 0;
  const outcome = await runAttemptLoop<string>(cfg, {
    req: request(opts.method),
    client: client(),
    canReplay: () => opts.replay ?? true,
    attempt: (lease: Lease, attempts: number, _mayRetry: boolean, settle: (r: AttemptResult<string>) => void) => settle(scripted(lease, attempts)),
  });
  function scripted(lease: Lease, attempts: number): AttemptResult<string> {
    const target = lease.target;
    tried.push(target.name);
    const step = steps[i++] ?? 'ok';
    if (step === 'ok') {
      lease.end('answered', 200);
      return { kind: 'answered', value: target.name };
    }
    if (step === 'status') {
      const error = new ProxyError('UNEXPECTED_STATUS', 'x', { target, attempts, connected: true });
      return { kind: 'failed', error, statusRetry: true };
    }
    const code = step === 'timeout' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE';
    const error = new ProxyError(code, step, { target, attempts, connected: step !== 'refused' });
    return { kind: 'failed', error, statusRetry: false };
  }
  const stats = cfg.balancer.targets.map((t) => t as unknown as { name: string; active: number; requests: number; failures: number; statuses: Record<number, number> });
  return { outcome, tried: tried.join(''), stats };
}

describe('runAttemptLoop', () => {
  it.each<[string, Step[], Partial<ProxyConfig>, string, string, string | undefined]>([
    // name, steps, config, method, tried, final error code
    ['no retries: one attempt', ['refused'], {}, 'GET', 'a', 'UPSTREAM_UNAVAILABLE'],
    ['a refused connection is retried on the next untried target', ['refused', 'ok'], { retries: 2 }, 'POST', 'ab', undefined],
    ['retries stop at the limit', ['refused', 'refused', 'refused'], { retries: 1 }, 'GET', 'ab', 'UPSTREAM_UNAVAILABLE'],
    ['a reset after connecting is retried for GET', ['reset', 'ok'], { retries: 1 }, 'GET', 'ab', undefined],
    ['a reset after connecting is not retried for POST', ['reset', 'ok'], { retries: 1 }, 'POST', 'a', 'UPSTREAM_UNAVAILABLE'],
    ['a timeout is not retried by default', ['timeout', 'ok'], { retries: 1 }, 'GET', 'a', 'UPSTREAM_TIMEOUT'],
    ['a retryOn status skips the filter', ['status', 'ok'], { retries: 1 }, 'POST', 'ab', undefined],
    ['once every target was tried, tried ones are used again', ['refused', 'refused', 'refused', 'ok'], { retries: 3 }, 'GET', 'abca', undefined],
  ])('%s', async (_name, steps, config, method, tried, code) => {
    const r = await run(steps, config, { method });
    expect(r.tried).toBe(tried);
    if (code === undefined) expect(r.outcome.kind).toBe('answered');
    else expect(r.outcome).toMatchObject({ kind: 'error', error: { code, attempts: tried.length } });
    // Every lease was ended: nothing is left in flight.
    expect(r.stats.map((s) => s.active)).toEqual([0, 0, 0]);
    expect(r.stats.reduce((n, s) => n + s.requests, 0)).toBe(tried.length);
  });

  it('counts each failed attempt once, and the final status once per request on the last target', async () => {
    const r = await run(['refused', 'refused'], { retries: 1 });
    expect(r.stats.map((s) => [s.failures, s.statuses])).toEqual([[1, {}], [1, { 502: 1 }], [0, {}]]);
  });

  it('a body that cannot be sent again stops the loop after the first failure', async () => {
    const r = await run(['refused', 'ok'], { retries: 2 }, { replay: false });
    expect(r.tried).toBe('a');
    expect(r.outcome.kind).toBe('error');
  });

  it('a custom retryFilter decides (here: retry timeouts too)', async () => {
    const r = await run(['timeout', 'ok'], { retries: 1, retryFilter: () => true });
    expect(r.tried).toBe('ab');
  });

  it('a retryFilter answering with a promise is a clear error, not "always retry"', async () => {
    const filter = (async () => false) as unknown as () => boolean;
    await expect(run(['refused', 'ok'], { retries: 1, retryFilter: filter })).rejects.toThrow(/retryFilter must return a boolean, not a Promise/);
  });

  it('NO_UPSTREAM when no target is available', async () => {
    const cfg = normalizeConfig({ targets: 'http://a', maxConns: 1 });
    (cfg.balancer.targets[0] as unknown as { active: number }).active = 1;
    const outcome = await runAttemptLoop<string>(cfg, {
      req: request(),
      client: client(),
      canReplay: () => true,
      attempt: () => {
        throw new Error('never called');
      },
    });
    expect(outcome).toMatchObject({ kind: 'error', error: { code: 'NO_UPSTREAM', attempts: 0 } });
  });

  it('a client gone during tryInterval ends the loop as aborted (499 on the last target)', async () => {
    const cfg = normalizeConfig({ targets: 'http://a', tryDuration: 60_000, tryInterval: 30_000 });
    const c = client();
    const outcome = runAttemptLoop<string>(cfg, {
      req: request(),
      client: c,
      canReplay: () => true,
      attempt: (lease, attempts, _mayRetry, settle) => {
        setImmediate(() => {
          c.destroyed = true;
          c.emit('close');
        });
        settle({ kind: 'failed', error: new ProxyError('UPSTREAM_UNAVAILABLE', 'x', { target: lease.target, attempts }), statusRetry: false });
      },
    });
    expect(await outcome).toEqual({ kind: 'aborted' });
    expect((cfg.balancer.targets[0] as unknown as { statuses: Record<number, number> }).statuses).toEqual({ 499: 1 });
    expect(c.listenerCount('close')).toBe(0);
  });
});
