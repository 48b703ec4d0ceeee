/**
 * Consecutive active-check results for one target, and when they flip its verdict
 * (`healthyAfter` / `unhealthyAfter`, like Caddy's `passes` / `fails`).
 */

/** Results seen for one target by one checker. */
export interface CheckStreak {
  /** Whether this checker holds the target down. */
  down: boolean;
  /** Consecutive passed checks (reset by a failure). */
  passes: number;
  /** Consecutive failed checks (reset by a pass). */
  fails: number;
}

/** A fresh streak: targets start healthy until checks say otherwise. */
export function createStreak(): CheckStreak {
  return { down: false, passes: 0, fails: 0 };
}

/**
 * Adds one check result to `streak` and returns whether the verdict flipped (`streak.down`
 * tells which way): down after `unhealthyAfter` consecutive failures, up after
 * `healthyAfter` consecutive passes.
 */
export function recordResult(
  streak: CheckStreak,
  passed: boolean,
  limits: { readonly healthyAfter: number; readonly unhealthyAfter: number },
): boolean {
  if (passed) {
    streak.fails = 0;
    streak.passes++;
    if (streak.down && streak.passes >= limits.healthyAfter) {
      streak.down = false;
      return true;
    }
  } else {
    streak.passes = 0;
    streak.fails++;
    if (!streak.down && streak.fails >= limits.unhealthyAfter) {
      streak.down = true;
      return true;
    }
  }
  return false;
}
