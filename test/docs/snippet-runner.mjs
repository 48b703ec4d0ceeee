// Runs JavaScript snippets from the docs, one after another: `node snippet-runner.mjs <snippet.mjs>...`, with
// the certificates the TLS docs read (internal-ca.pem, upstream.crt, ...) in the working dir.
//
// The snippet sees what a reader of the docs assumes is already there, as globals it may
// shadow with its own imports or declarations: `express`, `app` (an Express app) and every
// export of 'switchyard'. Every server it starts listens on 127.0.0.1 port 0, whatever port
// the doc shows, and a connection to any host but loopback fails (ECONNREFUSED) without
// leaving the machine. Once a snippet module has finished (top-level await included) and
// its servers are listening, they are closed; after the last one the process must exit by
// itself, so a snippet that leaves a timer or a socket open fails.
import net from 'node:net';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import express from 'express';
import * as switchyard from 'switchyard';

const servers = new Set();
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  servers.add(this);
  const callback = typeof args.at(-1) === 'function' ? args.at(-1) : undefined;
  return listen.call(this, { port: 0, host: '127.0.0.1' }, callback);
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectToLoopbackOnly(...args) {
  // net.connect() passes [options, callback] as one array; socket.connect() takes (options
  // | port, host?, callback?).
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === 'object' && first !== null ? first : { port: first, host: args[1] };
  const host = typeof options.host === 'string' ? options.host : 'localhost';
  if (options.path === undefined && !LOOPBACK.has(host)) {
    const refused = Object.assign(new Error(`connect ECONNREFUSED ${host} (the docs test reaches only 127.0.0.1)`), {
      code: 'ECONNREFUSED',
    });
    process.nextTick(() => this.destroy(refused));
    return this;
  }
  return connect.apply(this, args);
};

Object.assign(globalThis, switchyard, { express });

// Several snippets may share one process (node start-up and loading Express cost more than
// most snippets): each gets a fresh `app`, and its servers are closed before the next starts.
for (const file of process.argv.slice(2)) {
  globalThis.app = express();
  await import(pathToFileURL(file).href);
  await closeServers();
}

async function closeServers() {
  const closing = [...servers].map(async (server) => {
    if (!server.listening) await once(server, 'listening');
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });
  servers.clear();
  await Promise.all(closing);
}
