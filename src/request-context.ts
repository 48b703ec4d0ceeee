import type { ProxiedRequest } from './proxied-request.js';

/**
 * The part of the request on its way that templates, placeholders and header rules read:
 * a narrower view of {@link ProxiedRequest}, so those modules cannot depend on the rest.
 */
export type RequestContext = Pick<ProxiedRequest, 'req' | 'method' | 'path' | 'query' | 'addr' | 'scheme' | 'host' | 'params'>;
