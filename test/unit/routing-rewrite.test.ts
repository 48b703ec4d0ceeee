import { describe, expect, it } from 'vitest';
import { compileRewrite } from '../../src/routing/rewrite.js';
import { resolveSafePath } from '../../src/routing/safe-path.js';

type Glob = Record<string, string>;
type Regex = Array<[RegExp, string]>;

function run(glob: Glob | undefined, regex: Regex | undefined, path: string): string {
  const rewrite = compileRewrite(glob, regex);
  if (rewrite === undefined) throw new Error('expected rules');
  return rewrite(path);
}

describe('compileRewrite', () => {
  it('returns undefined when there are no rules', () => {
    expect(compileRewrite(undefined, undefined)).toBeUndefined();
    expect(compileRewrite({}, [])).toBeUndefined();
  });

  it.each<[string, Glob, string, string]>([
    ['star captures the rest', { '/v1/*': '/v2/$1' }, '/v1/users/42', '/v2/users/42'],
    ['star may capture nothing', { '/v1/*': '/v2/$1' }, '/v1/', '/v2/'],
    ['key matches the whole path', { '/v1/*': '/v2/$1' }, '/x/v1/a', '/x/v1/a'],
    ['anchored at the end', { '/v1': '/v2' }, '/v1/a', '/v1/a'],
    ['literal key', { '/old': '/new' }, '/old', '/new'],
    ['leading ^ is ignored', { '^/v1/*': '/v2/$1' }, '/v1/a', '/v2/a'],
    ['leading star', { '*.json': '/json$1' }, '/a/b.json', '/json/a/b'],
    ['two stars, first is lazy (Echo)', { '/a/*/*': '/$2/$1' }, '/a/b/c/d', '/c/d/b'],
    ['captures reorder', { '/users/*/orders/*': '/orders/$2?u=$1' }, '/users/7/orders/9', '/orders/9?u=7'],
    ['missing capture is empty', { '/a/*': '/b/$1$2$9' }, '/a/x', '/b/x'],
    ['$ without digit is literal', { '/a/*': '/b/$x$/$1$$' }, '/a/y', '/b/$x$/y$$'],
    ['$0 is literal', { '/a/*': '/b/$0$1' }, '/a/y', '/b/$0y'],
    ['$10 with one group is $1 then 0', { '/a/*': '/b/$10' }, '/a/y', '/b/y0'],
    ['value may start with $', { '*': '$1/index' }, '/x', '/x/index'],
    ['dot is literal', { '/a.b/*': '/c/$1' }, '/aXb/z', '/aXb/z'],
    ['dot matches a dot', { '/a.b/*': '/c/$1' }, '/a.b/z', '/c/z'],
    ['plus is literal', { '/a+/*': '/c/$1' }, '/aa/z', '/aa/z'],
    ['question mark is literal', { '/a?b': '/c' }, '/b', '/b'],
    ['question mark matches itself', { '/a?b': '/c' }, '/a?b', '/c'],
    ['parens are literal', { '/(x)/*': '/$1' }, '/(x)/y', '/y'],
    ['dollar is literal in keys', { '/a$/*': '/$1' }, '/a$/y', '/y'],
    ['caret later in key is literal', { '/a^b': '/c' }, '/a^b', '/c'],
    ['brackets and braces are literal', { '/[a]{2}|b': '/c' }, '/[a]{2}|b', '/c'],
    ['backslash is literal', { '/a\\d': '/c' }, '/a\\d', '/c'],
    ['star spans slashes', { '/*/end': '/$1' }, '/a/b/c/end', '/a/b/c'],
    ['encoded characters captured raw', { '/f/*': '/g/$1' }, '/f/a%2Fb%20c', '/g/a%2Fb%20c'],
    ['no match leaves the path', { '/v1/*': '/v2/$1' }, '/v3/a', '/v3/a'],
  ])('glob: %s', (_name, glob, path, expected) => {
    expect(run(glob, undefined, path)).toBe(expected);
  });

  it('tries glob rules in insertion order, first match wins', () => {
    const glob = { '/a/*': '/first/$1', '/a/b': '/second', '/*': '/third/$1' };
    expect(run(glob, undefined, '/a/b')).toBe('/first/b');
    expect(run(glob, undefined, '/z')).toBe('/third/z');
  });

  it('can form a dot segment from a capture, which resolveSafePath on the result catches', () => {
    const out = run({ '/x*': '/$1' }, undefined, '/x..');
    expect(out).toBe('/..');
    expect(resolveSafePath(out)).toBeUndefined();
  });

  it('tries glob rules before regex rules', () => {
    const glob = { '/a/*': '/glob/$1' };
    const regex: Regex = [[/^\/a\/(.*)$/, '/regex/$1']];
    expect(run(glob, regex, '/a/x')).toBe('/glob/x');
    expect(run(glob, [[/^\/b\/(.*)$/, '/regex/$1']], '/b/x')).toBe('/regex/x');
  });

  it.each<[string, Regex, string, string]>([
    ['whole path', [[/^\/old\/(.*)$/, '/new/$1']], '/old/a/b', '/new/a/b'],
    ['replaces the matched part only', [[/\.json$/, '.xml']], '/a/b.json', '/a/b.xml'],
    ['unanchored middle', [[/\/v(\d+)\//, '/version-$1/']], '/api/v2/users', '/api/version-2/users'],
    ['two captures', [[/^\/(\w+)\/(\w+)$/, '/$2/$1']], '/a/b', '/b/a'],
    ['unmatched optional group is empty', [[/^\/a(\/x)?\/(.*)$/, '/b$1/$2']], '/a/y', '/b/y'],
    ['missing group number is empty', [[/^\/a\/(.*)$/, '/b/$1$3']], '/a/y', '/b/y'],
    ['$10 with ten groups', [[/^\/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)$/, '/$10$1']], '/abcdefghij', '/ja'],
    ['flags are kept', [[/^\/OLD\/(.*)$/i, '/new/$1']], '/old/x', '/new/x'],
    ['first regex wins', [[/^\/a/, '/one'], [/^\/a/, '/two']], '/a', '/one'],
    ['no match', [[/^\/old/, '/new']], '/x', '/x'],
  ])('regex: %s', (_name, regex, path, expected) => {
    expect(run(undefined, regex, path)).toBe(expected);
  });

  it('drops g and y so lastIndex never leaks between requests', () => {
    const g = /^\/a\/(.*)$/g;
    const y = /\/a\/(.*)$/y;
    const rewrite = compileRewrite(undefined, [
      [g, '/g/$1'],
      [y, '/y/$1'],
    ]);
    for (let i = 0; i < 3; i++) expect(rewrite?.('/a/x')).toBe('/g/x');
    expect(g.lastIndex).toBe(0);
    const sticky = compileRewrite(undefined, [[y, '/y/$1']]);
    for (let i = 0; i < 3; i++) expect(sticky?.('/a/x')).toBe('/y/x');
    expect(g.flags).toBe('g');
  });

  it('does not write into the user objects', () => {
    const glob = Object.freeze({ '/a/*': '/b/$1' });
    const re = /^\/c$/g;
    const regex = Object.freeze([Object.freeze([re, '/d'])]) as unknown as Regex;
    expect(() => compileRewrite(glob, regex)).not.toThrow();
    expect(re.lastIndex).toBe(0);
  });

  it.each<[string, unknown, unknown, RegExp]>([
    ['rewrite not an object', 'x', undefined, /^switchyard: rewrite must be a plain object .*got "x".*e\.g\. \{ '\/v1\/\*': '\/v2\/\$1' \}/],
    ['rewrite an array', [['/a', '/b']], undefined, /^switchyard: rewrite must be a plain object .*got an array/],
    ['rewrite a Map', new Map([['/a', '/b']]), undefined, /^switchyard: rewrite must be a plain object .*got an object/],
    ['rewrite null', null, undefined, /^switchyard: rewrite must be a plain object .*got null/],
    ['symbol key', { [Symbol('k')]: '/b' }, undefined, /^switchyard: rewrite keys must be strings, got a symbol, e\.g\./],
    ['key without slash', { 'v1/*': '/v2/$1' }, undefined, /^switchyard: rewrite key "v1\/\*" must start with "\/", "\^\/" or "\*", e\.g\./],
    ['key ^ without slash', { '^v1': '/v2' }, undefined, /^switchyard: rewrite key "\^v1" must start with/],
    ['value not a string', { '/a': 1 }, undefined, /^switchyard: rewrite value for "\/a" must be a string starting with "\/" or "\$", got 1, e\.g\./],
    ['value without slash', { '/a': 'b' }, undefined, /^switchyard: rewrite value for "\/a" must be a string .*got "b"/],
    ['value empty', { '/a': '' }, undefined, /^switchyard: rewrite value for "\/a" must be a string .*got ""/],
    ['regexRewrite not an array', undefined, { a: 1 }, /^switchyard: regexRewrite must be an array of \[RegExp, string\] pairs, got an object, e\.g\. \[\[/],
    ['regex entry not a pair', undefined, [[/a/]], /^switchyard: regexRewrite\[0\] must be a \[RegExp, string\] pair, got an array, e\.g\./],
    ['regex entry string pattern', undefined, [[/a/, '/b'], ['^/a', '/b']], /^switchyard: regexRewrite\[1\] must be a \[RegExp, string\] pair/],
    ['regex entry value not string', undefined, [[/a/, 1]], /^switchyard: regexRewrite\[0\] must be a \[RegExp, string\] pair/],
    ['regex entry not an array', undefined, [/a/], /^switchyard: regexRewrite\[0\] must be a \[RegExp, string\] pair, got \/a\//],
  ])('validation: %s', (_name, glob, regex, message) => {
    const call = () => compileRewrite(glob as Glob, regex as Regex);
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
  });
});
