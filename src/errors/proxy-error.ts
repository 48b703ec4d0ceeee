import type { ProxyErrorCode, ProxyTarget } from '../types.js';

/** Status answered for each code; the status is always derived from the code. */
export const STATUS_BY_CODE: Readonly<Record<ProxyErrorCode, number>> = Object.freeze({
  UPSTREAM_UNAVAILABLE: 502,
  UPSTREAM_TIMEOUT: 504,
  NO_UPSTREAM: 503,
  UNEXPECTED_STATUS: 502,
  RESPONSE_HOOK_FAILED: 502,
  BAD_REQUEST: 400,
  CLIENT_TIMEOUT: 408,
});

/** Details a {@link ProxyError} is created with. */
export interface ProxyErrorInit {
  target?: ProxyTarget;
  /** Upstream attempts made so far. @default 0 */
  attempts?: number;
  /** Whether the last attempt's connection was established. @default false */
  connected?: boolean;
  cause?: unknown;
}

/**
 * Marks every ProxyError, whichever copy of switchyard made it: `Symbol.for` keys are shared
 * by the whole process, while the ESM and the CommonJS build (or two installs) each have
 * their own class.
 */
const BRAND = Symbol.for('switchyard.ProxyError');

/** The one error type switchyard reports: a stable `code`, the `status` it maps to, and context. */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;
  /** The last target tried, if any. */
  readonly target?: ProxyTarget;
  /** Number of upstream attempts made. */
  readonly attempts: number;
  /** Whether the last attempt's connection to the upstream was established. */
  readonly connected: boolean;

  constructor(code: ProxyErrorCode, message: string, init: ProxyErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ProxyError';
    this.code = code;
    this.status = STATUS_BY_CODE[code];
    this.target = init.target;
    this.attempts = init.attempts ?? 0;
    this.connected = init.connected ?? false;
  }

  /**
   * `err instanceof ProxyError` holds for a ProxyError from any copy of switchyard in the
   * process, so an app that mixes `import` and `require` can use the check the docs
   * recommend (issue 12; undici brands its errors the same way). A subclass keeps the
   * ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ProxyError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}

Object.defineProperty(ProxyError.prototype, BRAND, { value: true });
