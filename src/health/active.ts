/**
 * Active health checks: every `interval`, one `GET path` per target of the live balancer.
 * Each round walks `balancer.targets` as it is then, so targets added at run time are checked
 * from the next round on and removed ones are forgotten (their mark released, their check
 * aborted). A target whose previous check is still running is skipped for that round, so
 * checks of one target never overlap. The first round starts at once.
 */
import type { Balancer, ProxyTarget } from '../types.js';
import { checkTarget, type CheckOptions, type CheckTransport, type RunningCheck } from './check-target.js';
import { createStreak, recordResult, type CheckStreak } from './check-streak.js';
import { markDown, markUp } from './target-health.js';

/** `healthCheck` settings with defaults applied. */
export interface HealthCheckSettings extends CheckOptions {
  /** Milliseconds between rounds. @default 10000 */
  readonly interval: number;
  /** Milliseconds before one check counts as failed. @default 5000 */
  readonly timeout: number;
  /** Consecutive passes before an unhealthy target is healthy again. @default 1 */
  readonly healthyAfter: number;
  /** Consecutive failures before a healthy target is marked unhealthy. @default 1 */
  readonly unhealthyAfter: number;
}

/** The running checker of one middleware. */
export interface ActiveHealth {
  /**
   * Stops the rounds, aborts checks in flight and releases the marks this checker holds.
   * Resolves once the aborted checks' connections are closed. Idempotent.
   */
  close(): Promise<void>;
}

interface TargetCheckState {
  readonly streak: CheckStreak;
  running: RunningCheck | undefined;
}

/** Starts checking every target of `balancer`; the first round is sent before this returns. */
export function startActiveHealth(balancer: Balancer, settings: HealthCheckSettings, transport: CheckTransport): ActiveHealth {
  const states = new Map<ProxyTarget, TargetCheckState>();
  let closing: Promise<void> | undefined;

  function forget(target: ProxyTarget, state: TargetCheckState): Promise<void> | undefined {
    states.delete(target);
    if (state.streak.down) markUp(target, 'active');
    return state.running?.abort();
  }

  function check(target: ProxyTarget, state: TargetCheckState): void {
    state.running = checkTarget(target, settings, transport, (passed) => {
      state.running = undefined;
      // Closed, or the target was removed meanwhile: its verdict no longer matters.
      if (closing !== undefined || states.get(target) !== state) return;
      if (recordResult(state.streak, passed, settings)) {
        if (state.streak.down) markDown(target, 'active');
        else markUp(target, 'active');
      }
    });
  }

  function round(): void {
    let targets: readonly ProxyTarget[];
    try {
      targets = balancer.targets;
    } catch {
      // A custom balancer's `targets` getter threw: never let that escape a timer; retry next round.
      return;
    }
    if (!Array.isArray(targets)) return;
    if (states.size > 0) {
      const current = new Set(targets);
      for (const [target, state] of states) if (!current.has(target)) void forget(target, state);
    }
    for (const target of targets) {
      let state = states.get(target);
      if (state === undefined) {
        state = { streak: createStreak(), running: undefined };
        states.set(target, state);
      }
      if (state.running === undefined) check(target, state);
    }
  }

  const timer = setInterval(round, settings.interval);
  timer.unref();
  round();

  return {
    close() {
      closing ??= (() => {
        clearInterval(timer);
        const aborted: Promise<void>[] = [];
        for (const [target, state] of states) {
          const done = forget(target, state);
          if (done !== undefined) aborted.push(done);
        }
        return Promise.all(aborted).then(() => undefined);
      })();
      return closing;
    },
  };
}
