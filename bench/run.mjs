#!/usr/bin/env node
/**
 * switchyard benchmark: `npm run bench` (full) or `npm run bench -- --quick [--check]`.
 * Everything listens on 127.0.0.1. See docs/performance.md for the method.
 *
 * Options:
 *   --quick              1 rep × 1 s (2 s for 5 B GET), 1 s warm-up, large bodies through switchyard only (~1 min)
 *   --check              exit 1 when switchyard < 1.5× http-proxy-middleware on 5 B GET or buffers the large upload
 *   --reps N             reps (full: 5)
 *   --duration S         measured seconds per run (full: 10)
 *   --warmup S           warm-up seconds before each measured run (full: 2)
 *   --columns a,b        subset of: raw, http-proxy-3, hpm, express-http-proxy, undici-express (Express 5 +
 *                        minimal undici proxy), fastify-reply-from, switchyard, switchyard-helper (on a
 *                        server made with expressServerOptions), switchyard-bare (a bare node:http
 *                        handler), switchyard-full, and, for the cost breakdown, express-raw (the raw
 *                        proxy as an Express middleware), express-router-raw and express-proto-raw
 *                        (behind Express's router alone, or its req/res prototype swap alone),
 *                        express-helper-raw (express-raw with the server helper), undici (the minimal
 *                        undici proxy, no framework) and undici-express-helper; switchyard-cli is
 *                        the switchyard command itself (dist/cli.js, its own server, --quiet)
 *   --scenarios a,b      subset of: hello, 64k, 10m, post64k
 *   --stream-size BYTES  size of the large upload/download (default 1 GiB); 0 skips them
 *   --stream-columns a,b columns that run the large bodies (full: all)
 *   --no-pin             do not pin the proxy to its own CPU
 *   --generator NAME     wrk or autocannon (default: wrk when installed)
 *   --node-flags "..."   extra Node flags for the column processes (e.g. "--max-semi-space-size=32")
 *   --out DIR            where results go (default bench/results)
 *   --render FILE        only re-render the markdown of a results JSON (no measuring)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ALL_COLUMNS, CLI_COLUMN, COLUMNS, cliColumnCommand } from './lib/columns.mjs';
import { snapshotDist } from './lib/dist-snapshot.mjs';
import { detectGenerator, runLoad } from './lib/load.mjs';
import { ask, canPin, pinSelf, startNode, stop } from './lib/proc.mjs';
import { evaluateTargets, ratioOf, renderMarkdown, summarize, summarizeStreams } from './lib/report.mjs';
import { transfer } from './lib/stream.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const MiB = 2 ** 20;

const SCENARIOS = [
  { name: 'hello', title: 'GET 5 B', path: '/hello', connections: 32, payload: 5 },
  { name: '64k', title: 'GET 64 KiB', path: '/64k', connections: 32, payload: 64 * 1024 },
  { name: '10m', title: 'GET 10 MiB', path: '/10m', connections: 4, payload: 10 * MiB },
  { name: 'post64k', title: 'POST 64 KiB', path: '/sink', connections: 32, payload: 64 * 1024, bodyBytes: 64 * 1024 },
];

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    reps: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    columns: { type: 'string' },
    scenarios: { type: 'string' },
    'stream-size': { type: 'string' },
    'stream-columns': { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    generator: { type: 'string' },
    'node-flags': { type: 'string' },
    out: { type: 'string' },
    render: { type: 'string' },
  },
});

const list = (value, all, what) => {
  if (value === undefined) return all;
  const picked = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const p of picked) if (!all.includes(p)) throw new Error(`unknown ${what} ${p}; known: ${all.join(', ')}`);
  return all.filter((a) => picked.includes(a));
};

const quick = opts.quick;
const reps = Number(opts.reps ?? (quick ? 1 : 5));
const duration = Number(opts.duration ?? (quick ? 1 : 10));
// Quick mode gives the guarded scenario (5 B GET) twice the time of the others.
const durationOf = (scenario) => (quick && opts.duration === undefined ? (scenario.name === 'hello' ? 2 : 1) : duration);
const warmup = Number(opts.warmup ?? (quick ? 1 : 2));
// Extra columns (the cost breakdown) run only when named, next to what they are compared with.
const columns = opts.columns === undefined ? COLUMNS : list(opts.columns, ALL_COLUMNS, 'column');
const scenarios = SCENARIOS.filter((s) => list(opts.scenarios, SCENARIOS.map((x) => x.name), 'scenario').includes(s.name));
const streamSize = Number(opts['stream-size'] ?? 2 ** 30);
const streamColumns = (opts['stream-columns'] === undefined ? (quick ? ['switchyard'] : COLUMNS) : list(opts['stream-columns'], ALL_COLUMNS, 'column')).filter((c) => columns.includes(c));
const generator = opts.generator ?? detectGenerator();
const outDir = opts.out ?? join(HERE, 'results');
if (!columns.includes('raw')) throw new Error('the raw column is the baseline of every ratio: keep it in --columns');

// On two or more CPUs the proxy gets a CPU of its own; origin, load generator and this
// process share the rest, so the column's throughput is not decided by who wins the scheduler.
const cpuCount = os.availableParallelism?.() ?? os.cpus().length;
const pin = !opts['no-pin'] && cpuCount >= 2 && canPin()
  ? { column: '1', others: [...Array(cpuCount).keys()].filter((c) => c !== 1).join(',') }
  : undefined;
if (pin) pinSelf(pin.others);

const nodeFlags = (opts['node-flags'] ?? '').split(/\s+/).filter(Boolean);
const notes = [];
const log = (msg) => process.stderr.write(`${msg}\n`);

function get(port, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent: false }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Proves a fresh column proxies correctly before it is measured. */
async function sanityCheck(column, port) {
  const hello = await get(port, '/hello');
  const sink = await get(port, '/sink', 'x'.repeat(10));
  if (hello.status !== 200 || hello.text !== 'hello' || sink.status !== 200 || JSON.parse(sink.text).bytes !== 10) {
    throw new Error(`column ${column} does not proxy correctly: ${JSON.stringify({ hello, sink })}`);
  }
}

/**
 * The load generator cuts the requests in flight when it stops, and a proxy that aborts the
 * upstream request of a departed client (switchyard does) loses those pooled sockets. `n`
 * concurrent requests that the origin holds for 150 ms (so they overlap) refill the pool
 * before the measured run starts.
 */
async function prime(port, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  try {
    await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/delay?ms=150', agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    })));
  } finally {
    agent.destroy();
  }
}

async function startColumn(column, originPort) {
  const [script, args, flags] = column === CLI_COLUMN
    ? cliColumnCommand(dist.dir, originPort)
    : [join(HERE, 'lib', 'column.mjs'), [column, String(originPort)], []];
  const { child, ready } = await startNode(script, args, {
    cpus: pin?.column, nodeFlags: [...nodeFlags, ...flags], env: { ...process.env, SWITCHYARD_DIST: dist.dir },
  });
  for (const n of ready.notes ?? []) if (!notes.includes(n)) notes.push(n), log(`note: ${n}`);
  return { child, port: ready.port };
}

async function measure(origin, scenario, column, rep) {
  const { child, port } = await startColumn(column, origin.port);
  try {
    await sanityCheck(column, port);
    const load = {
      url: `http://127.0.0.1:${port}${scenario.path}`,
      connections: scenario.connections,
      bodyBytes: scenario.bodyBytes,
      cpus: pin?.others,
      threads: pin ? 1 : 2,
    };
    if (warmup > 0) await runLoad(generator, { ...load, duration: warmup });
    await prime(port, scenario.connections);
    const before = await ask(child, 'snap');
    const connsBefore = (await ask(origin.child, 'stats')).connections;
    const r = await runLoad(generator, { ...load, duration: durationOf(scenario) });
    const after = await ask(child, 'snap');
    const connsAfter = (await ask(origin.child, 'stats')).connections;
    const cpuUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
    const run = {
      rep, scenario: scenario.name, column,
      requests: r.requests, seconds: r.seconds, rps: r.requests / r.seconds, errors: r.errors,
      p50Ms: r.p50Ms, p99Ms: r.p99Ms,
      cpuUsPerReq: r.requests > 0 ? cpuUs / r.requests : NaN,
      peakRss: after.maxRss,
      upstreamConns: connsAfter - connsBefore,
    };
    log(`rep ${rep} ${scenario.name.padEnd(8)} ${column.padEnd(19)} ${Math.round(run.rps).toString().padStart(7)} req/s ` +
      `${run.cpuUsPerReq.toFixed(0).padStart(5)} µs/req  p99 ${run.p99Ms.toFixed(2)} ms  err ${run.errors}  conns ${run.upstreamConns}`);
    return run;
  } finally {
    await stop(child);
  }
}

async function measureStream(origin, column, direction, rep) {
  const { child, port } = await startColumn(column, origin.port);
  try {
    await sanityCheck(column, port);
    const r = await transfer(direction, port, child.pid, streamSize, { limitMs: 120_000, rssLimit: Math.max(streamSize, 512 * MiB) });
    let maxRss = 0;
    try {
      maxRss = (await ask(child, 'snap')).maxRss;
    } catch {
      // the column died under the load: the sampled peak is all there is
    }
    const run = { rep, column, direction, size: streamSize, bytes: r.bytes, seconds: r.seconds, error: r.error, peakRss: Math.max(maxRss, r.sampledPeakRss) };
    log(`rep ${rep} ${direction.padEnd(8)} ${column.padEnd(19)} ${(r.bytes / MiB).toFixed(0)} MiB in ${r.seconds.toFixed(1)} s, ` +
      `peak RSS ${(run.peakRss / MiB).toFixed(0)} MiB${r.error ? `, ${r.error}` : ''}`);
    return run;
  } finally {
    await stop(child);
  }
}

let dist;

async function main() {
  const started = Date.now();
  dist = await snapshotDist();
  log(`switchyard bench: ${quick ? 'quick' : 'full'}, ${reps} rep(s) × ${duration} s (+${warmup} s warm-up), generator ${generator}, ` +
    `${pin ? `proxy on CPU ${pin.column}, the rest on CPU ${pin.others}` : 'no pinning'}`);
  const { child: originChild, ready } = await startNode(join(HERE, 'lib', 'origin.mjs'), [], { cpus: pin?.others });
  const origin = { child: originChild, port: ready.port };
  const runs = [];
  const streams = [];
  try {
    // Interleaved: every column once per scenario per rep, each in a fresh process.
    for (let rep = 1; rep <= reps; rep++) {
      for (const scenario of scenarios) {
        for (const column of columns) {
          try {
            runs.push(await measure(origin, scenario, column, rep));
          } catch (err) {
            // One broken run (a column that crashed, say) is reported, not fatal to the rest.
            const note = `rep ${rep} ${scenario.name} ${column} failed: ${err?.message ?? err}`;
            notes.push(note);
            log(note);
          }
        }
      }
      if (streamSize > 0 && (rep <= (quick ? 1 : 2))) {
        for (const direction of ['upload', 'download']) {
          for (const column of streamColumns) streams.push(await measureStream(origin, column, direction, rep));
        }
      }
    }
  } finally {
    await stop(originChild);
    dist.remove();
  }

  const rows = summarize(runs, scenarios, columns);
  const streamRows = summarizeStreams(streams, streamColumns);
  const targets = evaluateTargets(runs, rows, streamRows);
  const cpus = os.cpus();
  const meta = {
    date: new Date().toISOString(),
    machine: `${cpuCount} CPU ${cpus[0]?.model ?? ''}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}`.replace(/\s+/g, ' '),
    node: process.versions.node,
    generator, quick, reps, duration, warmup, pin, nodeFlags, notes,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const result = { meta, scenarios, rows, streamRows, targets, runs, streams };
  const markdown = renderMarkdown(result);
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, quick ? 'bench-quick' : 'bench');
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown);
  process.stdout.write(`\n${markdown}\nWrote ${base}.json and ${base}.md in ${meta.seconds} s.\n`);

  if (opts.check) {
    const failures = check(runs, rows, streamRows);
    for (const f of failures) log(`CHECK FAILED: ${f}`);
    if (failures.length > 0) process.exitCode = 1;
    else log('check passed');
  }
}

/** The regression guard: issue 11's floors, far enough under its targets that noise does not trip them. */
function check(runs, rows, streamRows) {
  const failures = [];
  const helloOf = (column) => rows.find((r) => r.scenario === 'hello' && r.column === column);
  if (helloOf('switchyard') === undefined || helloOf('hpm') === undefined) {
    failures.push('the check needs the hello scenario with the hpm and switchyard columns');
  } else {
    const vsHpm = ratioOf(runs, 'hello', 'switchyard', 'hpm');
    if (!(vsHpm >= 1.5)) failures.push(`switchyard is ${vsHpm.toFixed(2)}× http-proxy-middleware on 5 B GET (floor 1.5×)`);
  }
  const upload = streamRows.find((r) => r.column === 'switchyard' && r.direction === 'upload');
  if (upload === undefined) failures.push('the check needs the large upload through switchyard (--stream-size > 0)');
  else if (!upload.ok) failures.push(`the large upload through switchyard did not complete: ${upload.error ?? `${upload.bytes} bytes`}`);
  else if (upload.peakRss >= 256 * MiB) failures.push(`switchyard buffered the upload: peak RSS ${(upload.peakRss / MiB).toFixed(0)} MiB (limit 256 MiB)`);
  return failures;
}

/** Re-renders FILE.md from FILE.json with the current report code (targets re-evaluated). */
function render(file) {
  const result = JSON.parse(readFileSync(file, 'utf8'));
  result.targets = evaluateTargets(result.runs, result.rows, result.streamRows);
  const md = file.replace(/\.json$/, '.md');
  writeFileSync(md, renderMarkdown(result));
  process.stdout.write(`Wrote ${md}\n`);
}

(opts.render === undefined ? main() : Promise.resolve().then(() => render(opts.render))).catch((err) => {
  log(err?.stack ?? String(err));
  process.exitCode = 2;
});
