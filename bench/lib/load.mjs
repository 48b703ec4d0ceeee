/**
 * The load generator: wrk when it is installed (C, outside Node), else autocannon run as its
 * own process. Every run is bounded: wrk/autocannon stop after `duration` seconds and are
 * killed if they overrun by 20 s.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinned } from './proc.mjs';

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));

/** 'wrk' when on PATH, else 'autocannon'. */
export function detectGenerator() {
  return spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error === undefined ? 'wrk' : 'autocannon';
}

function run(cmd, args, env, limitMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${cmd} exited ${code}: ${err || out}`));
      else resolve(out);
    });
  });
}

async function runWrk({ url, connections, duration, bodyBytes, cpus, threads }) {
  const t = Math.max(1, Math.min(threads, connections));
  const args = ['-t', String(t), '-c', String(connections), '-d', `${duration}s`, '--timeout', '10s', '-s', WRK_SCRIPT, url];
  const [cmd, argv] = pinned(cpus, 'wrk', args);
  const out = await run(cmd, argv, { BENCH_BODY_BYTES: String(bodyBytes ?? 0) }, (duration + 20) * 1000);
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (line === undefined) throw new Error(`wrk printed no result:\n${out}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length));
  const e = r.errors;
  return {
    requests: r.requests,
    seconds: r.duration_us / 1e6,
    errors: e.connect + e.read + e.write + e.status + e.timeout,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
  };
}

let bodyFiles = new Map();

function bodyFile(bytes) {
  let file = bodyFiles.get(bytes);
  if (file === undefined) {
    file = join(tmpdir(), `switchyard-bench-body-${process.pid}-${bytes}`);
    writeFileSync(file, Buffer.alloc(bytes, 'x'));
    bodyFiles.set(bytes, file);
  }
  return file;
}

async function runAutocannon({ url, connections, duration, bodyBytes, cpus }) {
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const args = [bin, '-j', '-c', String(connections), '-d', String(duration), '-t', '10'];
  if (bodyBytes) args.push('-m', 'POST', '-H', 'content-type=application/octet-stream', '-i', bodyFile(bodyBytes));
  args.push(url);
  const [cmd, argv] = pinned(cpus, process.execPath, args);
  const out = await run(cmd, argv, {}, (duration + 20) * 1000);
  const r = JSON.parse(out.slice(out.indexOf('{')));
  return {
    requests: r.requests.total,
    seconds: r.duration,
    errors: (r.errors ?? 0) + (r.timeouts ?? 0) + (r.non2xx ?? 0),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
  };
}

/**
 * Runs one load for `duration` (whole seconds) against `url`; `bodyBytes` > 0 makes it a POST.
 * @returns {{requests:number, seconds:number, errors:number, p50Ms:number, p99Ms:number}}
 */
export function runLoad(generator, opts) {
  return generator === 'wrk' ? runWrk(opts) : runAutocannon(opts);
}
