/**
 * Patterns for `expect(text).toMatch(...)`, which prints the whole text when it fails (unlike
 * `expect(text.startsWith(p)).toBe(true)`, which prints only `false`).
 */

/** `text` as a pattern that matches it literally. */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches a string that starts with `prefix`: `expect(err.message).toMatch(startingWith(expected))`. */
export function startingWith(prefix: string): RegExp {
  return new RegExp(`^${literal(prefix)}`);
}
