// Helpers shared by the examples: stand-in upstream services and a server that shuts down
// cleanly. Not part of switchyard; in your app the upstreams are your real services.
import http from 'node:http';

const HOST = '127.0.0.1';

/**
 * Starts a stand-in upstream on 127.0.0.1 (a random free port). Without a handler it answers
 * every request with JSON describing it: { upstream, method, url, headers, body }.
 */
export async function startUpstream(name, handler) {
  const server = http.createServer(
    handler ??
      ((req, res) => {
        let body = '';
        req.setEncoding('utf8').on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          const echo = JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers, body });
          res.writeHead(200, { 'content-type': 'application/json' }).end(echo);
        });
      }),
  );
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const url = `http://${HOST}:${server.address().port}`;
  return {
    name,
    url,
    close: () => new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    }),
  };
}

/**
 * Serves `app` on 127.0.0.1 (port $PORT, or a random free one), prints its URL and the `try`
 * lines, and on SIGINT/SIGTERM stops accepting, then closes each of `closeables` (proxies
 * and stand-in upstreams) and exits.
 */
export async function serve(app, { name, tryPaths = [], closeables = [] }) {
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), HOST, resolve));
  const base = `http://${HOST}:${server.address().port}`;
  console.log(`${name} listening on ${base}`);
  for (const line of tryPaths) console.log(`  try: curl ${line.replace('{base}', base)}`);
  const stop = () => {
    server.close(async () => {
      await Promise.all(closeables.map((c) => c.close()));
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { server, base };
}
