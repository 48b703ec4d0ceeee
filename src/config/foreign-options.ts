/**
 * Options of http-proxy-middleware (HPM) and express-http-proxy (EHP) that switchyard does
 * not have, and what to use instead (issue 13: people moving an app over pass their old
 * options, and "did you mean" cannot guess `changeOrigin` → nothing, `pathRewrite` →
 * `regexRewrite`). Consulted only once a key is already known to be unknown, so a valid
 * config never reads this table. The mappings are those of docs/migrating-from-*.md; when an
 * option gains a switchyard equivalent (onRequest, say), change
 * its `use` text here and its row in the guide.
 *
 * Options with the same name and meaning in switchyard (`headers`, `xfwd`, `ws`, `timeout`)
 * are not listed: they are known options and never reach this table.
 */
import { ConfigError } from '../errors/config-error.js';

type Library = 'hpm' | 'ehp' | 'http-proxy';

interface ForeignOption {
  readonly from: Library;
  /** What to do instead, as a clause after `use` / a full sentence: it ends the problem text. */
  readonly use: string;
  /** A switchyard option that does the job, when there is one. */
  readonly example?: string;
}

const LIBRARY: Readonly<Record<Library, string>> = {
  hpm: 'an http-proxy-middleware option',
  ehp: 'an express-http-proxy option',
  // Options of http-proxy (and HPM, which passes them on) and of Node's https.request.
  'http-proxy': 'an http-proxy / https.request option',
};

const HPM_GUIDE = 'docs/migrating-from-http-proxy-middleware.md';
const EHP_GUIDE = 'docs/migrating-from-express-http-proxy.md';

const HEADERS = `use headers, whose values may be functions of the request, or onRequest to change the upstream method, path and headers (${HPM_GUIDE})`;
const RESPONSE_HOOK = 'use modifyResponse, which may change status and headers and return a new body (read the old one with readBody)';
const LOCATION = "leave it out: rewriteLocation (on by default) maps a Location, Content-Location or Refresh into the target to the client's scheme, host and mount path";
const COOKIES = "use rewriteCookies: true (drops the target's Domain, moves Path under the mount path) or its domain / path maps ('*' matches any value, '' removes)";
const COOKIES_EXAMPLE = "rewriteCookies: { domain: { '*': '' }, path: { '/': '/api' } }";
const LOG = 'switchyard logs nothing itself: log with your own middleware (res.locals.target names the upstream), or use the switchyard command';

const FOREIGN: Readonly<Record<string, ForeignOption>> = {
  // http-proxy-middleware (v2 to v4)
  target: { from: 'hpm', use: 'use targets, one URL or a list to balance', example: "targets: 'http://127.0.0.1:3001'" },
  router: {
    from: 'hpm',
    use: 'mount one proxy() per path, or give a custom balancer (docs/load-balancing.md#your-own-balancer)',
    example: "app.use('/rest', proxy({ targets: 'http://127.0.0.1:8004' }))",
  },
  pathFilter: { from: 'hpm', use: 'use the mount path, except, or skip (which returns true for requests not to proxy)', example: "except: ['/static']" },
  context: { from: 'hpm', use: 'use the mount path, except, or skip (which returns true for requests not to proxy)', example: "except: ['/static']" },
  pathRewrite: { from: 'hpm', use: 'use regexRewrite, rewrite or a to template', example: "regexRewrite: [[/^\\/old/, '/new']]" },
  changeOrigin: {
    from: 'hpm',
    use: "leave it out: switchyard sends the target's Host already (what changeOrigin: true does); preserveHost: true keeps the client's",
  },
  on: {
    from: 'hpm',
    use: `on.proxyReq: ${HEADERS}; on.proxyRes: use modifyResponse; on.error: use errorHandler`,
    example: 'errorHandler: (err, req, res, next) => next(err)',
  },
  onProxyReq: { from: 'hpm', use: HEADERS, example: "headers: { 'X-User': (req) => req.user?.id }" },
  onProxyRes: { from: 'hpm', use: RESPONSE_HOOK, example: "modifyResponse: (proxyRes) => { proxyRes.headers['x-a'] = '1'; }" },
  onError: { from: 'hpm', use: 'use errorHandler', example: 'errorHandler: (err, req, res, next) => next(err)' },
  logger: { from: 'hpm', use: LOG },
  logLevel: { from: 'hpm', use: LOG },
  logProvider: { from: 'hpm', use: LOG },
  plugins: { from: 'hpm', use: 'use modifyResponse, errorHandler and your own middleware' },
  ejectPlugins: { from: 'hpm', use: 'leave it out: switchyard installs no default handlers' },
  secure: { from: 'hpm', use: 'use tls (secure: false is tls: { verify: false })', example: 'tls: { verify: false }' },
  proxyTimeout: { from: 'hpm', use: 'use timeout (ms until the response headers)', example: 'timeout: 5000' },
  followRedirects: { from: 'hpm', use: 'leave it out: switchyard passes redirects to the client' },
  autoRewrite: { from: 'hpm', use: LOCATION, example: 'rewriteLocation: true' },
  hostRewrite: { from: 'hpm', use: LOCATION, example: 'rewriteLocation: true' },
  protocolRewrite: { from: 'hpm', use: LOCATION, example: 'rewriteLocation: true' },
  cookieDomainRewrite: { from: 'hpm', use: COOKIES, example: COOKIES_EXAMPLE },
  cookiePathRewrite: { from: 'hpm', use: COOKIES, example: COOKIES_EXAMPLE },
  auth: {
    from: 'hpm',
    use: 'send an Authorization header with headers',
    example: "headers: { Authorization: 'Basic ' + Buffer.from('user:pass').toString('base64') }",
  },
  preserveHeaderKeyCase: { from: 'hpm', use: "leave it out: response header names keep the upstream's letter case already" },
  selfHandleResponse: { from: 'hpm', use: RESPONSE_HOOK },
  prependPath: { from: 'hpm', use: 'give the target without a path (a target path is a prefix for every request)' },
  ignorePath: { from: 'hpm', use: 'use a to template without {path}', example: "to: '/fixed/path'" },
  toProxy: { from: 'hpm', use: `switchyard has no equivalent (${HPM_GUIDE})` },
  forward: { from: 'hpm', use: `switchyard has no equivalent (${HPM_GUIDE})` },
  localAddress: { from: 'hpm', use: `switchyard has no option for it (${HPM_GUIDE})` },
  ssl: { from: 'hpm', use: "TLS towards clients is your server's job (https.createServer)" },
  buffer: { from: 'hpm', use: 'leave it out: request bodies are kept for retries up to maxReplayBody', example: 'maxReplayBody: 1048576' },
  // express-http-proxy (v1, v2)
  proxyReqPathResolver: { from: 'ehp', use: 'use a to template, or rewrite / regexRewrite', example: "to: '/v2{path}{query}'" },
  forwardPath: { from: 'ehp', use: 'use a to template, or rewrite / regexRewrite', example: "to: '/v2{path}{query}'" },
  forwardPathAsync: { from: 'ehp', use: 'use a to template, or rewrite / regexRewrite', example: "to: '/v2{path}{query}'" },
  filter: { from: 'ehp', use: 'use skip (inverted: true means do not proxy) or except', example: "skip: (req) => req.method === 'OPTIONS'" },
  proxyReqOptDecorator: {
    from: 'ehp',
    use: `use onRequest to change the upstream method, path and headers, headers for header rules, and tls for TLS settings (${EHP_GUIDE})`,
    example: "headers: { 'X-Api-Key': 'secret' }",
  },
  proxyReqBodyDecorator: { from: 'ehp', use: 'mount a body parser before the proxy and change req.body (docs/recipes/body-parsers.md)' },
  preserveHostHdr: { from: 'ehp', use: 'use preserveHost', example: 'preserveHost: true' },
  parseReqBody: { from: 'ehp', use: 'leave it out: switchyard streams request bodies and never buffers them whole' },
  limit: { from: 'ehp', use: "leave it out: bodies stream at any size; limit them in your app if you need to (express.json({ limit: '1mb' }))" },
  reqAsBuffer: { from: 'ehp', use: 'leave it out: bodies are forwarded byte for byte' },
  reqBodyEncoding: { from: 'ehp', use: 'leave it out: bodies are forwarded byte for byte' },
  userResDecorator: {
    from: 'ehp',
    use: 'use modifyResponse returning the new body (read the old one with readBody)',
    example: 'modifyResponse: async (proxyRes) => (await readBody(proxyRes)).toString().toUpperCase()',
  },
  userResHeaderDecorator: { from: 'ehp', use: 'use responseHeaders, or change proxyRes.headers in modifyResponse', example: "responseHeaders: { 'X-Powered-By': null }" },
  skipToNextHandlerFilter: { from: 'ehp', use: `use expectedStatus and an errorHandler that calls next() (${EHP_GUIDE})` },
  proxyErrorHandler: { from: 'ehp', use: 'use errorHandler', example: 'errorHandler: (err, req, res, next) => next(err)' },
  memoizeHost: { from: 'ehp', use: 'leave it out: targets are resolved once, when proxy() is called' },
  https: { from: 'ehp', use: 'give an https:// target', example: "targets: 'https://127.0.0.1:8443'" },
  // http-proxy / https.request
  rejectUnauthorized: { from: 'http-proxy', use: 'use tls (rejectUnauthorized: false is tls: { verify: false })', example: 'tls: { verify: false }' },
};

/** The error for `key` when it is an option of another proxy library, else `undefined`. */
export function foreignOptionError(key: string): ConfigError | undefined {
  if (!Object.hasOwn(FOREIGN, key)) return undefined;
  const foreign = FOREIGN[key] as ForeignOption;
  return new ConfigError(key, `is ${LIBRARY[foreign.from]}; ${foreign.use}`, foreign.example);
}

/** Every name in the table (for tests and docs). */
export const FOREIGN_OPTION_NAMES: readonly string[] = Object.freeze(Object.keys(FOREIGN));
