// switchyard demo: three upstreams behind the `switchyard` command line, balanced round robin.
//
//   npm start                  build, then serve until Ctrl-C
//   npm run build && node demo/demo.mjs --once    (or DEMO_EXIT=1) send the requests and exit
//   PORT=8080 npm start        choose the proxy's port (default: a random free one)
//
// It runs the same bin as `npx switchyard`:
//   switchyard --listen 127.0.0.1:PORT --target <upstream 1> --target <upstream 2> --target <upstream 3>
// Everything listens on 127.0.0.1 only.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
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

// 2. The proxy: the switchyard CLI in a child process. Its own output is shown indented.
const args = ['--listen', `${HOST}:${process.env.PORT ?? 0}`, ...upstreams.flatMap(({ url }) => ['--target', url])];
console.log(`\n$ switchyard ${args.join(' ')}`);
// Its own process group: the demo alone decides when it stops (one SIGTERM, see below).
const cli = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
const cliExited = new Promise((resolve) => cli.once('exit', (code, signal) => resolve(code ?? signal)));
process.on('exit', () => cli.kill());

const base = await new Promise((resolve, reject) => {
  let origin;
  createInterface({ input: cli.stdout }).on('line', (line) => {
    console.log(`  │ ${line}`);
    origin ??= /listening on (http:\/\/\S+)/.exec(line)?.[1];
    // The summary ends with its `workers` line.
    if (origin !== undefined && line.startsWith('  workers')) resolve(origin);
  });
  cliExited.then((code) => reject(new Error(`switchyard exited (${code}) before listening`)));
});
console.log(`\nswitchyard demo listening on ${base}  (try: curl ${base}/hello)\n`);

// 3. Six requests: round robin visits each upstream twice, in turn.
for (let i = 1; i <= 6; i++) {
  const res = await fetch(`${base}/hello`);
  const { message, name, path } = await res.json();
  console.log(`request ${i}: ${res.status} ${message} (${name}, path ${path})`);
}

async function shutdown() {
  cli.kill('SIGTERM');
  const code = await cliExited;
  await Promise.all(upstreams.map(({ server }) => close(server)));
  return code;
}

if (once) {
  const code = await shutdown();
  process.exit(code === 0 ? 0 : 1);
} else {
  console.log('\nserving until Ctrl-C');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nshutting down');
    const code = await shutdown();
    process.exit(code === 0 ? 0 : 1);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
