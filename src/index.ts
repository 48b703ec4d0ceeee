export { proxy } from './proxy.js';
export { ProxyError } from './errors/proxy-error.js';
export { readBody } from './response/read-body.js';
export { first, random, roundRobin } from './balancer/factories.js';
export type * from './types.js';
