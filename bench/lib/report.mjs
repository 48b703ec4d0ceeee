/** Turns the per-run records into summaries, target verdicts and a markdown report. */
import { COLUMN_LABELS } from './columns.mjs';

const MiB = 2 ** 20;

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Median over reps of `column`'s req/s divided by `base`'s req/s in the same rep. */
export function ratioOf(runs, scenario, column, base) {
  const ratios = [];
  for (const run of runs) {
    if (run.scenario !== scenario || run.column !== column) continue;
    const other = runs.find((r) => r.scenario === scenario && r.column === base && r.rep === run.rep);
    if (other !== undefined && other.rps > 0) ratios.push(run.rps / other.rps);
  }
  return median(ratios);
}

/** One row per scenario and column. */
export function summarize(runs, scenarios, columns) {
  const rows = [];
  for (const s of scenarios) {
    for (const c of columns) {
      const rs = runs.filter((r) => r.scenario === s.name && r.column === c);
      if (rs.length === 0) continue;
      const rps = rs.map((r) => r.rps);
      rows.push({
        scenario: s.name,
        column: c,
        reps: rs.length,
        rps: median(rps),
        rpsMin: Math.min(...rps),
        rpsMax: Math.max(...rps),
        ratio: c === 'raw' ? 1 : ratioOf(runs, s.name, c, 'raw'),
        mibPerSec: (median(rps) * s.payload) / MiB,
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        errors: rs.reduce((n, r) => n + r.errors, 0),
        cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
        peakRss: Math.max(...rs.map((r) => r.peakRss)),
        upstreamConns: median(rs.map((r) => r.upstreamConns)),
        upstreamConnsMax: Math.max(...rs.map((r) => r.upstreamConns)),
      });
    }
  }
  return rows;
}

/** One row per column and direction of the large-body cases (worst case over reps). */
export function summarizeStreams(streams, columns) {
  const rows = [];
  for (const direction of ['upload', 'download']) {
    for (const c of columns) {
      const rs = streams.filter((r) => r.column === c && r.direction === direction);
      if (rs.length === 0) continue;
      rows.push({
        column: c,
        direction,
        size: rs[0].size,
        reps: rs.length,
        bytes: Math.min(...rs.map((r) => r.bytes)),
        ok: rs.every((r) => r.error === undefined && r.bytes === r.size),
        error: rs.find((r) => r.error !== undefined)?.error,
        seconds: median(rs.map((r) => r.seconds)),
        mibPerSec: median(rs.map((r) => r.bytes / MiB / r.seconds)),
        peakRss: Math.max(...rs.map((r) => r.peakRss)),
      });
    }
  }
  return rows;
}

const row = (cells) => `| ${cells.map((c) => String(c).replace(/\s+/g, ' ').replace(/\|/g, '\\|')).join(' | ')} |`;
const f = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const fInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const mib = (bytes) => (Number.isFinite(bytes) && bytes > 0 ? f(bytes / MiB, 0) : '–');

function find(rows, scenario, column) {
  return rows.find((r) => r.scenario === scenario && r.column === column);
}

/** The scenarios every target that holds "in every scenario" is checked in, in table order. */
const ALL_SCENARIOS = ['hello', '64k', '10m', 'post64k'];

/**
 * Issue 11's targets, evaluated where the needed columns ran. Pair ratios are medians over
 * reps of the two columns' req/s in the same rep.
 * @returns {Array<{target:string, value:string, met:boolean}>}
 */
export function evaluateTargets(runs, rows, streamRows) {
  const out = [];
  const add = (target, value, met) => out.push({ target, value, met });
  /** `column` ≥ `min`× `base` on scenario `s`, when both ran. */
  const atLeast = (s, column, base, min, label) => {
    if (find(rows, s, column) === undefined || find(rows, s, base) === undefined) return;
    const r = ratioOf(runs, s, column, base);
    add(`${label} on ${s}`, `${f(r, 2)}×`, r >= min);
  };
  for (const [s, min] of [['hello', 1.8], ['64k', 1.5], ['post64k', 1.5], ['10m', 1.8]]) {
    atLeast(s, 'switchyard', 'hpm', min, `switchyard ≥ ${min}× http-proxy-middleware`);
  }
  for (const s of ALL_SCENARIOS) {
    atLeast(s, 'switchyard', 'undici-express', 0.85, 'switchyard ≥ 0.85× Express 5 + minimal undici proxy');
  }
  atLeast('hello', 'switchyard-helper', 'raw', 1.2, 'switchyard with the server helper ≥ 1.2× the raw node:http proxy');
  atLeast('hello', 'switchyard-bare', 'fastify-reply-from', 1.0, 'switchyard bare ≥ 1.0× fastify + @fastify/reply-from');
  atLeast('hello', 'switchyard-cli', 'switchyard-bare', 0.9, 'the switchyard command ≥ 0.9× switchyard as a bare node:http handler');
  for (const s of ALL_SCENARIOS) {
    atLeast(s, 'switchyard-full', 'switchyard', 0.9, 'switchyard retries+passive+stats within 10 % of defaults');
  }
  const syRows = rows.filter((r) => r.column.startsWith('switchyard'));
  if (syRows.length > 0) {
    const worst = Math.max(...syRows.map((r) => r.upstreamConnsMax));
    add('0 upstream connections opened per measured run (switchyard columns)', `max ${worst}`, worst === 0);
  }
  for (const r of streamRows.filter((x) => x.column.startsWith('switchyard'))) {
    add(`${r.column}: 1 GiB ${r.direction} delivered at < 150 MiB peak RSS`, `${r.ok ? 'delivered' : `NOT delivered (${r.error ?? r.bytes})`}, ${mib(r.peakRss)} MiB`, r.ok && r.peakRss < 150 * MiB);
  }
  return out;
}

/** The markdown report: environment, one table per scenario, the large-body table, the targets. */
export function renderMarkdown(result) {
  const { meta, rows, streamRows, targets, scenarios } = result;
  const lines = [];
  lines.push(`Measured ${meta.date} on ${meta.machine}; Node ${meta.node}; load generator ${meta.generator}; ` +
    `${meta.reps} rep(s) × ${meta.duration} s per scenario after a ${meta.warmup} s warm-up; ` +
    `${meta.nodeFlags?.length ? `column flags \`${meta.nodeFlags.join(' ')}\`; ` : ''}` +
    `${meta.pin ? `proxy pinned to CPU ${meta.pin.column}, origin and load generator on CPU ${meta.pin.others}` : 'no CPU pinning'}.`);
  if (meta.notes.length > 0) lines.push('', ...meta.notes.map((n) => `Note: ${n}`));
  for (const s of scenarios) {
    const rs = rows.filter((r) => r.scenario === s.name);
    if (rs.length === 0) continue;
    lines.push('', `**${s.title}** (${s.connections} connections)`, '');
    lines.push(row(['column', 'req/s (median)', 'min–max', '× raw', 'MiB/s', 'p50 ms', 'p99 ms', 'errors', 'CPU µs/req', 'peak RSS MiB', 'upstream conns opened']));
    lines.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
    for (const r of rs) {
      lines.push(row([
        COLUMN_LABELS[r.column], fInt(r.rps), `${fInt(r.rpsMin)}–${fInt(r.rpsMax)}`, f(r.ratio, 2), f(r.mibPerSec, 0),
        f(r.p50Ms, 2), f(r.p99Ms, 2), String(r.errors), f(r.cpuUsPerReq, 0), mib(r.peakRss),
        r.upstreamConnsMax === r.upstreamConns ? String(r.upstreamConns) : `${r.upstreamConns} (max ${r.upstreamConnsMax})`,
      ]));
    }
  }
  if (streamRows.length > 0) {
    lines.push('', `**Large bodies** (${mib(streamRows[0].size)} MiB streamed through each column, one connection)`, '');
    lines.push(row(['column', 'direction', 'bytes delivered', 'complete', 'seconds', 'MiB/s', 'peak RSS MiB']));
    lines.push(row(['---', '---', '---:', '---', '---:', '---:', '---:']));
    for (const r of streamRows) {
      lines.push(row([COLUMN_LABELS[r.column], r.direction, fInt(r.bytes), r.ok ? 'yes' : `no (${r.error ?? 'short'})`,
        f(r.seconds, 1), f(r.mibPerSec, 0), mib(r.peakRss)]));
    }
  }
  if (targets.length > 0) {
    lines.push('', '**Targets**', '', row(['target', 'measured', 'met']), row(['---', '---:', '---']));
    for (const t of targets) lines.push(row([t.target, t.value, t.met ? 'yes' : '**no**']));
  }
  return `${lines.join('\n')}\n`;
}
