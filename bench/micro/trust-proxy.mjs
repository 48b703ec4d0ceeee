#!/usr/bin/env node
/**
 * Micro-benchmark: is `net.BlockList` as fast as the hand-written IP matcher of
 * src/headers/forwarded.ts (`trustProxy` as a list of IPs and CIDRs)? It runs once per proxied
 * request whose peer might be trusted (issue 12, item 16). Bounded: a fixed number of calls
 * per variant and round, a few rounds, no network.
 *
 *   node bench/micro/trust-proxy.mjs [--calls 1000000] [--rounds 5]
 *
 * The real matcher is bundled from src/ with esbuild (in memory), so this measures the code
 * switchyard ships, not a copy. Prints ns per call (median of the rounds) for each peer kind
 * and checks that both matchers agree on every peer first.
 */
import { BlockList, isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);

const entry = fileURLToPath(new URL('../../src/headers/forwarded.ts', import.meta.url));
const bundled = await build({ entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'silent' });
const { compileTrustProxy } = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`);

const TRUSTED = ['loopback', '10.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '2001:db8::/32'];
const NAMED = { loopback: ['127.0.0.1/8', '::1/128'] };

/** The same list as a BlockList, the way forwarded.ts would build it if it used one. */
function compileBlockList(entries) {
  const list = new BlockList();
  for (const entry of entries.flatMap((e) => NAMED[e] ?? [e])) {
    const [address, bits] = entry.split('/');
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (ip) => {
    const family = isIP(ip);
    if (family === 0) return false;
    return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
}

const PEERS = {
  'IPv4, trusted': ['10.1.2.3', '192.168.7.9', '127.0.0.1'],
  'IPv4, not trusted': ['8.8.8.8', '172.16.0.1', '203.0.113.5'],
  'IPv6, trusted': ['::1', 'fd00::1:2', '2001:db8:1::42'],
  'IPv6, not trusted': ['2606:4700::1111', 'fe80::1', '2001:db9::1'],
  'IPv4-mapped IPv6': ['::ffff:10.1.2.3', '::ffff:8.8.8.8'],
};

const handWritten = compileTrustProxy(TRUSTED);
const blockList = compileBlockList(TRUSTED);

const disagreements = [];
for (const ip of Object.values(PEERS).flat()) {
  if (handWritten(ip) !== blockList(ip)) disagreements.push(`${ip}: forwarded.ts ${handWritten(ip)}, BlockList ${blockList(ip)}`);
}

function nsPerCall(fn, ips) {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) if (fn(ips[i % ips.length])) sink++;
  const ns = Number(process.hrtime.bigint() - start) / CALLS;
  if (sink < 0) console.log(sink); // keeps the calls from being optimised away
  return ns;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

console.log(`trustProxy ${JSON.stringify(TRUSTED)}; ${CALLS} calls × ${ROUNDS} rounds, median ns per call (node ${process.version})`);
console.log('| peer | forwarded.ts | net.BlockList | ratio |');
console.log('|---|---|---|---|');
for (const [kind, ips] of Object.entries(PEERS)) {
  const a = [];
  const b = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(nsPerCall(handWritten, ips));
    b.push(nsPerCall(blockList, ips));
  }
  const [ma, mb] = [median(a), median(b)];
  console.log(`| ${kind} | ${ma.toFixed(1)} | ${mb.toFixed(1)} | ${(mb / ma).toFixed(1)}× |`);
}
if (disagreements.length > 0) console.log(`\nThe matchers disagree:\n  ${disagreements.join('\n  ')}`);
