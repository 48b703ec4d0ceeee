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
 * before routing), as separators that could hide a `..` inside one raw segment.
 */
const HIDDEN_SEPARATOR = /\\|%5c|%2f/i;
const HIDDEN_SEPARATOR_SPLIT = /\\|%5c|%2f/gi;

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

/** A segment such as `..\etc` or `..%5c..` that a backslash-splitting upstream would climb with. */
function hidesDotDot(segment: string): boolean {
  if (!HIDDEN_SEPARATOR.test(segment)) return false;
  for (const part of segment.split(HIDDEN_SEPARATOR_SPLIT)) {
    if (dotSegment(part) === 2) return true;
  }
  return false;
}

/**
 * Resolves dot segments (`.`, `..`, and their percent-encoded spellings such as `%2e%2E` or
 * `.%2e`) in a raw request path (no query), keeping a trailing slash: `/a/b/..` → `/a/`.
 *
 * Returns `undefined` (answer 400 `BAD_REQUEST`) when the path does not start with `/`
 * (absolute form, authority form, `*`), would climb above `/`, holds a raw control character
 * or space, or hides a `..` behind a backslash, `%5C` or `%2F` inside one segment. Encoded
 * slashes are otherwise passed through, and `%252e` is not a dot. A path with no `%`, no `\`
 * and no `.` at a segment start is returned as is, without allocating.
 */
export function resolveSafePath(path: string): string | undefined {
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

  const segments = path.slice(1).split('/');
  const out: string[] = [];
  let changed = false;
  let endsWithDot = false;
  for (const segment of segments) {
    const kind = dotSegment(segment);
    endsWithDot = kind !== 0;
    if (kind === 0) {
      if (hidesDotDot(segment)) return undefined;
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
