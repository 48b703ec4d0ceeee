/**
 * Property-based checks of path routing, with a fixed seed and a bounded number of runs so the
 * suite is deterministic. For arbitrary request targets (dots, slashes, `%`, `\`, `;`, control
 * characters, unicode, lone surrogates) the production routing step — path safety → rewrite →
 * template → prefix join — either refuses the request or yields an upstream target that starts
 * with the target's prefix, holds no raw control character and no dot segment (`%2e` decoded,
 * `\`, `%5C`, `%2F` read as separators), and keeps the query byte for byte (without a fragment).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProxyError } from '../../src/errors/proxy-error.js';
import { compileTrustProxy } from '../../src/headers/forwarded.js';
import { compileRewrite } from '../../src/routing/rewrite.js';
import { routeRequest, SKIP, type RouteConfig } from '../../src/routing/route-request.js';
import type { ProxiedRequest } from '../../src/proxied-request.js';
import { resolveSafePath } from '../../src/routing/safe-path.js';
import { compileTemplate } from '../../src/routing/template.js';
import { joinPrefix, normalizePrefix } from '../../src/routing/upstream-url.js';
import { startingWith } from '../helpers/match.js';

const RUNS = { seed: 0x5eed, numRuns: 2000 } as const;

/** Pieces attackers combine, so short random strings hit the interesting cases often. */
const FRAGMENTS = [
  '/', '/', '/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '\\', '%', '%25', '%252e', ';', '%3b',
  '%c0%ae', '%c0%af', '%c1%9c', 'a', 'b', 'v1', 'x', 'r', '*', '$1', '?', '#', '&', '=', ' ', '\t', '\r', '\n',
  '\u0000', '\u007f', '\u0085', 'é', '\u2028', '\uff0e', '\ud83d\ude00', '\ud800', '%0d%0a', '%00',
];

const fragmentString = (maxLength: number): fc.Arbitrary<string> =>
  fc
    .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: 'binary', maxLength: 3 })), { maxLength })
    .map((parts) => parts.join(''));

/** Request targets: mostly origin form, sometimes anything at all. */
const requestTarget = fc.oneof(
  { weight: 4, arbitrary: fragmentString(14).map((s) => `/${s}`) },
  { weight: 1, arbitrary: fragmentString(14) },
);

const CONTROL = /[\u0000-\u001f\u007f]/;
const SEPARATORS = /\/|\\|%2f|%5c/i;

function hasDotSegment(path: string): boolean {
  return path.split(SEPARATORS).some((segment) => {
    const plain = segment.replace(/%2e/gi, '.');
    return plain === '.' || plain === '..';
  });
}

interface RuleSet {
  readonly name: string;
  readonly rewrite?: Record<string, string>;
  readonly regexRewrite?: Array<[RegExp, string]>;
  /** The rules may add a query of their own (the request's is then kept after it). */
  readonly addsQuery?: boolean;
}

const RULE_SETS: readonly RuleSet[] = [
  { name: 'no rules' },
  { name: "{ '/v1/*': '/internal/$1' }", rewrite: { '/v1/*': '/internal/$1' } },
  { name: 'captures next to literals', rewrite: { '/x*': '/$1', '/a/*/b/*': '/$2/$1', '/.*': '/dot/$1' } },
  { name: 'regex rule', regexRewrite: [[/^\/r\/([^/]*)(.*)$/, '/in/$1$2']] },
  { name: 'a rule adding a query', rewrite: { '/q/*': '/q2/$1?added=1' }, addsQuery: true },
];

const TEMPLATES: ReadonlyArray<string | undefined> = [
  undefined,
  '/t{path}{query}',
  '{path}{query}',
  '/{header.x-t}{path}{query}',
  '/p/{param.id}/{header.x-t}{path}{query}',
];

const PREFIXES = ['http://h/app', 'http://h/app/', 'http://h/', 'http://h/a/b'];

function config(rules: RuleSet, template: string | undefined): RouteConfig {
  return {
    skip: undefined,
    rewrite: compileRewrite(rules.rewrite, rules.regexRewrite),
    template: template === undefined ? undefined : compileTemplate(template),
    headerPlan: { xfwd: true, isTrusted: compileTrustProxy(false), rules: undefined },
    preserveHost: false,
  };
}

/** The request as routing reads it: url, headers, socket address, Express route params. */
function fakeRequest(url: string, headerValue: string, param: string): IncomingMessage {
  const headers: IncomingHttpHeaders = { host: 'client.example', 'x-t': headerValue };
  return { url, method: 'GET', headers, params: { id: param }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
}

describe('routing properties (fast-check, fixed seed)', () => {
  const cases = RULE_SETS.flatMap((rules) => TEMPLATES.map((template) => [rules, template] as const));

  it.each(cases)('%# rules %s, to %s', (rules, template) => {
    const cfg = config(rules, template);
    fc.assert(
      fc.property(
        requestTarget,
        fragmentString(4),
        fragmentString(4),
        fc.constantFrom(...PREFIXES),
        (url, headerValue, param, targetUrl) => {
          const routed = routeRequest(cfg, fakeRequest(url, headerValue, param));
          expect(routed).not.toBe(SKIP);
          if (routed instanceof ProxyError) {
            expect(routed.code).toBe('BAD_REQUEST');
            return;
          }
          const prefix = normalizePrefix(new URL(targetUrl).pathname);
          // No skip here, so routing is synchronous: never a Promise.
          const full = prefix + (routed as ProxiedRequest).upstreamPath;
          const q = full.indexOf('?');
          const path = q === -1 ? full : full.slice(0, q);
          const query = q === -1 ? '' : full.slice(q);

          expect(path).toMatch(startingWith(`${prefix}/`));
          expect(CONTROL.test(full)).toBe(false);
          expect(path.includes(' ')).toBe(false);
          expect(hasDotSegment(path)).toBe(false);

          // A fragment is never forwarded (issue 12): the query ends where it starts.
          const target = url.split('#')[0] ?? '';
          const sent = target.indexOf('?');
          const originalQuery = sent === -1 ? '' : target.slice(sent);
          if (rules.addsQuery === true && query.startsWith('?added=1')) {
            expect(query === '?added=1' ? '' : `?${query.slice('?added=1&'.length)}`).toBe(originalQuery);
          } else {
            expect(query).toBe(originalQuery);
          }
        },
      ),
      RUNS,
    );
  });

  it('resolveSafePath is idempotent and never yields a dot segment', () => {
    fc.assert(
      fc.property(requestTarget, (url) => {
        const path = url.split('?')[0] ?? '';
        const safe = resolveSafePath(path);
        if (safe === undefined) return;
        expect(resolveSafePath(safe)).toBe(safe);
        expect(safe).toMatch(/^\//);
        expect(hasDotSegment(safe)).toBe(false);
        expect(CONTROL.test(safe)).toBe(false);
      }),
      RUNS,
    );
  });
});

describe('prefix join properties', () => {
  const segment = fc.stringMatching(/^[A-Za-z0-9._~%-]{1,6}$/);
  const pathname = fc
    .tuple(fc.array(segment, { maxLength: 4 }), fc.boolean())
    .map(([segments, trailing]) => `/${segments.join('/')}${trailing && segments.length > 0 ? '/' : ''}`);
  const requestPath = fc.array(fc.oneof(segment, fc.constant('')), { maxLength: 4 }).map((segments) => `/${segments.join('/')}`);

  it('normalizePrefix drops exactly one trailing slash, never a leading one', () => {
    fc.assert(
      fc.property(pathname, (p) => {
        const prefix = normalizePrefix(p);
        expect(prefix.endsWith('/')).toBe(false);
        expect(prefix).toMatch(/^(\/|$)/);
        expect(p === prefix || p === `${prefix}/`).toBe(true);
      }),
      RUNS,
    );
  });

  it('joinPrefix neither doubles nor drops the slash at the joint', () => {
    fc.assert(
      fc.property(pathname, requestPath, (p, path) => {
        const joined = joinPrefix(p, path);
        const prefix = normalizePrefix(p);
        expect(joined).toBe(prefix + path);
        // The request path survives whole (its leading slash included), after the bare prefix.
        expect(joined.slice(prefix.length)).toBe(path);
        expect(joined).toMatch(/^\//);
        // No slash is added or lost: the count is exactly the prefix's plus the path's.
        const slashes = (s: string): number => s.split('/').length - 1;
        expect(slashes(joined)).toBe(slashes(prefix) + slashes(path));
      }),
      RUNS,
    );
  });
});
