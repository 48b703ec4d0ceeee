import { describe, expect, it } from 'vitest';
import { hasControlChars, resolveSafePath, resolveTemplatePath } from '../../src/routing/safe-path.js';

describe('resolveSafePath', () => {
  it.each([
    // unchanged
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/b/', '/a/b/'],
    ['//a//b', '//a//b'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%2fb/c', '/a%2fb/c'],
    ['/a%20b', '/a%20b'],
    ['/a%2000', '/a%2000'],
    ['/a%7e%80', '/a%7e%80'],
    ['/file.txt', '/file.txt'],
    ['/a/.../b', '/a/.../b'],
    ['/a/..b/c.', '/a/..b/c.'],
    ['/a%2eb', '/a%2eb'],
    ['/a\\b', '/a\\b'],
    ['/a%5cb', '/a%5cb'],
    ['/%252e%252e/x', '/%252e%252e/x'],
    ['/a/%252e%252e/%252e%252e/%252e%252e/x', '/a/%252e%252e/%252e%252e/%252e%252e/x'],
    ['/caf\u00e9', '/caf\u00e9'],
    // dot segments, literal
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/a/b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/a/b/../', '/a/'],
    ['/a/.', '/a/'],
    ['/a/./', '/a/'],
    ['/.', '/'],
    ['/./', '/'],
    ['/a/..', '/'],
    ['/a/../', '/'],
    ['/./a/./b/.', '/a/b/'],
    ['/a//../b', '/a/b'],
    // dot segments, percent-encoded in any case and mix
    ['/a/%2e/b', '/a/b'],
    ['/a/%2E/b', '/a/b'],
    ['/a/b/%2e%2e/c', '/a/c'],
    ['/a/b/%2E%2E/c', '/a/c'],
    ['/a/b/%2E./c', '/a/c'],
    ['/a/b/.%2E/c', '/a/c'],
    ['/a/b/%2e./c', '/a/c'],
    ['/a/b/.%2e', '/a/'],
    // other segments keep their encoding
    ['/a%2Fb/../c%20d', '/c%20d'],
  ])('%j → %j', (input, expected) => {
    expect(resolveSafePath(input)).toBe(expected);
  });

  it.each([
    // not origin form
    [''],
    ['http://other/'],
    ['https://other/a'],
    ['other:443'],
    ['*'],
    ['a/b'],
    // climbs above /
    ['/..'],
    ['/../'],
    ['/../etc/passwd'],
    ['/a/../..'],
    ['/a/../../b'],
    ['/%2e%2e/etc'],
    ['/%2E%2E/etc'],
    ['/%2E./etc'],
    ['/.%2E/etc'],
    ['/a/%2e%2e/%2e%2e/etc'],
    // control characters and spaces
    ['/a\u0000b'],
    ['/a\rb'],
    ['/a\nb'],
    ['/a\tb'],
    ['/a\u001fb'],
    ['/a\u007fb'],
    ['/a b'],
    ['/a/../b c'],
    // percent-encoded control characters (issue 12: %00 truncates paths in C upstreams)
    ['/a%00b'],
    ['/a%0d%0a'],
    ['/a%0Ab'],
    ['/a%1Fb'],
    ['/a%7fb'],
    // backslash, %5C and %2F hiding a `..` inside one segment
    ['/a/..\\..\\etc'],
    ['/..\\'],
    ['/a\\..'],
    ['/..%5c..%5cwin.ini'],
    ['/..%5C..%5Cwin.ini'],
    ['/x/%2e%2e%5cetc'],
    ['/x/.%2E\\etc'],
    ['/..%2f..%2fetc/passwd'],
    ['/a/%2e%2e%2Fsecret'],
  ])('%j → undefined (400)', (input) => {
    expect(resolveSafePath(input)).toBeUndefined();
  });

  it.each([['/api/users/42/'], ['/v1.2/file.txt'], ['/a..b/c.']])('returns %j itself on the fast path', (path) => {
    expect(resolveSafePath(path)).toBe(path);
  });
});

describe('hasControlChars', () => {
  it.each([
    ['', false],
    ['?a=1&b=2', false],
    ['?a=%0d%0a', false],
    ['?a b', false],
    ['?a=caf\u00e9', false],
    ['?a=\u0000', true],
    ['?a=\r\n', true],
    ['?\t', true],
    ['?\u001f', true],
    ['?\u007f', true],
  ])('%j → %s', (input, expected) => {
    expect(hasControlChars(input)).toBe(expected);
  });
});

describe('resolveTemplatePath', () => {
  it('allows the encoded control characters a template gives request values, with every other check kept', () => {
    expect(resolveTemplatePath('/t/a%0D%0AInjected%3A%201/x')).toBe('/t/a%0D%0AInjected%3A%201/x');
    expect(resolveTemplatePath('/t/%00')).toBe('/t/%00');
    expect(resolveTemplatePath('/t/%2e%2e/x')).toBe('/x');
    expect(resolveTemplatePath('/t/a\r\n')).toBeUndefined();
    expect(resolveTemplatePath('/..')).toBeUndefined();
  });
});
