/**
 * The attempt loop of a WebSocket upgrade: select → forward → classify → decide, like the HTTP
 * loop (retry/attempt-loop.ts) with the same options: `retries`, `retryFilter`, `retryOn`,
 * `tryDuration` / `tryInterval`. A handshake has no body, so every failed attempt may be
 * retried; an upgraded tunnel is never retried (bytes have flowed).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResolvedConfig } from '../config/normalize-config.js';
import {
  abortAttempt,
  beginAttempt,
  failAttempt,
  rejectAnswer,
  runAttemptLoop,
  type AbortedOutcome,
  type ErrorOutcome,
  type FailedAttempt,
} from '../retry/attempt-loop.js';
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

type Upgraded = { readonly kind: 'upgraded'; readonly proxyRes: IncomingMessage; readonly upstream: Socket; readonly head: Buffer; readonly target: ProxyTarget };
type Refused = { readonly kind: 'response'; readonly proxyRes: IncomingMessage; readonly target: ProxyTarget };

/**
 * How the loop ended. For `upgraded` and `response` the target still counts the request as
 * active: the caller decrements when the tunnel closes or the answer has been relayed.
 */
export type UpgradeOutcome = Upgraded | Refused | ErrorOutcome | AbortedOutcome;

async function attemptOnce(
  u: PendingUpgrade,
  cfg: ResolvedConfig,
  forwarder: UpgradeForwarder,
  target: ProxyTarget,
  attempts: number,
  mayRetry: boolean,
): Promise<Upgraded | Refused | FailedAttempt | AbortedOutcome> {
  beginAttempt(target);
  const address = targetAddress(target);
  const headers = u.routed.headers;
  if (!u.routed.hostFixed) headers.host = address.host;
  const result = await forwarder.forward(u.socket, { target, path: address.prefix + u.routed.upstreamPath, headers });
  if (result.kind === 'upgraded') {
    return { kind: 'upgraded', proxyRes: result.proxyRes, upstream: result.socket, head: result.head, target };
  }
  if (result.kind === 'aborted') return abortAttempt(target);
  if (result.kind === 'failed') return failAttempt(cfg, target, result, attempts);
  const status = result.proxyRes.statusCode ?? 0;
  if (mayRetry && cfg.retryOn.has(status)) return rejectAnswer(result.proxyRes, target, attempts, true);
  return { kind: 'response', proxyRes: result.proxyRes, target };
}

/**
 * Runs upgrade attempts until one is answered (101 or otherwise) or no retry is allowed.
 * A handshake has no body, so it can always be replayed. A throwing `balancer.next` or
 * `retryFilter` rejects (the caller answers 500).
 */
export function runUpgradeAttempts(u: PendingUpgrade, cfg: ResolvedConfig, forwarder: UpgradeForwarder): Promise<UpgradeOutcome> {
  return runAttemptLoop<Upgraded | Refused>(cfg, {
    req: u.req,
    client: u.socket,
    canReplay: () => true,
    attempt: (target, attempts, mayRetry) => attemptOnce(u, cfg, forwarder, target, attempts, mayRetry),
  });
}
