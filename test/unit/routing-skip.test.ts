import type { IncomingMessage } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { compileSkip } from '../../src/routing/skip.js';

const req = { method: 'GET', headers: {} } as unknown as IncomingMessage;

describe('compileSkip', () => {
  it('returns undefined with neither option', () => {
    expect(compileSkip(undefined, undefined)).toBeUndefined();
    expect(compileSkip(undefined, [])).toBeUndefined();
  });

  it.each<[string[], string, boolean]>([
    [['/static'], '/static', true],
    [['/static'], '/static/', true],
    [['/static'], '/static/a/b.css', true],
    [['/static'], '/static?v=1', true],
    [['/static'], '/STATIC/a', true],
    [['/static'], '/statics', false],
    [['/static'], '/static.css', false],
    [['/static'], '/', false],
    [['/static'], '/api/static', false],
    [['/static/'], '/static', true],
    [['/static/'], '/static/a', true],
    [['/static/'], '/statics', false],
    [['/a/b'], '/a/b/c', true],
    [['/a/b'], '/a/bc', false],
    [['/a/b'], '/a', false],
    [['/a.b'], '/aXb', false],
    [['/a.b'], '/a.b/x', true],
    [['/x', '/health'], '/health', true],
    [['/x', '/health'], '/x/1', true],
    [['/x', '/health'], '/y', false],
    [['/'], '/', true],
    [['/'], '/anything/at/all', true],
  ])('except %j, path %j → %s', (except, path, expected) => {
    expect(compileSkip(undefined, except)?.(req, path)).toBe(expected);
  });

  it('calls skip with the request', () => {
    const skip = vi.fn((r: IncomingMessage) => r.method === 'OPTIONS');
    const check = compileSkip(skip, undefined);
    expect(check?.(req, '/a')).toBe(false);
    expect(check?.({ ...req, method: 'OPTIONS' } as IncomingMessage, '/a')).toBe(true);
    expect(skip).toHaveBeenCalledTimes(2);
  });

  it('a synchronous skip gives a plain boolean, never a promise (truthy values coerced)', () => {
    expect(compileSkip(() => true, undefined)?.(req, '/a')).toBe(true);
    expect(compileSkip(() => false, ['/static'])?.(req, '/a')).toBe(false);
    expect(compileSkip(() => 1 as unknown as boolean, undefined)?.(req, '/a')).toBe(true);
  });

  it('an async skip gives a promise of its boolean (issue 12)', async () => {
    const check = compileSkip(async (r) => r.method === 'OPTIONS', ['/static']);
    const no = check?.(req, '/a');
    expect(no).toBeInstanceOf(Promise);
    expect(await no).toBe(false);
    expect(await check?.({ ...req, method: 'OPTIONS' } as IncomingMessage, '/a')).toBe(true);
    // except still answers synchronously, without calling skip.
    expect(check?.(req, '/static/x')).toBe(true);
    await expect(compileSkip(() => Promise.reject(new Error('no')), undefined)?.(req, '/a')).rejects.toThrow('no');
  });

  it('checks except before calling skip', () => {
    const skip = vi.fn(() => false);
    const check = compileSkip(skip, ['/static']);
    expect(check?.(req, '/static/a')).toBe(true);
    expect(skip).not.toHaveBeenCalled();
    expect(check?.(req, '/api')).toBe(false);
    expect(skip).toHaveBeenCalledTimes(1);
  });

  it('lets a throwing skip propagate', () => {
    const boom = new Error('boom');
    const check = compileSkip(() => {
      throw boom;
    }, ['/static']);
    expect(() => check?.(req, '/api')).toThrow(boom);
  });

  it.each<[string, unknown, unknown, RegExp]>([
    ['skip a string', 'yes', undefined, /^switchyard: skip must be a function \(req\) => boolean, got "yes", e\.g\. skip:/],
    ['skip true', true, undefined, /^switchyard: skip must be a function .*got true/],
    ['except a string', undefined, '/static', /^switchyard: except must be an array of path prefixes starting with "\/", got "\/static", e\.g\. \['\/static', '\/health'\]/],
    ['except with a number', undefined, ['/a', 1], /^switchyard: except must be an array .*got 1/],
    ['except without slash', undefined, ['static'], /^switchyard: except must be an array .*got "static"/],
    ['except an object', undefined, { '/a': true }, /^switchyard: except must be an array .*got an object/],
  ])('validation: %s', (_name, skip, except, message) => {
    const call = () => compileSkip(skip as () => boolean, except as string[]);
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
  });
});
