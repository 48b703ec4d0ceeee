/** Every default of `ProxyConfig`, in one frozen object (the TSDoc in types.ts states the same values). */
export const DEFAULTS = Object.freeze({
  balancer: 'round_robin',
  xfwd: true,
  trustProxy: false,
  preserveHost: false,
  timeout: 30_000,
  connectTimeout: 10_000,
  retries: 0,
  retryOn: Object.freeze([] as number[]),
  tryDuration: 0,
  tryInterval: 250,
  maxReplayBody: 1_048_576,
  maxConns: Infinity,
  contextKey: 'target',
  ws: false,
  pool: Object.freeze({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, keepAliveMsecs: 1000 }),
  tls: Object.freeze({ verify: true }),
} as const);
