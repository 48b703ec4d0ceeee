import { describe, expect, it } from 'vitest';
import { joinPrefix, normalizePrefix, splitPathQuery } from '../../src/routing/upstream-url.js';

describe('splitPathQuery', () => {
  it.each([
    ['/a', '/a', ''],
    ['/', '/', ''],
    ['/a?x=1', '/a', '?x=1'],
    ['/a?', '/a', '?'],
    ['/a??x', '/a', '??x'],
    ['/a?x=1?y=%2F', '/a', '?x=1?y=%2F'],
    ['/a%3Fb?c', '/a%3Fb', '?c'],
    ['?x', '/', '?x'],
    ['', '/', ''],
    ['/a?q=1#frag', '/a', '?q=1'],
    ['/a#frag?x', '/a', ''],
    ['/a?#', '/a', '?'],
    ['#frag', '/', ''],
  ])('%j → path %j, query %j', (url, path, query) => {
    expect(splitPathQuery(url)).toEqual({ path, query });
  });
});

describe('joinPrefix', () => {
  it.each([
    ['/', '/x', '/x'],
    ['/', '/', '/'],
    ['', '/x', '/x'],
    ['/api', '/users', '/api/users'],
    ['/api/', '/users', '/api/users'],
    ['/api', '/', '/api/'],
    ['/api/', '/', '/api/'],
    ['/api', '/users/', '/api/users/'],
    ['/a/b', '/c%2Fd', '/a/b/c%2Fd'],
  ])('(%j, %j) → %j', (prefix, path, expected) => {
    expect(joinPrefix(prefix, path)).toBe(expected);
  });
});

describe('normalizePrefix', () => {
  it.each([
    ['/', ''],
    ['', ''],
    ['/api', '/api'],
    ['/api/', '/api'],
    ['/a/b/', '/a/b'],
  ])('%j → %j', (pathname, expected) => {
    expect(normalizePrefix(pathname)).toBe(expected);
  });

  it.each([
    ['/', '/x'],
    ['/api', '/users'],
    ['/api/', '/users'],
    ['/api', '/'],
    ['/api/', '/'],
  ])('normalizePrefix(%j) + %j equals joinPrefix', (pathname, path) => {
    expect(normalizePrefix(pathname) + path).toBe(joinPrefix(pathname, path));
  });
});
