/**
 * Summarises a V8 .cpuprofile: self time by function and by package, with switchyard's
 * bundled dist/index.js mapped back to src/ through its source map. "Attributed" time
 * charges Node-internal frames to the nearest caller outside Node (so the work
 * http-proxy-3 asks of node:http counts against http-proxy-3).
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

function loadSourceMap(url) {
  try {
    const file = `${fileURLToPath(url)}.map`;
    return existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
  } catch {
    return undefined;
  }
}

const maps = new Map();

/** `{pkg, where}` for a call frame: which layer it belongs to and a readable location. */
function locate(frame) {
  const { url, functionName, lineNumber, columnNumber } = frame;
  const name = functionName || '(anonymous)';
  if (url === '') return { pkg: name.startsWith('(') ? name : 'v8/native', where: name };
  if (url.startsWith('node:')) return { pkg: 'node core', where: `${url}:${name}` };
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (nm) return { pkg: nm[1], where: `${nm[1]}/${nm[2]}:${name}` };
  if (url.endsWith('/dist/index.js')) {
    if (!maps.has(url)) maps.set(url, loadSourceMap(url));
    const entry = maps.get(url)?.findEntry(lineNumber, columnNumber);
    const src = entry?.originalSource ? entry.originalSource.replace(/^.*?\bsrc\//, 'src/') : 'dist/index.js';
    return { pkg: 'switchyard', where: `${src}:${name}` };
  }
  if (url.includes('/bench/')) return { pkg: 'bench harness', where: `${url.replace(/^.*\/bench\//, 'bench/')}:${name}` };
  return { pkg: 'other', where: `${url}:${name}` };
}

const NON_JS = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/**
 * @returns {{totalMs:number, busyMs:number, byPackage:Array, attributed:Array, byFunction:Array, inclusive:Array}}
 */
export function summarizeProfile(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const byPackage = new Map();
  const attributed = new Map();
  const byFunction = new Map();
  const inclusive = new Map();
  let total = 0;
  let idle = 0;
  const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
  for (const [id, us] of selfUs) {
    const node = nodes.get(id);
    const loc = locate(node.callFrame);
    total += us;
    if (loc.pkg === '(idle)') {
      idle += us;
      continue;
    }
    add(byPackage, loc.pkg, us);
    add(byFunction, `${loc.where} [${loc.pkg}]`, us);
    // Walk up to the first frame that is not Node's own code.
    let owner = loc.pkg;
    let cur = id;
    while ((owner === 'node core' || owner === 'v8/native') && parent.has(cur)) {
      cur = parent.get(cur);
      const up = locate(nodes.get(cur).callFrame);
      if (!NON_JS.has(up.pkg)) owner = up.pkg === 'v8/native' ? owner : up.pkg;
    }
    add(attributed, owner, us);
    // Inclusive: every distinct function on the stack is charged once.
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const up = locate(nodes.get(at).callFrame);
      if (NON_JS.has(up.pkg)) continue;
      const key = `${up.where} [${up.pkg}]`;
      if (!seen.has(key)) seen.add(key), add(inclusive, key, us);
    }
  }
  const busy = total - idle;
  const rank = (map) => [...map].sort((a, b) => b[1] - a[1]).map(([key, us]) => ({ key, ms: us / 1000, pct: (100 * us) / busy }));
  return { totalMs: total / 1000, busyMs: busy / 1000, byPackage: rank(byPackage), attributed: rank(attributed), byFunction: rank(byFunction), inclusive: rank(inclusive) };
}

/** Plain-text rendering of the summary. */
export function renderProfile(s, top = 30) {
  const lines = [`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled (percentages are of busy time)`, '', 'self time by package:'];
  for (const r of s.byPackage) lines.push(`  ${r.pct.toFixed(1).padStart(5)}%  ${r.key}`);
  lines.push('', 'attributed (Node-internal work charged to its caller):');
  for (const r of s.attributed) lines.push(`  ${r.pct.toFixed(1).padStart(5)}%  ${r.key}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const r of s.byFunction.slice(0, top)) lines.push(`  ${r.pct.toFixed(1).padStart(5)}%  ${r.key}`);
  lines.push('', 'switchyard\'s own code, self time by source file:');
  const files = new Map();
  for (const r of s.byFunction.filter((x) => x.key.endsWith('[switchyard]'))) {
    const file = r.key.replace(/:[^:]*$/, '');
    files.set(file, (files.get(file) ?? 0) + r.pct);
  }
  for (const [file, pct] of [...files].sort((a, b) => b[1] - a[1])) lines.push(`  ${pct.toFixed(1).padStart(5)}%  ${file}`);
  lines.push('', `top ${top} functions by inclusive time (switchyard, http-proxy-3, Express):`);
  const layers = /\[(switchyard|http-proxy-3|express|router)\]$/;
  for (const r of s.inclusive.filter((x) => layers.test(x.key)).slice(0, top)) lines.push(`  ${r.pct.toFixed(1).padStart(5)}%  ${r.key}`);
  lines.push('', `top ${top} Node functions by inclusive time:`);
  for (const r of s.inclusive.filter((x) => x.key.endsWith('[node core]')).slice(0, top)) lines.push(`  ${r.pct.toFixed(1).padStart(5)}%  ${r.key}`);
  return lines.join('\n');
}
