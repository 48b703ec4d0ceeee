// Runs JavaScript snippets from the docs, one after another: `node snippet-runner.mjs <snippet.mjs>...`,
// with the certificates the TLS docs read (internal-ca.pem, upstream.crt, ...) in the working dir.
//
// The snippet sees what a reader of the docs assumes is already there:
// - as globals it may shadow with its own imports or declarations: `express`, `app` (a fresh
//   Express app) and every export of 'switchyard';
// - the recipes' stand-in upstream (docs/recipes/echo-upstream.mjs) on "ports 3001 and 3002".
// Every server listens on 127.0.0.1 port 0, whatever port the doc shows, and a connection to
// a port the doc shows goes to the server that asked for it (any other loopback port is
// refused, and so is any host but loopback: nothing leaves the machine, nothing reaches
// another program's port). A server listening on a Unix socket path keeps its path (a
// snippet makes it in its own temp dir), and connections to socket paths go through.
//
// A comment `// curl [-i] [-H 'Name: value'] URL → upstream sees PATH` in a snippet is a claim:
// once the snippet has finished (top-level await included) and its servers are listening, the
// request is sent (to the server that asked for URL's port; for port 3000 with no such server,
// to the global `app`), and the path and query the stand-in upstream received must be PATH.
// Then the snippet's servers are closed. After the last snippet the process must exit by
// itself, so a snippet that leaves a timer or a socket open fails.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import express from 'express';
import * as switchyard from 'switchyard';

/** Servers the current snippet started, by the port it asked for (or by themselves). */
let snippetServers = new Map();
/** The stand-in upstream's servers, by the port the doc gives them. */
const echoServers = new Map();
/** Paths and queries the stand-in upstream received, in order. */
const echoSaw = [];
let startingEcho = false;

function askedPort(args) {
  const first = args[0];
  const port = typeof first === 'object' && first !== null ? first.port : first;
  return port === undefined || port === null || !/^\d+$/.test(String(port)) ? undefined : Number(port);
}

const listen = net.Server.prototype.listen;
/** The Unix socket path a listen() call asks for, if any. */
function askedPath(args) {
  const first = args[0];
  if (typeof first === 'string' && !/^\d+$/.test(first)) return first;
  return typeof first === 'object' && first !== null && typeof first.path === 'string' ? first.path : undefined;
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const servers = startingEcho ? echoServers : snippetServers;
  const path = askedPath(args);
  const asked = path === undefined ? askedPort(args) : undefined;
  // Port 0, no port, a port already taken or a socket path: nobody can address it by a port, but it is still closed.
  const key = asked === undefined || asked === 0 || servers.has(asked) ? Symbol('unaddressed') : asked;
  servers.set(key, this);
  // A snippet that closes its own server leaves nothing to close (or to wait for) afterwards.
  this.once('close', () => {
    if (servers.get(key) === this) servers.delete(key);
  });
  if (path !== undefined) return listen.apply(this, args);
  if (startingEcho) this.on('request', (req) => echoSaw.push(req.url));
  const callback = typeof args.at(-1) === 'function' ? args.at(-1) : undefined;
  return listen.call(this, { port: 0, host: '127.0.0.1' }, callback);
};

// A port nothing listens on (opened, then closed): where connections to unknown ports go.
const dead = net.createServer();
await new Promise((resolve) => listen.call(dead, { port: 0, host: '127.0.0.1' }, resolve));
const DEAD_PORT = dead.address().port;
await new Promise((resolve) => dead.close(resolve));

function actualPort(server) {
  return server.listening ? server.address().port : undefined;
}

/** Where a connection to loopback port `port` goes. */
function routedPort(port) {
  const live = [...snippetServers.values(), ...echoServers.values()];
  if (live.some((s) => actualPort(s) === port)) return port;
  const server = snippetServers.get(port) ?? echoServers.get(port);
  return (server && actualPort(server)) ?? DEAD_PORT;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectToLoopbackOnly(...args) {
  // net.connect() passes [options, callback] as one array; socket.connect() takes (options
  // | port, host?, callback?).
  const normalized = Array.isArray(args[0]);
  const first = normalized ? args[0][0] : args[0];
  const options = typeof first === 'object' && first !== null ? first : { port: first, host: typeof args[1] === 'string' ? args[1] : undefined };
  if (typeof options.path === 'string') return connect.apply(this, args); // a Unix socket
  const host = typeof options.host === 'string' ? options.host : 'localhost';
  if (!LOOPBACK.has(host)) {
    const refused = Object.assign(new Error(`connect ECONNREFUSED ${host} (the docs test reaches only 127.0.0.1)`), {
      code: 'ECONNREFUSED',
    });
    process.nextTick(() => this.destroy(refused));
    return this;
  }
  const rerouted = { ...options, port: routedPort(Number(options.port)) };
  if (normalized) {
    // The array carries node's "already normalized" mark: change it in place.
    args[0][0] = rerouted;
    return connect.apply(this, args);
  }
  const callback = args.find((a) => typeof a === 'function');
  return callback === undefined ? connect.call(this, rerouted) : connect.call(this, rerouted, callback);
};

/** The claims of a snippet: `{ line, command, url, headers, sees }`, or a parse error. */
function claimsIn(code) {
  const claims = [];
  code.split('\n').forEach((text, i) => {
    const m = /^\s*\/\/\s*curl\s+(.*?)\s+→\s+upstream sees\s+(\S+?)[,;]?(?:\s|$)/.exec(text);
    if (m === null) return;
    const words = [...m[1].matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((w) => w[1] ?? w[2] ?? w[3]);
    const headers = {};
    let url;
    for (let k = 0; k < words.length; k++) {
      const w = words[k];
      if (w === '-i') continue;
      if (w === '-H') {
        const [name, ...value] = words[++k].split(':');
        headers[name.trim()] = value.join(':').trim();
      } else if (w.startsWith('-')) {
        throw new Error(`line ${i + 1}: the docs test cannot send curl ${w}; claim only plain GETs with -H and -i`);
      } else {
        url = new URL(/^https?:\/\//.test(w) ? w : `http://${w}`);
      }
    }
    claims.push({ line: i + 1, command: `curl ${m[1]}`, url, headers, sees: m[2] });
  });
  return claims;
}

function get(port, path, headers) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });
}

async function checkClaims(file) {
  const failures = [];
  for (const claim of claimsIn(readFileSync(file, 'utf8'))) {
    claimsChecked += 1;
    const asked = Number(claim.url.port || 80);
    if (!snippetServers.has(asked) && asked === 3000) {
      // A fragment that only configures `app`: serve it as the doc's app.listen(3000) would.
      const server = http.createServer(globalThis.app).listen(3000);
      await once(server, 'listening');
    }
    const server = snippetServers.get(asked);
    if (server === undefined) {
      failures.push(`${file}:${claim.line}: ${claim.command}: nothing listens on port ${asked}`);
      continue;
    }
    echoSaw.length = 0;
    const status = await get(actualPort(server), claim.url.pathname + claim.url.search, claim.headers);
    const saw = echoSaw.at(-1);
    if (saw !== claim.sees) {
      failures.push(`${file}:${claim.line}: ${claim.command} → the upstream saw ${saw ?? 'nothing'} (answer ${status}), not ${claim.sees}`);
    }
  }
  return failures;
}

async function closeAll(servers) {
  await Promise.all(
    [...servers].map(async (server) => {
      if (!server.listening) await once(server, 'listening');
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    }),
  );
}

startingEcho = true;
await import(new URL('../../docs/recipes/echo-upstream.mjs', import.meta.url).href);
startingEcho = false;
await Promise.all([...echoServers.values()].map((s) => (s.listening ? undefined : once(s, 'listening'))));

Object.assign(globalThis, switchyard, { express });

const failures = [];
let claimsChecked = 0;
for (const file of process.argv.slice(2)) {
  globalThis.app = express();
  snippetServers = new Map();
  await import(pathToFileURL(file).href);
  await Promise.all([...snippetServers.values()].map((s) => (s.listening ? undefined : once(s, 'listening'))));
  failures.push(...(await checkClaims(file)));
  await closeAll(snippetServers.values());
}
await closeAll(echoServers.values());
console.log(`snippet-runner: ${claimsChecked} claims checked`);
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exitCode = 1;
}
