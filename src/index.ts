export { proxy } from './proxy.js';
export { ProxyError } from './errors/proxy-error.js';
export { ConfigError } from './errors/config-error.js';
export { readBody } from './response/read-body.js';
export { cookie, first, headerHash, ipHash, leastConn, random, roundRobin, uriHash } from './balancer/factories.js';
export { expressServerOptions, type ExpressAppPrototypes, type ExpressServerOptions } from './server/express-server-options.js';
export type * from './types.js';
