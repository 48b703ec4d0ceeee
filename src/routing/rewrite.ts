/**
 * Echo-style path rewriting (`middleware.ProxyConfig.Rewrite` / `RegexRewrite`). Every rule
 * and replacement is compiled when `proxy()` is called; a request only runs regexes and
 * concatenates strings.
 */

import { configError, isPlainObject } from '../config/validate.js';
import { escapeRegExp } from './escape-regexp.js';

/** Maps an upstream path (raw, no query) to its rewritten form; unchanged when no rule matches. */
export type RewritePath = (path: string) => string;

/** A literal piece or the 1-based index of a capture. */
type ReplacementPart = string | number;

/** A compiled rule: the rewritten path, or `undefined` when the rule does not match. */
type Rule = (path: string) => string | undefined;

const GLOB_EXAMPLE = "{ '/v1/*': '/v2/$1' }";
const REGEX_EXAMPLE = "[[/^\\/old\\/(.*)$/, '/new/$1']]";

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (value instanceof RegExp) return String(value);
  return typeof value === 'object' ? 'an object' : String(value);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Splits a replacement into literals and capture indexes. `$10` means group 10 only when the
 * pattern has that many groups, else `$1` then `0` (as `String.prototype.replace` reads it);
 * `$0` and a `$` without a digit stay literal (Echo replaces only `$1…$n`).
 */
function compileReplacement(value: string, groups: number): ReplacementPart[] {
  const parts: ReplacementPart[] = [];
  let literal = '';
  let i = 0;
  while (i < value.length) {
    const c = value.charCodeAt(i);
    const d1 = value.charCodeAt(i + 1);
    if (c !== 0x24 || !isDigit(d1) || d1 === 0x30) {
      literal += value[i];
      i++;
      continue;
    }
    let index = d1 - 0x30;
    let width = 2;
    const d2 = value.charCodeAt(i + 2);
    if (isDigit(d2) && index * 10 + (d2 - 0x30) <= groups) {
      index = index * 10 + (d2 - 0x30);
      width = 3;
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push(index);
    i += width;
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

function render(parts: readonly ReplacementPart[], match: readonly (string | undefined)[]): string {
  let out = '';
  for (const part of parts) out += typeof part === 'string' ? part : (match[part] ?? '');
  return out;
}

function compileGlob(key: string, value: string): Rule {
  // Echo accepts `^/…`; the key is anchored at both ends anyway, so the caret adds nothing.
  const body = key.startsWith('^') ? key.slice(1) : key;
  const pieces = body.split('*');
  const head = pieces[0] ?? '';
  const parts = compileReplacement(value, pieces.length - 1);
  if (pieces.length === 1) {
    const constant = render(parts, [body]);
    return (path) => (path === body ? constant : undefined);
  }
  // Lazy `(.*?)` as Echo compiles it: with two stars, `$1` takes the shortest run.
  const source = pieces.map(escapeRegExp).join('(.*?)');
  const re = new RegExp(`^${source}$`, 's');
  return (path) => {
    if (!path.startsWith(head)) return undefined;
    const match = re.exec(path);
    return match === null ? undefined : render(parts, match);
  };
}

function compileRegex(pattern: RegExp, value: string): Rule {
  // A `g` or `y` regex keeps `lastIndex` between calls, so one request would shift the next.
  const flags = pattern.flags.replace(/[gy]/g, '');
  const re = new RegExp(pattern.source, flags);
  const groups = (new RegExp(`${pattern.source}|`, flags).exec('') as RegExpExecArray).length - 1;
  const parts = compileReplacement(value, groups);
  return (path) => {
    const match = re.exec(path);
    if (match === null) return undefined;
    return path.slice(0, match.index) + render(parts, match) + path.slice(match.index + match[0].length);
  };
}

function globRules(rewrite: unknown): Rule[] {
  if (!isPlainObject(rewrite)) {
    throw configError('rewrite', `must be a plain object of glob rules, got ${describe(rewrite)}`, GLOB_EXAMPLE);
  }
  if (Object.getOwnPropertySymbols(rewrite).length > 0) {
    throw configError('rewrite', 'keys must be strings, got a symbol', GLOB_EXAMPLE);
  }
  return Object.keys(rewrite).map((key) => {
    const value = rewrite[key];
    if (!(key.startsWith('/') || key.startsWith('^/') || key.startsWith('*'))) {
      throw configError('rewrite', `key ${JSON.stringify(key)} must start with "/", "^/" or "*"`, GLOB_EXAMPLE);
    }
    if (typeof value !== 'string' || !(value.startsWith('/') || value.startsWith('$'))) {
      throw configError(
        'rewrite',
        `value for ${JSON.stringify(key)} must be a string starting with "/" or "$", got ${describe(value)}`,
        GLOB_EXAMPLE,
      );
    }
    return compileGlob(key, value);
  });
}

function regexRules(regexRewrite: unknown): Rule[] {
  if (!Array.isArray(regexRewrite)) {
    throw configError('regexRewrite', `must be an array of [RegExp, string] pairs, got ${describe(regexRewrite)}`, REGEX_EXAMPLE);
  }
  return regexRewrite.map((entry: unknown, i) => {
    const ok =
      Array.isArray(entry) && entry.length === 2 && entry[0] instanceof RegExp && typeof entry[1] === 'string';
    if (!ok) throw configError(`regexRewrite[${i}]`, `must be a [RegExp, string] pair, got ${describe(entry)}`, REGEX_EXAMPLE);
    const [pattern, value] = entry as [RegExp, string];
    return compileRegex(pattern, value);
  });
}

/**
 * Compiles `rewrite` (glob) and `regexRewrite` rules into one function, or `undefined` when
 * there are no rules. Glob rules are tried first in insertion order, then regex rules; the
 * first match wins. A glob key matches the whole path, `*` captures any run (including `/`)
 * as `$1…$n`, and other characters are literal. A regex rule replaces only the matched part.
 * Input and output are raw paths without the query. A capture can land next to literal text
 * and form a new dot segment (`'/x*': '/$1'` turns `/x..` into `/..`): check the result with
 * `resolveSafePath` again.
 *
 * @throws ConfigError (`switchyard: rewrite …` / `switchyard: regexRewrite …`) on invalid rules.
 */
export function compileRewrite(
  rewrite: Record<string, string> | undefined,
  regexRewrite: Array<[RegExp, string]> | undefined,
): RewritePath | undefined {
  const rules = [
    ...(rewrite === undefined ? [] : globRules(rewrite)),
    ...(regexRewrite === undefined ? [] : regexRules(regexRewrite)),
  ];
  if (rules.length === 0) return undefined;
  return (path) => {
    for (const rule of rules) {
      const out = rule(path);
      if (out !== undefined) return out;
    }
    return path;
  };
}
