/**
 * The attempt loop of a WebSocket upgrade: select → forward → classify → decide, like the HTTP
 * loop (retry/attempt-loop.ts) with the same options: `retries`, `retryFilter`, `retryOn`,
 * `tryDuration` / `tryInterval`. A handshake has no body, so every failed attempt may be
 * retried; an upgraded tunnel is never retried (bytes have flowed).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { countersOf } from '../balancer/target.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { classifyFailure } from '../errors/classify-error.js';
import { ProxyError } from '../errors/proxy-error.js';
import { pickTarget } from '../retry/attempt-loop.js';
import { defaultRetryFilter } from '../retry/retry-policy.js';
import type { RoutedRequest } from '../routing/route-request.js';
import { targetAddress } from '../routing/target-address.js';
import type { UpgradeForwarder } from '../transport/upgrade-forwarder.js';
import type { ProxyTarget } from '../types.js';

/** One upgrade on its way upstream. */
export interface PendingUpgrade {
  readonly req: IncomingMessage;
  /** The client's socket. */
  readonly socket: Duplex;
  readonly routed: RoutedRequest;
}

/**
 * How the loop ended. For `upgraded` and `response` the target still counts the request as
 * active: the caller decrements when the tunnel closes or the answer has been relayed.
 */
export type UpgradeOutcome =
  | { readonly kind: 'upgraded'; readonly proxyRes: IncomingMessage; readonly upstream: Socket; readonly head: Buffer; readonly target: ProxyTarget }
  | { readonly kind: 'response'; readonly proxyRes: IncomingMessage; readonly target: ProxyTarget }
  | { readonly kind: 'error'; readonly error: ProxyError }
  | { readonly kind: 'aborted' };

type AttemptResult = UpgradeOutcome | { readonly kind: 'failed'; readonly error: ProxyError; readonly statusRetry: boolean };

const ABORTED: UpgradeOutcome = Object.freeze({ kind: 'aborted' });

function count499(target: ProxyTarget): void {
  const statuses = countersOf(target).statuses;
  statuses[499] = (statuses[499] ?? 0) + 1;
}

/** Waits `ms` between attempts, cut short when the client goes away. */
function pause(socket: Duplex, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    socket.once('close', done);
  });
}

function attemptsRemain(cfg: ResolvedConfig, attempts: number, deadline: number): boolean {
  return attempts <= cfg.retries || (deadline > 0 && Date.now() + cfg.tryInterval < deadline);
}

async function attemptOnce(
  u: PendingUpgrade,
  cfg: ResolvedConfig,
  forwarder: UpgradeForwarder,
  target: ProxyTarget,
  attempts: number,
  mayRetry: boolean,
): Promise<AttemptResult> {
  const counters = countersOf(target);
  counters.active++;
  counters.requests++;
  const address = targetAddress(target);
  const headers = u.routed.headers;
  if (!u.routed.hostFixed) headers.host = address.host;
  const result = await forwarder.forward(u.socket, { target, path: address.prefix + u.routed.upstreamPath, headers });
  if (result.kind === 'upgraded') {
    return { kind: 'upgraded', proxyRes: result.proxyRes, upstream: result.socket, head: result.head, target };
  }
  if (result.kind === 'response') {
    const status = result.proxyRes.statusCode ?? 0;
    if (!(mayRetry && cfg.retryOn.has(status))) return { kind: 'response', proxyRes: result.proxyRes, target };
    // Drained so the pooled connection can be reused by the next request.
    result.proxyRes.resume();
    counters.active--;
    counters.failures++;
    const error = new ProxyError('UNEXPECTED_STATUS', `upstream ${target.name} answered ${status}`, { target, attempts, connected: true });
    return { kind: 'failed', error, statusRetry: true };
  }
  counters.active--;
  if (result.kind === 'aborted') {
    count499(target);
    return ABORTED;
  }
  counters.failures++;
  cfg.passive?.recordFailure(target);
  const error = classifyFailure(result.failure, result.cause, { target, attempts, connected: result.connected });
  return { kind: 'failed', error, statusRetry: false };
}

/**
 * Runs upgrade attempts until one is answered (101 or otherwise) or no retry is allowed.
 * A throwing `balancer.next` or `retryFilter` rejects (the caller answers 500).
 */
export async function runUpgradeAttempts(u: PendingUpgrade, cfg: ResolvedConfig, forwarder: UpgradeForwarder): Promise<UpgradeOutcome> {
  const filter = cfg.retryFilter ?? defaultRetryFilter;
  const deadline = cfg.tryDuration > 0 ? Date.now() + cfg.tryDuration : 0;
  let tried: Set<ProxyTarget> | undefined;
  let attempts = 0;
  let lastError: ProxyError | undefined;
  for (;;) {
    const target = pickTarget(cfg.balancer, u.req, tried, cfg.maxConns);
    if (target === undefined) {
      return { kind: 'error', error: lastError ?? new ProxyError('NO_UPSTREAM', 'no upstream is available', { attempts }) };
    }
    attempts++;
    const result = await attemptOnce(u, cfg, forwarder, target, attempts, attemptsRemain(cfg, attempts, deadline));
    if (result.kind !== 'failed') return result;
    lastError = result.error;
    if (!attemptsRemain(cfg, attempts, deadline) || !(result.statusRetry || filter(result.error, u.req))) {
      return { kind: 'error', error: result.error };
    }
    (tried ??= new Set()).add(target);
    if (attempts > cfg.retries) await pause(u.socket, cfg.tryInterval);
    if (u.socket.destroyed) {
      count499(target);
      return ABORTED;
    }
  }
}
