/**
 * Path safety: resolve dot segments before anything else looks at the path, so the upstream
 * path can never climb above the target's prefix (RFC 3986 §5.2.4, and the long line of proxy
 * traversal bugs where `%2e%2e` or `..\` slipped past a check that only knew literal `..`).
 */

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const DEL = 0x7f;

/** Percent-encoded dots count as dots: upstreams and browsers decode them before resolving. */
const ENCODED_DOT = /%2e/gi;
/**
 * Backslash (Windows/IIS, WHATWG URL for http:) and `%5C`, and `%2F` (upstreams that decode
 * before routing), as separators that could hide a `..` inside one raw segment; and `;` /
 * `%3B`, since Tomcat and Jetty strip path parameters before resolving (`/..;/` is their `..`).
 */
const HIDDEN_SEPARATOR = /\\|%5c|%2f|;|%3b/i;
const HIDDEN_SEPARATOR_SPLIT = /\\|%5c|%2f|;|%3b/gi;
/**
 * Overlong UTF-8 spellings of `.`, `/` and `\` (`%c0%ae`, `%c0%af`, `%c1%9c`, with the lax
 * 2-byte variants a decoder ignoring continuation bits accepts, and the 3- and 4-byte forms).
 * Never valid UTF-8, and the classic traversal of decoders that accept them anyway.
 */
const OVERLONG = /%c0%[26ae][ef]|%c1%[159d]c|%e0%80%a[ef]|%e0%81%9c|%f0%80%80%a[ef]|%f0%80%81%9c/i;
/**
 * A percent-encoded control character (`%00`–`%1F`, `%7F`): upstreams decode the path before
 * using it, and C code truncates at `%00` (a check on `/a%00.png` passes, the file opened is
 * `/a`); CR/LF end up in logs and redirects. nginx answers 400 to `%00` too (issue 12).
 */
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;

/**
 * True when `s` holds a raw control character (0x00–0x1F or 0x7F). Use it on query strings,
 * where a raw space is left to the HTTP parser.
 */
export function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < SPACE || c === DEL) return true;
  }
  return false;
}

/** 0: not a dot segment, 1: `.`, 2: `..` (either possibly percent-encoded). */
function dotSegment(segment: string): 0 | 1 | 2 {
  // `%2e%2e` is the longest spelling; anything longer cannot be a dot segment.
  if (segment.length === 0 || segment.length > 6) return 0;
  const plain = segment.length === 1 ? segment : segment.replace(ENCODED_DOT, '.');
  if (plain === '.') return 1;
  if (plain === '..') return 2;
  return 0;
}

/**
 * A segment such as `..\etc`, `..%5c..` or `..;x` that a backslash-splitting (or
 * parameter-stripping) upstream would climb with. A hidden `.` (`.%5C`) is refused too: it
 * cannot climb, but no real path needs one, and the upstream path then never holds a dot segment
 * however it is split.
 */
function hidesDotSegment(segment: string): boolean {
  if (!HIDDEN_SEPARATOR.test(segment)) return false;
  for (const part of segment.split(HIDDEN_SEPARATOR_SPLIT)) {
    if (dotSegment(part) !== 0) return true;
  }
  return false;
}

/**
 * Resolves dot segments (`.`, `..`, and their percent-encoded spellings such as `%2e%2E` or
 * `.%2e`) in a raw request path (no query), keeping a trailing slash: `/a/b/..` → `/a/`.
 *
 * Returns `undefined` (answer 400 `BAD_REQUEST`) when the path does not start with `/`
 * (absolute form, authority form, `*`), would climb above `/`, holds a control character
 * (raw, or percent-encoded `%00`–`%1F`, `%7F`) or a raw space, hides a `.` or `..` behind a
 * backslash, `%5C`, `%2F`, `;` or `%3B` inside one segment (`..%2F..`, `..;/`), or spells
 * `.`, `/` or `\` in overlong UTF-8 (`%c0%ae`). Encoded slashes are otherwise passed through,
 * and `%252e` is not a dot. A path with no `%`, no `\` and no `.` at a segment start is
 * returned as is, without allocating.
 */
export function resolveSafePath(path: string): string | undefined {
  return resolvePath(path, true);
}

/**
 * {@link resolveSafePath} for a rendered `to` template, which percent-encodes request values
 * on purpose (`{header.x}` holding CR LF becomes `%0D%0A`, one harmless segment): the same
 * checks, except that encoded control characters are allowed.
 */
export function resolveTemplatePath(path: string): string | undefined {
  return resolvePath(path, false);
}

function resolvePath(path: string, refuseEncodedControls: boolean): string | undefined {
  if (path.charCodeAt(0) !== SLASH) return undefined;
  let suspicious = false;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= SPACE || c === DEL) return undefined;
    // A dot matters only at a segment start (`/file.txt` stays on the fast path); `%` and `\`
    // may spell a dot or a hidden separator anywhere.
    if (c === PERCENT || c === BACKSLASH || (c === DOT && path.charCodeAt(i - 1) === SLASH)) suspicious = true;
  }
  if (!suspicious) return path;
  if (OVERLONG.test(path) || (refuseEncodedControls && ENCODED_CONTROL.test(path))) return undefined;

  const segments = path.slice(1).split('/');
  const out: string[] = [];
  let changed = false;
  let endsWithDot = false;
  for (const segment of segments) {
    const kind = dotSegment(segment);
    endsWithDot = kind !== 0;
    if (kind === 0) {
      if (hidesDotSegment(segment)) return undefined;
      out.push(segment);
      continue;
    }
    changed = true;
    if (kind === 2 && out.pop() === undefined) return undefined;
  }
  if (!changed) return path;
  // A path ending in a dot segment names a directory: `/a/b/..` is `/a/`, as RFC 3986 keeps it.
  if (endsWithDot) out.push('');
  return `/${out.join('/')}`;
}
