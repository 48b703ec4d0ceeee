/**
 * The bench columns: each builds one request handler that proxies everything to the origin,
 * optionally with the options its server must be created with (`{ handler, serverOptions }`).
 * All of them keep upstream connections alive, so the comparison is about per-request work.
 */
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Column names in table order; `raw` is the baseline every ratio is taken against. */
export const COLUMNS = [
  'raw', 'http-proxy-3', 'hpm', 'express-http-proxy', 'undici-express', 'fastify-reply-from',
  'switchyard', 'switchyard-helper', 'switchyard-bare', 'switchyard-full', 'switchyard-cli',
];

/**
 * The column that is a whole process rather than a handler: the `switchyard` command with
 * its own server ({@link cliColumnCommand}).
 */
export const CLI_COLUMN = 'switchyard-cli';

/**
 * `[script, args, nodeFlags]` that start the `switchyard` command of the dist snapshot
 * `distDir` in front of the origin on `originPort`; `cli-column.mjs` is preloaded to speak
 * column.mjs's IPC protocol.
 */
export function cliColumnCommand(distDir, originPort) {
  return [
    join(distDir, 'cli.js'),
    ['--listen', '127.0.0.1:0', '--target', `http://127.0.0.1:${originPort}`, '--quiet'],
    ['--import', new URL('./cli-column.mjs', import.meta.url).href],
  ];
}

/**
 * Extra columns for the cost breakdown (`--columns raw,express-raw,...`), not run by default:
 * `express-raw` is the raw proxy mounted as an Express 5 middleware, so its distance from
 * `raw` is what Express costs per request; `express-router-raw` runs it behind Express's
 * router alone and `express-proto-raw` behind nothing but Express's two
 * `Object.setPrototypeOf` calls on `req` and `res`, which split that cost between routing
 * and the prototype swap; `express-helper-raw` is `express-raw` on a server created with
 * switchyard's `expressServerOptions(app)`, which makes that swap a no-op. `undici` is the
 * minimal undici proxy with no framework, and `undici-express-helper` the same under
 * Express on a server created with the helper.
 */
export const EXTRA_COLUMNS = ['express-raw', 'express-router-raw', 'express-proto-raw', 'express-helper-raw', 'undici', 'undici-express-helper'];

/** Every column, default and extra, in the order tables list them (`--columns` keeps it). */
export const ALL_COLUMNS = [
  'raw', 'undici', 'express-raw', 'express-router-raw', 'express-proto-raw', 'express-helper-raw',
  'http-proxy-3', 'hpm', 'express-http-proxy', 'undici-express', 'undici-express-helper', 'fastify-reply-from',
  'switchyard', 'switchyard-helper', 'switchyard-bare', 'switchyard-full', 'switchyard-cli',
];

export const COLUMN_LABELS = {
  'express-raw': 'Express 5 + raw node:http handler',
  'express-router-raw': "Express 5's router alone + raw handler",
  'express-proto-raw': "Express 5's req/res prototype swap alone + raw handler",
  'express-helper-raw': 'Express 5 + raw node:http handler (server helper)',
  undici: 'minimal undici proxy, no framework',
  'undici-express-helper': 'Express 5 + minimal undici proxy (server helper)',
  raw: 'raw node:http proxy',
  'http-proxy-3': 'http-proxy-3 (bare)',
  hpm: 'Express 5 + http-proxy-middleware',
  'express-http-proxy': 'Express 5 + express-http-proxy',
  'undici-express': 'Express 5 + minimal undici proxy',
  'fastify-reply-from': 'fastify 5 + @fastify/reply-from',
  switchyard: 'Express 5 + switchyard (defaults)',
  'switchyard-helper': 'Express 5 + switchyard (server helper)',
  'switchyard-bare': 'switchyard as a bare node:http handler',
  'switchyard-full': 'Express 5 + switchyard (retries, passive, stats)',
  'switchyard-cli': 'the switchyard command (its own server, --quiet)',
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

/** Hop-by-hop request headers (RFC 9110 §7.6.1), plus Host, which undici sets from the origin. */
const UNDICI_SKIP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

/**
 * What the minimal undici proxy hands `dispatch`: it writes the answer straight into `res`
 * from undici's callbacks, pausing undici while `res` is full and resuming on `drain`. One
 * object per request; its methods live on the prototype.
 */
class ResponseWriter {
  constructor(res) {
    this.res = res;
    this.controller = null;
    this.resume = null;
  }

  onRequestStart(controller) {
    this.controller = controller;
  }

  onResponseStart(_controller, statusCode, headers) {
    // 1xx answers arrive here too; the final one follows.
    if (statusCode < 200) return;
    // `headers` is a fresh object from undici's parser: ours to trim.
    if (headers.connection !== undefined) delete headers.connection;
    if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
    // node:http frames the body again itself.
    if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
    this.res.writeHead(statusCode, headers);
  }

  onResponseData(controller, chunk) {
    if (this.res.write(chunk)) return;
    controller.pause();
    this.resume ??= () => this.controller.resume();
    this.res.once('drain', this.resume);
  }

  onResponseEnd() {
    this.res.end();
  }

  onResponseError() {
    const { res } = this;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.statusCode = 502;
    res.end();
  }
}

/**
 * The minimal undici proxy: one undici `Pool` for the origin (keep-alive, as every column),
 * `dispatch` per request with the request's own headers minus hop-by-hop ones, the request
 * itself as the body stream when it has one, and a {@link ResponseWriter}. A client that
 * leaves before the answer is complete aborts the upstream request. The reference any
 * proxy on this engine is measured against.
 */
async function undiciProxy(origin) {
  const { Pool } = await import('undici');
  const pool = new Pool(origin.origin);
  return (req, res) => {
    const raw = req.rawHeaders;
    const headers = [];
    let hasBody = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      if (UNDICI_SKIP_REQUEST.has(name)) {
        if (name === 'transfer-encoding') hasBody = true;
        continue;
      }
      if (name === 'content-length' && raw[i + 1] !== '0') hasBody = true;
      headers.push(name, raw[i + 1]);
    }
    const writer = new ResponseWriter(res);
    res.once('close', () => {
      if (!res.writableFinished) writer.controller?.abort(new Error('client closed the connection'));
    });
    pool.dispatch({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, writer);
  };
}

/** fastify 5 + @fastify/reply-from, bodies passed through unparsed (as @fastify/http-proxy sets it up). */
async function fastifyReplyFrom(origin) {
  const { default: Fastify } = await import('fastify');
  const { default: replyFrom } = await import('@fastify/reply-from');
  let handler;
  // serverFactory hands out fastify's request handler; the column's own server runs it.
  const app = Fastify({
    logger: false,
    serverFactory: (h) => {
      handler = h;
      return http.createServer(h);
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  await app.register(replyFrom, { base: origin.origin });
  app.all('/*', (request, reply) => reply.from(request.url));
  await app.ready();
  return handler;
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

/** `app` on a server created with switchyard's `expressServerOptions(app)`. */
async function withServerHelper(app) {
  const { expressServerOptions } = await loadSwitchyard();
  return { handler: app, serverOptions: expressServerOptions(app) };
}

async function switchyardHelper(origin) {
  const { proxy } = await loadSwitchyard();
  return withServerHelper(await express(proxy({ targets: origin.href })));
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
  'express-helper-raw': async (origin) => withServerHelper(await express(raw(origin))),
  undici: undiciProxy,
  'undici-express': async (origin) => express(await undiciProxy(origin)),
  'undici-express-helper': async (origin) => withServerHelper(await express(await undiciProxy(origin))),
  'fastify-reply-from': fastifyReplyFrom,
  'http-proxy-3': httpProxy3,
  hpm,
  'express-http-proxy': expressHttpProxy,
  switchyard,
  'switchyard-helper': switchyardHelper,
  'switchyard-bare': switchyardBare,
  'switchyard-full': switchyardFull,
};

/**
 * Builds column `name`, proxying to `origin` (a URL).
 * @returns {Promise<{handler: Function, serverOptions: object}>} what to pass `http.createServer`
 */
export async function createColumn(name, origin, note) {
  const factory = FACTORIES[name];
  if (factory === undefined) throw new Error(`unknown column ${name}; known: ${ALL_COLUMNS.join(', ')}`);
  const built = await factory(origin, note);
  return typeof built === 'function' ? { handler: built, serverOptions: {} } : built;
}
