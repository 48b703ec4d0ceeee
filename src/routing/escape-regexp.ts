/** Characters with a meaning in a RegExp source (`/` too, so a source can sit between slashes). */
const REGEXP_META = /[\\^$.*+?()[\]{}|/]/g;

/** `text` as a RegExp source that matches it literally (for `except` prefixes and glob rules). */
export function escapeRegExp(text: string): string {
  return text.replace(REGEXP_META, '\\$&');
}
