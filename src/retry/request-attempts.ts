/** The HTTP attempt: one request to one target through the forwarder, run by the attempt loop. */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { BodySource } from '../body/request-body.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import type { RequestContext } from '../request-context.js';
import { targetAddress } from '../routing/target-address.js';
import type { Forwarder } from '../transport/forwarder.js';
import type { ProxyTarget } from '../types.js';
import {
  abortAttempt,
  beginAttempt,
  failAttempt,
  rejectAnswer,
  runAttemptLoop,
  type AbortedOutcome,
  type ErrorOutcome,
  type FailedAttempt,
} from './attempt-loop.js';
import { isIdempotent } from './retry-policy.js';

/** One request on its way upstream, prepared once before the first attempt. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: RequestContext;
  /** Upstream path and query after rewrite and template, before the target prefix. */
  readonly upstreamPath: string;
  readonly headers: OutgoingHttpHeaders;
  /** True when `host` was fixed before the first attempt (preserveHost or a header rule). */
  readonly hostFixed: boolean;
  readonly body: BodySource;
}

/** The upstream answered and the answer is to be sent (the target still counts it active). */
export interface ResponseOutcome {
  readonly kind: 'response';
  readonly proxyRes: IncomingMessage;
  readonly target: ProxyTarget;
  readonly attempts: number;
}

/** How the attempts of one request ended. */
export type Outcome = ResponseOutcome | ErrorOutcome | AbortedOutcome;

function setContext(res: ServerResponse, key: string, target: ProxyTarget): void {
  const holder = res as ServerResponse & { locals?: Record<string, unknown> };
  (holder.locals ??= {})[key] = target;
}

async function attemptOnce(
  x: Exchange,
  cfg: ResolvedConfig,
  forwarder: Forwarder,
  target: ProxyTarget,
  attempts: number,
  mayRetry: boolean,
): Promise<ResponseOutcome | FailedAttempt | AbortedOutcome> {
  beginAttempt(target);
  setContext(x.res, cfg.contextKey, target);
  const address = targetAddress(target);
  if (!x.hostFixed) x.headers.host = address.host;
  const result = await forwarder.forward(x.req, x.res, {
    target,
    path: address.prefix + x.upstreamPath,
    headers: x.headers,
    body: x.body.fresh(),
  });
  if (result.kind === 'aborted') return abortAttempt(target);
  if (result.kind === 'failed') return failAttempt(cfg, target, result, attempts);
  const status = result.proxyRes.statusCode ?? 0;
  const unexpected = cfg.expectedStatus !== undefined && !cfg.expectedStatus.has(status);
  const statusRetry = !unexpected && mayRetry && cfg.retryOn.has(status) && isIdempotent(x.req);
  if (unexpected || statusRetry) return rejectAnswer(result.proxyRes, target, attempts, statusRetry);
  return { kind: 'response', proxyRes: result.proxyRes, target, attempts };
}

/**
 * Runs the attempts of one HTTP request. A status listed in `retryOn` is retried while
 * attempts remain; on the last attempt that response is returned as it is.
 */
export function runAttempts(x: Exchange, cfg: ResolvedConfig, forwarder: Forwarder): Promise<Outcome> {
  return runAttemptLoop<ResponseOutcome>(cfg, {
    req: x.req,
    client: x.res,
    canReplay: () => x.body.replayable,
    attempt: (target, attempts, mayRetry) => attemptOnce(x, cfg, forwarder, target, attempts, mayRetry),
  });
}
