/**
 * Sticky sessions on a cookie switchyard sets. A request whose cookie names an available
 * target goes back to it; any other (no cookie, an unknown or forged value, or a target that
 * is down, full, removed or already tried) is balanced by smooth weighted round robin, and
 * the response sets the cookie for the target that answered:
 * `Set-Cookie: <name>=<id>; Path=/; HttpOnly; SameSite=Lax`, plus `Secure` when the client
 * came over HTTPS: a TLS socket, or `X-Forwarded-Proto: https` from a peer `trustProxy`
 * trusts (a TLS-terminating load balancer in front; issue 12).
 *
 * The id is the first 16 hex digits of SHA-256 of the target's name, or of HMAC-SHA256 keyed
 * by `secret` when one is given. It never shows the URL, but without a secret anyone who can
 * guess a name (the default is the URL's `host`) can compute it; with a secret they cannot.
 * Ids depend only on name and secret, so cookies survive a restart of the proxy.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { clientAddress, type IsTrusted } from '../../headers/forwarded.js';
import type { Balancer, ProxyTarget, TargetInput } from '../../types.js';
import { createBalancer, type Chooser, type LiveBalancer } from '../balancer.js';
import { isLiveTarget, type LiveTarget } from '../target.js';
import { createRoundRobin } from './round-robin.js';

/** A target's cookie value and the ready-made headers that set it. */
interface StickyEntry {
  readonly id: string;
  readonly setCookie: string;
  /** {@link setCookie} with `; Secure`, for a client on HTTPS. */
  readonly setSecureCookie: string;
}

/** One cookie balancer's settings and its per-target entries, computed once per target. */
interface Sticky {
  /** `name=`, the text searched for in the Cookie header. */
  readonly key: string;
  /** Which peers may say the client used HTTPS (`X-Forwarded-Proto`); set by `proxy()`. */
  isTrusted: IsTrusted;
  entryOf(t: LiveTarget): StickyEntry;
}

/** The cookie balancers created here, so {@link stickyCookie} knows which balancers set cookies. */
const stickies = new WeakMap<Balancer, Sticky>();

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * Where the value of the cookie `key` (`name=`) starts in a Cookie header, or -1. Only a
 * `name=` at the start of a pair counts (`xname=` or `other=name=` do not); the first pair
 * wins, as browsers send the most specific cookie first (RFC 6265 §5.4).
 */
function valueStart(header: string, key: string): number {
  for (let at = header.indexOf(key); at !== -1; at = header.indexOf(key, at + 1)) {
    let i = at - 1;
    while (i >= 0 && isSpace(header.charCodeAt(i))) i--;
    if (i < 0 || header.charCodeAt(i) === 59) return at + key.length;
  }
  return -1;
}

/** End of the value starting at `start`: the next `;` or the end, trailing spaces excluded. */
function valueEnd(header: string, start: number): number {
  let end = header.indexOf(';', start);
  if (end === -1) end = header.length;
  while (end > start && isSpace(header.charCodeAt(end - 1))) end--;
  return end;
}

/** Whether `header[start, end)` is exactly `id`, compared in place (no substring). */
function isValue(header: string, start: number, end: number, id: string): boolean {
  return end - start === id.length && header.startsWith(id, start);
}

function createSticky(name: string, secret: string | undefined): Sticky {
  const entries = new WeakMap<LiveTarget, StickyEntry>();
  const suffix = '; Path=/; HttpOnly; SameSite=Lax';
  return {
    key: `${name}=`,
    isTrusted: () => false,
    entryOf(t) {
      let entry = entries.get(t);
      if (entry === undefined) {
        const digest = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
        const id = digest.update(t.name).digest('hex').slice(0, 16);
        const setCookie = `${name}=${id}${suffix}`;
        entry = { id, setCookie, setSecureCookie: `${setCookie}; Secure` };
        entries.set(t, entry);
      }
      return entry;
    },
  };
}

function createStickyChooser(sticky: Sticky): Chooser {
  const roundRobin = createRoundRobin();
  return (candidates, req) => {
    const header = req.headers.cookie;
    const start = header === undefined ? -1 : valueStart(header, sticky.key);
    if (header !== undefined && start !== -1) {
      const end = valueEnd(header, start);
      for (let i = 0; i < candidates.length; i++) {
        const t = candidates[i] as LiveTarget;
        if (t.weight > 0 && isValue(header, start, end, sticky.entryOf(t).id)) return t;
      }
    }
    return roundRobin(candidates, req);
  };
}

/**
 * Creates a cookie (sticky-session) balancer over `inputs`. `name` and `secret` are
 * validated by the caller.
 * @param option the option named in target validation errors.
 */
export function createCookieBalancer(
  inputs: readonly TargetInput[],
  name: string,
  secret: string | undefined,
  option: string,
): LiveBalancer {
  const sticky = createSticky(name, secret);
  const balancer = createBalancer(inputs, createStickyChooser(sticky), { option });
  stickies.set(balancer, sticky);
  return balancer;
}

/**
 * Set-up, once per `proxy()`: lets a cookie balancer believe `X-Forwarded-Proto: https` from
 * the peers `isTrusted` accepts (the compiled `trustProxy`). No-op for other balancers. A
 * balancer instance shared by several `proxy()` calls takes the trust of the last one.
 */
export function trustForwardedProto(balancer: Balancer, isTrusted: IsTrusted): void {
  const sticky = stickies.get(balancer);
  if (sticky !== undefined) sticky.isTrusted = isTrusted;
}

/** The first of a comma-separated `X-Forwarded-Proto` (the client's side of the chain) is `https`. */
function saysHttps(value: string | string[] | undefined): boolean {
  const first = typeof value === 'string' ? value : value?.[0];
  if (first === undefined) return false;
  const comma = first.indexOf(',');
  return (comma === -1 ? first : first.slice(0, comma)).trim().toLowerCase() === 'https';
}

/** Whether the client reached us over HTTPS: a TLS socket, or a trusted peer saying so. */
export function clientIsSecure(req: IncomingMessage, isTrusted: IsTrusted): boolean {
  if ((req.socket as TLSSocket | undefined)?.encrypted === true) return true;
  if (!saysHttps(req.headers['x-forwarded-proto'])) return false;
  try {
    return isTrusted(clientAddress(req));
  } catch {
    // A throwing trustProxy function already fails the request where headers are built;
    // here it can only mean "not trusted".
    return false;
  }
}

/**
 * The `Set-Cookie` value the response must carry after `balancer` chose `target` for `req`
 * (with `Secure` for a client on HTTPS): set when the request had no valid cookie for that target, `undefined` when it already
 * had one, or when `balancer` is not a cookie balancer (one WeakMap look-up: costs nothing
 * for other policies). Internal: the request pipeline calls it once, for the target whose
 * response is sent.
 */
export function stickyCookie(balancer: Balancer, req: IncomingMessage, target: ProxyTarget): string | undefined {
  const sticky = stickies.get(balancer);
  if (sticky === undefined || !isLiveTarget(target)) return undefined;
  const entry = sticky.entryOf(target);
  const header = req.headers.cookie;
  const start = header === undefined ? -1 : valueStart(header, sticky.key);
  if (header !== undefined && start !== -1 && isValue(header, start, valueEnd(header, start), entry.id)) return undefined;
  return clientIsSecure(req, sticky.isTrusted) ? entry.setSecureCookie : entry.setCookie;
}
