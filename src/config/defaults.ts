/**
 * Every default of `ProxyConfig`, in one frozen object: the normaliser, the health modules,
 * the balancer and the CLI read their defaults here and nowhere else (the TSDoc `@default`s in
 * types.ts state the same values, and test/unit/config-defaults.test.ts holds the defaults
 * column of docs/options.md to them). Nested options have their keys' defaults nested.
 */
export const DEFAULTS = Object.freeze({
  balancer: 'round_robin',
  xfwd: true,
  trustProxy: false,
  preserveHost: false,
  rewriteLocation: true,
  rewriteCookies: false,
  timeout: 30_000,
  connectTimeout: 10_000,
  /** The longest the upstream may stall either body once the exchange is under way. */
  idleTimeout: 60_000,
  retries: 0,
  retryOn: Object.freeze([] as number[]),
  tryDuration: 0,
  tryInterval: 250,
  maxReplayBody: 1_048_576,
  maxConns: Infinity,
  /** `healthCheck` is off by default; these apply to the keys left out once it is on (all but `path`). */
  healthCheck: Object.freeze({ interval: 10_000, timeout: 5_000, healthyAfter: 1, unhealthyAfter: 1 }),
  /** `passive` is off by default; Caddy's `max_fails: 1`, and 10 s like Caddy's typical `fail_duration`. */
  passive: Object.freeze({ maxFails: 1, failTimeout: 10_000 }),
  contextKey: 'target',
  ws: false,
  /** Whether `https:` upstream connections may negotiate HTTP/2. */
  http2: false,
  pool: Object.freeze({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 4000 }),
  tls: Object.freeze({ verify: true }),
  /** `discover` is off by default; these apply to the keys left out once it is on (Caddy's `refresh` is 1 min; 30 s follows changes sooner). */
  discover: Object.freeze({ scheme: 'http', interval: 30_000 }),
} as const);
