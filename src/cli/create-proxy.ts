/** `proxy()` for the CLI: config errors become CLI errors, and failures are noted for the request log. */
import { defaultErrorHandler } from '../errors/default-error-handler.js';
import { proxy } from '../proxy.js';
import type { ErrorHandler, ProxyConfig, ProxyMiddleware } from '../types.js';
import { CliError, isConfigError } from './cli-error.js';
import { traces } from './request-log.js';

/**
 * The config's `errorHandler` (or the built-in one), after noting the error on the request's
 * trace, so its log line can say why it failed.
 */
function tracingErrorHandler(handler: ErrorHandler | undefined): ErrorHandler {
  return (err, req, res, next) => {
    const trace = traces.get(req);
    if (trace !== undefined) trace.error = err;
    if (handler === undefined) return defaultErrorHandler(err, req, res);
    return handler(err, req, res, next);
  };
}

/**
 * `proxy(config)`, with its config errors turned into CLI errors (exit code 2).
 * @param opts.trace wrap the error handler so request lines carry the error (the summary's probe does not need it).
 * @throws CliError when `proxy()` refuses the config.
 */
export function createProxy(config: ProxyConfig, source: string | undefined, opts: { trace?: boolean } = {}): ProxyMiddleware {
  try {
    // A non-function errorHandler is left for proxy() to refuse with its own message.
    const traced = opts.trace === true && (config.errorHandler === undefined || typeof config.errorHandler === 'function');
    return proxy(traced ? { ...config, errorHandler: tracingErrorHandler(config.errorHandler) } : config);
  } catch (err) {
    if (!isConfigError(err)) throw err;
    throw new CliError(source === undefined ? err.message : `${err.message} (in ${source})`);
  }
}
