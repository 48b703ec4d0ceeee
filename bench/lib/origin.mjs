/**
 * The shared origin: a small node:http server on 127.0.0.1, started once per bench run in its
 * own process. It counts the TCP connections it accepts so the bench can tell how many
 * upstream connections a column opened during a measured run (the pool should open none).
 *
 *   GET  /hello           5 B
 *   GET  /64k             64 KiB
 *   GET  /10m             10 MiB
 *   GET  /stream?bytes=N  N bytes, streamed in 64 KiB chunks with backpressure
 *   POST /sink            reads the whole body, answers {"bytes":N}
 *   GET  /delay?ms=N      answers 'ok' after N ms (holds connections open to fill a pool)
 *
 * IPC: {type:'stats'} → {type:'stats', connections}. The parent sends {type:'exit'} to stop.
 */
import http from 'node:http';

const HELLO = Buffer.from('hello');
const K64 = Buffer.alloc(64 * 1024, 'a');
const M10 = Buffer.alloc(10 * 1024 * 1024, 'b');
const CHUNK = Buffer.alloc(64 * 1024, 'c');

let connections = 0;

function fixed(res, body) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  res.end(body);
}

function stream(res, total) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const more = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (left === 0) return void res.end();
      if (!more) return void res.once('drain', pump);
    }
    res.end();
  };
  res.on('close', () => { left = 0; });
  pump();
}

function sink(req, res) {
  let bytes = 0;
  req.on('data', (chunk) => { bytes += chunk.length; });
  req.on('end', () => {
    const body = JSON.stringify({ bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url.startsWith('/sink')) return sink(req, res);
  if (url === '/hello') return fixed(res, HELLO);
  if (url === '/64k') return fixed(res, K64);
  if (url === '/10m') return fixed(res, M10);
  if (url.startsWith('/delay?ms=')) return void setTimeout(() => fixed(res, HELLO), Number(url.slice('/delay?ms='.length)));
  if (url.startsWith('/stream?bytes=')) return stream(res, Number(url.slice('/stream?bytes='.length)));
  res.writeHead(404, { 'content-length': 0 });
  res.end();
});
// Long enough that a pool stays warm between the warm-up and the measured run of a column.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;
server.on('connection', () => { connections++; });

process.on('message', (msg) => {
  if (msg?.type === 'stats') process.send({ type: 'stats', connections });
  else if (msg?.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port });
});
