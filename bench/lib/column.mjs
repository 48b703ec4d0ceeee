/**
 * One column in its own process: `node column.mjs <name> <originPort>`. Listens on
 * 127.0.0.1, port 0, and reports over IPC:
 *   → {type:'ready', port, notes}
 *   {type:'snap'} → {type:'snap', cpu: process.cpuUsage(), maxRss (bytes), rss (bytes)}
 *   {type:'exit'} → exits (so --cpu-prof writes its profile)
 */
import http from 'node:http';
import { createColumn } from './columns.mjs';

const [name, originPort] = process.argv.slice(2);
const origin = new URL(`http://127.0.0.1:${originPort}/`);
const notes = [];
const { handler, serverOptions } = await createColumn(name, origin, (note) => notes.push(note));
const server = http.createServer(serverOptions, handler);
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;

function snapshot() {
  return {
    type: 'snap',
    cpu: process.cpuUsage(),
    // resourceUsage().maxRSS is in KiB.
    maxRss: process.resourceUsage().maxRSS * 1024,
    rss: process.memoryUsage.rss(),
  };
}

process.on('message', (msg) => {
  if (msg?.type === 'snap') process.send(snapshot());
  else if (msg?.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port, notes });
});
