/**
 * Waiting without sleeping: conditions are tested after each turn of the event loop (each turn
 * polls I/O), so a slow machine only makes a wait longer, never a reading wrong.
 */

/** Resolves after one turn of the event loop. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Resolves once `check()` holds, testing after each turn of the event loop. Rejects with
 * `timed out waiting for <what>` after `limitMs`: a generous bound so a broken test fails with
 * a message instead of hanging, not a timing. @default limitMs 15_000
 */
export async function until(check: () => boolean, what = 'the condition', limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await nextTurn();
  }
}

/**
 * Resolves once `progress()` has not moved for `turns` consecutive event-loop turns: a stream
 * that can still move data does so within a few, so this detects backpressure counted in
 * turns, not time. @default turns 200
 */
export async function stalled(progress: () => number, turns = 200): Promise<void> {
  let last = progress();
  let still = 0;
  while (still < turns) {
    await nextTurn();
    const now = progress();
    if (now === last) still += 1;
    else {
      last = now;
      still = 0;
    }
  }
}
