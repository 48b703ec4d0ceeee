// --discover through the real bin: targets from a DNS server on 127.0.0.1 started by the test.
import { describe, expect, it } from 'vitest';
import { startDnsServer } from '../helpers/dns-server.js';
import { startUpstream, type EchoResponse } from '../helpers/upstream.js';
import { getJson } from './http-get.js';
import { runCli, useCli } from './spawn-cli.js';

const LISTEN = ['--listen', '127.0.0.1:0'];
const { cli, track } = useCli();

describe('--discover', () => {
  it('proxies to the targets of SRV records and follows them as they change', async () => {
    const a = await startUpstream({ name: 'a' });
    const b = await startUpstream({ name: 'b' });
    track(a, b);
    const dns = await startDnsServer();
    track(dns);
    const name = '_http._tcp.api.test';
    dns.records.set(name, { SRV: [{ priority: 10, weight: 1, port: a.port, target: 'a.api.test' }] });
    dns.records.set('a.api.test', { A: ['127.0.0.1'] });

    const proc = await cli([...LISTEN, '--discover', name, '--discover-type', 'SRV', '--discover-interval', '50', '--dns-server', dns.address]);
    expect(proc.stdout()).toContain(`  discover  SRV ${name} every 50ms via ${dns.address}`);
    expect((await getJson<EchoResponse>(`${proc.url}/d`)).json.name).toBe('a');

    dns.records.set(name, { SRV: [{ priority: 10, weight: 1, port: b.port, target: 'a.api.test' }] });
    // The next lookups pick b up; a is removed.
    let seen = 'a';
    while (seen === 'a') seen = (await getJson<EchoResponse>(`${proc.url}/d`)).json.name;
    expect(seen).toBe('b');
    expect(dns.questions.every((q) => q.name === name || q.name === 'a.api.test')).toBe(true);
  });

  it('companion flags without --discover are refused', async () => {
    const r = await runCli([...LISTEN, '-t', 'http://127.0.0.1:1', '--dns-server', '127.0.0.1:53']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'switchyard: --discover-type, --discover-port, --discover-scheme, --discover-interval and --dns-server need --discover <name>, e.g. --discover api.internal',
    );
  });
});
