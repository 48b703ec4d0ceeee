// switchyard demo: three upstreams behind one Express app, balanced round robin.
//
//   npm start                  build, then serve until Ctrl-C
//   npm run build && node demo/demo.mjs --once    (or DEMO_EXIT=1) send the requests and exit
//   PORT=8080 npm start        choose the proxy's port (default: a random free one)
//
// Everything listens on 127.0.0.1 only.
import http from 'node:http';
import express from 'express';
import { proxy } from '../dist/index.js';

const HOST = '127.0.0.1';
const once = process.argv.includes('--once') || process.env.DEMO_EXIT === '1';

/** Resolves with the port once `server` listens on 127.0.0.1. */
function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server.address().port));
  });
}

/** Closes `server`, ending keep-alive connections too. */
function close(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// 1. Three upstreams, each saying who it is and which path it got.
const upstreams = [];
for (let n = 1; n <= 3; n++) {
  const name = `upstream-${n}`;
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ message: `hello from upstream ${n}`, name, path: req.url });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const port = await listen(server);
  upstreams.push({ name, server, url: `http://${HOST}:${port}` });
  console.log(`${name} listening on http://${HOST}:${port}`);
}

// 2. The proxy: /api/* goes to the upstreams, the mount path stripped.
const mw = proxy({ targets: upstreams.map(({ url, name }) => ({ url, name })) });
const app = express();
app.use('/api', mw);
app.get('/', (_req, res) => res.type('text').send('try /api/hello\n'));

const proxyServer = http.createServer(app);
const proxyPort = await listen(proxyServer, Number(process.env.PORT ?? 0));
const base = `http://${HOST}:${proxyPort}`;
console.log(`\nswitchyard demo listening on ${base}  (try: curl ${base}/api/hello)\n`);

// 3. Six requests: round robin visits each upstream twice, in turn.
for (let i = 1; i <= 6; i++) {
  const res = await fetch(`${base}/api/hello`);
  const { message, name, path } = await res.json();
  console.log(`request ${i}: ${res.status} ${message} (${name}, path ${path})`);
}

console.log('\nper target:');
for (const s of mw.stats()) {
  console.log(`  ${s.name.padEnd(11)} ${s.url}  requests=${s.requests} failures=${s.failures} healthy=${s.healthy}`);
}

async function shutdown() {
  await mw.close();
  await Promise.all([close(proxyServer), ...upstreams.map(({ server }) => close(server))]);
}

if (once) {
  await shutdown();
  process.exit(0);
} else {
  console.log('\nserving until Ctrl-C');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nshutting down');
    await shutdown();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
