/**
 * The attempts of one WebSocket upgrade, on the same transport and attempt loop as HTTP, with
 * the same options: `retries`, `retryFilter`, `retryOn`, `tryDuration` / `tryInterval`. A
 * handshake has no body, so every failed attempt may be retried; an upgraded tunnel is never
 * retried (bytes have flowed). An upstream that answers without switching protocols is
 * relayed as it is: undici reports such an answer like any response (head, body, end), so no
 * second HTTP client is needed for refusals.
 */
import type { Duplex } from 'node:stream';
import type { Lease } from '../balancer/lease.js';
import { classifyFailure, type FailureKind } from '../errors/classify-error.js';
import { ProxyError } from '../errors/proxy-error.js';
import { HOST_SLOT, toHeaderList } from '../headers/header-list.js';
import type { HttpDeps } from '../http-attempt.js';
import type { ProxiedRequest } from '../proxied-request.js';
import { createUpstreamResponse } from '../response/upstream-response.js';
import { rawHeaderStrings } from '../response/write-response.js';
import { ABORTED, runAttemptLoop, type AttemptResult, type LoopOutcome } from '../retry/attempt-loop.js';
import { targetAddress } from '../routing/target-address.js';
import { dispatchAttempt, type AttemptSink, type UpstreamCall } from '../transport/dispatch.js';
import type { UpstreamResponse } from '../types.js';

/**
 * An answered upgrade: switched protocols (`upstream` is the tunnel's other end, `headers` the
 * 101's raw header list), or refused with an ordinary answer to relay. The lease stays open:
 * the caller ends it when the tunnel closes or the answer has been relayed.
 */
export type UpgradeAnswer =
  | { readonly kind: 'upgraded'; readonly headers: string[]; readonly upstream: Duplex; readonly lease: Lease }
  | { readonly kind: 'refused'; readonly proxyRes: UpstreamResponse; readonly lease: Lease };

const WAITING = 0;
const RELAYING = 1;
const DRAINING = 2;
const DONE = 3;

class UpgradeAttempt implements AttemptSink {
  private mode = WAITING;
  private proxyRes: UpstreamResponse | undefined = undefined;
  call: UpstreamCall | undefined = undefined;

  constructor(
    private readonly d: HttpDeps,
    private readonly lease: Lease,
    private readonly attempts: number,
    private readonly mayRetry: boolean,
    private readonly settle: (result: AttemptResult<UpgradeAnswer>) => void,
  ) {}

  onClientClose(): void {
    if (this.mode !== WAITING) return;
    this.mode = DONE;
    this.call?.abort();
    this.lease.end('aborted');
    this.settle(ABORTED);
  }

  head(call: UpstreamCall, status: number, rawHeaders: Buffer[], statusText: string): void {
    if (this.mayRetry && this.d.cfg.retryOn.has(status)) {
      this.mode = DRAINING;
      const target = this.lease.target;
      const error = new ProxyError('UNEXPECTED_STATUS', `upstream ${target.name} answered ${status}`, { target, attempts: this.attempts, connected: true });
      this.settle({ kind: 'failed', error, statusRetry: true });
      return;
    }
    this.mode = RELAYING;
    const proxyRes = createUpstreamResponse(call, status, statusText, rawHeaderStrings(rawHeaders));
    this.proxyRes = proxyRes;
    call.pause();
    this.settle({ kind: 'answered', value: { kind: 'refused', proxyRes, lease: this.lease } });
  }

  data(_call: UpstreamCall, chunk: Buffer): boolean {
    return this.mode === RELAYING ? (this.proxyRes as UpstreamResponse).push(chunk) : true;
  }

  end(): void {
    if (this.mode === RELAYING) (this.proxyRes as UpstreamResponse).push(null);
    this.mode = DONE;
  }

  upgraded(_call: UpstreamCall, rawHeaders: Buffer[], socket: Duplex): void {
    if (this.mode !== WAITING) {
      socket.destroy();
      return;
    }
    this.mode = DONE;
    this.settle({ kind: 'answered', value: { kind: 'upgraded', headers: rawHeaderStrings(rawHeaders), upstream: socket, lease: this.lease } });
  }

  failed(call: UpstreamCall, kind: FailureKind, cause: unknown): void {
    const mode = this.mode;
    this.mode = DONE;
    if (mode === RELAYING) (this.proxyRes as UpstreamResponse).destroy(cause instanceof Error ? cause : new Error(String(cause)));
    if (mode !== WAITING) return;
    const error = classifyFailure(kind, cause, { target: this.lease.target, attempts: this.attempts, connected: call.connected });
    this.settle({ kind: 'failed', error, statusRetry: false });
  }
}

/**
 * Runs upgrade attempts until one is answered (101 or otherwise) or no retry is allowed. A
 * throwing `balancer.next` or `retryFilter` rejects (the caller answers 500).
 */
export async function runUpgradeAttempts(d: HttpDeps, p: ProxiedRequest, socket: Duplex): Promise<LoopOutcome<UpgradeAnswer>> {
  const headerList = toHeaderList(p.headers);
  const protocol = String(p.req.headers.upgrade);
  let current: UpgradeAttempt | undefined;
  const onClose = (): void => current?.onClientClose();
  socket.once('close', onClose);
  const outcome = await runAttemptLoop<UpgradeAnswer>(d.cfg, {
    req: p.req,
    client: socket,
    canReplay: () => true,
    attempt: (lease, attempts, mayRetry, settle) => {
      const address = targetAddress(lease.target);
      if (!p.hostFixed) headerList[HOST_SLOT] = address.host;
      const attempt = new UpgradeAttempt(d, lease, attempts, mayRetry, settle);
      current = attempt;
      attempt.call = dispatchAttempt(d.pools.upgrades, d.clock, d.timeouts, {
        origin: address.origin,
        method: 'GET',
        path: address.prefix + p.upstreamPath,
        headers: headerList,
        body: null,
        upgrade: protocol,
        reset: false,
        servername: d.pools.servername(address.hostname),
      }, attempt);
    },
  });
  socket.off('close', onClose);
  return outcome;
}
