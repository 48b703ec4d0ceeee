/**
 * `err instanceof ProxyError` across builds (issue 12): an app that loads switchyard with both
 * `import` (dist/index.js) and `require` (dist/index.cjs), directly or through a dependency,
 * has two ProxyError classes in one process. The check the docs recommend must hold whichever
 * copy made the error. Needs `npm run build` first (the `pretest` script runs it).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as src from '../../src/index.js';
import { sendText } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';

type Api = typeof src;

// A non-literal specifier: typechecking must not depend on dist/ having been built.
const esmBuild = '../../dist/index.js';
const esm = (await import(esmBuild)) as Api;
const cjs = createRequire(import.meta.url)('../../dist/index.cjs') as Api;

const { track } = useCleanup();

const builds: Array<[string, Api]> = [
  ['src', src],
  ['ESM build', esm],
  ['CommonJS build', cjs],
];

describe('ProxyError across builds', () => {
  it('the two builds really are two classes (otherwise this suite proves nothing)', () => {
    expect(esm.ProxyError).not.toBe(cjs.ProxyError);
    expect(Object.getPrototypeOf(new cjs.ProxyError('NO_UPSTREAM', 'x'))).not.toBe(esm.ProxyError.prototype);
  });

  for (const [madeBy, maker] of builds) {
    it.each(builds)(`a ProxyError from the ${madeBy} is instanceof the ProxyError of the %s`, (_, checker) => {
      const err = new maker.ProxyError('UPSTREAM_TIMEOUT', 'slow');
      expect(err instanceof checker.ProxyError).toBe(true);
      expect(err).toBeInstanceOf(Error);
    });
  }

  it('an error the CommonJS build reports passes the ESM check, and the reverse', async () => {
    const dead = await deadTargetUrl();
    for (const [made, checked] of [
      [cjs, esm],
      [esm, cjs],
    ] as const) {
      const seen: unknown[] = [];
      const mw = track(
        made.proxy({
          targets: dead,
          errorHandler: (err, _req, res) => {
            seen.push(err);
            res.statusCode = 502;
            res.end();
          },
        }),
      );
      const server = track(await listen((req, res) => mw(req, res)));
      expect((await sendText(`${server.url}/x`)).status).toBe(502);
      expect(seen).toHaveLength(1);
      expect(seen[0] instanceof checked.ProxyError).toBe(true);
      expect((seen[0] as src.ProxyError).code).toBe('UPSTREAM_UNAVAILABLE');
    }
  });

  it.each(builds)('other values are not ProxyErrors of the %s', (_, api) => {
    const lookalike = Object.assign(new Error('x'), { name: 'ProxyError', code: 'NO_UPSTREAM', status: 503 });
    for (const value of [new Error('x'), lookalike, {}, null, undefined, 'ProxyError', 42]) {
      expect(value instanceof api.ProxyError).toBe(false);
    }
  });

  it('a subclass keeps the ordinary prototype check; its instances are still ProxyErrors everywhere', () => {
    class AppProxyError extends esm.ProxyError {}
    const mine = new AppProxyError('BAD_REQUEST', 'mine');
    expect(mine instanceof AppProxyError).toBe(true);
    expect(new esm.ProxyError('BAD_REQUEST', 'plain') instanceof AppProxyError).toBe(false);
    expect(new cjs.ProxyError('BAD_REQUEST', 'other build') instanceof AppProxyError).toBe(false);
    expect(mine instanceof cjs.ProxyError).toBe(true);
    expect(mine instanceof src.ProxyError).toBe(true);
  });
});
