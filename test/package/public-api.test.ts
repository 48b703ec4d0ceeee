// Pins the public API. The type assertions (expectTypeOf) are checked by `npm run typecheck`
// (tsc over test/, run in CI); the runtime assertions pin the exported values, in src and in
// both builds. Changing anything here is an API change: say so in CHANGELOG.md.
import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex, Readable } from 'node:stream';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as api from '../../src/index.js';
import {
  cookie,
  expressServerOptions,
  first,
  headerHash,
  ipHash,
  leastConn,
  proxy,
  ProxyError,
  random,
  readBody,
  roundRobin,
  uriHash,
  type Balancer,
  type BalancerOption,
  type BalancerPolicyName,
  type BodyLike,
  type UpstreamResponse,
  type CookiePolicy,
  type ErrorHandler,
  type ExpressAppPrototypes,
  type ExpressServerOptions,
  type DiscoverOptions,
  type HealthCheckOptions,
  type ModifyResponse,
  type NextFunction,
  type ProxyConfig,
  type ProxyErrorCode,
  type ProxyMiddleware,
  type ProxyTarget,
  type RetryFilter,
  type TargetInput,
  type TargetStats,
} from '../../src/index.js';

const EXPORTED_VALUES = [
  'ConfigError', 'ProxyError', 'cookie', 'expressServerOptions', 'first', 'headerHash', 'ipHash', 'leastConn', 'proxy', 'random', 'readBody', 'roundRobin', 'uriHash',
];

// --- an `any` detector -------------------------------------------------------------------
type IsAny<T> = 0 extends 1 & T ? true : false;
/** Node and platform types are not ours to check (their own typings use `any` in places). */
type Leaf = IncomingMessage | ServerResponse | Duplex | Readable | Agent | URL | Buffer | Uint8Array | RegExp | Error;
type Prev = [never, 0, 1, 2, 3, 4, 5, 6];
type ParamPaths<A extends readonly unknown[], D extends number> = {
  [I in keyof A]-?: `(${I & string})${AnyPaths<A[I], D>}`;
}[number];
/** The paths (`.a(0).b`) at which `T` holds `any`, walking members, parameters and returns; `never` when none. */
type AnyPaths<T, D extends number = 6> = [D] extends [never]
  ? never
  : IsAny<T> extends true
    ? ''
    : T extends Leaf
      ? T extends ProxyError
        ? MemberPaths<Omit<T, keyof Error>, Prev[D]>
        : never
      : T extends PromiseLike<infer U>
        ? `<then>${AnyPaths<U, Prev[D]>}`
        : T extends ReadonlySet<infer U> // lib.d.ts's own methods take `any` (forEach's thisArg)
          ? `<set>${AnyPaths<U, Prev[D]>}`
          : T extends abstract new (...args: infer A) => infer R // a class: its constructor and instances, not Error's statics
            ? ParamPaths<A, Prev[D]> | `new=>${AnyPaths<R, Prev[D]>}`
            :
            | (T extends (...args: infer A) => infer R ? ParamPaths<A, Prev[D]> | `=>${AnyPaths<R, Prev[D]>}` : never)
            | (T extends readonly (infer E)[] ? `[]${AnyPaths<E, Prev[D]>}` : T extends object ? MemberPaths<T, Prev[D]> : never);
type MemberPaths<T, D extends number> = { [K in keyof T]-?: K extends string ? `.${K}${AnyPaths<T[K], D>}` : never }[keyof T];

describe('public API', () => {
  it('exports exactly the values of the contract, from src and from both builds', async () => {
    expect(Object.keys(api).sort()).toEqual(EXPORTED_VALUES);
    // A non-literal specifier: typechecking must not depend on dist/ having been built.
    const esmBuild = '../../dist/index.js';
    expect(Object.keys((await import(esmBuild)) as Record<string, unknown>).sort()).toEqual(EXPORTED_VALUES);
    const cjs = createRequire(import.meta.url)('../../dist/index.cjs') as Record<string, unknown>;
    expect(Object.keys(cjs).sort()).toEqual(EXPORTED_VALUES);
    for (const name of EXPORTED_VALUES) expect(typeof cjs[name]).toBe('function');
  });

  it('a ConfigError from one build is an instanceof ConfigError of the other (Symbol.for brand)', async () => {
    type Build = { proxy: (config: unknown) => unknown; ConfigError: new (...args: never[]) => Error };
    const esmBuild = '../../dist/index.js';
    const esm = (await import(esmBuild)) as Build;
    const cjs = createRequire(import.meta.url)('../../dist/index.cjs') as Build;
    expect(esm.ConfigError).not.toBe(cjs.ConfigError);
    for (const [from, check] of [[esm, cjs], [cjs, esm], [esm, api]] as const) {
      let thrown: unknown;
      try {
        from.proxy({ targets: 'http://127.0.0.1:3001', timeout: 0 });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(check.ConfigError);
      expect(thrown).toBeInstanceOf(TypeError);
    }
    expect(new TypeError('switchyard: x')).not.toBeInstanceOf(cjs.ConfigError);
  });

  it('the any detector finds what it should (so `never` below means something)', () => {
    // Checked by tsc: a detector that always said `never` would fail here.
    type Leaky = {
      a: { b: any };
      f(x: any): void;
      g(): Promise<any>;
      list: any[];
      s: ReadonlySet<any>;
      o(x: string, y?: any): void;
      ok: string;
    };
    expectTypeOf<AnyPaths<Leaky>>().toEqualTypeOf<'.a.b' | '.f(0)' | '.g=><then>' | '.list[]' | '.s<set>' | '.o(1)'>();
    expect(true).toBe(true);
  });

  it('has no `any` in its public types', () => {
    expectTypeOf<AnyPaths<ProxyConfig>>().toEqualTypeOf<never>();
    expectTypeOf<AnyPaths<ProxyMiddleware>>().toEqualTypeOf<never>();
    expectTypeOf<AnyPaths<Balancer>>().toEqualTypeOf<never>();
    expectTypeOf<AnyPaths<ProxyTarget>>().toEqualTypeOf<never>();
    expectTypeOf<AnyPaths<TargetStats>>().toEqualTypeOf<never>();
    expectTypeOf<AnyPaths<ProxyError>>().toEqualTypeOf<never>();
    expectTypeOf<AnyPaths<typeof api>>().toEqualTypeOf<never>();
    expect(new ProxyError('BAD_REQUEST', 'x').status).toBe(400);
  });

  it('pins the function signatures', () => {
    expectTypeOf(proxy<IncomingMessage, ServerResponse>).toEqualTypeOf<(config: ProxyConfig) => ProxyMiddleware>();
    expectTypeOf(proxy).parameters.toEqualTypeOf<[config: ProxyConfig]>();
    expectTypeOf(proxy).returns.toEqualTypeOf<ProxyMiddleware>();
    for (const factory of [roundRobin, random, first, leastConn, ipHash, uriHash]) {
      expectTypeOf(factory).toEqualTypeOf<(targets: readonly TargetInput[]) => Balancer>();
    }
    expectTypeOf(headerHash).toEqualTypeOf<(name: string, targets: readonly TargetInput[]) => Balancer>();
    expectTypeOf(cookie).parameters.toEqualTypeOf<[name: string, targets: readonly TargetInput[], opts?: Pick<CookiePolicy, 'secret'>]>();
    expectTypeOf(cookie).returns.toEqualTypeOf<Balancer>();
    expectTypeOf(readBody).returns.toEqualTypeOf<Promise<Buffer>>();
    expectTypeOf(readBody).toBeCallableWith({} as IncomingMessage);
    expectTypeOf(expressServerOptions).toEqualTypeOf<(app: ExpressAppPrototypes) => ExpressServerOptions>();
    expectTypeOf<ExpressServerOptions>().toEqualTypeOf<{
      readonly IncomingMessage: typeof IncomingMessage;
      readonly ServerResponse: typeof ServerResponse;
    }>();
    expect(typeof proxy).toBe('function');
  });

  it('pins ProxyError, the codes and the policy names', () => {
    expectTypeOf<ProxyErrorCode>().toEqualTypeOf<
      'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT' | 'NO_UPSTREAM' | 'UNEXPECTED_STATUS' | 'RESPONSE_HOOK_FAILED' | 'BAD_REQUEST' | 'CLIENT_TIMEOUT'
    >();
    expectTypeOf<ProxyError>().toMatchTypeOf<Error>();
    expectTypeOf<ProxyError['code']>().toEqualTypeOf<ProxyErrorCode>();
    // Every field is readonly: an error handler reads an error, it does not rewrite it.
    type OwnFields = Pick<ProxyError, 'code' | 'status' | 'target' | 'attempts' | 'connected'>;
    expectTypeOf<OwnFields>().toEqualTypeOf<Readonly<OwnFields>>();
    expectTypeOf<ProxyError['status']>().toEqualTypeOf<number>();
    expectTypeOf<ProxyError['attempts']>().toEqualTypeOf<number>();
    expectTypeOf<ProxyError['connected']>().toEqualTypeOf<boolean>();
    expectTypeOf<ProxyError['target']>().toEqualTypeOf<ProxyTarget | undefined>();
    expectTypeOf<BalancerPolicyName>().toEqualTypeOf<'round_robin' | 'random' | 'first' | 'least_conn' | 'ip_hash' | 'uri_hash'>();
    expectTypeOf<BalancerOption>().toEqualTypeOf<BalancerPolicyName | { header: string } | CookiePolicy | Balancer>();
    expect(new ProxyError('NO_UPSTREAM', 'x')).toBeInstanceOf(Error);
  });

  it('pins the option names and the hook signatures', () => {
    expectTypeOf<keyof ProxyConfig>().toEqualTypeOf<
      | 'targets' | 'balancer' | 'to' | 'rewrite' | 'regexRewrite' | 'skip' | 'except'
      | 'headers' | 'responseHeaders' | 'xfwd' | 'trustProxy' | 'preserveHost'
      | 'rewriteLocation' | 'rewriteCookies'
      | 'timeout' | 'connectTimeout' | 'idleTimeout' | 'retries' | 'retryFilter' | 'retryOn' | 'tryDuration' | 'tryInterval'
      | 'maxReplayBody' | 'expectedStatus' | 'healthCheck' | 'passive' | 'maxConns'
      | 'onRequest' | 'errorHandler' | 'modifyResponse' | 'contextKey' | 'pool' | 'dispatcher' | 'http2' | 'tls' | 'ws'
      | 'discover'
    >();
    expectTypeOf<keyof DiscoverOptions>().toEqualTypeOf<'dns' | 'type' | 'port' | 'scheme' | 'interval' | 'servers'>();
    expectTypeOf<keyof HealthCheckOptions>().toEqualTypeOf<
      'path' | 'interval' | 'timeout' | 'port' | 'expectStatus' | 'healthyAfter' | 'unhealthyAfter'
    >();
    expectTypeOf<ModifyResponse>().toEqualTypeOf<
      (proxyRes: UpstreamResponse, req: IncomingMessage, res: ServerResponse) => void | BodyLike | Promise<void | BodyLike>
    >();
    expectTypeOf<ErrorHandler>().toEqualTypeOf<
      (err: ProxyError, req: IncomingMessage, res: ServerResponse, next: NextFunction) => void | Promise<void>
    >();
    expectTypeOf<RetryFilter>().toEqualTypeOf<(err: ProxyError, req: IncomingMessage) => boolean>();
    expectTypeOf<TargetStats>().toEqualTypeOf<{
      readonly name: string;
      readonly url: string;
      readonly healthy: boolean;
      readonly active: number;
      readonly requests: number;
      readonly failures: number;
      readonly statuses: Readonly<Record<number, number>>;
    }>();
    expectTypeOf<ProxyMiddleware>().toBeCallableWith({} as IncomingMessage, {} as ServerResponse);
    expectTypeOf<ProxyMiddleware['close']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<ProxyMiddleware['stats']>().returns.toEqualTypeOf<TargetStats[]>();
    expectTypeOf<ProxyMiddleware['upgrade']>().parameters.toEqualTypeOf<[req: IncomingMessage, socket: Duplex, head: Buffer]>();
    expectTypeOf<Balancer['next']>().returns.toEqualTypeOf<ProxyTarget | undefined>();
    expectTypeOf<ProxyTarget>().toEqualTypeOf<{
      readonly url: URL;
      readonly name: string;
      readonly weight: number;
      readonly meta: Record<string, unknown>;
      readonly healthy: boolean;
      readonly active: number;
      readonly socketPath?: string | undefined;
    }>();
    expectTypeOf<ProxyTarget['url']>().not.toBeAny();
    // A wrong option type is a compile error, not `any` slipping through.
    // @ts-expect-error retries is a number
    const bad: ProxyConfig = { retries: '2' };
    expect(bad.retries).toBe('2');
  });
});
