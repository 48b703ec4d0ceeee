/**
 * The pure parts of health: down marks and the derived `healthy` flag (ours and a custom
 * balancer's targets), consecutive check results, and passive health's failure window
 * (driven by fake timers, so the exact Caddy semantics can be pinned to the millisecond).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTarget, countersOf, isAvailable, targetStats } from '../../src/balancer/target.js';
import { createStreak, recordResult } from '../../src/health/check-streak.js';
import { createPassiveHealth } from '../../src/health/passive.js';
import { downMarks, markDown, markUp } from '../../src/health/target-health.js';
import type { ProxyTarget } from '../../src/types.js';

function foreignTarget(name: string): ProxyTarget {
  return { url: new URL(`http://${name}:1`), name, weight: 1, meta: {}, healthy: true, active: 0 };
}

describe('target health: marks from both sources derive one flag', () => {
  it('is down while either source holds a mark, and up when both released', () => {
    const t = createTarget('http://h:1');
    markDown(t, 'active');
    expect(t.healthy).toBe(false);
    expect(isAvailable(t)).toBe(false);
    markDown(t, 'passive');
    markUp(t, 'active');
    expect(t.healthy).toBe(false);
    markUp(t, 'passive');
    expect(t.healthy).toBe(true);
    expect(isAvailable(t)).toBe(true);
  });

  it('counts marks, so one holder recovering does not clear another holder’s mark', () => {
    const t = createTarget('http://h:1');
    markDown(t, 'passive');
    markDown(t, 'passive');
    markUp(t, 'passive');
    expect(t.healthy).toBe(false);
    expect(downMarks(t, 'passive')).toBe(1);
    markUp(t, 'passive');
    expect(t.healthy).toBe(true);
  });

  it('ignores a release without a mark (never goes below zero)', () => {
    const t = createTarget('http://h:1');
    markUp(t, 'active');
    markDown(t, 'active');
    expect(t.healthy).toBe(false);
    expect(downMarks(t, 'active')).toBe(1);
  });

  it('keeps a custom balancer’s target untouched and reports it through its side counters', () => {
    const t = foreignTarget('custom');
    markDown(t, 'active');
    expect(t.healthy).toBe(true);
    expect(countersOf(t).healthy).toBe(false);
    expect(targetStats(t).healthy).toBe(false);
    markUp(t, 'active');
    expect(targetStats(t).healthy).toBe(true);
  });
});

describe('check streak: healthyAfter / unhealthyAfter', () => {
  /** Feeds results ('+' pass, '-' fail) and returns the verdict after each: 'U' up, 'D' down. */
  function run(results: string, healthyAfter: number, unhealthyAfter: number): string {
    const s = createStreak();
    let out = '';
    for (const r of results) {
      recordResult(s, r === '+', { healthyAfter, unhealthyAfter });
      out += s.down ? 'D' : 'U';
    }
    return out;
  }

  it.each<[string, string, number, number, string]>([
    ['defaults flip on every change', '+-+-', 1, 1, 'UDUD'],
    ['unhealthyAfter 3 needs three failures in a row', '--+---', 1, 3, 'UUUUUD'],
    ['a pass resets the failure count', '-+-+-+', 1, 2, 'UUUUUU'],
    ['healthyAfter 2 needs two passes in a row', '-+-++', 2, 1, 'DDDDU'],
    ['a failure resets the pass count', '-+-+-++', 2, 1, 'DDDDDDU'],
    ['passes while healthy change nothing', '++++', 3, 3, 'UUUU'],
  ])('%s', (_label, results, healthyAfter, unhealthyAfter, want) => {
    expect(run(results, healthyAfter, unhealthyAfter)).toBe(want);
  });

  it('reports a flip only when the verdict changes', () => {
    const s = createStreak();
    const limits = { healthyAfter: 1, unhealthyAfter: 2 };
    expect(recordResult(s, false, limits)).toBe(false);
    expect(recordResult(s, false, limits)).toBe(true);
    expect(recordResult(s, false, limits)).toBe(false);
    expect(recordResult(s, true, limits)).toBe(true);
    expect(recordResult(s, true, limits)).toBe(false);
  });
});

describe('passive health: each failure remembered for failTimeout, down while >= maxFails', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('maxFails 1: one failure takes the target out for failTimeout', () => {
    const p = createPassiveHealth({ maxFails: 1, failTimeout: 1000 });
    const t = createTarget('http://h:1');
    p.recordFailure(t);
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(999);
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(1);
    expect(t.healthy).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    p.close();
  });

  it('maxFails 3: down at the third failure within the window, up when the oldest expires', () => {
    const p = createPassiveHealth({ maxFails: 3, failTimeout: 10_000 });
    const t = createTarget('http://h:1');
    p.recordFailure(t); // t = 0
    vi.advanceTimersByTime(1000);
    p.recordFailure(t); // t = 1 s
    expect(t.healthy).toBe(true);
    vi.advanceTimersByTime(1000);
    p.recordFailure(t); // t = 2 s
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(7999); // t = 9.999 s
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(1); // t = 10 s: the first failure expires, two remain
    expect(t.healthy).toBe(true);
    // Two failures are still remembered: one more marks it down again at once.
    p.recordFailure(t);
    expect(t.healthy).toBe(false);
    p.close();
  });

  it('failures spread wider than failTimeout never add up', () => {
    const p = createPassiveHealth({ maxFails: 2, failTimeout: 1000 });
    const t = createTarget('http://h:1');
    for (let i = 0; i < 5; i++) {
      p.recordFailure(t);
      expect(t.healthy).toBe(true);
      vi.advanceTimersByTime(1000);
    }
    expect(vi.getTimerCount()).toBe(0);
    p.close();
  });

  it('a failure while down pushes recovery back (it is remembered too)', () => {
    const p = createPassiveHealth({ maxFails: 1, failTimeout: 1000 });
    const t = createTarget('http://h:1');
    p.recordFailure(t);
    vi.advanceTimersByTime(600);
    p.recordFailure(t); // e.g. a request already in flight when it went down
    vi.advanceTimersByTime(400); // the first failure expires, the second has 600 ms left
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(599);
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(1);
    expect(t.healthy).toBe(true);
    p.close();
  });

  it('keeps one timer per target, however many failures', () => {
    const p = createPassiveHealth({ maxFails: 100, failTimeout: 1000 });
    const a = createTarget('http://a:1');
    const b = createTarget('http://b:1');
    for (let i = 0; i < 50; i++) {
      p.recordFailure(a);
      p.recordFailure(b);
    }
    expect(vi.getTimerCount()).toBe(2);
    p.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tracks targets independently', () => {
    const p = createPassiveHealth({ maxFails: 2, failTimeout: 1000 });
    const a = createTarget('http://a:1');
    const b = createTarget('http://b:1');
    p.recordFailure(a);
    p.recordFailure(b);
    p.recordFailure(a);
    expect([a.healthy, b.healthy]).toEqual([false, true]);
    p.close();
  });

  it('works for a custom balancer’s targets through their side counters', () => {
    const p = createPassiveHealth({ maxFails: 1, failTimeout: 1000 });
    const t = foreignTarget('mine');
    p.recordFailure(t);
    expect(targetStats(t).healthy).toBe(false);
    expect(t.healthy).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(targetStats(t).healthy).toBe(true);
    p.close();
  });

  it('close() clears every timer, releases its marks, and ignores later failures', () => {
    const p = createPassiveHealth({ maxFails: 1, failTimeout: 60_000 });
    const t = createTarget('http://h:1');
    p.recordFailure(t);
    expect(t.healthy).toBe(false);
    p.close();
    expect(t.healthy).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    p.recordFailure(t);
    expect(t.healthy).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    p.close();
  });

  it('two trackers on one target (a shared balancer): each holds its own mark', () => {
    const p1 = createPassiveHealth({ maxFails: 1, failTimeout: 1000 });
    const p2 = createPassiveHealth({ maxFails: 1, failTimeout: 5000 });
    const t = createTarget('http://h:1');
    p1.recordFailure(t);
    p2.recordFailure(t);
    vi.advanceTimersByTime(1000);
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(4000);
    expect(t.healthy).toBe(true);
    p1.close();
    p2.close();
  });

  it('a timer firing a little early reschedules instead of recovering early', () => {
    const p = createPassiveHealth({ maxFails: 1, failTimeout: 1000 });
    const t = createTarget('http://h:1');
    p.recordFailure(t);
    // Move the clock back under the timer: when it fires, the failure is not yet expired.
    vi.setSystemTime(Date.now() - 5);
    vi.advanceTimersByTime(1000);
    expect(t.healthy).toBe(false);
    vi.advanceTimersByTime(5);
    expect(t.healthy).toBe(true);
    p.close();
  });
});
