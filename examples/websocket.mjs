// WebSockets: one proxy under /ws carries both plain HTTP and WebSocket upgrades to two chat
// upstreams, round robin. Express strips /ws from HTTP requests; upgrades never pass through
// Express (Node emits them as the server's `upgrade` event), so `chat.upgrade` finds its mount
// in the app and strips /ws the same way: ws://HOST/ws/chat?room=7 reaches an upstream as
// /chat?room=7, and upgrades outside /ws get 404 (no other upgrade listener is there to take
// them). Each upstream echoes every message back, saying who answered.
// The `ws` package is used only by the stand-in upstreams (and the printed client line):
// switchyard relays the bytes and needs no WebSocket library.
//
//   npm run build && node examples/websocket.mjs      (PORT=3000 to pick the port)
import http from 'node:http';
import express from 'express';
import { proxy } from 'switchyard';
import { WebSocketServer } from 'ws';
import { serve } from './stand-ins.mjs';

/**
 * A stand-in chat service on 127.0.0.1: WebSocket messages are echoed back as
 * { upstream, url, message }; plain HTTP requests get { upstream, method, url }.
 */
async function startChatUpstream(name) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upstream: name, method: req.method, url: req.url }));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    console.log(`${name}: WebSocket opened for ${req.url}`);
    socket.on('message', (data) => socket.send(JSON.stringify({ upstream: name, url: req.url, message: String(data) })));
    socket.on('close', (code) => console.log(`${name}: WebSocket closed (${code})`));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    url: `http://127.0.0.1:${server.address().port}`,
    /** Asks every connected client to leave (close code 1001, "going away"). */
    goingAway: () => {
      for (const client of wss.clients) client.close(1001, 'server shutting down');
    },
    close: () => new Promise((resolve) => {
      wss.close();
      server.close(resolve);
      server.closeAllConnections();
    }),
  };
}

const a = await startChatUpstream('a');
const b = await startChatUpstream('b');

const chat = proxy({ targets: [a.url, b.url], ws: true });

const app = express();
app.use('/ws', chat); // HTTP requests under /ws
app.get('/stats', (req, res) => res.json(chat.stats()));

const { server, base } = await serve(app, {
  name: 'websocket',
  tryPaths: ['{base}/ws/info', '{base}/stats'],
  // Runs once every open tunnel has ended (see the going-away handler below).
  closeables: [chat, a, b],
});
server.on('upgrade', chat.upgrade); // WebSocket upgrades, under /ws as mounted above

const wsUrl = `${base.replace('http:', 'ws:')}/ws/chat?room=7`;
console.log(
  `  try: node -e "const ws = new (require('ws'))('${wsUrl}');` +
    ` ws.on('open', () => ws.send('hello')).on('message', (m) => { console.log(String(m)); ws.close(); })"`,
);

// An open tunnel keeps the server from closing. On shutdown the upstreams ask their clients
// to leave; the close handshake passes through the tunnels, which then end on their own.
// (chat.close() would also end them, but abruptly: both peers would see 1006.)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    a.goingAway();
    b.goingAway();
  });
}
