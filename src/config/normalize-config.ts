/**
 * The only reader of the user's config: validates every option, applies defaults and
 * compiles rules once, so the per-request path reads plain resolved values.
 */
import { isIP } from 'node:net';
import { trustForwardedProto } from '../balancer/policies/cookie.js';
import { resolveBalancer } from '../balancer/resolve-balancer.js';
import { setTargetDefaults } from '../balancer/balancer.js';
import { compileTrustProxy } from '../headers/forwarded.js';
import { compileHeaderRules, type CompiledHeaderRules } from '../headers/header-rules.js';
import type { HealthCheckSettings } from '../health/active.js';
import { createPassiveHealth, type PassiveHealth } from '../health/passive.js';
import { compileResponseRewrites, type ResponseRewrites } from '../headers/response-rewrite.js';
import type { RequestHeaderPlan } from '../headers/upstream-headers.js';
import { compileRewrite, type RewritePath } from '../routing/rewrite.js';
import { compileSkip, type SkipCheck } from '../routing/skip.js';
import { compileTemplate, type CompiledTemplate } from '../routing/template.js';
import type {
  Balancer,
  DispatcherLike,
  ErrorHandler,
  ModifyResponse,
  OnRequest,
  PoolOptions,
  ProxyConfig,
  ProxyTarget,
  RetryFilter,
  TargetInput,
  TlsOptions,
} from '../types.js';
import { DEFAULTS } from './defaults.js';
import { foreignOptionError } from './foreign-options.js';
import { checkTlsMaterial, type TlsMaterial } from './tls-material.js';
import { resolveDiscover, type DiscoverSettings } from './discover-option.js';
import {
  booleanOption,
  configError,
  describeValue,
  functionOption,
  isPlainObject,
  numberOption,
  objectOption,
  rejectUnknownKeys,
  statusListOption,
} from './validate.js';

/** Pool settings with every default applied. */
export type ResolvedPool = Readonly<Required<PoolOptions>>;

/** TLS settings with `verify` resolved. */
export interface ResolvedTls extends Readonly<Omit<TlsOptions, 'verify'>> {
  readonly verify: boolean;
}

/** Everything the middleware needs, validated, defaulted and compiled. */
export interface ResolvedConfig {
  readonly balancer: Balancer;
  readonly template: CompiledTemplate | undefined;
  readonly rewrite: RewritePath | undefined;
  readonly skip: SkipCheck | undefined;
  readonly headerPlan: RequestHeaderPlan;
  readonly responseRules: CompiledHeaderRules | undefined;
  readonly preserveHost: boolean;
  /** `rewriteLocation` / `rewriteCookies`, compiled; `undefined` when both are off. */
  readonly responseRewrites: ResponseRewrites | undefined;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly idleTimeout: number;
  readonly retries: number;
  readonly retryFilter: RetryFilter | undefined;
  readonly retryOn: ReadonlySet<number>;
  readonly tryDuration: number;
  readonly tryInterval: number;
  readonly maxReplayBody: number;
  /** `maxReplayBody` when a retry can happen at all (retries or tryDuration), else 0: nothing is recorded. */
  readonly replayLimit: number;
  readonly expectedStatus: ReadonlySet<number> | undefined;
  readonly maxConns: number;
  /** Active health check settings; `undefined` when off (`proxy()` starts the checker). */
  readonly healthCheck: HealthCheckSettings | undefined;
  /**
   * The passive tracker, created here like the balancer (it holds no timer until a failure);
   * `undefined` when off. `close()` of the middleware closes it.
   */
  readonly passive: PassiveHealth | undefined;
  readonly onRequest: OnRequest | undefined;
  readonly errorHandler: ErrorHandler | undefined;
  readonly modifyResponse: ModifyResponse | undefined;
  readonly contextKey: string;
  readonly pool: ResolvedPool;
  readonly dispatcher: DispatcherLike | undefined;
  readonly http2: boolean;
  readonly tls: ResolvedTls;
  readonly ws: boolean;
  /** DNS discovery settings; `undefined` when off (`proxy()` starts the lookups). */
  readonly discover: DiscoverSettings | undefined;
}

/** Every option `proxy()` accepts. */
export const KNOWN_OPTIONS: readonly (keyof ProxyConfig)[] = [
  'targets', 'balancer', 'to', 'rewrite', 'regexRewrite', 'skip', 'except',
  'headers', 'responseHeaders', 'xfwd', 'trustProxy', 'preserveHost',
  'rewriteLocation', 'rewriteCookies',
  'timeout', 'connectTimeout', 'idleTimeout', 'retries', 'retryFilter', 'retryOn', 'tryDuration', 'tryInterval',
  'maxReplayBody', 'expectedStatus', 'healthCheck', 'passive', 'maxConns',
  'onRequest', 'errorHandler', 'modifyResponse', 'contextKey', 'pool', 'dispatcher', 'http2', 'tls', 'ws',
  'discover',
];

function resolvePool(value: unknown): ResolvedPool {
  const pool = objectOption('pool', value, '{ keepAlive: true, maxSockets: 64 }');
  if (pool === undefined) return DEFAULTS.pool;
  if (pool['maxFreeSockets'] !== undefined) {
    throw configError('pool.maxFreeSockets', 'was removed in 0.2 (undici keeps idle connections up to maxSockets and closes them after keepAliveMsecs)', 'pool: { maxSockets: 64, keepAliveMsecs: 4000 }');
  }
  rejectUnknownKeys('pool', pool, ['keepAlive', 'maxSockets', 'keepAliveMsecs']);
  return Object.freeze({
    keepAlive: booleanOption('pool.keepAlive', pool['keepAlive'], DEFAULTS.pool.keepAlive),
    maxSockets: numberOption('pool.maxSockets', pool['maxSockets'], DEFAULTS.pool.maxSockets, {
      min: 1, integer: true, allowInfinity: true, example: 'pool: { maxSockets: 64 }',
    }),
    keepAliveMsecs: numberOption('pool.keepAliveMsecs', pool['keepAliveMsecs'], DEFAULTS.pool.keepAliveMsecs, {
      min: 1, integer: true, example: 'pool: { keepAliveMsecs: 4000 }',
    }),
  });
}

function isPem(value: unknown): boolean {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

function resolveTls(value: unknown): ResolvedTls {
  const tls = objectOption('tls', value, '{ verify: false }');
  if (tls === undefined) return DEFAULTS.tls;
  rejectUnknownKeys('tls', tls, ['verify', 'servername', 'ca', 'cert', 'key']);
  const { servername, ca, cert, key } = tls;
  if (servername !== undefined && servername !== false && (typeof servername !== 'string' || servername === '')) {
    throw configError('tls.servername', `must be a host name or false, got ${describeValue(servername)}`, "'api.internal'");
  }
  if (typeof servername === 'string' && isIP(servername) !== 0) {
    throw configError('tls.servername', `must be a host name, not an IP address (RFC 6066 forbids IPs in SNI), got ${servername}`, 'false');
  }
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem))) {
    throw configError('tls.ca', 'must be a PEM string, a Buffer or an array of them', 'fs.readFileSync("ca.pem")');
  }
  for (const [name, v] of [['cert', cert], ['key', key]] as const) {
    if (v !== undefined && !isPem(v)) throw configError(`tls.${name}`, 'must be a PEM string or a Buffer');
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw configError('tls', 'needs both cert and key for mutual TLS, or neither');
  }
  checkTlsMaterial(tls as TlsMaterial);
  return Object.freeze({ ...(tls as TlsOptions), verify: booleanOption('tls.verify', tls['verify'], DEFAULTS.tls.verify) });
}

function resolveDispatcher(value: unknown): DispatcherLike | undefined {
  if (value === undefined) return undefined;
  const ok = typeof value === 'object' && value !== null && typeof (value as { dispatch?: unknown }).dispatch === 'function';
  if (!ok) throw configError('dispatcher', `must be an undici Dispatcher, got ${describeValue(value)}`, "new Agent({ connect: { rejectUnauthorized: false } }) from 'undici'");
  return value as DispatcherLike;
}

/** 0.1's `agent` (a node:http Agent) has no meaning on undici: say what replaced it. */
function rejectAgent(config: object): void {
  if (!('agent' in config)) return;
  throw configError(
    'agent',
    'was replaced by dispatcher in 0.2: switchyard sends through undici; use pool for connection limits, tls for certificates, or pass an undici Dispatcher',
    "dispatcher: new Agent({ connections: 64 }) from 'undici'",
  );
}

function resolveContextKey(value: unknown): string {
  if (value === undefined) return DEFAULTS.contextKey;
  if (typeof value !== 'string' || value === '') {
    throw configError('contextKey', `must be a non-empty string, got ${describeValue(value)}`, "'upstream'");
  }
  return value;
}

function resolveTemplate(value: unknown): CompiledTemplate | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw configError('to', `must be a string, got ${describeValue(value)}`, "'/v2{path}{query}'");
  return compileTemplate(value);
}

/**
 * `to` with an origin and no targets: the origin is the one target. With targets, origins must agree.
 * With `discover`, targets may be left out (the balancer starts empty) and `to` cannot name an origin.
 */
function resolveTargets(
  config: ProxyConfig,
  template: CompiledTemplate | undefined,
  discover: DiscoverSettings | undefined,
): TargetInput | TargetInput[] | undefined {
  const origin = template?.origin;
  if (discover !== undefined) {
    if (origin !== undefined) {
      throw configError('to', `has origin ${origin}, but discover finds the targets; give a path template`, "to: '/v2{path}{query}'");
    }
    const instance = typeof config.balancer === 'object' && config.balancer !== null && 'next' in config.balancer;
    return config.targets ?? (instance ? undefined : []);
  }
  if (origin === undefined) return config.targets;
  if (config.targets === undefined) return config.balancer !== undefined && typeof config.balancer === 'object' && 'next' in config.balancer ? undefined : [origin];
  const list = Array.isArray(config.targets) ? config.targets : [config.targets];
  for (const t of list) {
    const raw = typeof t === 'string' || t instanceof URL ? t : t?.url;
    const targetOrigin = URL.canParse(String(raw)) ? new URL(String(raw)).origin : undefined;
    if (targetOrigin !== undefined && targetOrigin !== origin) {
      throw configError(
        'to',
        `has origin ${origin} but target ${targetOrigin} differs; with targets, give a path template`,
        "to: '/v2{path}{query}'",
      );
    }
  }
  return config.targets;
}

function resolveMaxConns(value: unknown): number {
  return numberOption('maxConns', value, DEFAULTS.maxConns, { min: 1, integer: true, allowInfinity: true, example: 'maxConns: 100' });
}

const HEALTH_KEYS = ['path', 'interval', 'timeout', 'port', 'expectStatus', 'healthyAfter', 'unhealthyAfter'];

function resolveHealthCheck(value: unknown): HealthCheckSettings | undefined {
  const hc = objectOption('healthCheck', value, "{ path: '/health', interval: 10000 }");
  if (hc === undefined) return undefined;
  rejectUnknownKeys('healthCheck', hc, HEALTH_KEYS);
  const path = hc['path'];
  // Sent as the request line as is: anything Node would refuse or reinterpret is refused here.
  if (typeof path !== 'string' || !/^\/[^\s#\x00-\x1f\x7f]*$/.test(path)) {
    throw configError('healthCheck.path', `must be a path starting with /, got ${describeValue(path)}`, "healthCheck: { path: '/health' }");
  }
  const port = hc['port'];
  if (port !== undefined && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw configError('healthCheck.port', `must be an integer from 1 to 65535, got ${describeValue(port)}`, "healthCheck: { path: '/health', port: 9000 }");
  }
  const expectStatus = statusListOption('healthCheck.expectStatus', hc['expectStatus'], "healthCheck: { path: '/health', expectStatus: [200, 204] }");
  if (expectStatus?.size === 0) {
    throw configError('healthCheck.expectStatus', 'must list at least one status', "healthCheck: { path: '/health', expectStatus: [200] }");
  }
  const d = DEFAULTS.healthCheck;
  const count = (name: string, fallback: number): number =>
    numberOption(`healthCheck.${name}`, hc[name], fallback, {
      min: 1, integer: true, example: `healthCheck: { path: '/health', ${name}: ${fallback === 1 ? 2 : fallback} }`,
    });
  return Object.freeze({
    path,
    interval: count('interval', d.interval),
    timeout: count('timeout', d.timeout),
    port: port as number | undefined,
    expectStatus,
    healthyAfter: count('healthyAfter', d.healthyAfter),
    unhealthyAfter: count('unhealthyAfter', d.unhealthyAfter),
  });
}

function resolvePassive(value: unknown): PassiveHealth | undefined {
  const passive = objectOption('passive', value, '{ maxFails: 3, failTimeout: 10000 }');
  if (passive === undefined) return undefined;
  rejectUnknownKeys('passive', passive, ['maxFails', 'failTimeout']);
  return createPassiveHealth({
    maxFails: numberOption('passive.maxFails', passive['maxFails'], DEFAULTS.passive.maxFails, {
      min: 1, integer: true, example: 'passive: { maxFails: 3 }',
    }),
    failTimeout: numberOption('passive.failTimeout', passive['failTimeout'], DEFAULTS.passive.failTimeout, {
      min: 1, integer: true, example: 'passive: { failTimeout: 10000 }',
    }),
  });
}

function resolveBalancerOption(config: ProxyConfig, targets: TargetInput | TargetInput[] | undefined): Balancer {
  const balancer = resolveBalancer(config.balancer, targets);
  if (config.maxConns !== undefined) setTargetDefaults(balancer, { maxConns: resolveMaxConns(config.maxConns) });
  return balancer;
}

/** Retry limits, and the replay limit they imply: no body is recorded when nothing can retry. */
function resolveRetrying(config: ProxyConfig): { retries: number; tryDuration: number; maxReplayBody: number; replayLimit: number } {
  const retries = numberOption('retries', config.retries, DEFAULTS.retries, { integer: true, example: 'retries: 2' });
  const tryDuration = numberOption('tryDuration', config.tryDuration, DEFAULTS.tryDuration, { example: 'tryDuration: 5000' });
  const maxReplayBody = numberOption('maxReplayBody', config.maxReplayBody, DEFAULTS.maxReplayBody, {
    integer: true, example: 'maxReplayBody: 1048576',
  });
  return { retries, tryDuration, maxReplayBody, replayLimit: retries > 0 || tryDuration > 0 ? maxReplayBody : 0 };
}

/**
 * Unix-socket targets are dialled by the middleware's own pools (transport/pools.ts); a user's
 * `dispatcher` would be handed an origin that stands for the socket and fail every request.
 */
function rejectSocketTargets(targets: readonly ProxyTarget[]): void {
  if (!Array.isArray(targets)) return;
  const i = targets.findIndex((t) => t.socketPath !== undefined);
  if (i === -1) return;
  throw configError(
    `targets[${i}].socketPath`,
    'cannot be used with the dispatcher option: socket targets are connected by the middleware\'s own pools',
    "an undici Agent with connect: { socketPath: '/run/app.sock' } as the dispatcher, and a plain { url } target",
  );
}

/**
 * Validates `config` and returns the resolved form.
 * @throws ConfigError naming the option at fault (`switchyard: <option> <problem>, e.g. …`).
 */
export function normalizeConfig(config: ProxyConfig): ResolvedConfig {
  const raw: unknown = config;
  if (!isPlainObject(raw)) {
    throw configError('proxy() config', `must be an object, got ${describeValue(raw)}`, "proxy({ targets: 'http://127.0.0.1:3001' })");
  }
  rejectAgent(raw);
  rejectUnknownKeys('', raw, KNOWN_OPTIONS, foreignOptionError);
  const template = resolveTemplate(config.to);
  const discover = resolveDiscover(config.discover);
  const balancer = resolveBalancerOption(config, resolveTargets(config, template, discover));
  const isTrusted = compileTrustProxy(config.trustProxy === undefined ? DEFAULTS.trustProxy : config.trustProxy);
  const timeouts = { min: 1, integer: true, example: '' };
  const retrying = resolveRetrying(config);
  const resolved: ResolvedConfig = Object.freeze({
    ...retrying,
    balancer,
    template,
    rewrite: compileRewrite(config.rewrite, config.regexRewrite),
    skip: compileSkip(config.skip, config.except),
    headerPlan: Object.freeze({
      xfwd: booleanOption('xfwd', config.xfwd, DEFAULTS.xfwd),
      isTrusted,
      rules: compileHeaderRules(config.headers, 'headers'),
    }),
    responseRules: compileHeaderRules(config.responseHeaders, 'responseHeaders'),
    preserveHost: booleanOption('preserveHost', config.preserveHost, DEFAULTS.preserveHost),
    responseRewrites: compileResponseRewrites(
      booleanOption('rewriteLocation', config.rewriteLocation, DEFAULTS.rewriteLocation),
      config.rewriteCookies ?? DEFAULTS.rewriteCookies,
    ),
    timeout: numberOption('timeout', config.timeout, DEFAULTS.timeout, { ...timeouts, example: 'timeout: 30000' }),
    connectTimeout: numberOption('connectTimeout', config.connectTimeout, DEFAULTS.connectTimeout, {
      ...timeouts, example: 'connectTimeout: 10000',
    }),
    idleTimeout: numberOption('idleTimeout', config.idleTimeout, DEFAULTS.idleTimeout, { ...timeouts, example: 'idleTimeout: 60000' }),
    retryFilter: functionOption<RetryFilter>('retryFilter', config.retryFilter, "(err, req) => err.code === 'UPSTREAM_UNAVAILABLE'"),
    retryOn: statusListOption('retryOn', config.retryOn, 'retryOn: [502, 503]') ?? new Set(DEFAULTS.retryOn),
    tryInterval: numberOption('tryInterval', config.tryInterval, DEFAULTS.tryInterval, { example: 'tryInterval: 250' }),
    expectedStatus: statusListOption('expectedStatus', config.expectedStatus, 'expectedStatus: [200, 204]'),
    maxConns: resolveMaxConns(config.maxConns),
    healthCheck: resolveHealthCheck(config.healthCheck),
    passive: resolvePassive(config.passive),
    onRequest: functionOption<OnRequest>('onRequest', config.onRequest, "(upstream) => { upstream.headers['x-user'] = 'me'; }"),
    errorHandler: functionOption<ErrorHandler>('errorHandler', config.errorHandler, '(err, req, res, next) => next(err)'),
    modifyResponse: functionOption<ModifyResponse>('modifyResponse', config.modifyResponse, '(proxyRes) => { proxyRes.headers["x-a"] = "1"; }'),
    contextKey: resolveContextKey(config.contextKey),
    pool: resolvePool(config.pool),
    dispatcher: resolveDispatcher(config.dispatcher),
    http2: booleanOption('http2', config.http2, DEFAULTS.http2),
    tls: resolveTls(config.tls),
    ws: booleanOption('ws', config.ws, DEFAULTS.ws),
    discover,
  });
  if (resolved.dispatcher !== undefined) rejectSocketTargets(balancer.targets);
  // Only once the whole config is valid: a user's balancer instance is not touched by a
  // proxy() call that throws.
  trustForwardedProto(balancer, isTrusted);
  return resolved;
}
