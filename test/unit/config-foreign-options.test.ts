/**
 * An option of http-proxy-middleware or express-http-proxy passed to proxy() is refused with
 * a ConfigError that says what to use in switchyard (issue 13, item 5).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FOREIGN_OPTION_NAMES } from '../../src/config/foreign-options.js';
import { proxy, type ProxyConfig } from '../../src/index.js';
import { configErrorFrom } from '../helpers/config-error.js';

const T = 'http://127.0.0.1:3001';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HPM = 'http-proxy-middleware';
const EHP = 'express-http-proxy';

/** [foreign option, a value its users pass, library, what the message must name]. */
const CASES: Array<[string, unknown, string, RegExp]> = [
  ['target', T, HPM, /use targets.*e\.g\. targets: 'http:/],
  ['router', { '/rest': T }, HPM, /one proxy\(\) per path, or give a custom balancer/],
  ['pathFilter', '/api', HPM, /mount path, except, or skip/],
  ['context', '/api', HPM, /mount path, except, or skip/],
  ['pathRewrite', { '^/old': '/new' }, HPM, /use regexRewrite, rewrite or a to template, e\.g\. regexRewrite: /],
  ['changeOrigin', true, HPM, /leave it out: switchyard sends the target's Host already.*preserveHost: true/],
  ['on', { error: () => undefined }, HPM, /on\.proxyReq: use headers.*migrating-from-http-proxy-middleware\.md.*on\.proxyRes: use modifyResponse; on\.error: use errorHandler/],
  ['onProxyReq', () => undefined, HPM, /use headers, whose values may be functions of the request/],
  ['onProxyRes', () => undefined, HPM, /use modifyResponse/],
  ['onError', () => undefined, HPM, /use errorHandler/],
  ['logger', console, HPM, /logs nothing itself/],
  ['logLevel', 'debug', HPM, /logs nothing itself/],
  ['logProvider', () => console, HPM, /logs nothing itself/],
  ['plugins', [], HPM, /modifyResponse, errorHandler and your own middleware/],
  ['ejectPlugins', true, HPM, /leave it out/],
  ['secure', false, HPM, /tls: \{ verify: false \}/],
  ['proxyTimeout', 5000, HPM, /use timeout .*e\.g\. timeout: 5000$/],
  ['followRedirects', true, HPM, /passes redirects to the client/],
  ['autoRewrite', true, HPM, /rewriteLocation \(on by default\).*e\.g\. rewriteLocation: true$/],
  ['hostRewrite', 'example.com', HPM, /rewriteLocation \(on by default\)/],
  ['protocolRewrite', 'https', HPM, /client's scheme, host and mount path/],
  ['cookieDomainRewrite', '', HPM, /use rewriteCookies: true .*e\.g\. rewriteCookies: \{ domain: /],
  ['cookiePathRewrite', { '/api': '/' }, HPM, /rewriteCookies: true \(drops the target's Domain, moves Path under the mount path\)/],
  ['auth', 'user:pass', HPM, /Authorization header with headers, e\.g\. headers: \{ Authorization: /],
  ['preserveHeaderKeyCase', true, HPM, /letter case already/],
  ['selfHandleResponse', true, HPM, /use modifyResponse/],
  ['prependPath', false, HPM, /target without a path/],
  ['ignorePath', true, HPM, /to template without \{path\}/],
  ['toProxy', true, HPM, /no equivalent/],
  ['forward', T, HPM, /no equivalent/],
  ['localAddress', '10.0.0.2', HPM, /no option for it/],
  ['ssl', {}, HPM, /https\.createServer/],
  ['buffer', null, HPM, /maxReplayBody/],
  ['proxyReqPathResolver', () => '/', EHP, /use a to template, or rewrite \/ regexRewrite, e\.g\. to: '\/v2\{path\}\{query\}'$/],
  ['forwardPath', () => '/', EHP, /use a to template/],
  ['forwardPathAsync', async () => '/', EHP, /use a to template/],
  ['filter', () => true, EHP, /use skip \(inverted.*\) or except/],
  ['proxyReqOptDecorator', (o: unknown) => o, EHP, /use onRequest to change the upstream method, path and headers.*tls.*migrating-from-express-http-proxy\.md/],
  ['proxyReqBodyDecorator', (b: unknown) => b, EHP, /body parser before the proxy.*body-parsers\.md/],
  ['preserveHostHdr', true, EHP, /use preserveHost, e\.g\. preserveHost: true$/],
  ['parseReqBody', false, EHP, /never buffers them whole/],
  ['limit', '1mb', EHP, /bodies stream at any size/],
  ['reqAsBuffer', true, EHP, /byte for byte/],
  ['reqBodyEncoding', null, EHP, /byte for byte/],
  ['userResDecorator', () => '', EHP, /use modifyResponse returning the new body.*readBody/],
  ['userResHeaderDecorator', (h: unknown) => h, EHP, /use responseHeaders/],
  ['skipToNextHandlerFilter', () => false, EHP, /expectedStatus and an errorHandler that calls next\(\)/],
  ['proxyErrorHandler', () => undefined, EHP, /use errorHandler/],
  ['memoizeHost', false, EHP, /resolved once/],
  ['https', true, EHP, /https:\/\/ target, e\.g\. targets: 'https:/],
  ['rejectUnauthorized', false, 'http-proxy / https.request', /tls: \{ verify: false \}/],
];

describe('proxy() names what to use for an option of another proxy library', () => {
  it.each(CASES)('%s', (name, value, library, names) => {
    const config = name === 'target' ? { [name]: value } : { targets: T, [name]: value };
    const err = configErrorFrom(() => proxy(config as ProxyConfig));
    expect(err.option).toBe(name);
    expect(err.message.startsWith(`switchyard: ${name} is an ${library} option; `)).toBe(true);
    expect(err.message).toMatch(names);
    // Every guide or recipe a message points to exists.
    for (const doc of err.message.match(/docs\/[\w/.-]+\.md/g) ?? []) expect(existsSync(path.join(ROOT, doc)), doc).toBe(true);
  });

  it('has a test row for every name in the table', () => {
    expect(CASES.map(([name]) => name).sort()).toEqual([...FOREIGN_OPTION_NAMES].sort());
  });

  it('leaves the options switchyard shares with them (same name, same meaning) alone', () => {
    const mw = proxy({ targets: T, headers: { 'x-a': '1' }, xfwd: false, ws: true, timeout: 5000 });
    expect(mw.stats()).toHaveLength(1);
    return mw.close();
  });

  it('still suggests the closest option for a key of no other library', () => {
    expect(configErrorFrom(() => proxy({ targets: T, retrys: 1 } as ProxyConfig)).message).toBe(
      'switchyard: retrys is not an option; did you mean "retries"?',
    );
  });
});
