/**
 * The bench columns: each builds one request handler that proxies everything to the origin.
 * All of them keep upstream connections alive, so the comparison is about per-request work.
 */
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Column names in table order; `raw` is the baseline every ratio is taken against. */
export const COLUMNS = ['raw', 'http-proxy-3', 'hpm', 'express-http-proxy', 'switchyard', 'switchyard-full'];

/**
 * Extra columns for the cost breakdown (`--columns raw,express-raw,...`), not run by default:
 * `express-raw` is the raw proxy mounted as an Express 5 middleware, so its distance from
 * `raw` is what Express costs per request; `express-router-raw` runs it behind Express's
 * router alone and `express-proto-raw` behind nothing but Express's two
 * `Object.setPrototypeOf` calls on `req` and `res`, which split that cost between routing
 * and the prototype swap; `switchyard-bare` is switchyard as a bare `http.createServer`
 * handler, without Express.
 */
export const EXTRA_COLUMNS = ['express-raw', 'express-router-raw', 'express-proto-raw', 'switchyard-bare'];

export const COLUMN_LABELS = {
  'express-raw': 'Express 5 + raw node:http handler',
  'express-router-raw': "Express 5's router alone + raw handler",
  'express-proto-raw': "Express 5's req/res prototype swap alone + raw handler",
  'switchyard-bare': 'switchyard as a bare node:http handler',
  raw: 'raw node:http proxy',
  'http-proxy-3': 'http-proxy-3 (bare)',
  hpm: 'Express 5 + http-proxy-middleware',
  'express-http-proxy': 'Express 5 + express-http-proxy',
  switchyard: 'Express 5 + switchyard (defaults)',
  'switchyard-full': 'Express 5 + switchyard (retries, passive, stats)',
};

/** The configuration of the "everything on" switchyard column. */
export const FULL_CONFIG = { retries: 2, passive: { maxFails: 3, failTimeout: 10_000 } };

function keepAliveAgent() {
  return new http.Agent({ keepAlive: true });
}

/** `http.request` + keep-alive `Agent` + `pipe`: the floor any proxy layer is measured against. */
function raw(origin) {
  const agent = keepAliveAgent();
  return (req, res) => {
    const headers = { ...req.headers, host: origin.host };
    delete headers.connection;
    const upstream = http.request(
      { host: origin.hostname, port: origin.port, method: req.method, path: req.url, headers, agent },
      (proxyRes) => {
        res.writeHead(proxyRes.statusCode ?? 502, proxyRes.headers);
        proxyRes.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
}

async function httpProxy3(origin) {
  const { createProxyServer } = await import('http-proxy-3');
  // Without an agent http-proxy-3 sends `Connection: close`; a user who cares passes one.
  const server = createProxyServer({ target: origin.href, agent: keepAliveAgent() });
  server.on('error', (_err, _req, res) => {
    if (res && 'writeHead' in res && !res.headersSent) res.writeHead(502);
    res?.end();
  });
  return (req, res) => server.web(req, res);
}

async function express(mw) {
  const { default: createApp } = await import('express');
  const app = createApp();
  app.use(mw);
  return app;
}

/** Express's router without the app: routing, `req.baseUrl`/`req.next`, no prototype swap. */
async function expressRouter(origin) {
  const { Router } = await import('express');
  const router = Router();
  router.use(raw(origin));
  return (req, res) => router(req, res, () => {
    res.statusCode = 404;
    res.end();
  });
}

/**
 * Only what Express's app does first to every request: swap the prototypes of `req` and
 * `res` for its own. V8 then stops sharing hidden classes for properties added later, so
 * property access on both objects, inside node:http too, gets slower for the whole request.
 */
async function expressProto(origin) {
  const { default: createApp } = await import('express');
  const app = createApp();
  const handler = raw(origin);
  return (req, res) => {
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    handler(req, res);
  };
}

async function hpm(origin) {
  const { createProxyMiddleware } = await import('http-proxy-middleware');
  // Its default agent already keeps connections alive (httpxy's keep-alive agent).
  return express(createProxyMiddleware({ target: origin.href }));
}

async function expressHttpProxy(origin) {
  const { default: proxy } = await import('express-http-proxy');
  const agent = keepAliveAgent();
  // express-http-proxy always sends `Connection: close` and uses no agent: force keep-alive.
  return express(proxy(origin.host, {
    proxyReqOptDecorator(opts) {
      opts.agent = agent;
      opts.headers.connection = 'keep-alive';
      return opts;
    },
  }));
}

/** The bench runner passes a snapshot of dist/ (SWITCHYARD_DIST) so a rebuild mid-run changes nothing. */
async function loadSwitchyard() {
  const dist = process.env.SWITCHYARD_DIST;
  const url = dist ? pathToFileURL(join(dist, 'index.js')) : new URL('../../dist/index.js', import.meta.url);
  return import(url.href);
}

async function switchyard(origin) {
  const { proxy } = await loadSwitchyard();
  return express(proxy({ targets: origin.href }));
}

async function switchyardBare(origin) {
  const { proxy } = await loadSwitchyard();
  const mw = proxy({ targets: origin.href });
  return (req, res) => mw(req, res);
}

/** Retries, passive health and a stats reader: falls back to retries only while `passive` is refused. */
async function switchyardFull(origin, note) {
  const { proxy } = await loadSwitchyard();
  let mw;
  try {
    mw = proxy({ targets: origin.href, ...FULL_CONFIG });
  } catch (err) {
    if (!String(err?.message).includes('not available')) throw err;
    note(`switchyard-full: ${err.message}; measured with { retries: 2 } only`);
    mw = proxy({ targets: origin.href, retries: FULL_CONFIG.retries });
  }
  // Counters are always kept; read them every second like a metrics scraper would.
  setInterval(() => mw.stats(), 1000).unref();
  return express(mw);
}

const FACTORIES = {
  raw,
  'express-raw': (origin) => express(raw(origin)),
  'express-router-raw': expressRouter,
  'express-proto-raw': expressProto,
  'http-proxy-3': httpProxy3,
  hpm,
  'express-http-proxy': expressHttpProxy,
  switchyard,
  'switchyard-bare': switchyardBare,
  'switchyard-full': switchyardFull,
};

/** Builds the request handler of column `name`, proxying to `origin` (a URL). */
export async function createColumn(name, origin, note) {
  const factory = FACTORIES[name];
  if (factory === undefined) throw new Error(`unknown column ${name}; known: ${[...COLUMNS, ...EXTRA_COLUMNS].join(', ')}`);
  return factory(origin, note);
}
