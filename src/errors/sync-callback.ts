/**
 * User callbacks whose result is used as a value (`skip`, header functions, `balancer.next`):
 * telling a returned promise apart from a value. An `async` callback returns a Promise, which
 * is truthy and an object, so without this check it would silently mean "skip every request"
 * or "this object is the target" (issue 12).
 */

/** Whether `value` is a promise or any other thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function ignore(): void {}

/**
 * The error for a callback that must answer synchronously but returned `promise`. The
 * promise's own outcome is dropped, so a later rejection cannot crash the process as an
 * unhandled one.
 */
export function syncCallbackError(option: string, promise: PromiseLike<unknown>, advice: string): TypeError {
  Promise.resolve(promise).then(ignore, ignore);
  return new TypeError(`switchyard: ${option} returned a Promise; it must answer synchronously: ${advice}`);
}
