/**
 * Seeing where an error went: to a custom `errorHandler`, or on to Express's error
 * middleware through `next(err)`.
 */
import express, { type ErrorRequestHandler } from 'express';
import type { ProxyConfig, ProxyError, ProxyMiddleware } from '../../src/index.js';

/** An Express app with `mw` at `/api` and an error middleware recording what reached it (answering 500). */
export function appRecordingErrors(mw: ProxyMiddleware): { app: express.Express; expressErrors: unknown[] } {
  const expressErrors: unknown[] = [];
  const app = express();
  app.use('/api', mw);
  app.use(((err, _req, res, _next) => {
    expressErrors.push(err);
    res.status(500).type('text/plain').send('express-error-middleware');
  }) as ErrorRequestHandler);
  return { app, expressErrors };
}

/** A custom errorHandler that records its calls and answers `err.status` with the code. */
export function recordingHandler(): { calls: ProxyError[]; handler: NonNullable<ProxyConfig['errorHandler']> } {
  const calls: ProxyError[] = [];
  return {
    calls,
    handler: (err, _req, res) => {
      calls.push(err);
      res.statusCode = err.status;
      res.setHeader('content-type', 'text/plain');
      res.end(`custom:${err.code}`);
    },
  };
}
