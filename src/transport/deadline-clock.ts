/**
 * One clock for every attempt's deadlines: connect, idle while sending, response headers,
 * idle while receiving. Each attempt keeps an absolute `deadline` that it moves forward as it
 * makes progress (a plain field write), and one unref'd interval per middleware checks the
 * attempts in flight. That costs no timer object per attempt or per phase change, and a
 * streamed body can push its idle deadline forward on every chunk for the price of a
 * `Date.now()`. A deadline fires at most one tick late; the tick is an eighth of the
 * shortest configured timeout (5 ms to 1 s).
 *
 * The attempts in flight form an intrusive doubly linked list (each attempt carries its own
 * links): a `Set` with one add and one delete per request kept every finished attempt alive
 * past the next scavenge, so V8 promoted them to the old generation; measured, that took a
 * fifth of the proxy's CPU in garbage collection. Unlinking drops every reference at once.
 */

/** Something with a deadline: `onDeadline` is called once `deadline` (ms since epoch) has passed. */
export interface Timed {
  deadline: number;
  onDeadline(now: number): void;
  /** List links, owned by the clock. */
  prevTimed: Timed | null;
  nextTimed: Timed | null;
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
  let head: Timed | null = null;
  // Runs only while something is watched, so an idle middleware holds no timer at all.
  let interval: NodeJS.Timeout | undefined;

  function unwatch(t: Timed): void {
    const { prevTimed, nextTimed } = t;
    if (prevTimed === null && head !== t) return;
    if (prevTimed === null) head = nextTimed;
    else prevTimed.nextTimed = nextTimed;
    if (nextTimed !== null) nextTimed.prevTimed = prevTimed;
    t.prevTimed = null;
    t.nextTimed = null;
  }

  function sweep(): void {
    // Stop when idle; the next watch() starts the interval again.
    if (head === null) {
      clearInterval(interval);
      interval = undefined;
      return;
    }
    const now = Date.now();
    for (let t: Timed | null = head; t !== null; ) {
      // Read the link first: onDeadline may unwatch `t`.
      const next: Timed | null = t.nextTimed;
      if (t.deadline <= now) t.onDeadline(now);
      t = next;
    }
  }

  return {
    watch(t) {
      t.prevTimed = null;
      t.nextTimed = head;
      if (head !== null) head.prevTimed = t;
      head = t;
      if (interval === undefined) {
        interval = setInterval(sweep, tick);
        interval.unref();
      }
    },
    unwatch,
  };
}
