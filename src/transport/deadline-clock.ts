/**
 * One clock for every attempt's deadlines: connect, idle while sending, response headers,
 * idle while receiving. Each attempt keeps an absolute `deadline` that it moves forward as it
 * makes progress (a plain field write), and one unref'd interval per middleware checks the
 * attempts in flight. That costs no timer object per attempt or per phase change, and a
 * streamed body can push its idle deadline forward on every chunk for the price of a
 * `Date.now()`. A deadline fires at most one tick late; the tick is an eighth of the
 * shortest configured timeout (5 ms to 1 s).
 */

/** Something with a deadline: `onDeadline` is called once `deadline` (ms since epoch) has passed. */
export interface Timed {
  deadline: number;
  onDeadline(now: number): void;
}

export interface DeadlineClock {
  /** Starts watching `t` (its `deadline` must be set). */
  watch(t: Timed): void;
  /** Stops watching `t`; harmless when it is not watched. */
  unwatch(t: Timed): void;
}

/** The interval for the given timeouts (ms): an eighth of the shortest, within 5 ms … 1 s. */
export function tickFor(timeouts: readonly number[]): number {
  return Math.min(1000, Math.max(5, Math.floor(Math.min(...timeouts) / 8)));
}

export function createDeadlineClock(tick: number): DeadlineClock {
  const watched = new Set<Timed>();
  // Runs only while something is watched, so an idle middleware holds no timer at all.
  let interval: NodeJS.Timeout | undefined;

  function sweep(): void {
    // Stop when idle; the next watch() starts the interval again.
    if (watched.size === 0) {
      clearInterval(interval);
      interval = undefined;
      return;
    }
    const now = Date.now();
    for (const t of watched) {
      if (t.deadline <= now) t.onDeadline(now);
    }
  }

  return {
    watch(t) {
      watched.add(t);
      if (interval === undefined) {
        interval = setInterval(sweep, tick);
        interval.unref();
      }
    },
    unwatch(t) {
      watched.delete(t);
    },
  };
}
