#!/usr/bin/env node
/**
 * Profiles one column with --cpu-prof under one scenario and prints where its time goes:
 *   node bench/profile.mjs [--column switchyard] [--scenario hello] [--duration 10] [--warmup 2]
 * The raw .cpuprofile lands in bench/results/profiles/ (open it in Chrome DevTools).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLI_COLUMN, cliColumnCommand } from './lib/columns.mjs';
import { snapshotDist } from './lib/dist-snapshot.mjs';
import { detectGenerator, runLoad } from './lib/load.mjs';
import { canPin, pinSelf, startNode, stop } from './lib/proc.mjs';
import { renderProfile, summarizeProfile } from './lib/profile-summary.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PATHS = { hello: ['/hello', 0], '64k': ['/64k', 0], '10m': ['/10m', 0], post64k: ['/sink', 64 * 1024] };

const { values: opts } = parseArgs({
  options: {
    column: { type: 'string', default: 'switchyard' },
    scenario: { type: 'string', default: 'hello' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
  },
});
const [path, bodyBytes] = PATHS[opts.scenario] ?? (() => { throw new Error(`unknown scenario ${opts.scenario}`); })();
const pin = canPin() ? { column: '1', others: '0' } : undefined;
if (pin) pinSelf(pin.others);
const dir = join(HERE, 'results', 'profiles', `${opts.column}-${opts.scenario}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const generator = detectGenerator();
const dist = await snapshotDist();
const origin = await startNode(join(HERE, 'lib', 'origin.mjs'), [], { cpus: pin?.others });
const [script, args, flags] = opts.column === CLI_COLUMN
  ? cliColumnCommand(dist.dir, origin.ready.port)
  : [join(HERE, 'lib', 'column.mjs'), [opts.column, String(origin.ready.port)], []];
const column = await startNode(script, args, {
  cpus: pin?.column,
  nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir, ...flags],
  env: { ...process.env, SWITCHYARD_DIST: dist.dir },
});
try {
  const load = {
    url: `http://127.0.0.1:${column.ready.port}${path}`, connections: Number(opts.connections), bodyBytes,
    cpus: pin?.others, threads: 1,
  };
  await runLoad(generator, { ...load, duration: Number(opts.warmup) });
  const r = await runLoad(generator, { ...load, duration: Number(opts.duration) });
  process.stderr.write(`${opts.column} ${opts.scenario}: ${Math.round(r.requests / r.seconds)} req/s, ${r.errors} errors\n`);
} finally {
  await stop(column.child);
  await stop(origin.child);
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no profile written to ${dir}`);
// Summarise before removing the snapshot: the source map that maps dist/ to src/ lives there.
const text = renderProfile(summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8'))));
dist.remove();
writeFileSync(join(dir, 'summary.txt'), `${text}\n`);
process.stdout.write(`${text}\n\nprofile: ${join(dir, file)}\n`);
