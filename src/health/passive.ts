/**
 * Passive health (Caddy's `max_fails` / `fail_duration`): failures seen on real traffic mark
 * a target down for a while, without any extra request.
 *
 * Semantics, exactly as Caddy: every failure is remembered for `failTimeout` ms; a target is
 * down while `maxFails` or more failures are remembered, and up again as soon as enough of
 * them have expired that fewer remain. With `maxFails: 3, failTimeout: 10000` and failures at
 * t = 0 s, 1 s and 2 s, the target is down from 2 s until 10 s (when the first one expires).
 * With the default `maxFails: 1`, each failure takes the target out for `failTimeout`.
 *
 * Only the `maxFails` most recent failures can decide that, so no more are kept. One unref'd
 * timer per target with remembered failures wakes when the oldest expires; nothing is scanned
 * per request, and `close()` clears every timer and releases every mark.
 */
import type { ProxyTarget } from '../types.js';
import { markDown, markUp } from './target-health.js';

/** Passive health settings with defaults applied. */
export interface PassiveSettings {
  /** Remembered failures that mark a target down. @default 1 */
  readonly maxFails: number;
  /** How long each failure is remembered, in ms. @default 10000 */
  readonly failTimeout: number;
}

/** The passive tracker of one middleware. */
export interface PassiveHealth {
  /**
   * Records one failed attempt on `target`. Called for connection failures and timeouts
   * (`UPSTREAM_UNAVAILABLE`, `UPSTREAM_TIMEOUT`) only; never for statuses, client aborts or
   * `modifyResponse` failures. A no-op after `close()`.
   */
  recordFailure(target: ProxyTarget): void;
  /** Clears every timer and releases every down mark this tracker holds. Idempotent. */
  close(): void;
}

/** The failures remembered for one target, oldest first, as expiry times. */
interface FailureWindow {
  readonly expiries: number[];
  down: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Creates a passive tracker; it holds no timer until the first failure. */
export function createPassiveHealth(settings: PassiveSettings): PassiveHealth {
  const { maxFails, failTimeout } = settings;
  const windows = new Map<ProxyTarget, FailureWindow>();
  let closed = false;

  function schedule(target: ProxyTarget, w: FailureWindow): void {
    const oldest = w.expiries[0];
    if (oldest === undefined) return;
    // Timers may fire a millisecond early: expire() re-checks against the clock and reschedules.
    w.timer = setTimeout(expire, Math.max(1, oldest - Date.now()), target, w);
    w.timer.unref();
  }

  function expire(target: ProxyTarget, w: FailureWindow): void {
    w.timer = undefined;
    const now = Date.now();
    while (w.expiries.length > 0 && (w.expiries[0] as number) <= now) w.expiries.shift();
    if (w.down && w.expiries.length < maxFails) {
      w.down = false;
      markUp(target, 'passive');
    }
    if (w.expiries.length > 0) schedule(target, w);
    else windows.delete(target);
  }

  return {
    recordFailure(target) {
      if (closed) return;
      let w = windows.get(target);
      if (w === undefined) {
        w = { expiries: [], down: false, timer: undefined };
        windows.set(target, w);
      }
      w.expiries.push(Date.now() + failTimeout);
      // Older failures than the last maxFails cannot change when the target comes back.
      if (w.expiries.length > maxFails) w.expiries.shift();
      if (!w.down && w.expiries.length >= maxFails) {
        w.down = true;
        markDown(target, 'passive');
      }
      if (w.timer === undefined) schedule(target, w);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const [target, w] of windows) {
        clearTimeout(w.timer);
        if (w.down) markUp(target, 'passive');
      }
      windows.clear();
    },
  };
}
