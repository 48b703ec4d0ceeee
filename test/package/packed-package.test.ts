// The package as users get it: `npm pack` ships dist, the docs and examples the README links
// to, README, LICENSE and CHANGELOG, and
// the packed tarball, installed into a fresh project, works from ESM and from CommonJS and
// provides the `switchyard` bin. `npm test` builds dist/ first.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await exec(NPM, args, { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Proxies one request through `switchyard` to a local upstream; prints what came back as JSON. */
const CONSUMER_BODY = `
  const upstream = http.createServer((req, res) => res.end('upstream saw ' + req.url));
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const mw = proxy({ targets: 'http://127.0.0.1:' + upstream.address().port });
  const front = http.createServer((req, res) => mw(req, res));
  await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
  const reply = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: front.address().port, path: '/hello?x=1', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
  await mw.close();
  front.close();
  upstream.close();
  const err = new ProxyError('NO_UPSTREAM', 'none');
  console.log(JSON.stringify({ ...reply, errorStatus: err.status, factories: typeof roundRobin + ' ' + typeof leastConn, readBody: typeof readBody }));
`;

describe('the packed package', () => {
  let dir: string;
  let consumer: string;
  let packed: PackResult;
  let readmeBeforePack: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-pack-'));
    readmeBeforePack = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    packed = (JSON.parse(await npm(['pack', '--json', '--pack-destination', dir], ROOT)) as [PackResult])[0];
    consumer = path.join(dir, 'consumer');
    await mkdir(consumer);
    await writeFile(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const tarball = path.join(dir, packed.filename);
    // http-proxy-3 comes from the npm cache; fall back to the registry when it is not cached.
    await npm(['install', '--offline', '--no-audit', '--no-fund', tarball], consumer).catch(() =>
      npm(['install', '--no-audit', '--no-fund', tarball], consumer),
    );
    await writeFile(
      path.join(consumer, 'esm.mjs'),
      `import http from 'node:http';\nimport { proxy, ProxyError, readBody, roundRobin, leastConn } from 'switchyard';\n${CONSUMER_BODY}`,
    );
    await writeFile(
      path.join(consumer, 'cjs.cjs'),
      `const http = require('node:http');\nconst { proxy, ProxyError, readBody, roundRobin, leastConn } = require('switchyard');\n(async () => {${CONSUMER_BODY}})();`,
    );
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('npm pack --dry-run ships dist, docs, examples, README, LICENSE and CHANGELOG (plus package.json)', async () => {
    const [dry] = JSON.parse(await npm(['pack', '--dry-run', '--json'], ROOT)) as PackResult[];
    const files = dry!.files.map((f) => f.path).sort();
    expect(files.filter((f) => !/^(dist|docs|examples)\//.test(f))).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json']);
    for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/cli.js']) {
      expect(files).toContain(f);
    }
    expect(packed.files.map((f) => f.path).sort()).toEqual(files);
  });

  /** The link targets in a Markdown text, without `#anchors`. */
  function links(markdown: string): string[] {
    return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!.split('#')[0]!).filter((l) => l !== '');
  }

  it('every relative link in the README resolves to a file in the package (they work on a clone)', async () => {
    const files = new Set(packed.files.map((f) => f.path));
    const relative = links(readmeBeforePack).filter((l) => !/^[a-z]+:/i.test(l));
    expect(relative.length).toBeGreaterThan(10);
    expect(relative.filter((l) => !files.has(l.replace(/^\.\//, '')))).toEqual([]);
  });

  it("the installed README links to this version's files on unpkg (they work on the npm page and from node_modules)", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    const installed = await readFile(path.join(consumer, 'node_modules', 'switchyard', 'README.md'), 'utf8');
    const base = `https://unpkg.com/${pkg.name}@${pkg.version}/`;
    const files = new Set(packed.files.map((f) => f.path));
    const all = links(installed);
    expect(all.filter((l) => !/^https?:/.test(l))).toEqual([]);
    const intoPackage = all.filter((l) => l.startsWith(base)).map((l) => l.slice(base.length));
    expect(intoPackage.length).toBe(links(readmeBeforePack).filter((l) => !/^[a-z]+:/i.test(l)).length);
    expect(intoPackage.filter((f) => !files.has(f))).toEqual([]);
    // Only the links changed, and the clone's README is back as it was.
    expect(installed.replaceAll(base, '')).toBe(readmeBeforePack.replaceAll('](./', ']('));
    expect(await readFile(path.join(ROOT, 'README.md'), 'utf8')).toBe(readmeBeforePack);
    expect(existsSync(path.join(ROOT, '.readme-source.md'))).toBe(false);
  });

  it.each([
    ['ESM', 'esm.mjs'],
    ['CommonJS', 'cjs.cjs'],
  ])('works from an %s consumer', async (_kind, file) => {
    const { stdout } = await exec(process.execPath, [file], { cwd: consumer, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({
      status: 200,
      body: 'upstream saw /hello?x=1',
      errorStatus: 503,
      factories: 'function function',
      readBody: 'function',
    });
  });

  it('resolves the ESM build for import and the CommonJS build for require', async () => {
    const esm = await exec(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('switchyard'))"], { cwd: consumer });
    expect(esm.stdout.trim().endsWith('/node_modules/switchyard/dist/index.js')).toBe(true);
    const cjs = await exec(process.execPath, ['-e', "console.log(require.resolve('switchyard'), require('switchyard/package.json').version)"], {
      cwd: consumer,
    });
    const [resolved, version] = cjs.stdout.trim().split(' ');
    expect(resolved!.endsWith(path.join('node_modules', 'switchyard', 'dist', 'index.cjs'))).toBe(true);
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version).toBe(pkg.version);
  });

  it('installs the switchyard bin', async () => {
    const bin = path.join(consumer, 'node_modules', '.bin', 'switchyard');
    const { stdout } = await exec(bin, ['--help'], { cwd: consumer });
    expect(stdout).toMatch(/^Usage: switchyard \[options\]/);
  });
});
