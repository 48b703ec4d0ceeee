/**
 * Every public type of switchyard. Options are documented with their defaults;
 * `docs/options.md` has an example for each.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { ProxyError } from './errors/proxy-error.js';

/** Express/Connect `next`: call with an error to hand over to the host's error handling. */
export type NextFunction = (err?: unknown) => void;

/** A target given as an object, when it needs a name, weight or metadata. */
export interface TargetObject {
  /** Upstream URL: `http:`, `https:`, `ws:` or `wss:`, optionally with a path prefix. */
  url: string | URL;
  /** Unique name, used in `stats()` and `balancer.remove()`. @default the URL's `host` */
  name?: string;
  /** Relative share of traffic for `round_robin` and `random`; `0` is never chosen. @default 1 */
  weight?: number;
  /** Anything you want to carry with the target (read back from `res.locals.target.meta`). @default {} */
  meta?: Record<string, unknown>;
  /**
   * A Unix domain socket to connect to instead of the URL's host and port, e.g.
   * `'/run/app.sock'`; `url` still gives the `Host` header, the scheme (TLS or not) and the
   * path prefix. When set, `name` defaults to this path. @default none (TCP to the URL's host)
   */
  socketPath?: string;
}

/**
 * An upstream as a URL string (`'http://127.0.0.1:3001/prefix'`), a `URL`, a Unix socket
 * as `'unix:/run/app.sock'` (short for `{ url: 'http://localhost', socketPath: '/run/app.sock' }`),
 * or a {@link TargetObject}.
 */
export type TargetInput = string | URL | TargetObject;

/** A live upstream. `ProxyTarget` is the one word switchyard uses for an upstream. */
export interface ProxyTarget {
  /** The upstream URL; its path (without a trailing `/`) is the prefix every forwarded path is joined to. */
  readonly url: URL;
  readonly name: string;
  readonly weight: number;
  readonly meta: Record<string, unknown>;
  /** False while an active check fails or passive health has marked the target down. */
  readonly healthy: boolean;
  /** Requests in flight to this target right now. */
  readonly active: number;
  /** The Unix socket this target is reached through, when it is one. */
  readonly socketPath?: string | undefined;
}

/**
 * A load balancer: a live list of targets and a policy choosing one per request. `Req` is the
 * host's request type (Express's `Request` under Express) that `next` receives.
 */
export interface Balancer<Req extends IncomingMessage = IncomingMessage> {
  readonly targets: readonly ProxyTarget[];
  /** Adds a target at run time and returns the live target. Throws when the name is taken. */
  add(target: TargetInput): ProxyTarget;
  /** Removes by name or URL (a URL matches with or without a trailing `/`). Returns whether one was removed. */
  remove(nameOrUrl: string): boolean;
  /**
   * Chooses a target for `req`, skipping unavailable targets (unhealthy or full) and those in
   * `exclude` (already tried). `undefined` when none is available.
   */
  next(req: Req, exclude?: ReadonlySet<ProxyTarget>): ProxyTarget | undefined;
}

/** Names accepted by `config.balancer`. */
export type BalancerPolicyName =
  | 'round_robin'
  | 'random'
  | 'first'
  | 'least_conn'
  | 'ip_hash'
  | 'uri_hash';

/** Hash on a request header; falls back to round robin when the header is absent. */
export interface HeaderHashPolicy {
  header: string;
}

/** Sticky sessions keyed by a cookie switchyard sets. */
export interface CookiePolicy {
  cookie: string;
  /** Secret used to sign the cookie value. @default none (the value is an opaque target id) */
  secret?: string;
}

/** What `config.balancer` accepts: a policy name, a policy object, or a {@link Balancer} instance. */
export type BalancerOption<Req extends IncomingMessage = IncomingMessage> = BalancerPolicyName | HeaderHashPolicy | CookiePolicy | Balancer<Req>;

/**
 * A header rule value: a string (placeholders such as `{addr}` or `{header.NAME}` are
 * expanded), `null` to remove the header, or a function of the request returning the value
 * (an array of strings sets the header once per value, as `Set-Cookie` needs; `undefined`
 * leaves the header as it is). A function that throws is handed to `next(err)`;
 * it must be synchronous (a returned Promise is a TypeError naming the rule).
 */
export type HeaderValue<Req extends IncomingMessage = IncomingMessage> = string | null | ((req: Req) => string | string[] | undefined);

/** Header name → rule. Names are case-insensitive. */
export type HeaderRules<Req extends IncomingMessage = IncomingMessage> = Record<string, HeaderValue<Req>>;

/**
 * Which direct peers may supply `X-Forwarded-*`: `true` trusts every peer, `false` none,
 * an array lists IPs or CIDRs (`'10.0.0.0/8'`, `'::1'`), a function decides per peer IP.
 */
export type TrustProxy = boolean | readonly string[] | ((ip: string) => boolean);

/**
 * Explicit `Set-Cookie` attribute maps for `rewriteCookies`: old value → new value; the key
 * `'*'` matches any value and a new value `''` removes the attribute.
 */
export interface CookieRewriteMaps {
  /** `Domain` values (compared case-insensitively). */
  domain?: Record<string, string>;
  /** `Path` values (compared exactly). */
  path?: Record<string, string>;
}

/** Active health checks: `GET path` on each target every `interval`. */
export interface HealthCheckOptions {
  /** Path requested on each target's host, e.g. `'/health'` (from the host's root: the target's path prefix is not added). */
  path: string;
  /** Milliseconds between checks. @default 10000 */
  interval?: number;
  /** Milliseconds before a check counts as failed. @default 5000 */
  timeout?: number;
  /** Port to check instead of the target's own (a Unix-socket target is checked over its socket). @default the target's port */
  port?: number;
  /** Statuses that count as healthy. @default any 2xx */
  expectStatus?: number[];
  /** Consecutive passes before an unhealthy target is healthy again. @default 1 */
  healthyAfter?: number;
  /** Consecutive failures before a healthy target is marked unhealthy. @default 1 */
  unhealthyAfter?: number;
}

/** Passive health (Caddy): failures seen on real traffic mark a target down for a while. */
export interface PassiveHealthOptions {
  /** Failures within `failTimeout` that mark the target down. @default 1 */
  maxFails?: number;
  /** Window for counting failures, and how long a target stays down, in ms. @default 10000 */
  failTimeout?: number;
}

/** The connection pool each target gets (one undici pool per target origin, owned by the middleware). */
export interface PoolOptions {
  /** Keep upstream connections open between requests; `false` closes each after its request. @default true */
  keepAlive?: boolean;
  /** Most connections per target. @default 256 */
  maxSockets?: number;
  /**
   * How long an idle connection is kept, in ms (an upstream's `Keep-Alive: timeout=N` hint,
   * when shorter, wins). @default 4000
   */
  keepAliveMsecs?: number;
}

/** TLS settings for `https:` / `wss:` targets. */
export interface TlsOptions {
  /** Verify the upstream certificate. `false` accepts self-signed upstreams. @default true */
  verify?: boolean;
  /** SNI server name; `false` disables SNI. @default the target's host name */
  servername?: string | false;
  /**
   * Trusted CA certificates (PEM). Like Node's `ca`, this replaces the bundled roots; to add
   * to them pass `[...tls.rootCertificates, myCa]`. @default Node's bundled CAs
   */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate for mutual TLS (PEM). @default none */
  cert?: string | Buffer;
  /** Client private key for mutual TLS (PEM). @default none */
  key?: string | Buffer;
}

/**
 * Targets discovered from DNS (Caddy's dynamic upstreams `a` / `srv`): the name is resolved
 * when `proxy()` is called and again every `interval` ms; targets that disappear are removed
 * from the balancer, new ones added, and survivors stay the same {@link ProxyTarget}, health
 * and counters included. A failed lookup (an error, NXDOMAIN, or an answer with no address)
 * keeps the last good set. See docs/recipes/service-discovery.md.
 */
export interface DiscoverOptions {
  /** The DNS name to resolve, e.g. `'api.default.svc.cluster.local'` or `'_http._tcp.api.service.consul'`. */
  dns: string;
  /**
   * `'A'` or `'AAAA'` for one address family; `'SRV'` for service records, whose port and
   * weight make each target (only the lowest-priority group that has addresses is used, as
   * RFC 2782 orders them). @default both A and AAAA
   */
  type?: 'A' | 'AAAA' | 'SRV';
  /** The targets' port for A/AAAA (an SRV record carries its own). @default 80 for http, 443 for https */
  port?: number;
  /** The targets' scheme. @default 'http' */
  scheme?: 'http' | 'https';
  /** Ms between the end of one lookup and the start of the next. @default 30000 */
  interval?: number;
  /**
   * DNS servers to ask, in `dns.Resolver#setServers` form: `['10.0.0.2', '127.0.0.1:5353',
   * '[::1]:53']`. @default the system's resolvers
   */
  servers?: string[];
}

/**
 * What switchyard needs of a `dispatcher`: any undici `Dispatcher` (an `Agent`, `Pool`,
 * `ProxyAgent`, `MockAgent`, or one made with `compose()`) fits. Declared structurally so the
 * public types do not carry undici's own `any`s.
 */
export interface DispatcherLike {
  dispatch(options: object, handler: object): boolean;
}

/** A replacement response body returned from `modifyResponse`. */
export type BodyLike = string | Buffer | Uint8Array | Readable;

/**
 * The upstream response handed to `modifyResponse`: a Readable of its body with the members
 * of Node's `IncomingMessage` that proxy hooks use. `headers` follows Node's rules (lower-case
 * names, `set-cookie` an array); `rawHeaders` keeps the upstream's letter case.
 */
export interface UpstreamResponse extends Readable {
  statusCode: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
}

/**
 * Runs after upstream headers arrive, before anything is sent to the client. Mutate
 * `proxyRes.statusCode` / `proxyRes.headers`, or return a new body. A throw or rejection
 * becomes a `RESPONSE_HOOK_FAILED` (502) error.
 *
 * With a new body, `Content-Length` is fixed (removed for a Readable), `Transfer-Encoding`
 * removed, and `proxyRes.headers['content-encoding']` after the hook decides the
 * Content-Encoding: the upstream's value unchanged → dropped; a different value, or one set
 * where the upstream sent none → kept; removed → stays removed.
 */
export type ModifyResponse<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (
  proxyRes: UpstreamResponse,
  req: Req,
  res: Res,
) => void | BodyLike | Promise<void | BodyLike>;

/**
 * Called once per request after retries are exhausted. Call `next(err)` to hand over to
 * Express's error handling. A throw or rejection is handed to `next(err)`.
 */
export type ErrorHandler<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (
  err: ProxyError,
  req: Req,
  res: Res,
  next: NextFunction,
) => void | Promise<void>;

/** The upstream request as `onRequest` may change it, before the first attempt. */
export interface UpstreamRequest {
  /** The upstream method. @default the client's */
  method: string;
  /** Path and query, before the target's path prefix is added; must start with `/`. */
  path: string;
  /** The upstream headers (lower-case names), after hop-by-hop removal, `X-Forwarded-*` and `headers` rules. */
  headers: OutgoingHttpHeaders;
}

/**
 * Runs once per HTTP request after routing and header rules, before the first attempt: change
 * `upstream.method`, `upstream.path` and `upstream.headers` (http-proxy-middleware's
 * `on.proxyReq`, express-http-proxy's `proxyReqOptDecorator` / `proxyReqPathResolver`). A
 * returned promise is awaited; a throw or rejection goes to `next(err)`.
 */
export type OnRequest<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (upstream: UpstreamRequest, req: Req, res: Res) => void | Promise<void>;

/** Decides whether a failed attempt is retried (only consulted while retries remain). */
export type RetryFilter<Req extends IncomingMessage = IncomingMessage> = (err: ProxyError, req: Req) => boolean;

/**
 * The configuration accepted by `proxy()`. Every option is validated when `proxy()` is called.
 * `Req` and `Res` are the host's request and response types, which every callback receives:
 * `proxy<Request, Response>({...})` under Express (docs/typescript.md); Node's own by default.
 */
export interface ProxyConfig<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> {
  /** Upstreams. Required unless `balancer` is a {@link Balancer} instance, `to` has an origin, or `discover` is given. */
  targets?: TargetInput | TargetInput[];
  /** Load-balancing policy or instance. @default 'round_robin' */
  balancer?: BalancerOption<Req>;
  /**
   * URL template for the upstream path, e.g. `'/v2{path}{query}'`. Placeholders: `{path}`,
   * `{query}`, `{method}`, `{host}`, `{scheme}`, `{addr}`, `{header.NAME}`, `{param.NAME}`;
   * only in the path and query part. @default none (the request's path and query)
   */
  to?: string;
  /** Glob rewrite rules, e.g. `{ '/v1/*': '/v2/$1' }`; `*` captures `$1…$n`. @default none */
  rewrite?: Record<string, string>;
  /** Regex rewrite rules with `$1…$n` captures, tried after the glob rules. @default none */
  regexRewrite?: Array<[RegExp, string]>;
  /**
   * Return true to skip proxying (`next()` is called). May be async: a returned promise is
   * awaited (a synchronous function costs no promise). A throw or rejection is handed to
   * `next(err)`; for a WebSocket upgrade it answers 500. @default none
   */
  skip?: (req: Req) => boolean | Promise<boolean>;
  /** Path prefixes (whole segments) that are not proxied. @default none */
  except?: string[];

  /** Headers set on the upstream request; `null` removes. @default none */
  headers?: HeaderRules<Req>;
  /** Headers set on the response to the client; `null` removes. @default none */
  responseHeaders?: HeaderRules<Req>;
  /** Set `X-Forwarded-For`, `-Proto` and `-Host`. @default true */
  xfwd?: boolean;
  /** Which direct peers may supply `X-Forwarded-*`. @default false */
  trustProxy?: TrustProxy;
  /** Keep the client's `Host` header instead of the target's. @default false */
  preserveHost?: boolean;
  /**
   * Rewrite a `Location`, `Content-Location` or `Refresh` URL that points into the chosen
   * target (absolute on its origin and under its path prefix, or root-relative under that
   * prefix) to the URL the client used: its scheme and Host, the mount path, then the rest.
   * Other URLs are left alone. @default true
   */
  rewriteLocation?: boolean;
  /**
   * Rewrite `Set-Cookie` `Domain` and `Path`. `true` drops a `Domain` equal to the target's
   * host and maps a `Path` under the target prefix under the mount path; the object form maps
   * values explicitly (`'*'` matches any value, `''` removes the attribute), like
   * http-proxy-middleware's `cookieDomainRewrite` / `cookiePathRewrite`. @default false
   */
  rewriteCookies?: boolean | CookieRewriteMaps;

  /**
   * Ms from the moment the whole request (body included) was sent to the upstream's response
   * headers; past it the attempt fails with `UPSTREAM_TIMEOUT` (504). An upload that keeps
   * flowing never times out by this clock. @default 30000
   */
  timeout?: number;
  /**
   * Ms the upstream may go without accepting request-body bytes or sending response-body bytes
   * once the exchange is under way (nginx `proxy_send_timeout` / `proxy_read_timeout`). Before
   * response headers: `UPSTREAM_TIMEOUT` (504); after them the client connection is destroyed
   * (never a truncated response presented as complete). @default 60000
   */
  idleTimeout?: number;
  /** Ms to establish the upstream connection before `UPSTREAM_UNAVAILABLE` (502). @default 10000 */
  connectTimeout?: number;
  /** Extra attempts after a failed one, each on a target not yet tried when one exists. @default 0 */
  retries?: number;
  /** Whether a failed attempt is retried. @default connection never established → any method; else GET/HEAD/OPTIONS */
  retryFilter?: RetryFilter<Req>;
  /** Upstream statuses retried on another target for GET, HEAD and OPTIONS. @default [] */
  retryOn?: number[];
  /** Keep retrying failed attempts for up to this many ms. @default 0 */
  tryDuration?: number;
  /** Ms to wait between attempts while `tryDuration` runs. @default 250 */
  tryInterval?: number;
  /** Request bodies up to this many bytes are kept so a retry can resend them. @default 1048576 */
  maxReplayBody?: number;
  /** Statuses that are accepted; any other is an `UNEXPECTED_STATUS` error. @default none (all accepted) */
  expectedStatus?: number[];
  /** Active health checks. @default off */
  healthCheck?: HealthCheckOptions;
  /** Passive health. @default off */
  passive?: PassiveHealthOptions;
  /** In-flight requests allowed per target; a full target is not chosen. @default unlimited */
  maxConns?: number;

  /** Change the upstream method, path and headers before the first attempt. @default none */
  onRequest?: OnRequest<Req, Res>;
  /** Called once on final failure. @default the built-in handler (JSON or text by `Accept`) */
  errorHandler?: ErrorHandler<Req, Res>;
  /** Replace or adjust the upstream response before it is sent. @default none */
  modifyResponse?: ModifyResponse<Req, Res>;
  /** `res.locals[contextKey]` holds the chosen {@link ProxyTarget}. @default 'target' */
  contextKey?: string;

  /** The connection pool per target. @default keep-alive on, 256 connections per target */
  pool?: PoolOptions;
  /**
   * Your own undici `Dispatcher` (an `Agent` with custom `connect` options, a `ProxyAgent` for
   * egress through a forward proxy, a `MockAgent` in tests) instead of the middleware's pools;
   * `pool`, `tls` and `http2` then do not apply, and `close()` leaves it open; health checks
   * are sent through it too, and Unix-socket targets cannot be used with it. Replaces the 0.1
   * `agent` option. @default none (the middleware's own pools)
   */
  dispatcher?: DispatcherLike;
  /**
   * `https:` targets may negotiate HTTP/2 by ALPN (one connection then carries up to 100
   * requests at once; health checks use it too, WebSocket upgrades stay on HTTP/1.1); the
   * client side is unchanged. `http:` targets always get HTTP/1.1 (no h2c). @default false
   */
  http2?: boolean;
  /** TLS settings for `https:` and `wss:` targets. @default `{ verify: true }` */
  tls?: TlsOptions;
  /** Proxy WebSocket upgrades through `mw.upgrade`. @default false */
  ws?: boolean;
  /**
   * Targets discovered from DNS, added to the balancer next to `targets` (if any) and kept up
   * to date until `close()`. @default off
   */
  discover?: DiscoverOptions;
}

/** Per-target counters returned by `stats()`. */
export interface TargetStats {
  readonly name: string;
  readonly url: string;
  readonly healthy: boolean;
  /** Requests in flight. */
  readonly active: number;
  /** Attempts sent to this target. */
  readonly requests: number;
  /** Attempts that failed (connection, timeout, unexpected status, hook failure). */
  readonly failures: number;
  /** Final statuses by code, e.g. `{ 200: 10, 502: 1, 499: 2 }`; 499 counts client aborts. */
  readonly statuses: Readonly<Record<number, number>>;
}

/** The middleware `proxy()` returns, with its extras. */
export interface ProxyMiddleware<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> {
  (req: Req, res: Res, next?: NextFunction): void;
  /** Proxies a WebSocket upgrade (`server.on('upgrade', mw.upgrade)`); only when `ws: true`. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Stops health checks and timers and destroys pooled sockets. Idempotent. */
  close(): Promise<void>;
  /** The live balancer: add or remove targets at run time. */
  readonly balancer: Balancer<Req>;
  /** Per-target counters. */
  stats(): TargetStats[];
  /**
   * This middleware's metrics in the Prometheus text exposition format 0.0.4 (serve it with
   * `Content-Type: text/plain; version=0.0.4`): per target (label `target`, its name) the
   * requests sent, retries, responses by status class, client aborts, failed attempts by
   * code, in-flight attempts, health (1/0) and an attempt duration histogram; per middleware
   * the requests answered with a ProxyError, by code. Counting costs a few numeric writes per
   * attempt and two clock reads for the histogram; the text is built only when this is
   * called. Targets added or removed at run time
   * appear or disappear. Per-target series count every middleware sharing the target's
   * balancer, as `stats()` does. Names and meanings: docs/recipes/metrics.md.
   */
  metrics(): string;
}

/** `switchyard:request:start`: a request (or WebSocket upgrade) was routed and is about to be proxied. */
export interface RequestStartMessage {
  readonly req: IncomingMessage;
  readonly kind: 'http' | 'upgrade';
  readonly method: string;
  /** Upstream path and query, before the target prefix. */
  readonly path: string;
}

/** `switchyard:attempt:start`: an attempt is sent to `target` (1 for the first). */
export interface AttemptStartMessage {
  readonly req: IncomingMessage;
  readonly target: ProxyTarget;
  readonly attempt: number;
}

/**
 * `switchyard:attempt:end`: how an attempt ended: `answered` (sent whole), `aborted` (the
 * client left), `broken` (the upstream broke mid-body) or `failed` (`error` says why).
 * `status` is the status answered, or 0 when none was.
 */
export interface AttemptEndMessage {
  readonly req: IncomingMessage;
  readonly target: ProxyTarget;
  readonly attempt: number;
  readonly outcome: 'answered' | 'aborted' | 'broken' | 'failed';
  readonly status: number;
  readonly error: ProxyError | undefined;
}

/** `switchyard:request:end`: the client connection of a request closed; `complete` if the answer was sent whole. */
export interface RequestEndMessage {
  readonly req: IncomingMessage;
  readonly status: number;
  readonly complete: boolean;
  /** Milliseconds since `switchyard:request:start`. */
  readonly duration: number;
}

/** `switchyard:health:change`: a target became healthy or unhealthy (active checks or passive health). */
export interface HealthChangeMessage {
  readonly target: ProxyTarget;
  readonly healthy: boolean;
  readonly source: 'active' | 'passive';
}

/** Stable error codes of {@link ProxyError}. */
export type ProxyErrorCode =
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'NO_UPSTREAM'
  | 'UNEXPECTED_STATUS'
  | 'RESPONSE_HOOK_FAILED'
  | 'BAD_REQUEST'
  /** The client stopped sending its request body for `idleTimeout` (nginx `client_body_timeout`): 408. */
  | 'CLIENT_TIMEOUT';
